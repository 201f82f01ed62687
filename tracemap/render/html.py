"""HTML pages: the report and an execution's timeline, each one self-contained offline file.

The page is static HTML (cards, tables) plus two inlined scripts: the vendored dagre layout
library and ``assets/report.js``, which draws the component graph, the incident views and the
timelines from one ``<script type="application/json">`` block. Two rules keep input text data:

- In HTML, every string from the inputs is escaped with ``html.escape`` (quotes included).
- In the JSON block, ``<``, ``>``, ``&`` and U+2028/U+2029 are written as ``\\uXXXX`` escapes, so
  no input can close the block or start markup; the script puts values in the page with
  ``textContent`` only.

The Content-Security-Policy allows exactly the two scripts (by their SHA-256) and no request of
any kind, so the page works offline and cannot be made to reach the network.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from collections.abc import Iterable
from datetime import date, datetime
from importlib import resources
from typing import Any

from tracemap.render.sections import Section

SYSTEM_COLOURS = {
    "temporal": "#7c3aed", "cadence": "#6d28d9", "kafka": "#0f766e", "otel": "#2563eb",
    "stepfunctions": "#db2777", "airflow": "#059669", "argo": "#ea580c", "dataset": "#64748b",
    "rabbitmq": "#f97316", "sqs": "#ca8a04", "eventbridge": "#be185d", "zeebe": "#b45309",
    "openlineage": "#16a34a", "cloudevents": "#0284c7",
}
#: What a browser can draw and lay out quickly: beyond these the page says what it left out.
MAX_GRAPH_NODES = 120
MAX_GRAPH_EDGES = 240
MAX_TABLE_ROWS = 300

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1400px;
color:#0f172a;padding:0 1rem}h1{font-size:1.6rem}
h2{margin-top:2.2rem;border-bottom:1px solid #e2e8f0}h4{margin:.8rem 0 .3rem}
table{border-collapse:collapse;width:100%;margin:.6rem 0 1.2rem;font-size:13px}
th,td{border:1px solid #e2e8f0;padding:.3rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}th{background:#f8fafc;white-space:nowrap}.muted{color:#64748b}
.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #e2e8f0;border-radius:8px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}.risk-high{color:#b91c1c;font-weight:600}
.risk-medium{color:#b45309}.note{background:#fffbeb;border:1px solid #fde68a;border-radius:6px;
padding:.3rem .6rem}nav{margin-top:.8rem}nav a{margin-right:1rem}
.graph{border:1px solid #e2e8f0;border-radius:8px;background:#fcfcfd;overflow:hidden}
.toolbar{display:flex;gap:.6rem;align-items:center;margin:.5rem 0}.toolbar input{flex:0 0 22rem;
padding:.3rem .5rem}.legend span{margin-right:1rem;font-size:12px}
svg.tm-graph{display:block;cursor:grab;user-select:none}
.tm-graph .edge{stroke:#94a3b8;stroke-width:1.3}.tm-graph .edge.hidden-dep{stroke:#c2410c;
stroke-dasharray:6 3;stroke-width:1.8}.tm-graph .node{cursor:pointer}
.tm-graph .node .box{fill:#fff;stroke:#64748b;stroke-width:1.3}
.tm-graph .node.failing .box{stroke:#dc2626;stroke-width:2.4}
.tm-graph .node.virtual .box{fill:#f1f5f9;stroke-dasharray:4 3}
.tm-graph .node.origin .box{fill:#fee2e2}.tm-graph .node.sel .box{stroke:#111827;stroke-width:3}
.tm-graph .node.up .box{fill:#dbeafe;stroke:#2563eb}.tm-graph .node.down .box{fill:#ffedd5;
stroke:#ea580c}.tm-graph .node.match .box{fill:#fef9c3;stroke:#ca8a04;stroke-width:2.5}
.tm-graph .edge-label{fill:#475569;font-size:10px}.tm-graph .dim{opacity:.22}
.tm-graph .edge.hl{stroke:#111827;stroke-width:2.2}
.incident{border:1px solid #fecaca;border-radius:8px;padding:.2rem 1rem 1rem;margin:1rem 0}
.incident-row{display:flex;gap:1rem;flex-wrap:wrap}.incident-graph{flex:1 1 520px;min-width:0}
.incident-evidence{flex:1 1 420px;min-width:0}
.tl-scroll{overflow-x:auto;border:1px solid #e2e8f0;border-radius:8px}
.tm-timeline .lane{fill:#f8fafc}.tm-timeline .lane-name{font-weight:600}
.tm-timeline .tick{stroke:#e2e8f0}.tm-timeline .row{cursor:pointer}
.tm-timeline .row:hover{opacity:.8}.tm-timeline .bar{fill-opacity:.8}
.tm-timeline .row.bad .bar{fill:#dc2626}.tm-timeline .row.bad .label{fill:#b91c1c}
.tm-timeline .row .marks{fill:#475569}.tm-timeline .row.bad .marks{fill:#b91c1c}
.tm-timeline .row.crit .bar{stroke:#111827;stroke-width:2}
.tm-timeline .row.crit .label{font-weight:700}
.tm-timeline .row.sel .label{fill:#2563eb}.tm-timeline .hop{stroke:#64748b;stroke-width:1.1}
.tm-timeline .hop.crit{stroke:#111827;stroke-width:2}.tm-timeline text.muted{fill:#64748b}
.tl-detail{margin-top:.6rem}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def table(section: Section, chapter: str = "", max_rows: int = MAX_TABLE_ROWS) -> str:
    out = [] if section.title == chapter else [f"<h3>{esc(section.title)}</h3>"]
    if section.text:
        out.append(f"<p class='muted'>{esc(section.text)}</p>")
    if section.headers:
        out.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in section.headers)
                   + "</tr></thead><tbody>")
        for row in section.rows[:max_rows]:
            cls = f" class='risk-{esc(row[0])}'" if section.headers[0] == "risk" else ""
            out.append(f"<tr{cls}>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        out.append("</tbody></table>")
        if len(section.rows) > max_rows:
            out.append(f"<p class='note'>{max_rows:,} of {len(section.rows):,} rows shown; "
                       "the JSON output of the same command has them all.</p>")
    return "\n".join(out)


def script_json(data: Any) -> str:
    """``data`` as JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(_plain(data), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def _plain(value: Any) -> Any:
    """JSON-able: timestamps as ISO text, NaN/infinity as null, anything else as text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def graph_data(nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
               hidden: Iterable[tuple[str, str]] = (), max_nodes: int = MAX_GRAPH_NODES,
               max_edges: int = MAX_GRAPH_EDGES) -> dict[str, Any]:
    """The component graph for the page: at most ``max_nodes`` nodes and ``max_edges`` edges.

    Layout time grows fast with edges (dagre needs about 2 s for a random 150-node, 240-edge graph),
    so a large graph is cut: nodes by failures, then volume; edges hidden first, then by
    volume. A node is virtual when its row says so (the correlator names peers that send no
    telemetry).
    """
    hidden_pairs = set(hidden)
    ranked = sorted(nodes, key=lambda n: (-(n.get("failures") or 0), -(n.get("count") or 0),
                                          str(n["component"])))
    kept = ranked[:max_nodes]
    names = {n["component"] for n in kept}
    out_nodes = [{"id": n["component"], "system": n.get("system"), "kind": n.get("kind"),
                  "count": n.get("count"), "failures": n.get("failures") or 0,
                  "virtual": bool(n.get("virtual")) or "virtual" in (n.get("system"),
                                                                    n.get("kind"))}
                 for n in sorted(kept, key=lambda n: str(n["component"]))]
    among = [{"source": e["source"], "target": e["target"], "kind": e.get("kind"),
              "count": e.get("count"), "hidden": (e["source"], e["target"]) in hidden_pairs}
             for e in edges if e["source"] in names and e["target"] in names]
    out_edges = sorted(among, key=lambda e: (not e["hidden"], -(e["count"] or 0)))[:max_edges]
    out_edges.sort(key=lambda e: (str(e["source"]), str(e["target"]), str(e["kind"])))
    notes = []
    if len(kept) < len(nodes) or len(out_edges) < len(edges):
        notes.append(f"{len(kept):,} of {len(nodes):,} components and {len(out_edges):,} of "
                     f"{len(edges):,} dependencies drawn (failing components and hidden "
                     "dependencies first, then the busiest); `tracemap graph --format json` "
                     "has them all.")
    return {"nodes": out_nodes, "edges": out_edges, "notes": notes}


def _asset(name: str) -> str:
    return resources.files("tracemap.render").joinpath("assets", name).read_text("utf-8")


def page(title: str, body: list[str], data: dict[str, Any]) -> str:
    """A whole page: ``body`` (trusted HTML built here), the data block and the two scripts."""
    scripts = [_asset("dagre.min.js"), _asset("report.js")]
    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
                      + "'" for s in scripts)
    payload = {"colours": SYSTEM_COLOURS, **data}
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            f"style-src 'unsafe-inline'; script-src {hashes}\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body)
            + f"\n<script type='application/json' id='tm-data'>{script_json(payload)}</script>"
            + "".join(f"\n<script>{s}</script>" for s in scripts)
            + "\n</body></html>\n")


def _notes(notes: Iterable[str]) -> list[str]:
    return [f"<p class='note'>{esc(n)}</p>" for n in notes]


def report(title: str, cards: Iterable[tuple[str, Any]], graph: dict[str, Any],
           chapters: list[tuple[str, list[Section]]], *,
           incidents: list[dict[str, Any]] | None = None,
           timelines: list[dict[str, Any]] | None = None) -> str:
    """The report page: cards, the explorable graph, incident views, chapters, timelines.

    ``timelines`` are ``{"reason": text, "data": timeline.data(...)}``; links to them are
    ``#tl-<index>`` (incidents name theirs by index in ``"timeline"``).
    """
    incidents = incidents or []
    timelines = timelines or []
    body = [f"<h1>{esc(title)}</h1>", "<div class='cards'>"]
    body += [f"<div class='card'><b>{esc(v)}</b>{esc(k)}</div>" for k, v in cards]
    body += ["</div>", "<nav><a href='#sec-graph'>Component graph</a>"
             "<a href='#sec-incidents'>Incidents</a><a href='#sec-timelines'>Timelines</a></nav>",
             "<h2 id='sec-graph'>Component graph</h2>",
             "<div class='toolbar'><input id='graph-search' type='search' "
             "placeholder='Search components' aria-label='Search components'>"
             "<button id='graph-reset' type='button'>Reset</button><span class='legend muted'>"
             "<span>click a node: upstream in blue, downstream in orange</span>"
             "<span>dashed orange edge: hidden dependency</span>"
             "<span>dashed grey node: virtual (named by callers only)</span>"
             "<span>red outline: failures</span></span></div>",
             *_notes(graph.get("notes", [])),
             "<div id='graph' class='graph'></div><div id='graph-panel'></div>",
             "<h2 id='sec-incidents'>Incidents</h2>",
             "<p class='muted'>Per root cause: where the failure went, the evidence that ranks "
             "it, and the attribute values that set failed executions apart from healthy ones."
             "</p>" if incidents else "<p class='muted'>No root cause found.</p>",
             "<div id='incidents'></div>"]
    for name, sections in chapters:
        body.append(f"<h2>{esc(name)}</h2>")
        body += [table(s, name) for s in sections] or ["<p class='muted'>Nothing found.</p>"]
    body += ["<h2 id='sec-timelines'>Timelines</h2>",
             "<p class='muted'>The executions behind the root causes, false completions and "
             "examples above, as waterfalls across systems.</p>",
             "<div id='timeline-list'></div><div id='timeline'></div>"]
    return page(title, body, {"graph": graph, "incidents": incidents, "timelines": timelines})


def timeline_page(data: dict[str, Any], title: str = "") -> str:
    """One execution's timeline (``timeline.data(...)``) as its own page."""
    title = title or f"tracemap trace {data['execution']}"
    body = [f"<h1>{esc(title)}</h1>", "<div id='timeline'></div>"]
    return page(title, body, {"graph": {"nodes": [], "edges": []},
                              "timelines": [{"reason": "execution", "data": data}]})
