"""Correlated tables as graphs: the component graph, and one execution's instance graph.

networkx only ever holds the component graph (thousands of nodes) or one execution (pulled by
SQL); the instance graph of the whole store stays in DuckDB. Names typed by users are resolved
here too: ``resolve_component`` (exact name, else unique suffix) and ``find_executions`` (an
execution id, an entity uid, or any key value).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from tracemap.errors import AnalysisError, UnknownComponentError
from tracemap.store import Store

#: How many candidates an "ambiguous" or "unknown" message lists.
MAX_CANDIDATES = 10


# ------------------------------------------------------------------------------------------
# Names


def components(store: Store) -> list[str]:
    """Every component a user may name: graph nodes, and components declared by sources."""
    rows = store.sql(
        "SELECT component FROM component_nodes UNION SELECT src FROM declared "
        "UNION SELECT dst FROM declared ORDER BY 1").fetchall()
    return [r[0] for r in rows if r[0]]


def resolve_component(store: Store, text: str) -> str:
    """The component ``text`` names: an exact name, else the one name it is a suffix of.

    ``OrderWorkflow`` finds ``temporal:workflow:OrderWorkflow`` and ``topic:orders`` finds
    ``kafka:topic:orders``: the suffix must start at a ``:`` boundary (case-insensitive if
    nothing matches exactly). Several matches, or none, raise ``UnknownComponentError``
    listing candidates.
    """
    name = text.strip()
    if not store.has_table("component_nodes"):
        raise AnalysisError("the store is not correlated yet: run `tracemap correlate`.")
    known = components(store)
    if name in known:
        return name
    for fold in (False, True):
        hits = [c for c in known if _suffix_of(c, name, fold)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise UnknownComponentError(
                f"'{text}' is ambiguous: it matches {len(hits)} components: "
                f"{_listing(hits)}. Type more of the name.")
    close = [c for c in known if name.lower() in c.lower()] or difflib.get_close_matches(
        name, known, n=MAX_CANDIDATES, cutoff=0.5)
    hint = f" Did you mean: {_listing(close)}?" if close else ""
    raise UnknownComponentError(
        f"no component named '{text}'.{hint} `tracemap graph` lists the components.")


def _suffix_of(component: str, name: str, fold: bool) -> bool:
    if fold:
        component, name = component.lower(), name.lower()
    return component.endswith(":" + name) or component.endswith("/" + name)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_CANDIDATES])
    more = len(names) - MAX_CANDIDATES
    return shown + (f" (and {more} more)" if more > 0 else "")


@dataclass(frozen=True, slots=True)
class ExecutionMatch:
    """An execution that a user's ID names, and how it was found."""

    execution_id: str
    how: str  # "execution", "entity" or "<key kind> key"
    entities: int
    started_at: Any
    systems: list[str]


def find_executions(store: Store, text: str) -> list[ExecutionMatch]:
    """Executions that ``text`` names: an execution id, an entity uid, or a key value.

    Key values are looked up as stored (trace ids in lowercase hex) and, for ids written
    another way, lower-cased; ``kafka_key`` scoping is ignored here, so a Kafka key finds every
    execution on any channel that used it.
    """
    value = text.strip()
    if not store.has_table("executions"):
        raise AnalysisError("the store is not correlated yet: run `tracemap correlate`.")
    rows = store.rows(
        """
        WITH hits AS (
            SELECT execution_id, 'execution' AS how, 0 AS prio FROM executions
            WHERE execution_id = ?
            UNION ALL
            SELECT execution_id, 'entity', 1 FROM entities WHERE uid = ?
            UNION ALL
            SELECT e.execution_id, k.kind || ' key', 2
            FROM keys k JOIN entities e ON e.uid = k.entity_uid
            WHERE k.value IN (?, lower(?)) AND k.kind <> 'channel'
        ), best AS (
            SELECT execution_id, arg_min(how, prio) AS how FROM hits GROUP BY execution_id
        )
        SELECT b.execution_id, b.how, x.entities, x.started_at, x.systems
        FROM best b JOIN executions x USING (execution_id)
        ORDER BY x.started_at NULLS LAST, b.execution_id
        """, [value, value, value, value])
    return [ExecutionMatch(r["execution_id"], r["how"], r["entities"], r["started_at"],
                           list(r["systems"])) for r in rows]


def resolve_execution(store: Store, text: str) -> str:
    """The one execution ``text`` names; several or none raise ``AnalysisError``."""
    matches = find_executions(store, text)
    if len(matches) == 1:
        return matches[0].execution_id
    if not matches:
        raise AnalysisError(
            f"no execution, entity uid or key value '{text}' in the store. `tracemap coverage` "
            "shows what was stitched; ids are matched exactly (trace ids as 32 hex digits).")
    listed = "; ".join(
        f"{m.execution_id} ({m.how}, {m.entities} entities, {', '.join(m.systems)}"
        f"{', ' + m.started_at.isoformat() if m.started_at else ''})"
        for m in matches[:MAX_CANDIDATES])
    more = len(matches) - MAX_CANDIDATES
    raise AnalysisError(
        f"'{text}' is in {len(matches)} executions: {listed}"
        f"{f' (and {more} more)' if more > 0 else ''}. Pass one execution id.")


# ------------------------------------------------------------------------------------------
# Graphs


@dataclass(frozen=True, slots=True)
class GraphResult:
    """A graph to render: the component graph, or one execution's entities and edges.

    ``nodes``/``edges`` follow the ``graph --format json`` contract: nodes have ``component,
    system, kind, count, failures``; edges ``source, target, kind, count, confidence,
    latency_p50_ms, failure_coupling``. Instance graphs add ``uid``/``status`` on nodes and
    ``rule``/``evidence`` on edges (``source``/``target`` are uids there).
    """

    level: str  # "component" or "instance"
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    execution: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"level": self.level}
        if self.execution:
            out["execution"] = self.execution
        out.update(nodes=self.nodes, edges=self.edges)
        return out

    def to_networkx(self) -> nx.MultiDiGraph:
        return _networkx(self)


def component_graph_result(store: Store) -> GraphResult:
    """The component graph as rows (nodes that take part in an edge, and every edge)."""
    edges = store.rows(
        "SELECT source, target, kind, count, confidence, latency_p50_ms, latency_p95_ms, "
        "failure_coupling, failures, first_seen, last_seen FROM component_edges "
        "ORDER BY source, target, kind")
    used = {e["source"] for e in edges} | {e["target"] for e in edges}
    # ``virtual``: a peer named only by client spans (stores correlated before it lack it).
    nodes = [{k: n[k] for k in ("component", "system", "kind", "count", "failures", "virtual")
              if k in n}
             for n in store.rows("SELECT * FROM component_nodes ORDER BY component")
             if n["component"] in used]
    for e in edges:
        for k in ("first_seen", "last_seen"):
            e[k] = e[k].isoformat() if e[k] else None
    return GraphResult("component", nodes, edges)


def instance_graph_result(store: Store, execution_id: str) -> GraphResult:
    """One execution: its entities as nodes, its edges."""
    nodes = store.rows(
        """SELECT uid, component, system, kind, status, node, name, started_at, ended_at,
                  1 AS count, CASE WHEN status IN ('failed', 'timed_out') THEN 1 ELSE 0 END
                  AS failures, inferred
           FROM entities WHERE execution_id = ?
           ORDER BY started_at NULLS LAST, uid""", [execution_id])
    if not nodes:
        raise AnalysisError(f"no execution '{execution_id}'. `tracemap trace ID` finds one by "
                            "any key value.")
    edges = store.rows(
        """SELECT e.src AS source, e.dst AS target, e.kind, 1 AS count, e.confidence,
                  e.latency_ms AS latency_p50_ms,
                  CASE WHEN s.status IN ('failed', 'timed_out')
                       THEN (d.status IN ('failed', 'timed_out'))::INT::DOUBLE END
                      AS failure_coupling,
                  e.rule, e.evidence
           FROM edges e JOIN entities s ON s.uid = e.src JOIN entities d ON d.uid = e.dst
           WHERE e.execution_id = ?
           ORDER BY e.src, e.dst""", [execution_id])
    for n in nodes:
        for k in ("started_at", "ended_at"):
            n[k] = n[k].isoformat() if n[k] else None
    return GraphResult("instance", nodes, edges, execution=execution_id)


def graph_result(store: Store, *, level: str = "component",
                 execution: str | None = None) -> GraphResult:
    """The component graph, or (``level="instance"``) the execution ``execution`` names."""
    if level not in ("component", "instance"):
        raise AnalysisError(f"graph level must be 'component' or 'instance', got '{level}'.")
    if level == "instance" or execution:
        if not execution:
            raise AnalysisError("--level instance needs --execution ID (an execution id, entity "
                                "uid or key value).")
        return instance_graph_result(store, resolve_execution(store, execution))
    return component_graph_result(store)


def component_graph(store: Store) -> nx.MultiDiGraph:
    """The component graph in networkx: one edge per (source, target, kind), key = kind."""
    return _networkx(component_graph_result(store))


def execution_graph(store: Store, execution_id: str) -> nx.MultiDiGraph:
    """One execution's instance graph in networkx (nodes are entity uids)."""
    return _networkx(instance_graph_result(store, execution_id))


def _networkx(result: GraphResult) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph(level=result.level, execution=result.execution)
    key = "uid" if result.level == "instance" else "component"
    for n in result.nodes:
        graph.add_node(n[key], **n)
    for e in result.edges:
        graph.add_edge(e["source"], e["target"], key=e["kind"], **e)
    return graph
