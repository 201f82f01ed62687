"""Failure propagation and root cause: where an incident started, what it reached, and why.

How candidates are found and ranked:

1. **Blame walk** (SQL, recursive): a failed entity hands the blame to a failed callee
   (``calls``), a failed step it contains (``contains``) or a failed child run (``child``),
   until an entity with no failed dependency is reached: the *origin* of that failure. Callers
   that only suffer from a failing callee are thereby explained by it.
2. **Evidence per component** in the window versus the baseline (default: the same length
   just before; or ``baseline_sources``, ingested files/folders of fault-free records):
   failure rate, origins, error logs attached by trace/span id, retries (attempt > 1), and
   p95 latency. A slow component whose callee slowed down by as much is
   explained by the callee.
3. **Discriminating attributes**: attribute values (build id, service.version, host, partition,
   task queue, schema version header, payload field set) over-represented in failed executions
   against healthy ones (healthy executions of the window and the baseline). When such a value
   belongs to a component *upstream* of an origin, that upstream component becomes a candidate
   that explains the origin: a consumer broken by a producer's deployment points at the producer.
   Upstream follows the data (``change_graph``): producer -> channel -> consumer, callee ->
   caller, and caller -> callee, so a service the consumer calls with the payload counts too.
4. **Score** = share of the window's failures a component originates (or explains through an
   attribute), times the share of its failures above the baseline's rate, + 0.3 × its
   failure-rate increase + 0.1 for a latency shift + 0.1 for retries; a component explained
   by another keeps half its score, so it ranks below its explainer.
5. **Anomaly signals** (``signals``, ranked by ``rootcause``) compare the window with the
   baseline whether or not anything failed: client-span and own latency, error/warning lines,
   log templates that appear or stop, call paths that vanish, consumer lag, retries, and
   version-like values new in the window (a change ranks above the anomalies it reaches).
   Each suspect adds up to ``SIGNAL_WEIGHT`` to its score, so failed statuses rank first where
   they exist and the signals alone rank where nothing carries a status.

Also reported: propagation (origin → affected, with the edge kind that carried it), silent
failures (messages whose usual consumers never picked them up), partial failures (one consumer
ok, another failed) and false completions (a run reports success while something downstream of
it failed).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import networkx as nx

from tracemap.analyze import rootcause, signals
from tracemap.analyze.impact import dependency_graph
from tracemap.analyze.plain import plain
from tracemap.errors import AnalysisError
from tracemap.store import Store

FAILED = ("failed", "timed_out")
#: Edge kinds along which a failure is handed to what an entity depends on.
BLAME_KINDS = ("calls", "contains", "child")
#: Detail/header names whose values can discriminate failed from healthy executions.
ATTRIBUTE_NAMES = (
    "service.version", "deployment.environment", "host.name", "host", "hostname",
    "binaryChecksum", "binary_checksum", "buildId", "build_id", "worker_build_id",
    "workerVersion", "worker_version", "taskQueue", "task_queue", "partition",
    "messaging.kafka.destination.partition", "schema-version", "schema_version",
    "schemaVersion", "dataschema", "ce_dataschema", "event.version", "operator", "queue",
)
#: A value is discriminating when this share of failed executions has it ...
MIN_FAILED_SHARE = 0.6
#: ... and it is this much more common among failed than among healthy executions.
MIN_SHARE_GAP = 0.5
#: Fewer healthy executions than this and attributes cannot be compared.
MIN_HEALTHY = 3
#: A latency shift is a p95 at least this many times the baseline's.
LATENCY_FACTOR = 2.0
#: A consumer is "usual" for a channel when it took at least this share of its messages.
USUAL_CONSUMER_SHARE = 0.5
MAX_WALK_DEPTH = 16
#: Most a component's anomaly signals add to its score (the strongest suspect gets all of it).
SIGNAL_WEIGHT = 0.25
#: Signals kept as evidence per cause.
SIGNALS_KEPT = 3


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    value: str
    failed_share: float
    healthy_share: float


@dataclass(frozen=True, slots=True)
class RootCause:
    component: str
    score: float
    explains: list[str]
    evidence: list[str]
    attributes: list[Attribute] = field(default_factory=list)
    explained_by: str | None = None
    #: One line: what the strongest evidence shows.
    explanation: str = ""
    #: Anomalies against the baseline (``signals.Signal.to_dict``), strongest first, each
    #: with window and baseline values and example entities (file, location).
    signals: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime | None
    until: datetime | None
    baseline_since: datetime | None
    baseline_until: datetime | None
    execution: str | None = None
    #: Files or folders whose records are the baseline (instead of a baseline period).
    baseline_sources: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FailuresResult:
    window: Window
    failed_entities: int
    failed_executions: int
    root_causes: list[RootCause]
    propagation: list[dict[str, Any]]
    silent: list[dict[str, Any]]
    partial: list[dict[str, Any]]
    false_completions: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        out = plain(self)
        out["window"] = {k: (v.isoformat() if isinstance(v, datetime) else v)
                         for k, v in plain(self.window).items()}
        return out


def analyze(store: Store, *, since: datetime | None = None, until: datetime | None = None,
            baseline_since: datetime | None = None, baseline_until: datetime | None = None,
            execution: str | None = None,
            baseline_sources: Sequence[str] = ()) -> FailuresResult:
    """Root causes and propagation of the failures in a window or one execution.

    The baseline is ``baseline_sources`` (ingested files or folders holding fault-free
    records) when given, else the period ``baseline_since``..``baseline_until`` (default: as
    long as the window, just before it).
    """
    base_ids = _baseline_ids(store, baseline_sources)
    window = _window(store, since, until, baseline_since, baseline_until, execution,
                     list(baseline_sources), base_ids)
    _scope(store, window, base_ids)
    failed = store.sql("SELECT count(*) FROM _w_failed").fetchone()[0]
    failed_execs = store.sql(
        "SELECT count(DISTINCT execution_id) FROM _w_failed").fetchone()[0]
    origins = _blame(store)
    stats = _node_stats(store, window)
    attrs = _attributes(store) if execution is None else {}
    silent = _silent(store, window)
    causes = _rank(store, origins, stats, attrs, failed, silent)
    if execution is None:
        calls = store.sql("SELECT source, target FROM component_edges "
                          "WHERE kind = 'calls'").fetchall()
        reaches = list(change_graph(store).edges())
        causes = _with_signals(causes, rootcause.rank(signals.collect(store), calls, reaches))
    return FailuresResult(
        window=window, failed_entities=failed, failed_executions=failed_execs,
        root_causes=causes, propagation=_propagation(store), silent=silent,
        partial=_partial(store), false_completions=false_completions(store, scoped=True))


# ------------------------------------------------------------------------------------- scope

def _baseline_ids(store: Store, paths: Sequence[str]) -> list[int]:
    """Ids of the ingested sources that are, or lie under, the given baseline paths."""
    if not paths:
        return []
    # Ingest records a file by its real path; a baseline named through a symlink is the same.
    wanted = {f(p) for p in paths for f in (os.path.abspath, os.path.realpath)}
    ids = [sid for sid, path in store.sql("SELECT id, path FROM sources").fetchall()
           if any(path == w or path.startswith(w.rstrip(os.sep) + os.sep) for w in wanted)]
    if not ids:
        raise AnalysisError(f"no ingested file is, or lies under, {', '.join(paths)}; ingest "
                            "the baseline files too (`tracemap status` lists the sources)")
    return ids


def _window(store: Store, since: datetime | None, until: datetime | None,
            b_since: datetime | None, b_until: datetime | None,
            execution: str | None, b_paths: list[str], b_ids: list[int]) -> Window:
    if execution:
        found = store.sql("SELECT count(*) FROM executions WHERE execution_id = ?",
                          [execution]).fetchone()[0]
        if not found:
            raise AnalysisError(f"no execution '{execution}'; `tracemap trace ID` finds one by "
                                "any key or uid")
        return Window(None, None, None, None, execution)
    lo, hi = store.sql("""
        SELECT min(t0), max(t1) FROM (
            SELECT started_at AS t0, coalesce(ended_at, started_at) AS t1, source_id
            FROM entities
            UNION ALL SELECT time, time, source_id FROM logs)
        WHERE NOT list_contains(?::INTEGER[], source_id)""", [b_ids]).fetchone()
    if lo is None:
        raise AnalysisError("the store has no entities or logs outside the baseline; run "
                            "`tracemap ingest` first")
    since = since or lo
    until = until or hi + timedelta(microseconds=1)
    if until <= since:
        raise AnalysisError(f"--until ({until.isoformat()}) must be after --since "
                            f"({since.isoformat()})")
    if b_ids:
        return Window(since, until, b_since, b_until, baseline_sources=b_paths)
    length = until - since
    b_until = b_until or since
    b_since = b_since or b_until - length
    return Window(since, until, b_since, b_until)


# Window and baseline rows of a table by time column; ``?`` order: ids, since, until.
_IN_WINDOW = ("NOT list_contains(?::INTEGER[], source_id) AND {t} >= ? AND {t} < ?")
_IN_BASELINE = ("list_contains(?::INTEGER[], source_id) AND {t} >= coalesce(?, {t}) "
                "AND {t} <= coalesce(?, {t})")
_IN_PERIOD = "len(?::INTEGER[]) = 0 AND {t} >= ? AND {t} < ?"


#: The entity columns the analyses read from the scope (copying every column cost as much as
#: the rest of the scoping).
_SCOPE_COLUMNS = ("id, uid, kind, node, name, status, started_at, ended_at, attempt, run_uid, "
                  "parent_uid, source_id, location, execution_id")


def _scope(store: Store, w: Window, base_ids: list[int]) -> None:
    """Temporary tables: the window's entities (``_w``), its failed ones, its log lines
    (``_wl``), and the baseline's entities and log lines (``_b``, ``_bl``)."""
    if w.execution:
        store.sql(f"CREATE OR REPLACE TEMP TABLE _w AS SELECT {_SCOPE_COLUMNS} FROM entities "
                  "WHERE execution_id = ?", [w.execution])
        store.sql(f"CREATE OR REPLACE TEMP TABLE _b AS SELECT {_SCOPE_COLUMNS} FROM entities "
                  "WHERE false")
        store.sql("CREATE OR REPLACE TEMP TABLE _wl AS SELECT * FROM logs WHERE entity_uid IN "
                  "(SELECT uid FROM _w)")
        store.sql("CREATE OR REPLACE TEMP TABLE _bl AS SELECT * FROM logs WHERE false")
    else:
        base = _IN_BASELINE if base_ids else _IN_PERIOD
        for table, cols, col, suffix in (("entities", _SCOPE_COLUMNS, "started_at", ""),
                                         ("logs", "*", "time", "l")):
            store.sql(f"CREATE OR REPLACE TEMP TABLE _w{suffix} AS SELECT {cols} FROM {table} "
                      f"WHERE {_IN_WINDOW.format(t=col)}", [base_ids, w.since, w.until])
            store.sql(f"CREATE OR REPLACE TEMP TABLE _b{suffix} AS SELECT {cols} FROM {table} "
                      f"WHERE {base.format(t=col)}",
                      [base_ids, w.baseline_since, w.baseline_until])
    store.sql("CREATE OR REPLACE TEMP TABLE _w_failed AS SELECT id, execution_id FROM _w "
              "WHERE status IN ('failed', 'timed_out')")


# ------------------------------------------------------------------------------------- blame

# The edges blame can travel, found once: the recursion then joins a table the size of the
# failures rather than all edges and entities at every step (5M store: 6 s -> 0.7 s).
_BLAME_EDGES_SQL = f"""
CREATE OR REPLACE TEMP TABLE _blame_edges AS
SELECT e.src_id AS src, e.dst_id AS dst, e.kind FROM edges e
JOIN entities d ON d.id = e.dst_id AND d.status IN {FAILED}
WHERE e.kind IN {BLAME_KINDS}
"""

_BLAME_SQL = f"""
CREATE OR REPLACE TEMP TABLE _blame AS
WITH RECURSIVE hand(failed_id, cur, prev, kind, depth) AS (
    SELECT id, id, NULL::BIGINT, NULL::VARCHAR, 0 FROM _w_failed
    UNION
    SELECT h.failed_id, e.dst, h.cur, e.kind, h.depth + 1
    FROM hand h
    JOIN _blame_edges e ON e.src = h.cur
    WHERE h.depth < {MAX_WALK_DEPTH}
)
SELECT h.* FROM hand h
"""


def _blame(store: Store) -> dict[str, int]:
    """Origins per node: how many of the window's failed entities end their blame walk there."""
    store.sql(_BLAME_EDGES_SQL)
    store.sql(_BLAME_SQL)
    # An origin is a walk's entity that hands the blame on to nothing.
    store.sql("""
        CREATE OR REPLACE TEMP TABLE _origins AS
        SELECT DISTINCT h.failed_id, h.cur AS origin_id
        FROM _blame h
        WHERE NOT EXISTS (SELECT 1 FROM _blame n WHERE n.failed_id = h.failed_id
                          AND n.prev = h.cur)
    """)
    rows = store.sql("""
        SELECT o.node, count(DISTINCT b.failed_id) AS n
        FROM _origins b JOIN entities o ON o.id = b.origin_id
        GROUP BY o.node ORDER BY n DESC, o.node
    """).fetchall()
    return dict(rows)


def _propagation(store: Store) -> list[dict[str, Any]]:
    """Each hand-over of blame, aggregated: from the origin's node to the affected node."""
    rows = store.rows("""
        SELECT d.node AS "from", s.node AS "to", h.kind AS via, count(*) AS count
        FROM _blame h
        JOIN entities s ON s.id = h.prev
        JOIN entities d ON d.id = h.cur
        WHERE h.prev IS NOT NULL AND s.node <> d.node
        GROUP BY ALL ORDER BY count DESC, "from", "to", via
    """)
    return rows


# ------------------------------------------------------------------------------------- stats

def _node_stats(store: Store, w: Window) -> dict[str, dict[str, Any]]:
    """Per node: totals and failures in window and baseline, retries, error logs, p95s."""
    rows = store.rows(f"""
        WITH win AS (
            SELECT node, count(*) AS n,
                   count(*) FILTER (WHERE status IN {FAILED}) AS failed,
                   count(*) FILTER (WHERE attempt > 1) AS retries,
                   quantile_cont(epoch_ms(ended_at) - epoch_ms(started_at), 0.95)
                       FILTER (WHERE ended_at IS NOT NULL) AS p95
            FROM _w GROUP BY node),
        base AS (
            SELECT node, count(*) AS n,
                   count(*) FILTER (WHERE status IN {FAILED}) AS failed,
                   quantile_cont(epoch_ms(ended_at) - epoch_ms(started_at), 0.95)
                       FILTER (WHERE ended_at IS NOT NULL) AS p95
            FROM _b GROUP BY node),
        errlogs AS (
            SELECT e.node, count(*) AS n FROM logs l JOIN _w e ON e.uid = l.entity_uid
            WHERE l.severity IN ('error', 'fatal') GROUP BY e.node)
        SELECT win.node, win.n, win.failed, win.retries, win.p95,
               coalesce(base.n, 0) AS base_n, coalesce(base.failed, 0) AS base_failed,
               base.p95 AS base_p95, coalesce(errlogs.n, 0) AS error_logs
        FROM win LEFT JOIN base USING (node) LEFT JOIN errlogs USING (node)
    """)
    return {r["node"]: r for r in rows}


# ------------------------------------------------------------------------------------- attributes

# A message's headers and fields are set by whoever produced it: credit them to that node.
_MSG_SCOPE_SQL = """
CREATE OR REPLACE TEMP TABLE _msg_scoped AS
SELECT s.uid, coalesce(p.node, s.node) AS node, s.execution_id, s.source_id
FROM (SELECT id, uid, node, execution_id, source_id FROM _w WHERE kind = 'message'
      UNION ALL SELECT id, uid, node, execution_id, source_id FROM _b WHERE kind = 'message') s
LEFT JOIN edges e ON e.dst_id = s.id AND e.kind = 'emits'
LEFT JOIN entities p ON p.id = e.src_id
"""

#: Paths read from each run's and step's detail, in ``_docs.vals``: the attribute names,
#: then the server error codes ``signals`` counts (OTel semantic conventions).
CODE_PATHS = ('$."http.response.status_code"', '$."http.status_code"',
              '$."rpc.grpc.status_code"')

# The scope's run and step details, parsed once for the attributes and the error codes. The
# time range is the scope's: an entity's time is its row's, so the range prunes the scans.
_DOCS_SQL = """
CREATE OR REPLACE TEMP TABLE _docs AS
SELECT s.id, s.kind, s.node, s.execution_id, json_extract(d.doc, ?::VARCHAR[]) AS vals
FROM (SELECT id, uid, kind, node, execution_id, source_id FROM _w WHERE kind IN ('run', 'step')
      UNION ALL SELECT id, uid, kind, node, execution_id, source_id FROM _b
      WHERE kind IN ('run', 'step')) s
JOIN (
    SELECT uid, source_id, 'run' AS kind, detail AS doc FROM runs
    WHERE started_at BETWEEN ? AND ?
    UNION ALL SELECT uid, source_id, 'step', detail FROM steps
    WHERE started_at BETWEEN ? AND ?) d
    ON d.uid = s.uid AND d.source_id = s.source_id AND d.kind = s.kind
WHERE d.doc IS NOT NULL
"""

_ATTR_SQL = """
CREATE OR REPLACE TEMP TABLE _attrs AS
WITH msgs AS (
    SELECT s.execution_id, s.node, m.detail, m.headers, m.payload FROM _msg_scoped s
    JOIN messages m ON m.uid = s.uid AND m.source_id = s.source_id
    WHERE m.produced_at BETWEEN ? AND ?),
-- One multi-path extract per document: ~9x cheaper than json_each over every member.
extracted AS (
    SELECT execution_id, node, unnest(?::VARCHAR[]) AS name, unnest(vals) AS v
    -- The spans of one component in one execution mostly repeat their values: once each.
    FROM (SELECT DISTINCT execution_id, node, vals[1:?] AS vals FROM _docs)
    UNION ALL
    SELECT execution_id, node, unnest(?::VARCHAR[]), unnest(json_extract(doc, ?::VARCHAR[]))
    FROM (SELECT execution_id, node, detail AS doc FROM msgs
          UNION ALL SELECT execution_id, node, headers FROM msgs)
    WHERE doc IS NOT NULL),
pairs AS (
    SELECT execution_id, node, name, v ->> '$' AS value FROM extracted
    WHERE json_type(v) NOT IN ('OBJECT', 'ARRAY', 'NULL')
    UNION ALL
    SELECT execution_id, node, 'payload.fields', array_to_string(list_sort(json_keys(payload)), ',')
    FROM msgs WHERE json_type(payload) = 'OBJECT')
SELECT DISTINCT execution_id, node, name, value FROM pairs WHERE value IS NOT NULL
"""


def _attributes(store: Store) -> dict[str, list[Attribute]]:
    """Discriminating attribute values per node (see module docstring, step 3)."""
    names = list(ATTRIBUTE_NAMES)
    paths = [f'$."{name}"' for name in names]
    store.sql(_MSG_SCOPE_SQL)
    lo, hi = store.sql("SELECT min(started_at), max(started_at) FROM "
                       "(SELECT started_at FROM _w UNION ALL SELECT started_at FROM _b)"
                       ).fetchone()
    store.sql(_DOCS_SQL, [[*paths, *CODE_PATHS], lo, hi, lo, hi])
    store.sql(_ATTR_SQL, [lo, hi, names, len(names), names, paths])
    store.sql("""
        CREATE OR REPLACE TEMP TABLE _exec_health AS
        SELECT execution_id, bool_or(status IN ('failed', 'timed_out')) AS failed
        FROM (SELECT execution_id, status FROM _w UNION ALL SELECT execution_id, status FROM _b)
        GROUP BY execution_id
    """)
    n_failed, n_healthy = store.sql(
        "SELECT count(*) FILTER (WHERE failed), count(*) FILTER (WHERE NOT failed) "
        "FROM _exec_health").fetchone()
    if not n_failed or n_healthy < MIN_HEALTHY:
        return {}
    rows = store.rows("""
        SELECT a.node, a.name, a.value,
               count(DISTINCT a.execution_id) FILTER (WHERE h.failed) / ? AS failed_share,
               count(DISTINCT a.execution_id) FILTER (WHERE NOT h.failed) / ? AS healthy_share
        FROM _attrs a JOIN _exec_health h USING (execution_id)
        GROUP BY ALL
        HAVING failed_share >= ? AND failed_share - healthy_share >= ?
        ORDER BY failed_share - healthy_share DESC, a.node, a.name, a.value
    """, [float(n_failed), float(n_healthy), MIN_FAILED_SHARE, MIN_SHARE_GAP])
    out: dict[str, list[Attribute]] = defaultdict(list)
    for r in rows:
        out[r["node"]].append(Attribute(r["name"], r["value"], round(r["failed_share"], 3),
                                        round(r["healthy_share"], 3)))
    return dict(out)


# ------------------------------------------------------------------------------------- ranking

def _rank(store: Store, origins: dict[str, int], stats: dict[str, dict[str, Any]],
          attrs: dict[str, list[Attribute]], failed_total: int,
          silent: list[dict[str, Any]]) -> list[RootCause]:
    # A message its usual consumer never took is a failure of that consumer, one that left no
    # failed record behind: it counts with the failed entities.
    missed: dict[str, int] = defaultdict(int)
    for s in silent:
        missed[s["expected_consumer"]] += 1
    total = failed_total + len(silent)
    if not total:
        return []
    graph = dependency_graph(store)
    flow = change_graph(store)
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = defaultdict(list)
    explains: dict[str, set[str]] = defaultdict(set)
    explained_by: dict[str, str] = {}
    for node, n in missed.items():
        scores[node] = n / total + 0.3
        evidence[node].append(f"stopped consuming: {n} messages of the window never reached it")
    for node, n in origins.items():
        s = stats.get(node, {})
        rate = s.get("failed", 0) / s["n"] if s.get("n") else 0.0
        base = s.get("base_failed", 0) / s["base_n"] if s.get("base_n") else 0.0
        # Failures at the rate the baseline already had are the system's usual noise: only the
        # excess over it counts (a healthy baseline keeps the whole share).
        excess = max(0.0, 1 - base / rate) if rate else 1.0
        scores[node] = scores.get(node, 0.0) + n / total * excess
        evidence[node].append(f"origin of {n} of {failed_total} failures in the window"
                              + ("" if excess else f", as often as in the baseline ({base:.0%})"))
        if rate > base:
            scores[node] += 0.3 * (rate - base)
            evidence[node].append(f"failure rate {rate:.0%} in the window vs {base:.0%} before")
        if s.get("retries"):
            scores[node] += 0.1
            evidence[node].append(f"{s['retries']} retried attempts")
        if s.get("error_logs"):
            evidence[node].append(f"{s['error_logs']} error logs attached")
    for node, s in stats.items():
        if s.get("p95") and s.get("base_p95") and s["p95"] >= LATENCY_FACTOR * s["base_p95"]:
            scores[node] = scores.get(node, 0.0) + 0.1
            evidence[node].append(f"p95 latency {s['p95']:.0f} ms vs {s['base_p95']:.0f} ms before")
    _explain_latency(graph, stats, explained_by, explains)
    # Failed entities are explained by the origins their blame reached.
    for victim, origin in _victims(store):
        if victim != origin:
            explains[origin].add(victim)
    # Attributes of an upstream component explain the origins downstream of it.
    for node in sorted(origins):
        if scores.get(node, 0.0) <= 0:
            continue  # failing as often as in the baseline: noise, nothing to explain
        for upstream, found in attrs.items():
            if upstream == node or upstream not in flow or node not in flow:
                continue
            if not nx.has_path(flow, upstream, node):
                continue
            best = found[0]
            gain = scores[node] * (best.failed_share - best.healthy_share)
            scores[upstream] = max(scores.get(upstream, 0.0), scores[node] + gain)
            evidence[upstream].append(
                f"upstream of {node}, whose failed executions carry its attribute values "
                "below far more often than healthy ones")
            explains[upstream].add(node)
            explained_by.setdefault(node, upstream)
    for node, by in explained_by.items():
        if node in scores and scores.get(by, 0.0) > 0:
            scores[node] *= 0.5
    scores = {node: score for node, score in scores.items() if score > 0}
    causes = [RootCause(component=node, score=round(score, 3),
                        explains=sorted(explains.get(node, set()) - {node}),
                        evidence=evidence[node], attributes=attrs.get(node, []),
                        explained_by=explained_by.get(node),
                        explanation=evidence[node][0] if evidence[node] else "")
              for node, score in scores.items()]
    causes.sort(key=lambda c: (-c.score, c.component))
    return causes


def change_graph(store: Store) -> nx.DiGraph:
    """Where a change to a component's data can break something: u -> v as in the dependency
    graph (a callee's answers reach its callers, a producer's messages its consumers), plus
    caller -> callee, because a request carries what its caller received: a new payload
    shape handed on by a consumer breaks the service it calls with it."""
    graph = nx.DiGraph(dependency_graph(store).edges())
    graph.add_edges_from(store.sql("SELECT source, target FROM component_edges "
                                   "WHERE kind = 'calls'").fetchall())
    return graph


def _with_signals(causes: list[RootCause],
                  suspects: list[rootcause.Suspect]) -> list[RootCause]:
    """Failed-status causes keep their score and order; each suspect of the signals adds up
    to ``SIGNAL_WEIGHT`` (its strength relative to the strongest suspect), so without any
    failed status the signals alone rank. A suspect that the failed statuses already show
    to be a victim of another cause is left out: its anomaly is that cause's."""
    victims = {v for c in causes for v in c.explains}
    suspects = [s for s in suspects if s.component not in victims]
    if not suspects:
        return causes
    top = suspects[0].strength
    by = {c.component: c for c in causes}
    explains: dict[str, list[str]] = defaultdict(list)
    for s in suspects:
        if s.explained_by:
            explains[s.explained_by].append(s.component)
    for s in suspects:
        add = SIGNAL_WEIGHT * s.strength / top
        found = [sig.to_dict() for sig in s.signals[:SIGNALS_KEPT]]
        lines = [rootcause.explain(s.component, sig) for sig in s.signals[:SIGNALS_KEPT]]
        old = by.get(s.component)
        if old is None:
            by[s.component] = RootCause(s.component, round(add, 3),
                                        sorted(explains[s.component]), lines,
                                        explained_by=s.explained_by,
                                        explanation=s.explanation, signals=found)
        else:
            by[s.component] = replace(
                old, score=round(old.score + add, 3),
                explains=sorted({*old.explains, *explains[s.component]}),
                evidence=[*old.evidence, *lines],
                explanation=old.explanation or s.explanation, signals=found)
    out = list(by.values())
    out.sort(key=lambda c: (-c.score, c.component))
    return out


def _victims(store: Store) -> list[tuple[str, str]]:
    return [tuple(r) for r in store.sql("""
        SELECT DISTINCT f.node, o.node
        FROM _origins b JOIN entities f ON f.id = b.failed_id
        JOIN entities o ON o.id = b.origin_id ORDER BY ALL
    """).fetchall()]


def _explain_latency(graph: nx.DiGraph, stats: dict[str, dict[str, Any]],
                     explained_by: dict[str, str], explains: dict[str, set[str]]) -> None:
    """A slowed caller whose callee slowed by as much is explained by the callee."""
    def shift(node: str) -> float:
        s = stats.get(node) or {}
        if s.get("p95") and s.get("base_p95"):
            return s["p95"] - s["base_p95"]
        return 0.0

    for callee, caller, data in graph.edges(data=True):
        if data["kind"] != "calls":
            continue  # dependency edges run callee -> caller for calls
        if shift(caller) > 0 and shift(callee) >= 0.7 * shift(caller):
            explained_by.setdefault(caller, callee)
            explains[callee].add(caller)


# ------------------------------------------------------------------------------------- messages

def _silent(store: Store, w: Window) -> list[dict[str, Any]]:
    """Messages of the window that none of their channel's usual consumers picked up."""
    if w.execution:
        reference = "SELECT id, node FROM entities WHERE kind = 'message'"
        params: list[Any] = []
    else:
        reference = "SELECT id, node FROM entities WHERE kind = 'message' AND started_at < ?"
        params = [w.until]
    return store.rows(f"""
        WITH ref AS ({reference}),
        consumed AS (
            SELECT m.node AS channel, c.node AS consumer, count(DISTINCT m.id) AS n
            FROM ref m JOIN edges e ON e.src_id = m.id AND e.kind IN ('triggers', 'consumes')
            JOIN entities c ON c.id = e.dst_id
            GROUP BY ALL),
        totals AS (SELECT node AS channel, count(*) AS n FROM ref GROUP BY ALL),
        usual AS (SELECT c.channel, c.consumer FROM consumed c JOIN totals t USING (channel)
                  WHERE c.n >= ? * t.n)
        SELECT m.uid AS message, m.node AS channel, u.consumer AS expected_consumer
        FROM _w m JOIN usual u ON u.channel = m.node
        WHERE m.kind = 'message' AND NOT EXISTS (
            SELECT 1 FROM edges e JOIN entities c ON c.id = e.dst_id
            WHERE e.src_id = m.id AND e.kind IN ('triggers', 'consumes') AND c.node = u.consumer)
        ORDER BY channel, expected_consumer, m.started_at, message
    """, [*params, USUAL_CONSUMER_SHARE])


def _partial(store: Store) -> list[dict[str, Any]]:
    """Messages of the window with one consumer that succeeded and another that failed."""
    rows = store.rows(f"""
        SELECT m.uid AS message, m.node AS channel,
               list_sort(list(DISTINCT c.node) FILTER (WHERE c.status NOT IN {FAILED})) AS ok,
               list_sort(list(DISTINCT c.node) FILTER (WHERE c.status IN {FAILED})) AS failed
        FROM _w m JOIN edges e ON e.src_id = m.id AND e.kind IN ('triggers', 'consumes')
        JOIN entities c ON c.id = e.dst_id
        WHERE m.kind = 'message'
        GROUP BY m.uid, m.node
        HAVING len(ok) > 0 AND len(failed) > 0
        ORDER BY channel, message
    """)
    return rows


# The edges a false completion can run along: those into an entity from which a failure can
# be reached. The walk from every ok run then skips the subtrees that hold no failure (5M
# store: 1.35M walked rows, 16 s of CPU, before).
_TOWARD_FAILURES_SQL = f"""
CREATE OR REPLACE TEMP TABLE _fc_edges AS
WITH RECURSIVE e AS MATERIALIZED (
    SELECT src_id, dst_id FROM edges WHERE kind <> 'retry_of'),
toward(id) AS (
    SELECT id FROM entities WHERE status IN {FAILED}
    UNION
    SELECT e.src_id FROM toward t JOIN e ON e.dst_id = t.id)
SELECT e.src_id, e.dst_id FROM e SEMI JOIN toward t ON t.id = e.dst_id
"""

_FALSE_COMPLETION_SQL = f"""
WITH RECURSIVE ok_runs AS (
    SELECT r.id, r.uid, r.node, r.execution_id FROM {{runs}} r
    WHERE r.kind = 'run' AND r.status = 'ok'
      AND r.execution_id IN (SELECT execution_id FROM entities WHERE status IN {FAILED})
      AND r.id IN (SELECT src_id FROM _fc_edges)),
reach(run_id, cur, depth) AS (
    SELECT id, id, 0 FROM ok_runs
    UNION
    SELECT r.run_id, e.dst_id, r.depth + 1 FROM reach r JOIN _fc_edges e ON e.src_id = r.cur
    WHERE r.depth < {MAX_WALK_DEPTH})
SELECT o.uid AS run, o.node AS component,
       list({{'uid': d.uid, 'component': d.node, 'status': d.status, 'error': d.error}}
            ORDER BY d.started_at, d.uid) AS downstream_failures
FROM ok_runs o JOIN reach r ON r.run_id = o.id
JOIN entities d ON d.id = r.cur AND d.status IN {FAILED} AND d.node <> o.node
GROUP BY o.uid, o.node ORDER BY component, run
"""


def false_completions(store: Store, *, scoped: bool = False) -> list[dict[str, Any]]:
    """Runs that report success while something downstream of them (another component) failed."""
    source = "_w" if scoped else "entities"
    store.sql(_TOWARD_FAILURES_SQL)
    return store.rows(_FALSE_COMPLETION_SQL.replace("{runs}", source))
