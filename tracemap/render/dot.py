"""Graphviz DOT rendering of a graph result (component graph or one execution).

Every name is data: identifiers and labels are always double-quoted with ``\\`` and ``"``
escaped and line breaks turned into ``\\n``, so no input can close a string or inject an
attribute. Nodes are coloured by system; failures get a red border; edges inferred from time
alone (confidence under 0.8) are dashed.
"""

from __future__ import annotations

import re
from typing import Any

from tracemap.render.palette import system_colour

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def quote(value: Any) -> str:
    """A DOT double-quoted string holding ``value`` literally."""
    text = _CONTROL.sub("", "" if value is None else str(value))
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n") + '"'


def render(result: Any) -> str:
    """``digraph`` text for a ``tracemap.graph.GraphResult``."""
    instance = result.level == "instance"
    lines = [f"digraph {quote('tracemap ' + (result.execution or 'components'))} {{",
             "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for n in result.nodes:
        key = n["uid"] if instance else n["component"]
        label = (f"{n.get('name') or n['component']}\n{n['component']}" if instance
                 else f"{n['component']}\n{n['count']} seen" + (
                     f", {n['failures']} failed" if n["failures"] else ""))
        attrs = [f"label={quote(label)}", f"fillcolor={quote(system_colour(n['system']))}"]
        if n["failures"]:
            attrs.append('color="#c62828", penwidth=2')
        lines.append(f"  {quote(key)} [{', '.join(attrs)}];")
    for e in result.edges:
        label = e["kind"] if instance else f"{e['kind']} ×{e['count']}"
        attrs = [f"label={quote(label)}"]
        if (e.get("confidence") or 0) < 0.8:
            attrs.append("style=dashed")
        if not instance and e["count"] > 1:
            attrs.append(f"penwidth={min(1 + len(str(e['count'])) * 0.5, 4):.1f}")
        lines.append(f"  {quote(e['source'])} -> {quote(e['target'])} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
