"""Coverage: where chains break and why, each with a one-line fix.

``analyze(store)`` reads the correlated tables and reports:

- how many entities are stitched (in an execution with others), and by which method: the
  strongest rule among their edges, ``shared key`` when a key alone holds them in, ``alone``;
- how many executions span several systems;
- findings, grouped so a long list stays readable, each with a count, examples and a hint:
  messages with no producer, messages with no consumer (per channel); runs with no
  correlation key (per component); channels whose headers carry no propagation (no
  ``traceparent`` or id header: the header names seen are listed, so one can be configured);
  key values ignored as too common; links whose other end is not in the store; executions too
  large for time-order inference.

Inferred messages (from producer/consumer spans) are counted apart: they are the stand-ins
for records that were not exported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tracemap.correlate import RULES
from tracemap.errors import AnalysisError
from tracemap.store import Store

#: Findings per issue kept in the result (the largest groups).
MAX_GROUPS = 20
#: Examples listed per finding.
EXAMPLES = 3

HINTS = {
    "message_without_producer": "propagate W3C traceparent (or a correlation-id header) from "
                                "the producer, or ingest the producer's traces",
    "message_without_consumer": "ingest the consumers' traces or histories; if nothing reads "
                                "this channel, it is a dead end",
    "run_without_keys": "add a [correlation] rule in tracemap.toml for an id these runs carry "
                        "(input field, search attribute, header)",
    "headers_without_propagation": "map one of these headers to a key in [correlation.headers], "
                                   "or have producers send traceparent",
    "ignored_key": "a value this common is a constant, not an id: fix the producer, or raise "
                   "--max-key-fanout if it truly is one execution",
    "dangling_link": "the other end was not exported: ingest its source to complete the chain",
    "time_capped": "these executions are too large to order by time: add keys or links that "
                   "name producers and consumers",
}


@dataclass(frozen=True, slots=True)
class CoverageResult:
    """Stitching summary, entities by method, and findings with fix hints."""

    summary: dict[str, Any]
    methods: list[dict[str, Any]]
    findings: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "methods": self.methods, "findings": self.findings}


def analyze(store: Store) -> CoverageResult:
    """Where chains break in the correlated store; see the module docstring."""
    if not store.has_table("entities"):
        raise AnalysisError("the store is not correlated yet: run `tracemap correlate`.")
    store.sql("""
        CREATE OR REPLACE TEMP TABLE _cov_ent AS
        WITH incident AS (
            SELECT src_id AS id, rule FROM edges UNION ALL SELECT dst_id, rule FROM edges
        ), best AS (
            SELECT id, arg_min(rule, CASE rule """ + " ".join(
        f"WHEN '{r}' THEN {p}" for r, (p, _) in RULES.items()) + """ ELSE 99 END) AS rule
            FROM incident GROUP BY id
        )
        SELECT e.id, e.uid, e.kind, e.node, e.inferred, x.entities AS group_size,
               len(x.systems) AS systems,
               CASE WHEN b.rule IS NOT NULL THEN b.rule
                    WHEN x.entities > 1 THEN 'shared key' ELSE 'alone' END AS method
        FROM entities e JOIN executions x USING (execution_id)
        LEFT JOIN best b ON b.id = e.id
    """)
    try:
        summary = _summary(store)
        methods = store.rows(
            """SELECT method, count(*) AS entities,
                      count(*) FILTER (WHERE kind = 'run') AS runs,
                      count(*) FILTER (WHERE kind = 'step') AS steps,
                      count(*) FILTER (WHERE kind = 'message') AS messages,
                      count(*) FILTER (WHERE kind = 'dataset') AS datasets
               FROM _cov_ent WHERE NOT inferred GROUP BY method
               ORDER BY entities DESC, method""")
        total = summary["entities"] or 1
        for m in methods:
            m["share"] = round(m["entities"] / total, 4)
        findings = [*_messages(store), *_runs_without_keys(store), *_headers(store),
                    *_ignored(store), *_dangling(store), *_time_capped(store)]
    finally:
        store.sql("DROP TABLE IF EXISTS _cov_ent")
    return CoverageResult(summary, methods, findings)


def _summary(store: Store) -> dict[str, Any]:
    row = store.rows("""
        SELECT count(*) FILTER (WHERE NOT inferred) AS entities,
               count(*) FILTER (WHERE NOT inferred AND group_size > 1) AS stitched,
               count(*) FILTER (WHERE NOT inferred AND systems > 1) AS cross_system,
               count(*) FILTER (WHERE inferred) AS inferred_messages
        FROM _cov_ent""")[0]
    ex = store.rows("""SELECT count(*) AS executions,
                              count(*) FILTER (WHERE len(systems) > 1) AS multi_system,
                              count(*) FILTER (WHERE entities = 1) AS singletons
                       FROM executions""")[0]
    n = row["entities"] or 1
    return {**row, **ex, "stitched_share": round(row["stitched"] / n, 4),
            "cross_system_share": round(row["cross_system"] / n, 4),
            "edges": store.sql("SELECT count(*) FROM edges").fetchone()[0]}


def _finding(issue: str, where: str, count: int, total: int | None, examples: list[Any],
             detail: str = "") -> dict[str, Any]:
    return {"issue": issue, "where": where, "count": count, "total": total,
            "examples": [e for e in examples if e is not None][:EXAMPLES], "detail": detail,
            "hint": HINTS[issue]}


def _messages(store: Store) -> list[dict[str, Any]]:
    rows = store.rows(f"""
        WITH m AS (
            SELECT e.id, e.uid, e.node,
                   EXISTS (SELECT 1 FROM edges x WHERE x.dst_id = e.id) AS produced,
                   EXISTS (SELECT 1 FROM edges x WHERE x.src_id = e.id) AS consumed
            FROM entities e WHERE e.kind = 'message' AND NOT e.inferred
        )
        SELECT node, count(*) AS total,
               count(*) FILTER (WHERE NOT produced) AS no_producer,
               count(*) FILTER (WHERE NOT consumed) AS no_consumer,
               list(uid ORDER BY uid) FILTER (WHERE NOT produced)[1:{EXAMPLES}] AS ex_p,
               list(uid ORDER BY uid) FILTER (WHERE NOT consumed)[1:{EXAMPLES}] AS ex_c
        FROM m GROUP BY node ORDER BY node""")
    out = []
    for issue, n, ex in (("message_without_producer", "no_producer", "ex_p"),
                         ("message_without_consumer", "no_consumer", "ex_c")):
        groups = sorted((r for r in rows if r[n]), key=lambda r: (-r[n], r["node"]))
        out += [_finding(issue, r["node"], r[n], r["total"], list(r[ex] or []))
                for r in groups[:MAX_GROUPS]]
    return out


def _runs_without_keys(store: Store) -> list[dict[str, Any]]:
    rows = store.rows(f"""
        SELECT e.component, count(*) AS n,
               (SELECT count(*) FROM entities t WHERE t.kind = 'run'
                AND t.component = e.component) AS total,
               list(e.uid ORDER BY e.uid)[1:{EXAMPLES}] AS ex
        FROM entities e ANTI JOIN keys k ON k.entity_uid = e.uid AND k.kind <> 'channel'
        WHERE e.kind = 'run'
        GROUP BY e.component ORDER BY n DESC, e.component LIMIT {MAX_GROUPS}""")
    return [_finding("run_without_keys", r["component"], r["n"], r["total"], list(r["ex"]))
            for r in rows]


def _headers(store: Store) -> list[dict[str, Any]]:
    """Channels whose messages carry no identity key: which header names they do carry."""
    rows = store.rows(f"""
        WITH bare AS (
            SELECT e.uid, e.node, m.headers
            FROM entities e JOIN messages m ON m.uid = e.uid AND m.source_id = e.source_id
            ANTI JOIN keys k ON k.entity_uid = e.uid
                AND k.kind NOT IN ('channel', 'message_key', 'message_id')
            WHERE e.kind = 'message' AND NOT e.inferred
        ), names AS (
            SELECT node, unnest(json_keys(headers)) AS name FROM bare
            WHERE headers IS NOT NULL AND json_type(headers) = 'OBJECT'
        )
        SELECT b.node, count(*) AS n,
               (SELECT count(*) FROM entities t WHERE t.kind = 'message' AND t.node = b.node
                AND NOT t.inferred) AS total,
               list(b.uid ORDER BY b.uid)[1:{EXAMPLES}] AS ex,
               (SELECT list(name ORDER BY c DESC, name)[1:8] FROM (
                    SELECT name, count(*) AS c FROM names WHERE names.node = b.node
                    GROUP BY name)) AS header_names
        FROM bare b GROUP BY b.node ORDER BY n DESC, b.node LIMIT {MAX_GROUPS}""")
    return [_finding("headers_without_propagation", r["node"], r["n"], r["total"],
                     list(r["ex"]),
                     "headers seen: " + (", ".join(r["header_names"]) if r["header_names"]
                                         else "none"))
            for r in rows]


def _ignored(store: Store) -> list[dict[str, Any]]:
    rows = store.rows(f"SELECT kind, value, entities FROM ignored_keys "
                      f"ORDER BY entities DESC, kind, value LIMIT {MAX_GROUPS}")
    return [_finding("ignored_key", f"{r['kind']}={r['value']}", r["entities"], None, [],
                     f"held by {r['entities']} entities") for r in rows]


def _dangling(store: Store) -> list[dict[str, Any]]:
    rows = store.rows(f"""
        WITH l AS (
            SELECT l.kind, l.evidence, l.src_uid, l.dst_uid,
                   s.uid IS NULL AS no_src, d.uid IS NULL AS no_dst
            FROM links l LEFT JOIN entities s ON s.uid = l.src_uid
            LEFT JOIN entities d ON d.uid = l.dst_uid
            WHERE s.uid IS NULL OR d.uid IS NULL
        )
        SELECT kind, evidence, count(*) AS n,
               list(CASE WHEN no_src THEN src_uid ELSE dst_uid END
                    ORDER BY src_uid, dst_uid)[1:{EXAMPLES}] AS ex
        FROM l GROUP BY kind, evidence ORDER BY n DESC, kind, evidence LIMIT {MAX_GROUPS}""")
    return [_finding("dangling_link", f"{r['kind']} ({r['evidence']})", r["n"], None,
                     list(r["ex"]), "missing: " + ", ".join(r["ex"])) for r in rows]


def _time_capped(store: Store) -> list[dict[str, Any]]:
    raw = store.meta("correlate_params")
    cap = json.loads(raw).get("time_cap") if raw else None
    if not cap:
        return []
    rows = store.rows(f"""SELECT execution_id, entities FROM executions WHERE entities > ?
                          ORDER BY entities DESC LIMIT {MAX_GROUPS}""", [cap])
    if not rows:
        return []
    return [_finding("time_capped", f"executions over {cap} entities", len(rows), None,
                     [r["execution_id"] for r in rows],
                     f"largest: {rows[0]['entities']} entities")]
