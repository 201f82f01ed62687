"""Kafka records as Lambda receives them: signed-byte headers, base64 key/value, kcat parity."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

import ingest
from ingest.base import Source
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "kafka_lambda"
MSK = HERE / "msk_lambda_kafka_event.json"
SELF_MANAGED = HERE / "selfmanaged_kafka_lambda_event.json"
POWERTOOLS = HERE / "powertools_kafka_event_self_managed.json"


def _messages(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["uid"]: m for m in rows["messages"]}


def _keys(rows: dict[str, Any], uid: str) -> set[tuple[str, str]]:
    return {(k["kind"], k["value"]) for k in rows.get("keys", []) if k["entity_uid"] == uid}


def test_msk_headers_are_decoded_from_signed_byte_arrays() -> None:
    msg = _messages(normalized_rows(MSK))["kafka:msg:AWSKafkaTopic/0/0"]
    # [118, -36, 0, 127, -128]: -36 and -128 are bytes 0xdc and 0x80, not UTF-8 on their own.
    assert msg["headers"] == {"headerKey": "v\ufffd\x00\x7f\ufffd"}
    assert msg["msg_key"] == "8d5596b4-1813-4238-b24b-6dad8e3d1c0c"
    assert msg["payload"] == "8d5596b4-1813-4238-b24b-6dad8e3d1c0c"
    assert msg["component"] == "kafka:topic:AWSKafkaTopic"
    assert msg["produced_at"] == "2020-07-18T01:29:09.700000+00:00"
    assert msg["detail"]["event_source_arn"].startswith("arn:aws:kafka:us-west-2:")


def test_self_managed_event_decodes_utf8_headers_json_values_and_tombstones() -> None:
    rows = normalized_rows(SELF_MANAGED)
    msgs = _messages(rows)
    first = msgs["kafka:msg:orders.placed/0/15"]
    assert first["headers"]["x-origin"] == "café-service"  # bytes -61 -87 are é
    assert first["payload"]["customer"] == "Zoë"
    assert first["event_type"] == "OrderPlaced"
    assert _keys(rows, first["uid"]) == {
        ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), ("span_id", "00f067aa0ba902b7"),
        ("correlation_id", "c7d9e1f2-5a4b-4c3d-8e2f-1a2b3c4d5e6f"),
        ("message_key", "order-1042")}
    assert msgs["kafka:msg:orders.placed/0/16"]["payload"] == "plain text, not JSON"
    tombstone = msgs["kafka:msg:orders.placed/1/7"]
    assert tombstone["event_type"] == "tombstone" and "payload" not in tombstone
    assert tombstone["detail"]["tstype"] == "logappend"


@pytest.mark.parametrize("event_source", ["SelfManagedKafka", "aws:SelfManagedKafka"])
def test_both_self_managed_spellings_are_read(tmp_path: Path, event_source: str) -> None:
    # AWS sends SelfManagedKafka; saved test events (Powertools' among them) write
    # aws:SelfManagedKafka. Same records either way.
    doc = json.loads(POWERTOOLS.read_text())
    doc["eventSource"] = event_source
    path = tmp_path / "event.json"
    path.write_text(json.dumps(doc, indent=2))
    assert ingest.detect(Source(path)).NAME == "kafka_lambda"
    rows = normalized_rows(path)
    (msg,) = rows["messages"]
    assert (msg["uid"], msg["msg_key"], msg["payload"], msg["headers"], msg["produced_at"]) == (
        "kafka:msg:mytopic/0/15", "recordKey", {"key": "value"}, {"headerKey": "headerValue"},
        "2018-12-17T22:10:50.987000+00:00")
    assert msg["detail"]["event_source"] == event_source
    assert _keys(rows, msg["uid"]) == {("message_key", "recordKey")}


def test_same_record_from_kcat_is_the_same_row(tmp_path: Path) -> None:
    event = json.loads(SELF_MANAGED.read_text())
    rec = event["records"]["orders.placed-0"][0]
    value = json.loads(base64.b64decode(rec["value"]))
    kcat = tmp_path / "dump.jsonl"
    kcat.write_text(json.dumps({
        "topic": "orders.placed", "partition": 0, "offset": 15, "tstype": "create",
        "ts": 1545084650987, "broker": 1, "key": "order-1042", "payload": json.dumps(value),
        "headers": ["traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    "x-origin", "café-service"]}) + "\n")
    from_kcat = normalized_rows(kcat)
    assert from_kcat["source"]["format"] == "kafka_kcat"
    from_lambda = normalized_rows(SELF_MANAGED)
    same = ("uid", "component", "channel", "event_type", "msg_key", "produced_at", "headers",
            "payload")
    kcat_msg = from_kcat["messages"][0]
    lambda_msg = _messages(from_lambda)[kcat_msg["uid"]]
    assert {c: kcat_msg.get(c) for c in same} == {c: lambda_msg.get(c) for c in same}
    assert _keys(from_kcat, kcat_msg["uid"]) == _keys(from_lambda, kcat_msg["uid"])


def test_bad_records_are_rejected_where_they_are(tmp_path: Path) -> None:
    event = json.loads(SELF_MANAGED.read_text())
    group = event["records"]["orders.placed-0"]
    group[1]["value"] = "not base64!"
    del group[0]["offset"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(event, indent=2))
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 3 and rows["source"]["loaded"] == 1
    assert rows["rejects"] == [
        {"location": "records[orders.placed-0][0]",
         "reason": "fields 'partition'/'offset': expected integers, got 0/None"},
        {"location": "records[orders.placed-0][1]",
         "reason": "field 'value': expected base64, got 'not base64!'"},
    ]


def test_truncated_event_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(SELF_MANAGED.read_bytes()[:700])
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 1 and rows["source"]["rejected"] == 1
    assert rows["rejects"][0]["location"] == "byte 700"  # where the cut file ends
    assert rows["rejects"][0]["reason"].startswith(
        "expected a Lambda Kafka event (JSON object with 'records') as one JSON document")


def test_gzipped_json_lines_of_events(tmp_path: Path) -> None:
    lines = [json.dumps(json.loads(p.read_text())) for p in (MSK, SELF_MANAGED)]
    path = tmp_path / "invocations.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    rows = normalized_rows(path)
    assert rows["source"]["format"] == "kafka_lambda"
    assert rows["source"]["loaded"] == 4
    locations = {m["uid"]: m["location"] for m in rows["messages"]}
    assert locations["kafka:msg:AWSKafkaTopic/0/0"] == "line 1 records[AWSKafkaTopic-0][0]"
    assert locations["kafka:msg:orders.placed/1/7"] == "line 2 records[orders.placed-1][0]"


def test_fields_of_another_type_cost_their_record_only(tmp_path: Path) -> None:
    event = json.loads(SELF_MANAGED.read_text())
    group = event["records"]["orders.placed-0"]
    group[0]["timestampType"] = ["CREATE_TIME"]  # kept as found, the record loads
    group[1]["keySchemaMetadata"] = "avro"  # an object expected
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(event, indent=2))
    rows = normalized_rows(path)
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (3, 2)
    assert rows["rejects"] == [{
        "location": "records[orders.placed-0][1]",
        "reason": "a field has an unexpected type or value: 'str' object has no attribute "
                  "'get'"}]
    first = _messages(rows)["kafka:msg:orders.placed/0/" + str(group[0]["offset"])]
    assert first["detail"]["tstype"] == ["CREATE_TIME"]
