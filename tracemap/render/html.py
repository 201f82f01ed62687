"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network).

Every string from the inputs is escaped with ``html.escape`` (quotes included), so names,
payloads and error messages are shown as text and never become markup, script or links.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import networkx as nx

from tracemap.render.sections import Section

SYSTEM_COLOURS = {
    "temporal": "#7c3aed", "cadence": "#6d28d9", "kafka": "#0f766e", "otel": "#2563eb",
    "stepfunctions": "#db2777", "airflow": "#059669", "argo": "#ea580c", "dataset": "#64748b",
    "rabbitmq": "#f97316", "sqs": "#ca8a04", "eventbridge": "#be185d", "zeebe": "#b45309",
    "openlineage": "#16a34a", "cloudevents": "#0284c7",
}
NODE_W, NODE_H, GAP_X, GAP_Y = 230, 34, 70, 18

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;
color:#0f172a;padding:0 1rem}h1{font-size:1.6rem}
h2{margin-top:2.2rem;border-bottom:1px solid #e2e8f0}
table{border-collapse:collapse;width:100%;margin:.6rem 0 1.2rem;font-size:13px}
th,td{border:1px solid #e2e8f0;padding:.3rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}th{background:#f8fafc;white-space:nowrap}.muted{color:#64748b}.cards{display:flex;gap:1rem;
flex-wrap:wrap}.card{border:1px solid #e2e8f0;border-radius:8px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}.risk-high{color:#b91c1c;font-weight:600}
.risk-medium{color:#b45309}.graph{overflow:auto;border:1px solid #e2e8f0;border-radius:8px}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def table(section: Section, chapter: str = "") -> str:
    out = [] if section.title == chapter else [f"<h3>{esc(section.title)}</h3>"]
    if section.text:
        out.append(f"<p class='muted'>{esc(section.text)}</p>")
    if section.headers:
        out.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in section.headers)
                   + "</tr></thead><tbody>")
        for row in section.rows:
            cls = f" class='risk-{esc(row[0])}'" if section.headers[0] == "risk" else ""
            out.append(f"<tr{cls}>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        out.append("</tbody></table>")
    return "\n".join(out)


def svg(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> str:
    """The component graph as an SVG picture, laid out in layers from sources to sinks."""
    graph = nx.DiGraph()
    for n in nodes:
        graph.add_node(n["component"], **n)
    for e in edges:
        if e["source"] in graph and e["target"] in graph and e["source"] != e["target"]:
            graph.add_edge(e["source"], e["target"], **e)
    if not graph:
        return "<p class='muted'>No components.</p>"
    layer = _layers(graph)
    columns: dict[int, list[str]] = {}
    for node in sorted(graph, key=lambda n: (layer[n], n)):
        columns.setdefault(layer[node], []).append(node)
    pos = {node: (GAP_X / 2 + col * (NODE_W + GAP_X), 20 + row * (NODE_H + GAP_Y))
           for col, members in columns.items() for row, node in enumerate(members)}
    width = int(GAP_X + len(columns) * (NODE_W + GAP_X))
    height = int(40 + max(len(m) for m in columns.values()) * (NODE_H + GAP_Y))
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}' font-family='system-ui,sans-serif' font-size='11'>",
           "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' "
           "markerHeight='7' orient='auto-start-reverse'><path d='M0,0L10,5L0,10z' "
           "fill='#94a3b8'/></marker></defs>"]
    for u, v, data in graph.edges(data=True):
        (x1, y1), (x2, y2) = pos[u], pos[v]
        sx, sy, tx, ty = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        if tx <= sx:  # an edge back to an earlier layer: leave from the bottom
            sx, sy, tx, ty = x1 + NODE_W / 2, y1 + NODE_H, x2 + NODE_W / 2, y2 + NODE_H
        mid = (sx + tx) / 2
        out.append(f"<path d='M{sx:.0f},{sy:.0f} C{mid:.0f},{sy:.0f} {mid:.0f},{ty:.0f} "
                   f"{tx:.0f},{ty:.0f}' fill='none' stroke='#94a3b8' stroke-width='1.2' "
                   f"marker-end='url(#arrow)'><title>{esc(u)} → {esc(v)}: {esc(data.get('kind'))}"
                   f" ×{esc(data.get('count'))}</title></path>")
    for node, (x, y) in pos.items():
        data = graph.nodes[node]
        colour = SYSTEM_COLOURS.get(str(data.get("system")), "#475569")
        failures = data.get("failures") or 0
        stroke = "#dc2626" if failures else colour
        label = node if len(node) <= 34 else node[:33] + "…"
        out.append(f"<g><title>{esc(node)}: {esc(data.get('count'))} seen, {esc(failures)} "
                   f"failed</title><rect x='{x:.0f}' y='{y:.0f}' width='{NODE_W}' "
                   f"height='{NODE_H}' rx='6' fill='#fff' stroke='{stroke}' "
                   f"stroke-width='{2.5 if failures else 1.5}'/><rect x='{x:.0f}' y='{y:.0f}' "
                   f"width='6' height='{NODE_H}' rx='3' fill='{colour}'/><text x='{x + 12:.0f}' "
                   f"y='{y + 21:.0f}'>{esc(label)}</text></g>")
    out.append("</svg>")
    return "\n".join(out)


def _layers(graph: nx.DiGraph) -> dict[str, int]:
    """Longest-path layering over the graph with its cycles condensed."""
    dag = nx.condensation(graph)
    depth: dict[int, int] = {}
    for c in nx.topological_sort(dag):
        depth[c] = max((depth[p] + 1 for p in dag.predecessors(c)), default=0)
    return {node: depth[dag.graph["mapping"][node]] for node in graph}


def report(title: str, cards: Iterable[tuple[str, Any]], graph_svg: str,
           chapters: list[tuple[str, list[Section]]]) -> str:
    """The whole page: summary cards, the graph, then one chapter per analysis."""
    body = [f"<h1>{esc(title)}</h1>", "<div class='cards'>"]
    body += [f"<div class='card'><b>{esc(v)}</b>{esc(k)}</div>" for k, v in cards]
    body += ["</div>", "<h2>Component graph</h2>", f"<div class='graph'>{graph_svg}</div>"]
    for name, sections in chapters:
        body.append(f"<h2>{esc(name)}</h2>")
        body += [table(s, name) for s in sections] or ["<p class='muted'>Nothing found.</p>"]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
