"""GraphML rendering (Gephi, yEd, networkx) of a graph result.

Attribute values and ids are XML-escaped (``&``, ``<``, ``>``, quotes) and characters XML 1.0
cannot hold are dropped, so any input name yields a well-formed document.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

#: Characters not allowed in XML 1.0 documents.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_NODE_KEYS = (("component", "string"), ("system", "string"), ("kind", "string"),
              ("count", "long"), ("failures", "long"), ("status", "string"),
              ("name", "string"))
_EDGE_KEYS = (("kind", "string"), ("count", "long"), ("confidence", "double"),
              ("latency_p50_ms", "double"), ("failure_coupling", "double"), ("rule", "string"))


def _text(value: Any) -> str:
    return _INVALID_XML.sub("", str(value))


def render(result: Any) -> str:
    """A GraphML document for a ``tracemap.graph.GraphResult``."""
    instance = result.level == "instance"
    key = "uid" if instance else "component"
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
           'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">']
    for name, kind in _NODE_KEYS:
        out.append(f'  <key id="n_{name}" for="node" attr.name="{name}" attr.type="{kind}"/>')
    for name, kind in _EDGE_KEYS:
        out.append(f'  <key id="e_{name}" for="edge" attr.name="{name}" attr.type="{kind}"/>')
    out.append(f'  <graph id={quoteattr(_text(result.execution or "components"))} '
               'edgedefault="directed">')
    for n in result.nodes:
        out.append(f"    <node id={quoteattr(_text(n[key]))}>")
        out += _data("n", _NODE_KEYS, n)
        out.append("    </node>")
    for i, e in enumerate(result.edges):
        out.append(f'    <edge id="e{i}" source={quoteattr(_text(e["source"]))} '
                   f'target={quoteattr(_text(e["target"]))}>')
        out += _data("e", _EDGE_KEYS, e)
        out.append("    </edge>")
    out += ["  </graph>", "</graphml>"]
    return "\n".join(out) + "\n"


def _data(prefix: str, keys: tuple[tuple[str, str], ...], row: dict[str, Any]) -> list[str]:
    return [f'      <data key="{prefix}_{name}">{escape(_text(row[name]))}</data>'
            for name, _ in keys if row.get(name) is not None]
