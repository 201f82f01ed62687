"""Graph views and renderers: names resolved by suffix; dot, mermaid, graphml and json outputs
that stay well-formed whatever the names in the input are."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest

import tracemap
from tests.conftest import SCENARIOS
from tracemap.errors import UnknownComponentError
from tracemap.render import dot, graphml, mermaid
from tracemap.render import json as render_json

#: A service name and a topic that try to break out of every format's quoting.
EVIL_SERVICE = 'evil"svc<script>&amp;|[x]{y}(z)`#;\\'
EVIL_TOPIC = 'orders"];\n<b>x</b>-->|pwn| n0'


def _otlp(path: Path) -> None:
    def span(sid: str, parent: str | None, kind: int, start: int, attrs: dict[str, str]) -> dict:
        s = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": sid, "name": "op",
             "kind": kind, "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 10**6),
             "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]}
        if parent:
            s["parentSpanId"] = parent
        return s
    t0 = 1_714_557_600_000_000_000
    messaging = {"messaging.system": "kafka", "messaging.destination.name": EVIL_TOPIC}
    doc = {"resourceSpans": [
        {"resource": {"attributes": [{"key": "service.name",
                                      "value": {"stringValue": EVIL_SERVICE}}]},
         "scopeSpans": [{"spans": [span("b9c7c989f97918e1", None, 2, t0, {}),
                                   span("53995c3f42cd8ad8", "b9c7c989f97918e1", 4, t0 + 10**6,
                                        messaging)]}]},
        {"resource": {"attributes": [{"key": "service.name",
                                      "value": {"stringValue": "billing"}}]},
         "scopeSpans": [{"spans": [span("e457b5a2e4d86bd1", "53995c3f42cd8ad8", 5, t0 + 5 * 10**6,
                                        messaging)]}]}]}
    path.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> tracemap.Tracemap:
    folder = tmp_path_factory.mktemp("evil")
    _otlp(folder / "evil.otlp.json")
    tm = tracemap.open(folder / "store.duckdb")
    tm.ingest([str(folder / "evil.otlp.json")])
    return tm


def test_component_graph_contract(evil: tracemap.Tracemap) -> None:
    data = json.loads(render_json.render(evil.graph()))
    assert {n["component"] for n in data["nodes"]} == {
        f"otel:service:{EVIL_SERVICE}", f"kafka:topic:{EVIL_TOPIC}", "otel:service:billing"}
    for n in data["nodes"]:
        assert set(n) >= {"component", "system", "kind", "count", "failures"}
    assert {(e["source"], e["target"], e["kind"]) for e in data["edges"]} == {
        (f"otel:service:{EVIL_SERVICE}", f"kafka:topic:{EVIL_TOPIC}", "emits"),
        (f"kafka:topic:{EVIL_TOPIC}", "otel:service:billing", "triggers")}
    for e in data["edges"]:
        assert set(e) >= {"source", "target", "kind", "count", "confidence", "latency_p50_ms",
                          "failure_coupling"}


def test_graphml_is_well_formed_and_round_trips_names(evil: tracemap.Tracemap) -> None:
    text = graphml.render(evil.graph())
    root = ET.fromstring(text)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    ids = {n.get("id") for n in root.iterfind(".//g:node", ns)}
    # Every name reads back exactly, line break included (written as a character reference).
    assert ids == {f"otel:service:{EVIL_SERVICE}", f"kafka:topic:{EVIL_TOPIC}",
                   "otel:service:billing"}
    g = nx.parse_graphml(text)
    assert g.number_of_edges() == 2
    assert g.nodes[f"kafka:topic:{EVIL_TOPIC}"]["system"] == "kafka"


def test_dot_quotes_every_name(evil: tracemap.Tracemap) -> None:
    text = dot.render(evil.graph())
    assert dot.quote(f"otel:service:{EVIL_SERVICE}") in text
    assert r'evil\"svc<script>&amp;|[x]{y}(z)`#;\\' in text
    assert "\n<b>" not in text and r'orders\"];\n<b>' in text
    # Outside quoted strings only DOT syntax remains.
    unquoted = _strip_strings(text)
    assert "<" not in unquoted and "script" not in unquoted


def _strip_strings(text: str) -> str:
    out, inside, escaped = [], False, False
    for c in text:
        if inside:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                inside = False
        elif c == '"':
            inside = True
        else:
            out.append(c)
    return "".join(out)


def test_mermaid_labels_hold_no_syntax(evil: tracemap.Tracemap) -> None:
    text = mermaid.render(evil.graph())
    assert text.startswith("flowchart LR\n")
    for line in text.splitlines()[1:]:
        label_free = line.split('"')[0::2]  # outside the quoted labels
        for part in label_free:
            assert "<" not in part and "script" not in part
        for label in line.split('"')[1::2]:
            assert not set(label) & set('"<>&`|')
    assert "evil#34;svc#60;script#62;#38;amp;#124;[x]{y}(z)#96;#35;;\\" in text


def test_instance_graph_of_one_execution(evil: tracemap.Tracemap) -> None:
    result = evil.graph(level="instance", execution="0af7651916cd43dd8448eb211c80319c")
    assert result.level == "instance" and result.execution.startswith("x")
    kinds = {(e["kind"], e["rule"]) for e in result.edges}
    assert ("emits", "producer_span") in kinds and ("triggers", "span_hop") in kinds
    g = result.to_networkx()
    assert nx.is_directed_acyclic_graph(g) and g.number_of_nodes() == len(result.nodes)


def test_names_resolve_by_suffix(tmp_path: Path) -> None:
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(SCENARIOS / "skew_traceparent")])
    from tracemap.graph import resolve_component

    with tm.analysis_store() as store:
        assert resolve_component(store, "orders.placed") == "kafka:topic:orders.placed"
        assert resolve_component(store, "BILLING") == "otel:service:billing"
        assert resolve_component(store, "topic:orders.placed") == "kafka:topic:orders.placed"
        with pytest.raises(UnknownComponentError, match=r"no component named 'order'\. Did "
                           r"you mean: kafka:topic:orders\.placed"):
            resolve_component(store, "order")
