"""Anomaly signals of a window against its baseline, per component, with or without statuses.

Most trace exports carry no span status, so what went wrong has to be read from how the
window differs from a fault-free baseline. Each signal compares counts of the window with
what the baseline predicts and turns the difference into a **surprise** ``z``: the signed
square root of a likelihood-ratio deviance (Poisson for counts, binomial for shares), which
reads like a z-score whatever the traffic, the units or the window lengths. Nothing here is
fitted to a system: one threshold (``MIN_Z``) decides what is worth reporting.

Signals (``Signal.signal``) and whom they are credited to:

- ``client_latency``: client spans calling a component that take longer than the baseline's
  p95 of the same call (same caller, callee operation). Credited to the **callee**: a network
  delay into a service shows only on its callers' side.
- ``self_latency``: a component's own time (its server span minus the client spans it waits
  on) above the baseline's p95 for the same operation: CPU starvation, slow code.
- ``error_logs`` / ``warn_logs``: more error (fatal) lines of a kind the baseline never wrote
  anywhere (``KIND_CHARS``) / more warning lines than the baseline rate. Errors the system
  already wrote while healthy (a flaky discovery client, say) weigh like warnings.
- ``log_template``: a message template (numbers and ids masked, drain-like) that appears, or
  one the baseline wrote that stops or falls: a code path that now throws, or no longer runs.
- ``call_path``: calls from a caller to a callee's operation that vanish or appear.
- ``consumer_lag``: messages reaching a consumer later after they were produced (a consumer
  falling behind), against the baseline's p95 for the same channel.
- ``failed_status``: failed/timed-out entities above the baseline's rate, where statuses exist.
- ``error_codes``: spans answering with a server error code (HTTP 5xx, gRPC UNKNOWN,
  DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE; OTel semantic conventions) above the baseline's
  rate, whether or not the span status says so; a client span's code goes to its callee.
- ``retries``: retried attempts (``attempt > 1``) above the baseline's rate.
- ``new_value``: a change: a version-like attribute (``CHANGE_NAMES``: build id, version,
  schema version, payload field set) with a value the component never showed in the
  baseline, although it showed the attribute. ``rootcause`` ranks it above what it reaches.

Counts are scaled by the ratio of the window's traffic to the baseline's (requests, else log
lines), so windows of different lengths compare.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from tracemap.store import Store

#: Only a surprise at least this large is a signal (about p < 0.006 one-sided).
MIN_Z = 2.5
#: A baseline group needs this many samples to have a p95 worth comparing against.
MIN_BASE_SAMPLES = 5
#: Share of baseline calls above the baseline's own p95, by construction.
P_SLOW = 0.05
#: Pseudo-count for a template or path the baseline never saw (expected = this x scale).
PSEUDO = 0.5
#: Latency ratios are taken against at least this baseline (ms): sub-millisecond spans and
#: near-zero consumer lags would turn clock jitter into large factors.
MIN_MS = 1.0
#: Attributes whose new value means something was deployed or changed (``failures`` extracts
#: them; a message's headers and payload count for its producer).
CHANGE_NAMES = (
    "service.version", "binaryChecksum", "binary_checksum", "buildId", "build_id",
    "worker_build_id", "workerVersion", "worker_version", "schema-version", "schema_version",
    "schemaVersion", "dataschema", "ce_dataschema", "event.version", "payload.fields",
)
#: Examples kept per signal.
EXAMPLES = 3

#: Masks for log templates (RE2, as DuckDB runs them): ids first, then numbers. A number
#: glued to a word by ``#`` (``OrderServiceImpl#240``, a logger's source line) is kept: it
#: names the code location, which is what a template should tell apart.
_ID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|[0-9a-fA-F]{16,}"
_NUM_RE = r"\b\d+(\.\d+)?\b"
_TEMPLATE_SQL = (f"left(regexp_replace(regexp_replace(regexp_replace(body, '{_ID_RE}', '<id>', "
                 f"'g'), '(\\w)#(\\d+)', '\\1#L\\2', 'g'), '{_NUM_RE}', '<n>', 'g'), 400)")
#: Leading characters of a template that name its kind (time, level, logger, message start):
#: a kind the baseline wrote anywhere is known noise of the system, not a new failure.
KIND_CHARS = 100


@dataclass(frozen=True, slots=True)
class Signal:
    """One anomaly: what, on which component (and subject within it), window vs baseline."""

    component: str
    signal: str
    subject: str
    window: float
    baseline: float
    z: float
    examples: list[dict[str, Any]] = field(default_factory=list)
    #: The other component of an edge signal (the caller of a client-latency call path).
    peer: str | None = None
    #: Effect size where it is not the count itself: latency as times the baseline median.
    effect: float | None = None
    #: The worst log level of a template's lines: ``error`` (of a kind new to the system),
    #: ``warn`` (warnings, and errors of a kind the baseline wrote), or ``info``.
    severity: str | None = None
    #: Client latency: the effect on the calls of each caller.
    by_peer: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "subject": self.subject, "window": self.window,
                "baseline": self.baseline, "z": self.z, "peer": self.peer, "effect": self.effect,
                "severity": self.severity, "by_peer": self.by_peer,
                "examples": self.examples}


def poisson_z(observed: float, expected: float) -> float:
    """Signed root of the Poisson deviance of ``observed`` against ``expected``."""
    expected = max(expected, 1e-9)
    dev = 2 * ((observed * math.log(observed / expected) if observed > 0 else 0.0)
               - (observed - expected))
    return math.copysign(math.sqrt(max(dev, 0.0)), observed - expected)


def binomial_z(k: float, n: float, p: float) -> float:
    """Signed root of the binomial deviance of ``k`` of ``n`` against share ``p``."""
    if n <= 0:
        return 0.0
    dev = 0.0
    if k > 0:
        dev += k * math.log(k / (n * p))
    if n - k > 0:
        dev += (n - k) * math.log((n - k) / (n * (1 - p)))
    return math.copysign(math.sqrt(max(2 * dev, 0.0)), k - n * p)


def collect(store: Store) -> list[Signal]:
    """Every signal of the scoped window (``_w``/``_wl``) against the baseline (``_b``/``_bl``).

    The scope tables are made by ``failures._scope``, the attribute values (``_attrs``) and
    the parsed run and step details (``_docs``) by ``failures._attributes``; examples name
    file and location.
    """
    scale = _scale(store)
    if scale is None:
        return []
    found: list[Signal] = []
    found += _latency(store, "client_latency", _CLIENT_SQL)
    found += _latency(store, "self_latency", _SELF_SQL)
    found += _latency(store, "consumer_lag", _LAG_SQL)
    found += _log_levels(store, scale)
    found += _templates(store, scale)
    found += _call_paths(store, scale)
    found += _failed(store, scale)
    found += _error_codes(store, scale)
    found += _retries(store, scale)
    found += _changes(store, scale)
    found = [s for s in found if s.z >= MIN_Z]
    found.sort(key=lambda s: (-s.z, s.component, s.signal, s.subject))
    return found


def _scale(store: Store) -> float | None:
    """Window traffic / baseline traffic: requests (runs) where there are any, else log lines."""
    w, b = store.sql("SELECT (SELECT count(*) FROM _w WHERE kind = 'run'), "
                     "(SELECT count(*) FROM _b WHERE kind = 'run')").fetchone()
    if w and b:
        return w / b
    w, b = store.sql("SELECT (SELECT count(*) FROM _w), (SELECT count(*) FROM _b)").fetchone()
    if w and b:
        return w / b
    w, b = store.sql("SELECT (SELECT count(*) FROM _wl), (SELECT count(*) FROM _bl)").fetchone()
    return w / b if w and b else None


def _examples(rows: Any) -> list[dict[str, Any]]:
    """Example entities (uid, file, location); files under the working folder relative.

    The queries pick them with ``arg_min(..., uid, EXAMPLES)``: the first few by uid, without
    sorting every counted entity into a list."""
    return [{"uid": u, "file": _shown(f), "location": loc} for u, f, loc in (rows or [])[:EXAMPLES]]


def _shown(path: str | None) -> str | None:
    if path and os.path.isabs(path) and path.startswith(os.getcwd() + os.sep):
        return os.path.relpath(path)
    return path


# ------------------------------------------------------------------------------------ latency

# Samples: (component credited, subject, peer, window?, ms, uid, file, location).
_CLIENT_SQL = """
SELECT d.node AS component, d.name AS subject, s.node AS peer, s.win, s.ms, s.uid, s.file,
       s.location
FROM edges e
JOIN _spans s ON s.id = e.src_id
JOIN entities d ON d.id = e.dst_id
WHERE e.kind = 'calls' AND s.node <> d.node
"""

_SELF_SQL = """
WITH waits AS (SELECT run_uid, sum(ms) AS ms FROM _client GROUP BY ALL)
SELECT r.node AS component, r.name AS subject, NULL AS peer, r.win,
       greatest(r.ms - coalesce(w.ms, 0), 0) AS ms, r.uid, r.file, r.location
FROM _spans r LEFT JOIN waits w ON w.run_uid = r.uid
WHERE r.kind = 'run'
"""

# Messages to their consumers: produce-to-start delay, credited to the consumer.
_LAG_SQL = """
SELECT c.node AS component, m.node AS subject, m.node AS peer, m.win, e.latency_ms AS ms,
       c.uid, src.path AS file, c.location
FROM edges e
JOIN (SELECT id, node, true AS win FROM _w WHERE kind = 'message'
      UNION ALL SELECT id, node, false FROM _b WHERE kind = 'message') m ON m.id = e.src_id
JOIN entities c ON c.id = e.dst_id
LEFT JOIN sources src ON src.id = c.source_id
WHERE e.kind IN ('triggers', 'consumes') AND e.latency_ms IS NOT NULL
"""

_SPANS_SQL = """
CREATE OR REPLACE TEMP TABLE _spans AS
SELECT s.id, s.uid, s.kind, s.node, s.name, s.win, s.run_uid, s.parent_uid,
       epoch_us(s.ended_at) / 1000 - epoch_us(s.started_at) / 1000 AS ms,
       src.path AS file, s.location
FROM (SELECT *, true AS win FROM _w UNION ALL SELECT *, false FROM _b) s
LEFT JOIN sources src ON src.id = s.source_id
WHERE s.ended_at IS NOT NULL
"""

# Client calls: the spans of the scope that call another component (``_up``, hop 0).
_CLIENT_UP_SQL = """
CREATE OR REPLACE TEMP TABLE _up AS
SELECT c.uid, c.node, c.run_uid, c.parent_uid AS parent, 0 AS depth FROM _spans c
WHERE c.kind = 'step' AND EXISTS (SELECT 1 FROM edges e WHERE e.src_id = c.id
                                  AND e.kind = 'calls')
"""

# One hop up the parent chain, inside the component, for the calls whose run is not found yet.
_CLIENT_HOP_SQL = """
INSERT INTO _up
SELECT u.uid, u.node, p.run_uid, p.parent_uid, u.depth + 1
FROM _up u JOIN entities p ON p.uid = u.parent AND p.node = u.node
WHERE u.depth = ? AND u.run_uid IS NULL
"""

_CLIENT_RUNS_SQL = """
CREATE OR REPLACE TEMP TABLE _client AS
SELECT c.id, c.uid, c.node, c.ms, c.win, c.file, c.location, r.uid AS run_uid, r.name AS op
FROM _spans c JOIN (SELECT uid, max(run_uid) AS run_uid FROM _up GROUP BY uid) u USING (uid)
LEFT JOIN entities r ON r.uid = u.run_uid
"""
#: Most parent hops from a client call up to the span that starts its run.
MAX_HOPS = 32


def _client_runs(store: Store) -> None:
    """Client calls with the request (run) of their component that encloses them: up the
    parent chain inside the component to the span that starts its run (the one carrying
    ``run_uid``). Hop by hop, so each join sees only the calls still looking (a recursive
    query joined the whole entities table twice per hop)."""
    store.sql(_CLIENT_UP_SQL)
    for depth in range(MAX_HOPS):
        if not store.sql(_CLIENT_HOP_SQL, [depth]).fetchone()[0]:
            break
    store.sql(_CLIENT_RUNS_SQL)


def _latency(store: Store, name: str, samples_sql: str) -> list[Signal]:
    """Latency against the baseline of the same group (component, operation, caller).

    ``z``: the binomial surprise of window samples above their group's baseline p95, pooled
    over the component's groups; ``effect``: the median over those samples of duration /
    group baseline median (how many times slower a typical call got).
    """
    if name == "client_latency":
        store.sql(_SPANS_SQL)
        _client_runs(store)
    rows = store.rows(f"""
        WITH s AS ({samples_sql}),
        base AS (SELECT component, subject, peer, quantile_cont(ms, 0.95) AS p95,
                        median(ms) AS p50
                 FROM s WHERE NOT win GROUP BY ALL HAVING count(*) >= ?),
        w AS (SELECT s.*, b.p95, b.p50 FROM s JOIN base b ON b.component = s.component
              AND b.subject = s.subject AND b.peer IS NOT DISTINCT FROM s.peer WHERE s.win),
        groups AS (SELECT component, subject, peer, count(*) AS n,
                          count(*) FILTER (WHERE ms > p95) AS slow, median(ms) AS p50,
                          any_value(p50) AS base_p50,
                          arg_max([uid, file, location], ms, ?) AS examples
                   FROM w GROUP BY ALL),
        comp AS (SELECT component, count(*) AS n, count(*) FILTER (WHERE ms > p95) AS slow,
                        median(greatest(ms, 0) / greatest(p50, ?)) AS ratio
                 FROM w GROUP BY ALL),
        peers AS (SELECT component, map(list(peer), list(ratio)) AS by_peer
                  FROM (SELECT component, peer, median(greatest(ms, 0) / greatest(p50, ?)) AS ratio
                        FROM w WHERE peer IS NOT NULL GROUP BY ALL)
                  GROUP BY ALL)
        SELECT g.*, c.n AS comp_n, c.slow AS comp_slow, c.ratio, p.by_peer
        FROM groups g JOIN comp c USING (component) LEFT JOIN peers p USING (component)
    """, [MIN_BASE_SAMPLES, EXAMPLES, MIN_MS, MIN_MS])
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        r["z"] = binomial_z(r["slow"], r["n"], P_SLOW)
        by.setdefault(r["component"], []).append(r)
    out = []
    for comp, groups in by.items():
        best = max(groups, key=lambda g: (g["z"], g["subject"]))
        subject = best["subject"] + (f" from {best['peer']}" if best["peer"] else "")
        out.append(Signal(comp, name, subject, round(best["p50"], 3),
                          round(best["base_p50"], 3),
                          round(binomial_z(best["comp_slow"], best["comp_n"], P_SLOW), 2),
                          _examples(best["examples"]), best["peer"],
                          round(best["ratio"], 3),
                          by_peer={k: round(v, 3) for k, v in (best["by_peer"] or {}).items()}))
    return out


# ------------------------------------------------------------------------------------ logs

_LOGS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _logs AS
SELECT l.uid, l.win, coalesce(e.node, 'otel:service:' || l.service, 'unknown') AS component,
       coalesce(r.name, e.name) AS op, l.severity, {_TEMPLATE_SQL} AS template,
       src.path AS file, l.location
FROM (SELECT *, true AS win FROM _wl UNION ALL SELECT *, false FROM _bl) l
LEFT JOIN entities e ON e.uid = l.entity_uid
LEFT JOIN entities r ON r.uid = coalesce(e.run_uid, e.uid) AND r.kind = 'run'
LEFT JOIN sources src ON src.id = l.source_id
"""

# Requests per (component, operation) in window and baseline: what an operation's log lines
# and calls are expected to scale with, so a request mix that changes is no anomaly.
_OPS_SQL = """
CREATE OR REPLACE TEMP TABLE _ops AS
SELECT node AS component, name AS op, count(*) FILTER (WHERE win) AS w,
       count(*) FILTER (WHERE NOT win) AS b
FROM (SELECT node, name, true AS win FROM _w WHERE kind = 'run'
      UNION ALL SELECT node, name, false FROM _b WHERE kind = 'run')
GROUP BY ALL
"""


def _log_levels(store: Store, scale: float) -> list[Signal]:
    """Error lines of kinds the baseline never wrote (anywhere), and warning lines."""
    store.sql(_LOGS_SQL)
    store.sql("""
        CREATE OR REPLACE TEMP TABLE _logs AS
        SELECT *, left(template, ?) IN (SELECT left(template, ?) FROM _logs WHERE NOT win)
                  AS known
        FROM _logs
    """, [KIND_CHARS, KIND_CHARS])
    rows = store.rows(f"""
        SELECT component, lvl,
               count(*) FILTER (WHERE win) AS w, count(*) FILTER (WHERE NOT win) AS b,
               arg_min([uid, file, location], uid, {EXAMPLES}) FILTER (WHERE win) AS examples
        FROM (SELECT *, CASE WHEN severity IN ('error', 'fatal') THEN 'error_logs'
                             ELSE 'warn_logs' END AS lvl
              FROM _logs WHERE severity = 'warn'
                            OR (severity IN ('error', 'fatal') AND NOT known))
        GROUP BY ALL
    """)
    return [Signal(r["component"], r["lvl"], r["lvl"].replace("_", " "), r["w"], r["b"],
                   round(poisson_z(r["w"], max(r["b"], PSEUDO) * scale), 2),
                   _examples(r["examples"]))
            for r in rows]


def _op_scale(r: dict[str, Any], scale: float) -> float | None:
    """Expected window/baseline ratio of a row of an operation; None: not comparable."""
    if r["op_w"] is None:
        return scale
    if not r["op_b"] or not r["op_w"]:
        return None
    return r["op_w"] / r["op_b"]


def _templates(store: Store, scale: float) -> list[Signal]:
    """The most surprising template per component and level: error/warning templates that
    appear or grow, and templates of any level that vanish or fall while their operation
    still runs."""
    store.sql(_OPS_SQL)
    rows = store.rows(f"""
        SELECT l.component, l.op, l.template, o.w AS op_w, o.b AS op_b,
               CASE WHEN bool_or(l.severity IN ('error', 'fatal') AND NOT l.known) THEN 'error'
                    WHEN bool_or(l.severity IN ('error', 'fatal', 'warn')) THEN 'warn'
                    ELSE 'info' END AS level,
               count(*) FILTER (WHERE l.win) AS w, count(*) FILTER (WHERE NOT l.win) AS b,
               arg_min([l.uid, l.file, l.location], l.uid, {EXAMPLES})
                   FILTER (WHERE l.win) AS wex,
               arg_min([l.uid, l.file, l.location], l.uid, {EXAMPLES})
                   FILTER (WHERE NOT l.win) AS bex
        FROM _logs l LEFT JOIN _ops o ON o.component = l.component AND o.op = l.op
        GROUP BY ALL
    """)
    best: dict[str, Signal] = {}
    for r in rows:
        ratio = _op_scale(r, scale)
        expected = max(r["b"], PSEUDO) * (ratio or scale)
        if r["level"] != "info":
            z = poisson_z(r["w"], expected)
        elif ratio is not None and r["b"]:
            z = -poisson_z(r["w"], expected)
        else:
            continue
        sig = Signal(r["component"], "log_template", r["template"], r["w"], r["b"], round(z, 2),
                     _examples(r["wex"] or r["bex"]), effect=round(r["w"] / expected, 3),
                     severity=r["level"])
        key = f"{r['component']} {r['level']}"
        if key not in best or z > best[key].z:
            best[key] = sig
    return list(best.values())


# ------------------------------------------------------------------------------------ calls

def _call_paths(store: Store, scale: float) -> list[Signal]:
    """Call paths (caller operation -> callee operation) that vanish while the caller's
    operation still runs, credited to the caller: it stopped doing part of its work."""
    rows = store.rows(f"""
        SELECT s.node AS caller, s.op, d.node AS callee, d.name AS callee_op,
               o.w AS op_w, o.b AS op_b,
               count(*) FILTER (WHERE s.win) AS w, count(*) FILTER (WHERE NOT s.win) AS b,
               arg_min([s.uid, s.file, s.location], s.uid, {EXAMPLES})
                   FILTER (WHERE NOT s.win) AS bex
        FROM edges e JOIN _client s ON s.id = e.src_id JOIN entities d ON d.id = e.dst_id
        LEFT JOIN _ops o ON o.component = s.node AND o.op = s.op
        WHERE e.kind = 'calls' AND s.node <> d.node
        GROUP BY ALL
    """)
    best: dict[str, Signal] = {}
    for r in rows:
        ratio = _op_scale(r, scale)
        if ratio is None or not r["b"]:
            continue
        z = -poisson_z(r["w"], r["b"] * ratio)
        sig = Signal(r["caller"], "call_path", f"{r['callee_op']} on {r['callee']}", r["w"],
                     r["b"], round(z, 2), _examples(r["bex"]), r["callee"])
        if r["caller"] not in best or z > best[r["caller"]].z:
            best[r["caller"]] = sig
    return list(best.values())


# Server error codes by OTel semantic conventions (http.response.status_code, older
# http.status_code; rpc.grpc.status_code 2 UNKNOWN, 4 DEADLINE_EXCEEDED, 13 INTERNAL,
# 14 UNAVAILABLE). A client span's code is its callee's answer. Spans are steps (a local
# root's run repeats its span's attributes).
_ERROR_CODES_SQL = f"""
WITH s AS (SELECT id, uid, source_id, node, location, true AS win FROM _w
           UNION ALL SELECT id, uid, source_id, node, location, false FROM _b),
-- The codes were read with the attributes (``_docs.vals``, last three: CODE_PATHS); only
-- server errors meet the scope's entities.
codes AS (
    SELECT id, coalesce(vals[-3] ->> '$', vals[-2] ->> '$') AS http, vals[-1] ->> '$' AS grpc
    FROM _docs WHERE kind = 'step'),
coded AS (
    SELECT s.id, s.uid, s.source_id, s.node, s.location, s.win, d.http, d.grpc
    FROM codes d JOIN s ON s.id = d.id
    WHERE TRY_CAST(d.http AS INTEGER) BETWEEN 500 AND 599
       OR TRY_CAST(d.grpc AS INTEGER) IN (2, 4, 13, 14))
SELECT coalesce(callee.node, c.node) AS component, coalesce(c.http, 'grpc ' || c.grpc) AS code,
       count(*) FILTER (WHERE c.win) AS w, count(*) FILTER (WHERE NOT c.win) AS b,
       arg_min([c.uid, src.path, c.location], c.uid, {EXAMPLES}) FILTER (WHERE c.win) AS ex
FROM coded c
LEFT JOIN edges e ON e.src_id = c.id AND e.kind = 'calls'
LEFT JOIN entities callee ON callee.id = e.dst_id
LEFT JOIN sources src ON src.id = c.source_id
GROUP BY ALL
"""


def _error_codes(store: Store, scale: float) -> list[Signal]:
    best: dict[str, Signal] = {}
    for r in store.rows(_ERROR_CODES_SQL):
        sig = Signal(r["component"], "error_codes", f"answered {r['code']}", r["w"], r["b"],
                     round(poisson_z(r["w"], max(r["b"], PSEUDO) * scale), 2),
                     _examples(r["ex"]))
        if r["component"] not in best or sig.z > best[r["component"]].z:
            best[r["component"]] = sig
    return list(best.values())


def _retries(store: Store, scale: float) -> list[Signal]:
    """Retried attempts (attempt > 1) above the baseline rate: a retry storm starts here."""
    return _counted(store, scale, "s.attempt > 1", "retries", "retried attempts")


def _changes(store: Store, scale: float) -> list[Signal]:
    """Version-like values a component shows in the window and never in the baseline."""
    if not store.has_table("_attrs"):
        return []
    rows = store.rows("""
        WITH a AS (
            SELECT node, name, value, execution_id,
                   execution_id IN (SELECT execution_id FROM _w) AS win,
                   execution_id IN (SELECT execution_id FROM _b) AS base
            FROM _attrs WHERE list_contains(?::VARCHAR[], name)),
        had AS (SELECT DISTINCT node, name FROM a WHERE base),
        new AS (SELECT node, name, value, count(DISTINCT execution_id) FILTER (WHERE win) AS w,
                       count(*) FILTER (WHERE base) AS b
                FROM a JOIN had USING (node, name) GROUP BY ALL HAVING b = 0 AND w > 0),
        -- The node's entities in the executions showing the new value.
        shown AS (
            SELECT x.node, x.name, x.value,
                   list([e.uid, src.path, e.location] ORDER BY e.started_at, e.uid) AS ex
            FROM (SELECT DISTINCT node, name, value, execution_id FROM a
                  SEMI JOIN new USING (node, name, value)) x
            JOIN _w e ON e.node = x.node AND e.execution_id = x.execution_id
            LEFT JOIN sources src ON src.id = e.source_id
            GROUP BY ALL)
        SELECT n.node, n.name, n.value, n.w, s.ex
        FROM new n LEFT JOIN shown s USING (node, name, value)
    """, [list(CHANGE_NAMES)])
    return [Signal(r["node"], "new_value", f"{r['name']}={r['value']}", r["w"], 0,
                   round(poisson_z(r["w"], PSEUDO * scale), 2), _examples(r["ex"]))
            for r in rows]


def _failed(store: Store, scale: float) -> list[Signal]:
    return _counted(store, scale, "s.status IN ('failed', 'timed_out')", "failed_status",
                    "failed or timed out")


#: The entity conditions ``_counted`` may count (SQL text is never built from input).
_COUNTED = ("s.attempt > 1", "s.status IN ('failed', 'timed_out')")


def _counted(store: Store, scale: float, where: str, signal: str, what: str) -> list[Signal]:
    """Entities meeting ``where`` per component, window against baseline, as Poisson surprise."""
    assert where in _COUNTED
    rows = store.rows(f"""
        SELECT s.node AS component, count(*) FILTER (WHERE s.win) AS w,
               count(*) FILTER (WHERE NOT s.win) AS b,
               arg_min([s.uid, src.path, s.location], s.uid, {EXAMPLES}) FILTER (WHERE s.win) AS ex
        FROM (SELECT *, true AS win FROM _w UNION ALL SELECT *, false FROM _b) s
        LEFT JOIN sources src ON src.id = s.source_id
        WHERE {where} GROUP BY ALL
    """)
    return [Signal(r["component"], signal, what, r["w"], r["b"],
                   round(poisson_z(r["w"], max(r["b"], PSEUDO) * scale), 2),
                   _examples(r["ex"]))
            for r in rows]
