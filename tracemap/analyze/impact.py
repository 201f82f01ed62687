"""Change impact: everything a change to one component can reach, hop by hop, with a risk level.

Impact follows dependency, not edge direction. A change to X touches whoever *depends* on X:

- along the edge for flows: ``emits`` (producer → channel), ``triggers``/``consumes`` (channel →
  consumer), ``writes`` (job → dataset), ``reads`` (dataset → job), ``child`` (parent → child
  run it starts), ``signals``, ``precedes``, ``follows_from``;
- against the edge for ``calls`` (a callee's change reaches its callers) and ``contains``
  (an activity's or task's change reaches the workflow or DAG that contains it).

``--upstream`` walks the same graph backwards: what X depends on.

Risk of an impacted component (documented in the README):

- **high**: it consumes the target's output directly (one hop, channels and datasets passed
  through), or it failed together with the target in at least half the observed cases
  (failure coupling along the path ≥ 0.5);
- **medium**: two such hops away, or coupling ≥ 0.2;
- **low**: anything further.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from tracemap.analyze.plain import plain
from tracemap.model import EdgeKind, split_component
from tracemap.store import Store

#: +1: the dependent is the edge's target; -1: the dependent is the edge's source.
DEPENDENCY_DIRECTION: dict[str, int] = {
    EdgeKind.EMITS: 1, EdgeKind.TRIGGERS: 1, EdgeKind.CONSUMES: 1, EdgeKind.WRITES: 1,
    EdgeKind.READS: 1, EdgeKind.CHILD: 1, EdgeKind.SIGNALS: 1, EdgeKind.PRECEDES: 1,
    EdgeKind.FOLLOWS_FROM: 1, EdgeKind.CALLS: -1, EdgeKind.CONTAINS: -1,
}

#: Components that carry a change through without acting on it (not counted as a hop for risk).
PASS_THROUGH_SYSTEMS = frozenset({"kafka", "rabbitmq", "sqs", "sns", "eventbridge", "cloudevents",
                                  "pubsub", "nats", "pulsar", "dataset", "zeebe-message"})

RISK_ORDER = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True, slots=True)
class Impacted:
    """One component a change can reach."""

    component: str
    hops: int
    path: list[str]
    via: list[str]  # the edge kind of each hop on the path
    count: int  # observed volume of the last hop
    failure_coupling: float | None  # P(failed | previous hop failed), multiplied along the path
    latency_ms: float | None  # p50 latency summed along the path
    risk: str


@dataclass(frozen=True, slots=True)
class ImpactResult:
    """What a change to ``target`` reaches (``direction`` downstream or upstream)."""

    target: str
    direction: str
    depth: int | None
    impacted: list[Impacted] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "direction": self.direction, "depth": self.depth,
                "impacted": [plain(i) for i in self.impacted]}

    @property
    def max_risk(self) -> str | None:
        return max((i.risk for i in self.impacted), key=RISK_ORDER.__getitem__, default=None)


def dependency_graph(store: Store) -> nx.DiGraph:
    """Component dependency graph: an edge u → v means "a change to u reaches v"."""
    graph = nx.DiGraph()
    for row in store.rows(
        "SELECT source, target, kind, count, latency_p50_ms, source_failures, failures, "
        "coalesce(failure_coupling, 0) * source_failures AS both_failures "
        "FROM component_edges ORDER BY source, target, kind"
    ):
        direction = DEPENDENCY_DIRECTION.get(row["kind"])
        if direction is None:
            continue
        u, v = (row["source"], row["target"]) if direction > 0 else (row["target"], row["source"])
        # Coupling in the direction of the change: P(v failed | u failed).
        u_failures = row["source_failures"] if direction > 0 else row["failures"]
        coupling = round(row["both_failures"]) / u_failures if u_failures else None
        if graph.has_edge(u, v) and graph[u][v]["count"] >= row["count"]:
            continue
        graph.add_edge(u, v, kind=row["kind"], count=row["count"], coupling=coupling,
                       latency=row["latency_p50_ms"])
    return graph


def analyze(store: Store, *, target: str, upstream: bool = False,
            depth: int | None = None) -> ImpactResult:
    """Everything reachable from ``target`` (a resolved component name), by hop."""
    graph = dependency_graph(store)
    walk = graph.reverse(copy=False) if upstream else graph
    impacted: list[Impacted] = []
    if target in walk:
        paths = nx.single_source_shortest_path(walk, target, cutoff=depth)
        for component, path in paths.items():
            if component == target:
                continue
            impacted.append(_impacted(walk, component, path))
    impacted.sort(key=lambda i: (-RISK_ORDER[i.risk], i.hops, i.component))
    return ImpactResult(target=target, direction="upstream" if upstream else "downstream",
                        depth=depth, impacted=impacted)


def _impacted(walk: nx.DiGraph, component: str, path: list[str]) -> Impacted:
    hops = list(zip(path, path[1:], strict=False))
    data = [walk[u][v] for u, v in hops]
    coupling: float | None = 1.0
    for d in data:
        coupling = None if coupling is None or d["coupling"] is None else coupling * d["coupling"]
    latencies = [d["latency"] for d in data if d["latency"] is not None]
    acting = sum(1 for node in path[1:] if split_component(node)[0] not in PASS_THROUGH_SYSTEMS)
    if split_component(component)[0] in PASS_THROUGH_SYSTEMS:
        acting += 1  # a channel reached directly still counts as one hop away
    return Impacted(
        component=component, hops=len(hops), path=path, via=[d["kind"] for d in data],
        count=data[-1]["count"], failure_coupling=None if coupling is None else round(coupling, 3),
        latency_ms=round(sum(latencies), 1) if latencies else None,
        risk=risk(acting, coupling))


def risk(acting_hops: int, coupling: float | None) -> str:
    """The risk rule in the module docstring."""
    if acting_hops <= 1 or (coupling is not None and coupling >= 0.5):
        return "high"
    if acting_hops == 2 or (coupling is not None and coupling >= 0.2):
        return "medium"
    return "low"
