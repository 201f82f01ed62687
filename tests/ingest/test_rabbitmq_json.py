"""RabbitMQ: Amazon MQ Lambda events and rabbitmq_tracing logs, ids, keys, header bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "rabbitmq_json"
LAMBDA = HERE / "amazonmq_rabbitmq_lambda_event.json"
TRACING = HERE / "rabbitmq_tracing_json.log"
CORRELATION = "c7d9e1f2-5a4b-4c3d-8e2f-1a2b3c4d5e6f"


def _keys(rows: dict[str, Any], uid: str) -> set[tuple[str, str]]:
    return {(k["kind"], k["value"]) for k in rows.get("keys", []) if k["entity_uid"] == uid}


def _lambda_event(tmp_path: Path, **props: Any) -> Path:
    event = json.loads(LAMBDA.read_text())
    msg = event["rmqMessagesByQueue"]["test::/"][0]
    msg["basicProperties"].update(props)
    msg["redelivered"] = True
    event["rmqMessagesByQueue"] = {"billing.orders::/": [msg]}
    path = tmp_path / "rmq_event.json"
    path.write_text(json.dumps(event, indent=2))
    return path


def test_lambda_header_bytes_are_decoded() -> None:
    rows = normalized_rows(LAMBDA)
    (msg,) = rows["messages"]
    assert msg["headers"] == {"header1": "value1", "header2": "value2", "numberInHeader": "10"}
    assert msg["component"] == "rabbitmq:queue:test"
    assert msg["payload"] == {"timeout": 0, "data": "CZrmf0Gw8Ov4bqLQxD4E"}
    assert msg["produced_at"] == "1970-01-01T00:33:41+00:00"  # Gson's "Jan 1, 1970, 12:33:41 AM"
    assert msg["detail"]["vhost"] == "/" and msg["detail"]["body_size"] == 80
    assert msg["uid"].startswith("rabbitmq:msg:h-") and msg["uid"].endswith("@test")


def test_lambda_correlation_and_message_ids_become_keys(tmp_path: Path) -> None:
    path = _lambda_event(tmp_path, correlationId=CORRELATION, messageId="msg-1042",
                         type="OrderPlaced", timestamp="May 14, 2024, 10:15:02\u202fAM",
                         headers={"x-origin": {"bytes": [99, 97, 102, -61, -87]}})
    rows = normalized_rows(path)
    (msg,) = rows["messages"]
    assert msg["uid"] == "rabbitmq:msg:msg-1042@billing.orders"
    assert _keys(rows, msg["uid"]) == {("correlation_id", CORRELATION),
                                       ("message_id", "msg-1042")}
    assert msg["headers"] == {"x-origin": "café"}  # signed Java bytes
    assert msg["status"] == "retried"  # redelivered: true
    assert msg["event_type"] == "OrderPlaced"
    assert msg["produced_at"] == "2024-05-14T10:15:02+00:00"  # JDK 20+ narrow no-break space


def test_tracing_log_published_and_received_lines() -> None:
    rows = normalized_rows(TRACING)
    msgs = {m["uid"]: m for m in rows["messages"]}
    published = msgs["rabbitmq:msg:msg-1042"]
    received = msgs["rabbitmq:msg:msg-1042@billing.orders"]
    assert published["component"] == "rabbitmq:exchange:orders"
    assert received["component"] == "rabbitmq:queue:billing.orders"
    assert received["detail"]["user"] == "billing-svc"
    expected = {("correlation_id", CORRELATION), ("message_id", "msg-1042"),
                ("message_key", "order.placed"), ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
                ("span_id", "00f067aa0ba902b7")}
    assert _keys(rows, published["uid"]) == _keys(rows, received["uid"]) == expected
    assert published["headers"]["x-tenant"] == '{"id":"t-9"}'  # a nested table as JSON text
    links = {(x["src_uid"], x["kind"], x["dst_uid"]) for x in rows["links"]}
    assert {("rabbitmq:msg:msg-1042", "follows_from", f"rabbitmq:msg:msg-1042@{q}")
            for q in ("billing.orders", "shipping.orders")} <= links
    # Without a message_id the published and received lines still meet on a content hash.
    default = next(m for m in rows["messages"] if m["channel"] == "amq.default")
    assert default["uid"] + "@audit" in msgs
    assert (default["uid"], "follows_from", default["uid"] + "@audit") in links


def test_tracing_and_lambda_delivery_of_one_message_are_one_row(tmp_path: Path) -> None:
    lambda_rows = normalized_rows(_lambda_event(tmp_path, messageId="msg-1042"))
    tracing_rows = normalized_rows(TRACING)
    assert {m["uid"] for m in lambda_rows["messages"]} <= {
        m["uid"] for m in tracing_rows["messages"]}


def test_bad_trace_lines_are_rejected(tmp_path: Path) -> None:
    lines = TRACING.read_text().splitlines()
    received = json.loads(lines[2])
    received["queue"] = "none"
    lines[2] = json.dumps(received)
    lines[3] = lines[3].replace('"type":"received"', '"type":"delivered"')
    path = tmp_path / "trace.log"
    path.write_text("\n".join(lines) + "\n")
    rows = normalized_rows(path)
    assert rows["source"]["loaded"] == 2
    assert rows["rejects"] == [
        {"location": "line 3",
         "reason": "field 'queue': expected the queue a received message came from, got 'none'"},
        {"location": "line 4",
         "reason": "expected a rabbitmq_tracing line with type published or received, "
                   "got 'delivered'"},
    ]
