"""The HTML report: every analysis of the store on one self-contained page.

Besides the analyses' tables the page carries what an incident needs at hand: the explorable
component graph, one view per root cause (propagation subgraph, evidence, discriminating
attributes) and the timelines of the executions behind the root causes, the false completions
and a few cross-system examples. What cannot be drawn quickly is capped, and the page says so.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from tracemap.analyze import coverage, failures, hidden, impact, paths, risks, trace
from tracemap.declarations import Declaration
from tracemap.render import html, sections, timeline
from tracemap.store import Store

#: How many components get an impact section (those with the most dependents).
TOP_IMPACTS = 3
#: Root causes that get an incident view (and a timeline each).
MAX_INCIDENTS = 5
#: False completions and cross-system examples that get a timeline each.
MAX_FALSE_COMPLETIONS = 3
MAX_EXAMPLES = 2
#: Propagation edges drawn per incident (the busiest; the Failures chapter lists them all).
MAX_INCIDENT_EDGES = 40
#: An execution larger than this is listed, not drawn (``tracemap trace ID --format html``).
MAX_TIMELINE_ENTITIES = 20_000


def build(store: Store, *, title: str = "tracemap report",
          declarations: list[Declaration] | None = None) -> str:
    """The report page for a correlated store."""
    counts = store.counts()
    executions, multi = store.sql(
        "SELECT count(*), count(*) FILTER (WHERE len(systems) > 1) FROM executions").fetchone()
    # SELECT *: a column the correlator adds (``virtual``) reaches the page without a change here
    nodes = store.rows("SELECT * FROM component_nodes ORDER BY component")
    edges = store.rows("SELECT source, target, kind, count FROM component_edges "
                       "ORDER BY source, target, kind")
    found_hidden = hidden.analyze(store, declarations=declarations)
    found_failures = failures.analyze(store)
    cards = [("records", sum(counts[t] for t in ("runs", "steps", "messages", "datasets"))),
             ("executions", executions), ("cross-system executions", multi),
             ("components", len(nodes)), ("hidden dependencies", len(found_hidden.hidden)),
             ("failed entities", found_failures.failed_entities), ("rejects", counts["rejects"])]
    chapters = [("Hidden dependencies", sections.hidden(found_hidden)),
                ("Failures and root causes", sections.failures(found_failures)),
                ("Top impacts", [s for target in _most_depended_on(store)
                                 for s in sections.impact(impact.analyze(store, target=target))]),
                ("Coverage", sections.coverage(coverage.analyze(store))),
                ("Execution risks", sections.risks(risks.analyze(store))),
                ("Pathways", sections.paths(paths.analyze(store)))]
    graph = html.graph_data(nodes, edges, [(h.source, h.target) for h in found_hidden.hidden])
    timelines = _Timelines(store)
    incidents = [_incident(store, rank, cause, found_failures.propagation, timelines)
                 for rank, cause in enumerate(found_failures.root_causes[:MAX_INCIDENTS], 1)]
    for row in found_hidden.false_completions[:MAX_FALSE_COMPLETIONS]:
        timelines.add(_execution_of(store, row["run"]),
                      f"False completion: {row['run']} ({row['component']})")
    for execution, systems in store.sql(
            "SELECT execution_id, systems FROM executions WHERE len(systems) > 1 AND entities <= ? "
            "ORDER BY len(systems) DESC, entities DESC, execution_id LIMIT ?",
            [MAX_TIMELINE_ENTITIES, MAX_EXAMPLES]).fetchall():
        timelines.add(execution, f"Example: an execution across {', '.join(systems)}")
    return html.report(title, cards, graph, chapters, incidents=incidents,
                       timelines=timelines.items)


class _Timelines:
    """The timelines the page embeds, each execution once, in the order they were asked for."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.items: list[dict[str, Any]] = []
        self.index: dict[str, int] = {}

    def add(self, execution: str | None, reason: str) -> int | None:
        """Embed the execution (once) and say why; an execution asked for again (two root
        causes in one trace) keeps every reason, so each incident's link names it."""
        if execution is None:
            return None
        if execution not in self.index:
            self.index[execution] = len(self.items)
            data = timeline.data(trace.analyze(self.store, id=execution))
            self.items.append({"reason": reason, "reasons": [reason], "data": data})
        else:
            item = self.items[self.index[execution]]
            if reason not in item["reasons"]:
                item["reasons"].append(reason)
                item["reason"] = "; ".join(item["reasons"])
        return self.index[execution]


def _incident(store: Store, rank: int, cause: failures.RootCause,
              propagation: list[dict[str, Any]], timelines: _Timelines) -> dict[str, Any]:
    """One root cause: what it reached along the propagation edges, evidence, attributes."""
    reached, frontier, edges = {cause.component}, [cause.component], []
    while frontier:
        current = frontier.pop()
        for p in propagation:
            if p["from"] == current and p not in edges:
                edges.append(p)
                if p["to"] not in reached:
                    reached.add(p["to"])
                    frontier.append(p["to"])
    execution = store.sql(
        "SELECT n.execution_id FROM entities n JOIN executions x USING (execution_id) "
        "WHERE n.component = ? AND x.entities <= ? "
        "ORDER BY n.status IN ('failed', 'timed_out') DESC, n.started_at DESC NULLS LAST LIMIT 1",
        [cause.component, MAX_TIMELINE_ENTITIES]).fetchone()
    index = timelines.add(execution[0] if execution else None,
                          f"Root cause #{rank}: {cause.component}")
    return {"rank": rank, "component": cause.component, "score": cause.score,
            "explains": cause.explains, "evidence": cause.evidence,
            "explanation": getattr(cause, "explanation", ""),  # added by the ranking rework
            "attributes": [{"name": a.name, "value": a.value, "failed_share": a.failed_share,
                            "healthy_share": a.healthy_share} for a in cause.attributes],
            "propagation": sorted(edges, key=lambda p: -p["count"])[:MAX_INCIDENT_EDGES],
            "timeline": index}


def _execution_of(store: Store, uid: str) -> str | None:
    row = store.sql("SELECT n.execution_id FROM entities n JOIN executions x USING "
                    "(execution_id) WHERE n.uid = ? AND x.entities <= ?",
                    [uid, MAX_TIMELINE_ENTITIES]).fetchone()
    return row[0] if row else None


def _most_depended_on(store: Store) -> list[str]:
    graph = impact.dependency_graph(store)
    reach = {n: len(nx.descendants(graph, n)) for n in graph}
    return sorted(reach, key=lambda n: (-reach[n], n))[:TOP_IMPACTS]
