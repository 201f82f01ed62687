"""SQS Lambda events: X-Ray trace ids, receive counts, SNS envelopes, attributes, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingest.base import xray_keys
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "sqs_lambda"
BASIC = HERE / "sqs_lambda_event.json"
SNS_XRAY = HERE / "sqs_lambda_sns_xray_fifo.json"
SNS_RECORD = "sqs:msg:059f36b4-87a3-44ab-83d2-661975830a7d"
FIFO_RECORD = "sqs:msg:11d6ee51-4cc7-4302-9e22-7cd8afdaadf5"


def _keys(rows: dict[str, Any], uid: str) -> set[tuple[str, str]]:
    return {(k["kind"], k["value"]) for k in rows.get("keys", []) if k["entity_uid"] == uid}


def test_xray_header_gives_the_w3c_trace_id() -> None:
    assert xray_keys("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                     "Sampled=1") == [("trace_id", "5759e988bd862e3fe1be46a994272793"),
                                      ("span_id", "53995c3f42cd8ad8")]
    assert xray_keys("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0") == [
        ("trace_id", "5759e988bd862e3fe1be46a994272793")]
    assert xray_keys("Sampled=1") == []


def test_sns_envelope_and_xray_trace_become_keys() -> None:
    rows = normalized_rows(SNS_XRAY)
    assert _keys(rows, SNS_RECORD) == {
        ("message_id", "059f36b4-87a3-44ab-83d2-661975830a7d"),
        ("message_id", "95df01b4-ee98-5cb9-9903-4c221d41eb5e"),  # the SNS message
        ("trace_id", "5759e988bd862e3fe1be46a994272793"), ("span_id", "53995c3f42cd8ad8"),
        ("correlation_id", "c7d9e1f2-5a4b-4c3d-8e2f-1a2b3c4d5e6f")}
    msg = next(m for m in rows["messages"] if m["uid"] == SNS_RECORD)
    assert msg["detail"]["sns_topic_arn"] == "arn:aws:sns:us-east-2:123456789012:order-events"
    assert msg["status"] == "ok" and msg["detail"]["receive_count"] == 1
    assert msg["component"] == "sqs:queue:order-events-queue"
    assert msg["produced_at"] == "2018-12-17T21:37:29.183000+00:00"


def test_receive_count_above_one_is_a_retried_delivery() -> None:
    rows = normalized_rows(BASIC)
    (msg,) = rows["messages"]
    assert msg["status"] == "retried" and msg["detail"]["receive_count"] == 2
    assert msg["headers"] == {"Attribute1": "AttributeValue1", "Attribute2": "123",
                              "Attribute3": "1100"}  # Binary MTEwMA== decoded
    assert msg["detail"]["attribute_types"] == {"Attribute2": "Number", "Attribute3": "Binary"}
    assert msg["channel"] == "SQSQueue"
    fifo = next(m for m in normalized_rows(SNS_XRAY)["messages"] if m["uid"] == FIFO_RECORD)
    assert fifo["status"] == "retried" and fifo["detail"]["receive_count"] == 3
    assert fifo["msg_key"] == "1"  # MessageGroupId
    assert fifo["headers"] == {"correlation-id": "req-77", "blob": "/w=="}  # 0xff is not text


def test_eventbridge_envelope_in_the_body_keys_the_event_id(tmp_path: Path) -> None:
    event = json.loads(BASIC.read_text())
    event["Records"][0]["body"] = json.dumps({
        "version": "0", "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Order Placed", "source": "com.example", "account": "123456789012",
        "time": "2019-02-26T19:42:21Z", "region": "us-east-1", "resources": [],
        "detail": {"orderId": "1"}})
    path = tmp_path / "from_eventbridge.json"
    path.write_text(json.dumps(event))
    rows = normalized_rows(path)
    assert ("message_id", "315c1398-40ff-a850-213b-158f73e60175") in _keys(
        rows, "sqs:msg:MessageID_1")
    assert rows["messages"][0]["event_type"] == "Order Placed"


def test_bad_records_are_rejected_where_they_are(tmp_path: Path) -> None:
    event = json.loads(SNS_XRAY.read_text())
    del event["Records"][1]["messageId"]
    event["Records"].append("not a record")
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(event, indent=2))
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 3 and rows["source"]["loaded"] == 1
    assert rows["rejects"] == [
        {"location": "Records[1]", "reason": "field 'messageId': expected a non-empty string"},
        {"location": "Records[2]", "reason": "expected an SQS record object, got str"},
    ]


def test_an_infinite_receive_count_is_that_records_reject(tmp_path: Path) -> None:
    # Found by scripts/fuzz_long.py (sqs_lambda:1377): Python's json writes Infinity.
    event = json.loads(SNS_XRAY.read_text())
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = float("inf")
    path = tmp_path / "inf.json"
    path.write_text(json.dumps(event, indent=2))
    rows = normalized_rows(path)
    assert (rows["source"]["loaded"], rows["source"]["rejected"]) == (1, 1)
    assert rows["rejects"][0]["location"] == "Records[0]"
    assert rows["rejects"][0]["reason"].startswith(
        "fields 'attributes.SentTimestamp'/'ApproximateReceiveCount': expected integers")
