"""Mermaid flowchart rendering (for GitHub Markdown) of a graph result.

Mermaid has no escape character, only entity codes: node ids are generated (``n0``, ``n1``...)
and every label is a quoted string whose ``"``, ``#``, ``<``, ``>``, ``&``, backtick and ``|``
are written as ``#code;`` entities, so an input name cannot end a label or an edge text, start
a Markdown string or smuggle HTML (brackets and parentheses are plain text inside quotes).
Paste the output into a ```` ```mermaid ```` block.
"""

from __future__ import annotations

import re
from typing import Any

from tracemap.render.palette import system_colour

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
#: Characters that mean something to Mermaid's parser or its HTML labels.
_ENTITIES = {c: f"#{ord(c)};" for c in '#"<>&`|'}


def label(value: Any) -> str:
    """A Mermaid quoted label holding ``value`` literally."""
    text = _CONTROL.sub(" ", "" if value is None else str(value))
    return '"' + "".join(_ENTITIES.get(c, c) for c in text) + '"'


def render(result: Any) -> str:
    """``flowchart LR`` text for a ``tracemap.graph.GraphResult``."""
    instance = result.level == "instance"
    key = "uid" if instance else "component"
    ids = {n[key]: f"n{i}" for i, n in enumerate(result.nodes)}
    lines = ["flowchart LR"]
    for n in result.nodes:
        text = (f"{n.get('name') or n['component']} · {n['component']}" if instance
                else f"{n['component']} ({n['count']})")
        lines.append(f"  {ids[n[key]]}[{label(text)}]")
    for e in result.edges:
        src, dst = ids.get(e["source"]), ids.get(e["target"])
        if src is None or dst is None:
            continue
        text = e["kind"] if instance else f"{e['kind']} ×{e['count']}"
        arrow = "-.->" if (e.get("confidence") or 0) < 0.8 else "-->"
        lines.append(f"  {src} {arrow}|{label(text)}| {dst}")
    for system in sorted({n["system"] or "" for n in result.nodes}):
        members = [ids[n[key]] for n in result.nodes if (n["system"] or "") == system]
        cls = "sys_" + re.sub(r"[^A-Za-z0-9_]", "_", system or "none")
        lines.append(f"  classDef {cls} fill:{system_colour(system)},stroke:#555")
        lines.append(f"  class {','.join(members)} {cls}")
    failed = [ids[n[key]] for n in result.nodes if n["failures"]]
    if failed:
        lines.append("  classDef failed stroke:#c62828,stroke-width:2px")
        lines.append(f"  class {','.join(failed)} failed")
    return "\n".join(lines) + "\n"
