"""otlp_json: messaging keys across semconv versions; what is and is not a request; Tempo.

The fixtures (tests/fixtures/otlp_json, pinned by goldens) hold Kafka spans in today's
spelling; these spans are written from the semantic-conventions documents of other versions
and buses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingest import otlp_json
from tests.conftest import FIXTURES
from tests.golden import counts_and_rejects, normalized_rows

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "53995c3f42cd8ad8"


def _request(path: Path, kind: int, attrs: dict[str, Any]) -> Path:
    values = [{"key": k, "value": {"intValue": str(v)} if isinstance(v, int)
               else {"stringValue": v}} for k, v in attrs.items()]
    span = {"traceId": TRACE, "spanId": SPAN, "name": "publish", "kind": kind,
            "startTimeUnixNano": "1714557600000000000", "endTimeUnixNano": "1714557600001000000",
            "attributes": values}
    path.write_text(json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "checkout"}}]},
        "scopeSpans": [{"spans": [span]}]}]}))
    return path


def _messaging_keys(path: Path) -> list[tuple[str, str]]:
    rows = normalized_rows(path)
    return sorted((k["kind"], k["value"]) for k in rows["keys"]
                  if k["entity_uid"] == f"otel:span:{TRACE}/{SPAN}"
                  and k["kind"] in ("channel", "message_key"))


@pytest.mark.parametrize(("attrs", "expected"), [
    # semconv >= 1.17 (the fixtures' spelling)
    ({"messaging.system": "kafka", "messaging.destination.name": "orders",
      "messaging.kafka.message.key": "ord-1"},
     [("channel", "kafka:topic:orders"), ("message_key", "ord-1")]),
    # semconv < 1.17: messaging.destination, messaging.kafka.message_key; system in capitals
    ({"messaging.system": "Kafka", "messaging.destination": "orders",
      "messaging.kafka.message_key": "ord-1"},
     [("channel", "kafka:topic:orders"), ("message_key", "ord-1")]),
    # RabbitMQ on the default exchange: the destination is "", the routing key names the queue
    ({"messaging.system": "rabbitmq", "messaging.destination.name": "",
      "messaging.rabbitmq.destination.routing_key": "invoices"},
     [("channel", "rabbitmq:exchange:amq.default"), ("message_key", "invoices")]),
    # an integer key (intValue) is still a key
    ({"messaging.system": "kafka", "messaging.destination.name": "orders",
      "messaging.kafka.message.key": 42},
     [("channel", "kafka:topic:orders"), ("message_key", "42")]),
    # no bus named: a destination alone is not a channel
    ({"messaging.destination.name": "orders"}, []),
    # a key without a destination is still the record's key
    ({"messaging.system": "kafka", "messaging.kafka.message.key": "ord-1"},
     [("message_key", "ord-1")]),
])
def test_messaging_keys_across_semconv_versions(tmp_path: Path, attrs: dict[str, Any],
                                               expected: list[tuple[str, str]]) -> None:
    path = _request(tmp_path / "spans.otlp.json", 4, attrs)
    assert _messaging_keys(path) == expected


def _record_links(path: Path) -> list[tuple[str, str, str]]:
    return sorted((lk["src_uid"], lk["dst_uid"], lk["kind"])
                  for lk in normalized_rows(path)["links"]
                  if lk["evidence"] == "messaging topic, partition and offset")


_SPAN_UID = f"otel:span:{TRACE}/{SPAN}"


@pytest.mark.parametrize(("kind", "attrs", "expected"), [
    # semconv >= 1.24 (1.26: operation.type), a consumer: the record triggers the span
    (5, {"messaging.system": "kafka", "messaging.destination.name": "orders",
         "messaging.destination.partition.id": "2", "messaging.kafka.offset": 1017,
         "messaging.operation.type": "process"},
     [("kafka:msg:orders/2/1017", _SPAN_UID, "triggers")]),
    # semconv 1.17-1.23 (the Java agent 1.x), a producer: the span emits the record
    (4, {"messaging.system": "kafka", "messaging.destination.name": "orders",
         "messaging.kafka.destination.partition": 0, "messaging.kafka.message.offset": 7},
     [(_SPAN_UID, "kafka:msg:orders/0/7", "emits")]),
    # a CLIENT span whose operation is a receive is on the consumer's side
    (3, {"messaging.system": "kafka", "messaging.destination.name": "orders",
         "messaging.destination.partition.id": "1", "kafka.offset": 3,
         "messaging.operation": "receive"},
     [("kafka:msg:orders/1/3", _SPAN_UID, "triggers")]),
    # no partition: the offset alone names no record
    (5, {"messaging.system": "kafka", "messaging.destination.name": "orders",
         "messaging.kafka.offset": 1017}, []),
    # an INTERNAL span with no operation: which side it is on is not stated
    (1, {"messaging.system": "kafka", "messaging.destination.name": "orders",
         "messaging.destination.partition.id": "2", "messaging.kafka.offset": 1017}, []),
    # an offset of -1 (not acknowledged yet) names no record
    (4, {"messaging.system": "kafka", "messaging.destination.name": "orders",
         "messaging.destination.partition.id": "2", "messaging.kafka.offset": -1}, []),
    # another bus's offsets are not Kafka records
    (5, {"messaging.system": "rocketmq", "messaging.destination.name": "orders",
         "messaging.destination.partition.id": "2", "messaging.kafka.offset": 1017}, []),
])
def test_a_kafka_span_names_its_record_by_topic_partition_and_offset(
        tmp_path: Path, kind: int, attrs: dict[str, Any],
        expected: list[tuple[str, str, str]]) -> None:
    path = _request(tmp_path / "spans.otlp.json", kind, attrs)
    assert _record_links(path) == expected


def test_an_infinite_int_value_is_kept_not_a_crash(tmp_path: Path) -> None:
    # Found by scripts/fuzz_long.py (otlp_json:3765): Python's json writes Infinity.
    path = _request(tmp_path / "spans.otlp.json", 1, {"retry.count": 3})
    doc = json.loads(path.read_text())
    attr = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][0]
    attr["value"] = {"intValue": float("inf")}
    path.write_text(json.dumps(doc))
    rows = normalized_rows(path)
    assert (rows["source"]["loaded"], rows["source"]["rejected"]) == (1, 0)


TEMPO = FIXTURES / "otlp_json" / "grafana_tempo_download_trace_example.json"
OTLP_TRACES_REQUEST = ("expected an ExportTraceServiceRequest object with 'resourceSpans' "
                       "(or Tempo's 'batches'), got")


def test_a_document_that_is_not_a_request_is_one_reject(tmp_path: Path) -> None:
    # A Jaeger query API response forced as OTLP: it has spans, but none this format can find.
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps({"data": [{"traceID": TRACE, "spans": []}], "total": 0}, indent=1))
    assert counts_and_rejects(path, fmt="otlp_json") == (
        (1, 0, 1, 0), [("document", f"{OTLP_TRACES_REQUEST} an object with keys data, total")])


def test_lines_that_are_not_requests_are_rejects_and_empty_requests_are_none(
        tmp_path: Path) -> None:
    good = json.loads(_request(tmp_path / "one.json", 2, {}).read_text())
    # {} is an empty request as protobuf's JSON mapping writes it (empty lists left out), the
    # Collector's file exporter included; {"resourceSpans": []} says the same explicitly.
    lines = [good, {}, {"resourceSpans": []}, {"resourceLogs": []}, {"batches": []}, [good]]
    path = tmp_path / "spans.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert counts_and_rejects(path, fmt="otlp_json") == ((3, 1, 2, 0), [
        ("line 4", f"{OTLP_TRACES_REQUEST} an object with keys resourceLogs"),
        ("line 6", "expected an ExportTraceServiceRequest object, got list"),
    ])


def test_tempo_batches_are_resource_spans() -> None:
    rows = normalized_rows(TEMPO)
    assert rows["source"]["format"] == "otlp_json"
    assert rows["source"]["chosen_by"] == "detected"
    tid, sid, parent = "000000000000000060ba2abb44f13eae", "726b5e30102fc0d0", "398f0f21a3db99ae"
    (step,) = rows["steps"]
    assert (step["uid"], step["parent_uid"], step["component"], step["step_type"],
            step["location"]) == (
        f"otel:span:{tid}/{sid}", f"otel:span:{tid}/{parent}", "otel:operation:db/HTTP GET - root",
        "server", "document batches[0].scopeSpans[0].spans[0]")
    assert [r["component"] for r in rows["runs"]] == ["otel:service:db"]


@pytest.mark.parametrize(("head", "claimed"), [
    # Tempo's trace-by-id JSON: the batch opens with an OTLP resource, or its scope list
    (b'{"batches": [{"resource": {"attributes": [{"key": "service.name"', True),
    (b'{\n "batches": [\n  {\n   "scopeSpans": [{"spans": []}]}]}', True),
    (b'{"batches":[{"resource":{},"instrumentationLibrarySpans":[{"spans":[]}]}]}', True),
    # other documents with a "batches" key are not traces
    (b'{"batches": [{"id": 1, "records": [{"topic": "t"}]}]}', False),
    (b'{"batches": [{"resource": "checkout", "items": []}]}', False),
    (b'{"name": "x", "batches": [{"scopeSpans": []}]}', False),
])
def test_tempo_sniff_is_tight(head: bytes, claimed: bool) -> None:
    assert otlp_json.sniff(head, "x.json") is claimed
