"""Hidden dependencies: what really depends on what, against what anyone declared.

Observed dependencies are the component edges of kinds that express a dependency between
components (``emits``, ``triggers``, ``consumes``, ``calls``, ``signals``), plus jobs that
depend on each other through a dataset (job A writes what job B reads, A and B in different
runs' components: ``kind = "dataset"``, ``via`` the dataset).

Structure a source states about itself counts as declared by that source: ``contains``,
``child``, ``precedes``, ``retry_of`` (a workflow's own activities, a parent's child workflows,
a DAG's tasks), lineage's own ``reads``/``writes`` of datasets, and a
worker's span scheduling a step of the workflow it runs (an activity, timer or child workflow:
the workflow's history already says the workflow does that).

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

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from tracemap.analyze.failures import false_completions
from tracemap.analyze.plain import plain
from tracemap.declarations import Declaration
from tracemap.model import split_component
from tracemap.store import Store

#: Edge kinds that are observed dependencies between components.
DEPENDENCY_KINDS = ("emits", "triggers", "consumes", "calls", "signals")
#: Edge kinds a source states about its own structure.
#: (``follows_from`` is not one: a span link between two services is an observation, and
#: counting it as a declaration hid the call it came with.)
STATED_KINDS = ("contains", "child", "precedes", "retry_of", "reads", "writes")
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
    via: str | None = None


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
        return plain(self)


def analyze(store: Store, *, declarations: list[Declaration] | None = None) -> HiddenResult:
    """Observed dependencies no declaration explains, and the other findings above."""
    nodes = [r[0] for r in store.sql("SELECT DISTINCT node FROM entities").fetchall()]
    declared = _declared(store, declarations or [], nodes)
    observed = store.rows(f"""
        SELECT source, target, kind, count, first_seen, last_seen, confidence
        FROM component_edges WHERE kind IN {DEPENDENCY_KINDS}
        ORDER BY source, target, kind""")
    pairs = {frozenset((d.src, d.dst)) for d in declared}
    datasets = _dataset_dependencies(store, pairs)
    observed += [
        {"source": d["writer_run"], "target": d["reader_run"], "kind": "dataset",
         "count": d["count"], "first_seen": d["first_seen"], "last_seen": d["last_seen"],
         "confidence": 1.0, "via": d["dataset"]}
        for d in _by_runs(datasets) if d["writer_run"] != d["reader_run"]]
    examples = _examples(store)
    hidden = []
    for edge in observed:
        if frozenset((edge["source"], edge["target"])) in pairs:
            continue
        hidden.append(HiddenEdge(
            source=edge["source"], target=edge["target"], kind=edge["kind"], count=edge["count"],
            first_seen=_iso(edge["first_seen"]), last_seen=_iso(edge["last_seen"]),
            confidence=None if edge["confidence"] is None else round(edge["confidence"], 3),
            why=_why(edge, declared),
            examples=examples.get((edge["source"], edge["target"], edge["kind"]), []),
            via=edge.get("via")))
    observed_pairs = {frozenset((e["source"], e["target"])) for e in store.rows(
        "SELECT source, target FROM component_edges")}
    # Order inside one run (a DAG's task order, a state machine's Next) is no dependency
    # between components that a record could show: only dependencies count as unobserved.
    unobserved = [
        {"source": d.src, "target": d.dst, "kind": d.kind, "evidence": d.evidence}
        for d in declared if frozenset((d.src, d.dst)) not in observed_pairs
        and d.kind not in ("precedes", "contains", "retry_of")]
    unresolved = {n for d in declared for n in (d.src, d.dst) if ":" not in n}
    notes = [f"declared name '{n}' matches no observed component" for n in unresolved]
    return HiddenResult(
        hidden=hidden, declared_unobserved=_dedupe(unobserved), fan_out=_fan_out(store),
        cycles=_cycles(observed), dataset_dependencies=datasets,
        false_completions=false_completions(store), declarations=len(declared),
        observed=len(observed), notes=sorted(set(notes)))


def _declared(store: Store, files: list[Declaration], nodes: list[str]) -> list[Declaration]:
    """Declarations from the store and from files, names resolved to observed components."""
    stored = [Declaration(r["src"], r["dst"], r["kind"], r["evidence"] or "")
              for r in store.rows("SELECT src, dst, kind, evidence FROM declared")]
    # What sources state about themselves counts as declared.
    stored += [Declaration(r["source"], r["target"], r["kind"], "stated by the source")
               for r in store.rows(f"SELECT source, target, kind FROM component_edges "
                                   f"WHERE kind IN {STATED_KINDS}")]
    stored += [Declaration(r["source"], r["target"], r["kind"], "the workflow's own work")
               for r in store.rows(_WORKER_SQL)]
    out = [Declaration(resolve_name(d.src, nodes), resolve_name(d.dst, nodes), d.kind, d.evidence)
           for d in [*stored, *files]]
    return sorted(set(out), key=lambda d: (d.src, d.dst, d.kind, d.evidence))


#: A span of another system starting a workflow step, or a child run, is the workflow's worker.
_WORKER_SQL = f"""
SELECT DISTINCT s.node AS source, d.node AS target, e.kind
FROM edges e JOIN entities s ON s.id = e.src_id JOIN entities d ON d.id = e.dst_id
WHERE e.kind IN {DEPENDENCY_KINDS} AND s.system <> d.system AND s.kind = 'step'
  AND (d.kind = 'step' OR (d.kind = 'run' AND d.parent_uid IS NOT NULL))
  AND d.system NOT IN ('otel', 'kafka', 'rabbitmq', 'sqs', 'sns', 'eventbridge', 'cloudevents')
"""


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
    what = {"emits": f"{src} publishes to {dst}", "triggers": f"{src} triggers {dst}",
            "dataset": f"{dst} reads {edge.get('via')}, which {src} writes",
            "consumes": f"{dst} consumes {src}", "calls": f"{src} calls {dst}",
            "signals": f"{src} signals {dst}", "reads": f"{dst} reads {src}",
            "writes": f"{src} writes {dst}"}.get(kind, f"{src} -> {dst}")
    if src in mentioned or dst in mentioned:
        return f"{what} ({edge['count']} times), but no declaration links the two"
    return f"{what} ({edge['count']} times), and neither side appears in any declaration"


def _examples(store: Store) -> dict[tuple[str, str, str], list[str]]:
    """The first execution ids of each component edge, by (source, target, kind): one query
    for all edges (one per hidden edge cost a join of all edges and entities each)."""
    rows = store.sql(f"""
        SELECT source, target, kind, arg_min(execution_id, execution_id, {MAX_EXAMPLES})
        FROM (SELECT DISTINCT s.node AS source, d.node AS target, e.kind, e.execution_id
              FROM edges e JOIN entities s ON s.id = e.src_id JOIN entities d ON d.id = e.dst_id
              WHERE e.kind IN {DEPENDENCY_KINDS})
        GROUP BY ALL""").fetchall()
    return {(src, dst, kind): ids for src, dst, kind, ids in rows}


def _fan_out(store: Store) -> list[dict[str, Any]]:
    """Channels (and event types) consumed by more than one component."""
    return store.rows("""
        SELECT m.node AS channel, coalesce(msg.event_type, '') AS event_type,
               list_sort(list(DISTINCT c.node)) AS consumers,
               count(DISTINCT m.uid) AS messages
        FROM entities m
        JOIN messages msg ON msg.uid = m.uid AND msg.source_id = m.source_id
        JOIN edges e ON e.src_id = m.id AND e.kind IN ('triggers', 'consumes')
        JOIN entities c ON c.id = e.dst_id
        WHERE m.kind = 'message'
        GROUP BY m.node, coalesce(msg.event_type, '') HAVING count(DISTINCT c.node) > 1
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


# Writers and readers are counted per dataset before they meet: the pairs of a busy dataset
# are its writes times its reads (5M store: 13 CPU s as a join of every write with every read).
_DATASET_SQL = """
WITH w AS (
    SELECT e.dst_id AS dataset, s.node AS writer, coalesce(r.node, s.node) AS writer_run,
           count(*) AS n
    FROM edges e JOIN entities s ON s.id = e.src_id LEFT JOIN entities r ON r.uid = s.run_uid
    WHERE e.kind = 'writes' GROUP BY ALL),
rd AS (
    SELECT e.src_id AS dataset, d.node AS reader, coalesce(r.node, d.node) AS reader_run,
           count(*) AS n, min(d.started_at) AS first_seen, max(d.started_at) AS last_seen
    FROM edges e JOIN entities d ON d.id = e.dst_id LEFT JOIN entities r ON r.uid = d.run_uid
    WHERE e.kind = 'reads' GROUP BY ALL)
SELECT w.writer, w.writer_run, ds.node AS dataset, rd.reader, rd.reader_run,
       sum(w.n * rd.n) AS count, min(rd.first_seen) AS first_seen,
       max(rd.last_seen) AS last_seen
FROM w JOIN rd USING (dataset) JOIN entities ds ON ds.id = w.dataset
WHERE w.writer <> rd.reader
GROUP BY ALL ORDER BY w.writer_run, rd.reader_run, w.writer, rd.reader, dataset
"""


def _dataset_dependencies(store: Store,
                          declared_pairs: set[frozenset[str]]) -> list[dict[str, Any]]:
    """Job A writes what job B reads: A → B through the dataset, declared or not.

    Jobs of one run's component (tasks of one DAG) count as declared by it.
    """
    rows = store.rows(_DATASET_SQL)
    for r in rows:
        r["declared"] = (r["writer_run"] == r["reader_run"]
                         or frozenset((r["writer"], r["reader"])) in declared_pairs
                         or frozenset((r["writer_run"], r["reader_run"])) in declared_pairs)
        for k in ("first_seen", "last_seen"):
            r[k] = _iso(r[k])
    return rows


def _by_runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Undeclared dataset dependencies rolled up to the runs' components (DAG → DAG)."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        if r["declared"]:
            continue
        key = (r["writer_run"], r["reader_run"], r["dataset"])
        if key in out:
            out[key]["count"] += r["count"]
        else:
            out[key] = dict(r)
    return list(out.values())


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for r in rows:
        key = (r["source"], r["target"], r["kind"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value
