"""explain: every piece of evidence behind an edge, with the file and place it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracemap
from tests.conftest import SCENARIOS
from tracemap.errors import AnalysisError, UnknownComponentError

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PRODUCER = f"otel:span:{TRACE}/00f067aa0ba902b7"
CONSUMER_SPAN = f"otel:span:{TRACE}/b7ad6b7169203331"
RECORD = "kafka:msg:orders.placed/0/42"


@pytest.fixture(scope="module")
def tm(tmp_path_factory: pytest.TempPathFactory) -> tracemap.Tracemap:
    tm = tracemap.open(tmp_path_factory.mktemp("explain") / "store.duckdb")
    tm.ingest([str(SCENARIOS / "skew_traceparent"), str(SCENARIOS / "no_shared_key")])
    return tm


def _where(piece: dict) -> set[tuple[str, str]]:
    return {(Path(r["path"]).name, r["location"]) for r in piece["records"]}


def test_producer_to_record_names_the_traceparent_and_both_records(
        tm: tracemap.Tracemap) -> None:
    result = tm.explain(PRODUCER, RECORD)
    assert result.level == "instance" and result.same_execution
    [edge] = result.edges
    assert (edge["kind"], edge["rule"]) == ("emits", "traceparent")
    rules = {p["rule"]: p for p in result.evidence}
    assert rules["traceparent"]["basis"] == "key span_id=00f067aa0ba902b7"
    assert _where(rules["traceparent"]) == {
        ("orders.kcat.jsonl", "line 1"),
        ("checkout.otlp.json", "line 1 resourceSpans[0].scopeSpans[0].spans[1]")}
    # Both carry the trace id and span id: shown as shared keys, with where each was read.
    shared = {p["what"] for p in result.evidence if p["rule"] == "shared_key"}
    assert shared == {f"trace_id={TRACE}", "span_id=00f067aa0ba902b7"}


def test_consumer_span_reached_through_its_service_run(tm: tracemap.Tracemap) -> None:
    # The edge enters billing's run (the consumer span is its local root): explain on the
    # span still finds it, and the parent link the source stated between the two spans.
    result = tm.explain(RECORD, CONSUMER_SPAN)
    assert [(e["src"], e["dst"], e["rule"]) for e in result.edges] == [
        (RECORD, f"otel:run:{TRACE}/b7ad6b7169203331", "span_link")]
    link = tm.explain(PRODUCER, CONSUMER_SPAN)
    stated = [p for p in link.evidence if p["rule"] == "link"]
    assert [p["basis"] for p in stated] == ["stated by the source: parentSpanId"]
    assert _where(stated[0]) == {
        ("billing.otlp.json", "line 1 resourceSpans[0].scopeSpans[0].spans[0]")}


def test_components_by_suffix_with_example_instances(tm: tracemap.Tracemap) -> None:
    result = tm.explain("checkout", "orders.placed")
    assert (result.src, result.dst, result.level) == (
        "otel:service:checkout", "kafka:topic:orders.placed", "component")
    assert [(e["kind"], e["count"]) for e in result.edges] == [("emits", 1)]
    assert [p["rule"] for p in result.evidence] == ["component_edge", "traceparent"]


def test_unrelated_entities_say_so(tm: tracemap.Tracemap) -> None:
    result = tm.explain(PRODUCER, "kafka:msg:stock.changed/3/7")
    assert result.edges == [] and result.same_execution is False
    assert result.notes == ["no edge between them and they are in different executions"]


def test_mixing_an_entity_and_a_component_is_an_error(tm: tracemap.Tracemap) -> None:
    with pytest.raises(AnalysisError, match="is an entity but 'billing' is not"):
        tm.explain(PRODUCER, "billing")
    with pytest.raises(UnknownComponentError, match="no component named 'nowhere'"):
        tm.explain("nowhere", "billing")
