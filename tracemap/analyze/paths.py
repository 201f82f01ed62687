"""Paths: the distinct end-to-end pathways executions take across components, with latency.

A pathway is the set of component hops an execution made (``edges`` whose two ends are on
different component-graph nodes), whatever the timing of parallel branches. Its ``hash`` is
the first 16 hex digits of the md5 of those hops sorted (``source>target:kind`` joined by
``|``): computed offline, like Datadog's pathway hash, and stable across runs and stores. An
execution that ran in one component only (a single-service trace) takes that component's
pathway, hashed from its name, with no hops; a message nobody consumed is no pathway.

For each pathway: how many executions took it, their end-to-end latency (first start to last
end) p50/p95/p99, their failure rate, each hop's latency p50/p95 (for a message hop, the
producer -> message is the produce time and message -> consumer the consumer's lag), and the
time spent inside each component (its first start to its last end in the execution).

``--from``/``--to`` (either or both) keep the pathways in which ``to`` is reachable from
``from``, measure the latency from the first start on ``from`` (else the execution's start) to
the last end on ``to`` (else its end), and list only the hops on a route between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import networkx as nx

from tracemap.analyze.plain import plain
from tracemap.store import Store

#: Pathways listed (the most travelled first).
MAX_PATHS = 50


@dataclass(frozen=True, slots=True)
class Hop:
    """One hop of a pathway, with its latency over the executions that took the pathway."""

    source: str
    target: str
    kind: str
    p50_ms: float | None
    p95_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "kind": self.kind,
                "p50_ms": self.p50_ms, "p95_ms": self.p95_ms}


@dataclass(frozen=True, slots=True)
class Path:
    """One distinct pathway: its components in the order they are reached, counts, latency."""

    hash: str
    components: list[str]
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    failure_rate: float
    hops: list[Hop] = field(default_factory=list)
    inside: list[dict[str, Any]] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = plain(self)
        out["hops"] = [h.to_dict() for h in self.hops]
        return out


@dataclass(frozen=True, slots=True)
class PathsResult:
    """Pathways in the window, most travelled first; ``executions`` counts all of them."""

    window: dict[str, Any]
    source: str | None
    target: str | None
    executions: int
    paths: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.window, "from": self.source, "to": self.target,
                "executions": self.executions, "paths": [p.to_dict() for p in self.paths]}


def analyze(store: Store, *, since: datetime | None = None, until: datetime | None = None,
            source: str | None = None, target: str | None = None,
            limit: int = MAX_PATHS) -> PathsResult:
    """The pathways of executions that started in [since, until) (``source``/``target``:
    resolved component names to focus on one route)."""
    store.sql("""
CREATE OR REPLACE TEMP TABLE _pt_hop AS
SELECT x.execution_id, s.node AS source, d.node AS target, x.kind, x.latency_ms
FROM edges x JOIN entities s ON s.id = x.src_id JOIN entities d ON d.id = x.dst_id
JOIN executions e ON e.execution_id = x.execution_id
WHERE s.node <> d.node
  AND (?::TIMESTAMPTZ IS NULL OR e.started_at >= ?::TIMESTAMPTZ)
  AND (?::TIMESTAMPTZ IS NULL OR e.started_at < ?::TIMESTAMPTZ)
""", [since, since, until, until])
    # An execution that ran in one component only (a single-service trace, a workflow run with
    # no hop out) takes a pathway too: the one of its component alone. A message nobody
    # consumed ran nothing: it is no pathway.
    store.sql("""
CREATE OR REPLACE TEMP TABLE _pt_exec AS
SELECT execution_id,
       left(md5(string_agg(DISTINCT source || '>' || target || ':' || kind, '|'
                           ORDER BY source || '>' || target || ':' || kind)), 16) AS hash
FROM _pt_hop GROUP BY execution_id
UNION ALL
SELECT n.execution_id, left(md5(string_agg(DISTINCT n.node, '|' ORDER BY n.node)), 16)
FROM entities n JOIN executions e ON e.execution_id = n.execution_id
WHERE n.node IS NOT NULL
  AND n.execution_id NOT IN (SELECT execution_id FROM _pt_hop)
  AND (?::TIMESTAMPTZ IS NULL OR e.started_at >= ?::TIMESTAMPTZ)
  AND (?::TIMESTAMPTZ IS NULL OR e.started_at < ?::TIMESTAMPTZ)
GROUP BY n.execution_id
HAVING bool_or(n.kind IN ('run', 'step'))
""", [since, since, until, until])
    store.sql("""
CREATE OR REPLACE TEMP TABLE _pt_node AS
SELECT n.execution_id, n.node, min(n.started_at) AS first_start,
       max(coalesce(n.ended_at, n.started_at)) AS last_end
FROM entities n JOIN _pt_exec USING (execution_id)
WHERE n.node IS NOT NULL GROUP BY ALL
""")
    # End to end: from the first start on ``source`` (else the execution's start) to the last
    # end on ``target`` (else the execution's end).
    store.sql("""
CREATE OR REPLACE TEMP TABLE _pt_span AS
SELECT p.execution_id,
       (epoch_us(CASE WHEN ?::VARCHAR IS NULL THEN e.ended_at ELSE t.last_end END)
        - epoch_us(CASE WHEN ?::VARCHAR IS NULL THEN e.started_at ELSE f.first_start END))
       / 1000.0 AS ms
FROM _pt_exec p JOIN executions e USING (execution_id)
LEFT JOIN _pt_node f ON f.execution_id = p.execution_id AND f.node = ?
LEFT JOIN _pt_node t ON t.execution_id = p.execution_id AND t.node = ?
""", [target, source, source, target])
    rows = store.rows("""
SELECT p.hash, count(*) AS count,
       quantile_cont(s.ms, 0.5) AS p50, quantile_cont(s.ms, 0.95) AS p95,
       quantile_cont(s.ms, 0.99) AS p99,
       avg(CASE WHEN e.status = 'failed' THEN 1.0 ELSE 0.0 END) AS failure_rate,
       list(p.execution_id ORDER BY e.started_at, p.execution_id)[1:3] AS examples
FROM _pt_exec p JOIN executions e USING (execution_id)
LEFT JOIN _pt_span s USING (execution_id)
GROUP BY p.hash ORDER BY count DESC, p.hash
""")
    executions = sum(r["count"] for r in rows)
    hops = _by(store.rows("""
SELECT p.hash, h.source, h.target, h.kind, quantile_cont(h.latency_ms, 0.5) AS p50,
       quantile_cont(h.latency_ms, 0.95) AS p95
FROM _pt_hop h JOIN _pt_exec p USING (execution_id) GROUP BY ALL
ORDER BY p.hash, h.source, h.target, h.kind
"""))
    inside = _by(store.rows("""
SELECT p.hash, n.node AS component,
       median(epoch_us(n.first_start) - epoch_us(e.started_at)) AS offset_us,
       quantile_cont((epoch_us(n.last_end) - epoch_us(n.first_start)) / 1000.0, 0.5) AS p50,
       quantile_cont((epoch_us(n.last_end) - epoch_us(n.first_start)) / 1000.0, 0.95) AS p95
FROM _pt_node n JOIN _pt_exec p USING (execution_id) JOIN executions e USING (execution_id)
GROUP BY ALL ORDER BY p.hash, offset_us, n.node
"""))
    paths = []
    for r in rows:
        hop_rows = hops.get(r["hash"], [])
        if source or target:
            hop_rows = _between(hop_rows, source, target)
            if not hop_rows:
                continue
        on_route = {h["source"] for h in hop_rows} | {h["target"] for h in hop_rows}
        nodes = [n for n in inside.get(r["hash"], [])
                 if not (source or target) or n["component"] in on_route]
        nodes, hop_rows = _ordered(nodes, hop_rows)
        paths.append(Path(
            hash=r["hash"], components=[n["component"] for n in nodes], count=r["count"],
            p50_ms=_ms(r["p50"]), p95_ms=_ms(r["p95"]), p99_ms=_ms(r["p99"]),
            failure_rate=round(r["failure_rate"], 4),
            hops=[Hop(h["source"], h["target"], h["kind"], _ms(h["p50"]), _ms(h["p95"]))
                  for h in hop_rows],
            inside=[{"component": n["component"], "p50_ms": _ms(n["p50"]),
                     "p95_ms": _ms(n["p95"])} for n in nodes],
            examples=list(r["examples"])))
    window = {"since": since, "until": until}
    return PathsResult(window, source, target, executions, paths[:limit])


def _ordered(nodes: list[dict[str, Any]], hops: list[dict[str, Any]]
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Components upstream first (ties, and the members of a cycle, by when they are first
    reached), and hops by their source's place."""
    offset = {n["component"]: (n["offset_us"] or 0, n["component"]) for n in nodes}
    graph = nx.DiGraph()
    graph.add_nodes_from(offset)
    graph.add_edges_from((h["source"], h["target"]) for h in hops
                         if h["source"] in offset and h["target"] in offset)
    # A cycle (one template used before and inside a sub-DAG, a service called back) orders
    # only its own members by time: what is upstream of the whole cycle stays first.
    dag = nx.condensation(graph)
    members = {c: sorted(dag.nodes[c]["members"], key=offset.__getitem__) for c in dag}
    order = [m for c in nx.lexicographical_topological_sort(
        dag, key=lambda c: offset[members[c][0]]) for m in members[c]]
    place = {c: i for i, c in enumerate(order)}
    return (sorted(nodes, key=lambda n: place[n["component"]]),
            sorted(hops, key=lambda h: (place.get(h["source"], 0), place.get(h["target"], 0),
                                        h["kind"])))


def _between(hops: list[dict[str, Any]], source: str | None,
             target: str | None) -> list[dict[str, Any]]:
    """The hops on some route from ``source`` (or anywhere) to ``target`` (or anywhere); none
    when there is no such route."""
    graph = nx.DiGraph((h["source"], h["target"]) for h in hops)
    if any(c is not None and c not in graph for c in (source, target)):
        return []
    if source and target and not nx.has_path(graph, source, target):
        return []
    on_route = set(graph)
    if source:
        on_route &= nx.descendants(graph, source) | {source}
    if target:
        on_route &= nx.ancestors(graph, target) | {target}
    return [h for h in hops if h["source"] in on_route and h["target"] in on_route]


def _by(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["hash"], []).append(r)
    return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
