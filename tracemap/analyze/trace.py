"""Trace: one stitched execution as a cross-system timeline, with its critical path.

``analyze(store, id=...)`` finds the execution an id names (an execution id, an entity uid, or
any key value: correlation id, workflow id, trace id, message id, business id), pulls its
entities and edges by SQL and builds the execution's graph in networkx (one execution only).

Every real thing appears once: two entities that are one thing seen from two sides are
folded into one (``folded``: the hidden uid -> the one shown, its edges moved onto it):

- a service's run and its local root span (the span *is* the service handling the request);
- a workflow's child-workflow step and the child run it started (same component, or a
  ``child`` link the source states from the step to the run: the step names that run).

The root is the execution's earliest cause (``executions.root_uid``: the earliest run no edge
enters; a workflow or a request, not a consumer). The critical path is the chain of
last-finishing dependencies from the root: start at the last-ending of the entities the root
reaches that lead nowhere further (so one clock running ahead cannot end the path halfway down
a chain), and step back, each time to the predecessor the root reaches that ended last, until
the root. Message hops are part of it like any edge, so a slow consumer behind a topic shows
up on the path. For display, each entity hangs under one parent: its strongest incoming
edge (by confidence, then rule order).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import networkx as nx

from tracemap.correlate import RULES
from tracemap.graph import resolve_execution
from tracemap.store import Store


@dataclass(frozen=True, slots=True)
class TraceResult:
    """One execution: summary, entities in time order, edges, critical path, display tree."""

    execution: str
    summary: dict[str, Any]
    entities: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    critical_path: list[str]
    parents: dict[str, str] = field(default_factory=dict)
    folded: dict[str, str] = field(default_factory=dict)
    root: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution": self.execution,
            "summary": _jsonable(self.summary),
            "entities": [_jsonable(e) for e in self.entities],
            "edges": self.edges,
            "critical_path": self.critical_path,
            "root": self.root,
            "folded": self.folded,
        }

    def children(self) -> dict[str | None, list[str]]:
        """Display tree: parent uid (None for roots) -> child uids in time order."""
        out: dict[str | None, list[str]] = {}
        for e in self.entities:
            out.setdefault(self.parents.get(e["uid"]), []).append(e["uid"])
        return out


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def analyze(store: Store, *, id: str) -> TraceResult:  # noqa: A002 - the user's word for it
    """The execution ``id`` names, as a timeline; see the module docstring."""
    execution = resolve_execution(store, id)
    summary = store.rows(
        "SELECT execution_id, entities, systems, started_at, ended_at, status, root_uid, keys "
        "FROM executions WHERE execution_id = ?", [execution])[0]
    summary["systems"] = list(summary["systems"])
    summary["keys"] = list(summary["keys"])
    entities = store.rows(
        """SELECT uid, component, system, kind, status, started_at, ended_at, node, name,
                  error, attempt, inferred
           FROM entities WHERE execution_id = ?
           ORDER BY started_at NULLS LAST, uid""", [execution])
    start = summary["started_at"]
    for e in entities:
        e["offset_ms"] = _ms(e["started_at"], start)
        e["duration_ms"] = _ms(e["ended_at"], e["started_at"])
    edges = store.rows(
        """SELECT src, dst, kind, evidence, confidence, rule, latency_ms
           FROM edges WHERE execution_id = ? ORDER BY src, dst""", [execution])
    for e in edges:
        e["evidence"] = json.loads(e["evidence"]) if e["evidence"] else None
    folded = _folds(store, execution, entities, edges)
    entities = [e for e in entities if e["uid"] not in folded]
    edges = _moved(edges, folded)
    graph = _graph(entities, edges)
    root = folded.get(summary["root_uid"], summary["root_uid"])
    path = critical_path(graph, root if root in graph else None)
    on_path = set(path)
    for e in entities:
        e["critical"] = e["uid"] in on_path
    return TraceResult(execution, summary, entities, edges, path, _display_parents(graph),
                       folded, root)


def _folds(store: Store, execution: str, entities: list[dict[str, Any]],
           edges: list[dict[str, Any]]) -> dict[str, str]:
    """Entities that are another entity of the execution seen from another side: uid -> shown."""
    by_uid = {e["uid"]: e for e in entities}
    folded = {r["span"]: r["run"] for r in store.rows(
        """SELECT r.uid AS run, r.detail->>'root_span' AS span
           FROM runs r JOIN entities e ON e.uid = r.uid AND e.source_id = r.source_id
           WHERE e.execution_id = ? AND r.detail->>'root_span' IS NOT NULL""", [execution])
        if r["span"] in by_uid and r["run"] in by_uid}
    for e in edges:
        src, dst = by_uid.get(e["src"]), by_uid.get(e["dst"])
        if (src and dst and src["kind"] == "step" and dst["kind"] == "run"
                and (src["component"] == dst["component"]
                     or (e["kind"] == "child" and e["rule"] == "link"))
                and src["uid"] not in folded):
            folded[src["uid"]] = dst["uid"]
    return folded


def _moved(edges: list[dict[str, Any]], folded: dict[str, str]) -> list[dict[str, Any]]:
    """Edges with folded ends moved onto the entity shown; self-loops and repeats dropped.

    A moved edge joining a pair that an edge of its own already joins is a repeat too: the
    parent run ``contains`` its child-workflow step, and once the step is folded into the
    child run that says again, less exactly, what the run's ``child`` edge says.
    """
    stated = {(e["src"], e["dst"]) for e in edges
              if e["src"] not in folded and e["dst"] not in folded}
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for e in edges:
        src, dst = folded.get(e["src"], e["src"]), folded.get(e["dst"], e["dst"])
        moved = (src, dst) != (e["src"], e["dst"])
        if src != dst and not (moved and (src, dst) in stated):
            out.setdefault((src, dst, e["kind"]), {**e, "src": src, "dst": dst})
    return sorted(out.values(), key=lambda e: (e["src"], e["dst"], e["kind"]))


def _ms(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds() * 1000


def _graph(entities: list[dict[str, Any]], edges: list[dict[str, Any]]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for e in entities:
        graph.add_node(e["uid"], **e)
    for e in edges:
        graph.add_edge(e["src"], e["dst"], kind=e["kind"], rule=e["rule"],
                       confidence=e["confidence"])
    return graph


def _end(graph: nx.DiGraph, uid: str) -> tuple[float, str]:
    node = graph.nodes[uid]
    when = node.get("ended_at") or node.get("started_at")
    return (when.timestamp() if when else float("-inf"), uid)


def critical_path(graph: nx.DiGraph, root: str | None = None) -> list[str]:
    """The chain of last-finishing dependencies ending at the last-ending entity that leads
    nowhere further; from ``root`` when given (only entities it reaches)."""
    if not graph:
        return []
    reach = set(graph.nodes) if root is None else {root, *nx.descendants(graph, root)}
    sinks = [u for u in reach if not any(v in reach for v in graph.successors(u))]
    current = max(sinks or reach, key=lambda u: _end(graph, u))
    path, seen = [current], {current}
    while True:
        preds = [p for p in graph.predecessors(current) if p not in seen and p in reach]
        if not preds:
            break
        current = max(preds, key=lambda u: _end(graph, u))
        path.append(current)
        seen.add(current)
    return path[::-1]


def _display_parents(graph: nx.DiGraph) -> dict[str, str]:
    """One parent per entity for the tree: the strongest incoming edge; cycles are cut."""
    parents: dict[str, str] = {}
    for uid in graph.nodes:
        incoming = list(graph.in_edges(uid, data=True))
        if incoming:
            src, _, _ = min(incoming, key=lambda e: (-e[2]["confidence"],
                                                     RULES.get(e[2]["rule"], (99, 0))[0], e[0]))
            parents[uid] = src
    for uid in list(parents):  # a cycle would hide its members: cut it at the latest entity
        seen = {uid}
        node = parents.get(uid)
        while node is not None and node not in seen:
            seen.add(node)
            node = parents.get(node)
        if node is not None:
            cut = max(seen, key=lambda u: _end(graph, u))
            parents.pop(cut, None)
    return parents
