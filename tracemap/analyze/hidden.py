"""Hidden dependencies: what really depends on what, against what anyone declared.

Observed dependencies are the component edges of kinds that express a dependency between
components (``emits``, ``triggers``, ``consumes``, ``calls``, ``signals``, ``reads``, ``writes``).
Structure a source states about itself (``contains``, ``child``, ``precedes``, ``retry_of``,
``follows_from``) counts as declared by that source: a workflow's own activities, a parent's
child workflows, a DAG's tasks.

An observed edge is *explained* when a declaration links the same two components (either
direction, any kind), or a declaration names it through a channel: ``X -> channel`` and
``channel -> Y`` explain both legs. Declarations come from the store's ``declared`` table (ASL,
Argo templates, Airflow task dependencies ...) and from ``--declared`` files (AsyncAPI,
manifest; see ``tracemap.declarations``).

Also reported: declared dependencies never observed, implicit fan-out (one channel and event
type consumed by several components), cross-system cycles, dataset-mediated dependencies (job
A writes what job B reads) and false completions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx

from tracemap.analyze.failures import false_completions
from tracemap.declarations import Declaration
from tracemap.model import split_component
from tracemap.store import Store

#: Edge kinds that are observed dependencies between components.
DEPENDENCY_KINDS = ("emits", "triggers", "consumes", "calls", "signals", "reads", "writes")
MAX_CYCLE_LENGTH = 6
MAX_EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class HiddenEdge:
    source: str
    target: str
    kind: str
    count: int
    first_seen: str | None
    last_seen: str | None
    confidence: float | None
    why: str
    examples: list[str]


@dataclass(frozen=True, slots=True)
class HiddenResult:
    hidden: list[HiddenEdge]
    declared_unobserved: list[dict[str, Any]]
    fan_out: list[dict[str, Any]]
    cycles: list[list[str]]
    dataset_dependencies: list[dict[str, Any]]
    false_completions: list[dict[str, Any]]
    declarations: int = 0
    observed: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyze(store: Store, *, declarations: list[Declaration] | None = None) -> HiddenResult:
    """Observed dependencies no declaration explains, and the other findings above."""
    nodes = [r[0] for r in store.sql("SELECT DISTINCT node FROM entities").fetchall()]
    declared = _declared(store, declarations or [], nodes)
    observed = store.rows(f"""
        SELECT source, target, kind, count, first_seen, last_seen, confidence
        FROM component_edges WHERE kind IN {DEPENDENCY_KINDS}
        ORDER BY source, target, kind""")
    pairs = {frozenset((d.src, d.dst)) for d in declared}
    hidden = []
    for edge in observed:
        if frozenset((edge["source"], edge["target"])) in pairs:
            continue
        hidden.append(HiddenEdge(
            source=edge["source"], target=edge["target"], kind=edge["kind"], count=edge["count"],
            first_seen=_iso(edge["first_seen"]), last_seen=_iso(edge["last_seen"]),
            confidence=None if edge["confidence"] is None else round(edge["confidence"], 3),
            why=_why(edge, declared), examples=_examples(store, edge)))
    observed_pairs = {frozenset((e["source"], e["target"])) for e in store.rows(
        "SELECT source, target FROM component_edges")}
    unobserved = [
        {"source": d.src, "target": d.dst, "kind": d.kind, "evidence": d.evidence}
        for d in declared if frozenset((d.src, d.dst)) not in observed_pairs]
    unresolved = {n for d in declared for n in (d.src, d.dst) if ":" not in n}
    notes = [f"declared name '{n}' matches no observed component" for n in unresolved]
    return HiddenResult(
        hidden=hidden, declared_unobserved=_dedupe(unobserved), fan_out=_fan_out(store),
        cycles=_cycles(observed), dataset_dependencies=_dataset_dependencies(store, pairs),
        false_completions=false_completions(store), declarations=len(declared),
        observed=len(observed), notes=sorted(set(notes)))


def _declared(store: Store, files: list[Declaration], nodes: list[str]) -> list[Declaration]:
    """Declarations from the store and from files, names resolved to observed components."""
    stored = [Declaration(r["src"], r["dst"], r["kind"], r["evidence"] or "")
              for r in store.rows("SELECT src, dst, kind, evidence FROM declared")]
    # What sources state about themselves counts as declared.
    stored += [Declaration(r["source"], r["target"], r["kind"], "stated by the source")
               for r in store.rows(
                   "SELECT source, target, kind FROM component_edges "
                   "WHERE kind IN ('contains', 'child', 'precedes', 'retry_of', 'follows_from')")]
    out = [Declaration(resolve_name(d.src, nodes), resolve_name(d.dst, nodes), d.kind, d.evidence)
           for d in [*stored, *files]]
    return sorted(set(out), key=lambda d: (d.src, d.dst, d.kind, d.evidence))


def resolve_name(name: str, nodes: list[str]) -> str:
    """A declared name as an observed component: itself, or the one whose last part it is.

    Several candidates: an OTel service is preferred (declarations name applications).
    Unknown names stay as written (they show up as declared but never observed).
    """
    if name in nodes:
        return name
    matches = [n for n in nodes if split_component(n)[2] == name or n.endswith(":" + name)]
    if len(matches) == 1:
        return matches[0]
    services = [n for n in matches if n.startswith("otel:service:")]
    return services[0] if len(services) == 1 else name


def _why(edge: dict[str, Any], declared: list[Declaration]) -> str:
    mentioned = {d.src for d in declared} | {d.dst for d in declared}
    src, dst, kind = edge["source"], edge["target"], edge["kind"]
    what = {"emits": f"{src} publishes to {dst}", "triggers": f"{dst} consumes {src}",
            "consumes": f"{dst} consumes {src}", "calls": f"{src} calls {dst}",
            "signals": f"{src} signals {dst}", "reads": f"{dst} reads {src}",
            "writes": f"{src} writes {dst}"}.get(kind, f"{src} -> {dst}")
    if src in mentioned or dst in mentioned:
        return f"{what} ({edge['count']} times), but no declaration links the two"
    return f"{what} ({edge['count']} times), and neither side appears in any declaration"


def _examples(store: Store, edge: dict[str, Any]) -> list[str]:
    rows = store.sql("""
        SELECT DISTINCT e.execution_id FROM edges e
        JOIN entities s ON s.uid = e.src JOIN entities d ON d.uid = e.dst
        WHERE s.node = ? AND d.node = ? AND e.kind = ?
        ORDER BY e.execution_id LIMIT ?""",
        [edge["source"], edge["target"], edge["kind"], MAX_EXAMPLES]).fetchall()
    return [r[0] for r in rows]


def _fan_out(store: Store) -> list[dict[str, Any]]:
    """Channels (and event types) consumed by more than one component."""
    return store.rows("""
        SELECT m.node AS channel, coalesce(msg.event_type, '') AS event_type,
               list_sort(list(DISTINCT c.node)) AS consumers,
               count(DISTINCT m.uid) AS messages
        FROM entities m
        JOIN messages msg ON msg.uid = m.uid AND msg.source_id = m.source_id
        JOIN edges e ON e.src = m.uid AND e.kind IN ('triggers', 'consumes')
        JOIN entities c ON c.uid = e.dst
        WHERE m.kind = 'message'
        GROUP BY ALL HAVING count(DISTINCT c.node) > 1
        ORDER BY channel, event_type""")


def _cycles(observed: list[dict[str, Any]]) -> list[list[str]]:
    """Dependency cycles that cross at least two systems (shortest first)."""
    graph = nx.DiGraph()
    graph.add_edges_from((e["source"], e["target"]) for e in observed)
    found = []
    for cycle in nx.simple_cycles(graph, length_bound=MAX_CYCLE_LENGTH):
        if len({split_component(n)[0] for n in cycle}) > 1:
            start = cycle.index(min(cycle))
            found.append(cycle[start:] + cycle[:start])
    return sorted(found, key=lambda c: (len(c), c))


def _dataset_dependencies(store: Store,
                          declared_pairs: set[frozenset[str]]) -> list[dict[str, Any]]:
    """Job A writes what job B reads: A → B through the dataset, declared or not."""
    rows = store.rows("""
        SELECT w.source AS writer, w.target AS dataset, r.target AS reader,
               least(w.count, r.count) AS count
        FROM component_edges w JOIN component_edges r ON r.source = w.target
        WHERE w.kind = 'writes' AND r.kind = 'reads' AND w.source <> r.target
        ORDER BY writer, reader, dataset""")
    for r in rows:
        r["declared"] = frozenset((r["writer"], r["reader"])) in declared_pairs
    return rows


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for r in rows:
        key = (r["source"], r["target"], r["kind"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
