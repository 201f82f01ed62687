"""The HTML report: every analysis of the store on one self-contained page."""

from __future__ import annotations

import networkx as nx

from tracemap.analyze import coverage, failures, hidden, impact, paths, risks
from tracemap.declarations import Declaration
from tracemap.render import html, sections
from tracemap.store import Store

#: How many components get an impact section (those with the most dependents).
TOP_IMPACTS = 3


def build(store: Store, *, title: str = "tracemap report",
          declarations: list[Declaration] | None = None) -> str:
    """The report page for a correlated store."""
    counts = store.counts()
    executions, multi = store.sql(
        "SELECT count(*), count(*) FILTER (WHERE len(systems) > 1) FROM executions").fetchone()
    nodes = store.rows("SELECT component, system, kind, count, failures FROM component_nodes "
                       "ORDER BY component")
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
    return html.report(title, cards, html.svg(nodes, edges), chapters)


def _most_depended_on(store: Store) -> list[str]:
    graph = impact.dependency_graph(store)
    reach = {n: len(nx.descendants(graph, n)) for n in graph}
    return sorted(reach, key=lambda n: (-reach[n], n))[:TOP_IMPACTS]
