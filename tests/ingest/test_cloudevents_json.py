"""CloudEvents: message ids, typed extensions, tracing/correlation keys, versions, YAML vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "cloudevents_json"
STRUCTURED = HERE / "ce_v1_structured_json_with_extensions.json"
BATCH = HERE / "ce_v1_batch_tracing_extensions.json"
V02 = HERE / "ce_v02_azure_eventgrid_blobcreated.json"
V03 = HERE / "ce_v03_structured_base64.json"
YAML = HERE / "ce_conformance_v1_minimum.yaml"
DAPR = HERE / "dapr_pubsub_generated_cloudevent.json"


def _keys(rows: dict[str, Any], uid: str) -> set[tuple[str, str]]:
    return {(k["kind"], k["value"]) for k in rows.get("keys", []) if k["entity_uid"] == uid}


def _by_id(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["uid"]: m for m in rows["messages"]}


def test_message_id_is_source_slash_id_and_extensions_keep_their_types() -> None:
    rows = normalized_rows(STRUCTURED)
    (msg,) = rows["messages"]
    assert msg["uid"] == "cloudevents:msg:http://localhost/source/1"
    assert _keys(rows, msg["uid"]) == {("message_id", "http://localhost/source/1")}
    assert msg["detail"]["extensions"] == {"astring": "aaa", "aboolean": True, "anumber": 10}
    assert msg["component"] == "cloudevents:type:mock.test"
    assert msg["channel"] == msg["event_type"] == "mock.test"
    assert msg["detail"]["subject"] == "sub"
    assert msg["produced_at"] == "2018-04-26T12:48:09+00:00"


def test_dapr_pubsub_event_is_on_its_topic_not_its_type() -> None:
    rows = normalized_rows(DAPR)
    (msg,) = rows["messages"]
    # Dapr's envelope names the channel: pubsubname (the component) + topic extensions
    assert msg["component"] == "dapr:topic:order_pub_sub/orders"
    assert msg["channel"] == "order_pub_sub/orders"
    assert msg["event_type"] == "com.dapr.event.sent"
    assert msg["system"] == "cloudevents"
    # traceparent (and traceid, the same value) give the publisher's trace
    assert _keys(rows, msg["uid"]) == {
        ("message_id", "checkout/5929aaac-a5e2-4ca1-859c-edfe73f11565"),
        ("trace_id", "113ad9c4e42b27583ae98ba698d54255"), ("span_id", "e3743e35ff56f219")}
    assert msg["detail"]["extensions"]["topic"] == "orders"


def test_dapr_topics_are_separate_channels(tmp_path: Path) -> None:
    event = json.loads(DAPR.read_text())
    events = [{**event, "id": "1"}, {**event, "id": "2", "topic": "payments"},
              {**event, "id": "3", "pubsubname": "kafka_pubsub"},  # same topic, other component
              {**event, "id": "4", "pubsubname": ""}]  # not a Dapr channel: the type
    path = tmp_path / "dapr.json"
    path.write_text(json.dumps(events))
    msgs = {m["uid"].rsplit("/", 1)[1]: m for m in normalized_rows(path)["messages"]}
    assert {k: m["component"] for k, m in msgs.items()} == {
        "1": "dapr:topic:order_pub_sub/orders", "2": "dapr:topic:order_pub_sub/payments",
        "3": "dapr:topic:kafka_pubsub/orders", "4": "cloudevents:type:com.dapr.event.sent"}
    assert {m["event_type"] for m in msgs.values()} == {"com.dapr.event.sent"}


def test_batch_tracing_correlation_and_causation_keys() -> None:
    rows = normalized_rows(BATCH)
    msgs = _by_id(rows)
    placed = "cloudevents:msg:/orders/api/A234-1234-1234"
    payment = "cloudevents:msg:/payments/orchestrator/B9F1-0001"
    assert _keys(rows, placed) == {
        ("message_id", "/orders/api/A234-1234-1234"),
        ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), ("span_id", "00f067aa0ba902b7"),
        ("correlation_id", "c7d9e1f2-5a4b-4c3d-8e2f-1a2b3c4d5e6f"),
        ("message_key", "customer-42")}
    assert _keys(rows, payment) == {
        ("message_id", "/payments/orchestrator/B9F1-0001"),
        ("correlation_id", "c7d9e1f2-5a4b-4c3d-8e2f-1a2b3c4d5e6f"),
        ("causation_id", "/orders/api/A234-1234-1234")}
    assert msgs[placed]["msg_key"] == "customer-42"
    assert msgs[placed]["detail"]["extensions"]["sequence"] == 17
    assert msgs[placed]["detail"]["extensions"]["sampled"] is True
    assert msgs[payment]["payload"] == {"orderId": "1042", "amount": 99.5}  # data_base64
    assert msgs[payment]["detail"]["data_encoding"] == "base64"
    assert msgs[payment]["produced_at"] == "2024-05-14T08:15:02.390000+00:00"
    assert [m["location"] for m in sorted(rows["messages"], key=lambda m: m["location"])] == [
        "[0]", "[1]", "[2]"]


def test_binary_mode_kafka_record_gets_the_same_message_id(tmp_path: Path) -> None:
    kcat = tmp_path / "binary_mode.jsonl"
    kcat.write_text(json.dumps({
        "topic": "orders", "partition": 0, "offset": 3, "tstype": "create", "ts": 1715681702117,
        "key": None, "payload": '{"orderId": "1042"}',
        "headers": ["ce_specversion", "1.0", "ce_id", "A234-1234-1234", "ce_source",
                    "/orders/api", "ce_type", "com.example.order.placed"]}) + "\n")
    kafka = normalized_rows(kcat)
    structured = normalized_rows(BATCH)
    ids = {k["value"] for k in kafka["keys"] if k["kind"] == "message_id"}
    assert ids == {"/orders/api/A234-1234-1234"}
    assert ids <= {k["value"] for k in structured["keys"] if k["kind"] == "message_id"}


def test_legacy_versions_are_read_with_their_own_attribute_names() -> None:
    (v03,) = normalized_rows(V03)["messages"]
    assert v03["payload"] == '<much wow="xml"/>'  # datacontentencoding: base64
    assert v03["detail"]["dataschema"] == "https://github.com/cloudevents/spec/pull/schema"
    assert v03["detail"]["extensions"] == {"comexampleextension1": "value",
                                           "comexampleothervalue": 5}
    (v02,) = normalized_rows(V02)["messages"]
    assert v02["detail"]["specversion"] == "0.2"
    assert v02["event_type"] == "Microsoft.Storage.BlobCreated"
    assert v02["produced_at"] == "2018-04-23T12:28:22.457934+00:00"  # 7 fraction digits cut
    assert v02["payload"]["storageDiagnostics"] == {
        "batchId": "ba4fb664-f289-4742-8067-6c859411b066"}


def test_v01_attributes(tmp_path: Path) -> None:
    path = tmp_path / "v01.json"
    path.write_text(json.dumps({
        "cloudEventsVersion": "0.1", "eventType": "com.example.someevent",
        "eventTypeVersion": "1.0", "source": "/mycontext", "eventID": "A234-1234-1234",
        "eventTime": "2018-04-05T17:31:00Z", "extensions": {"comExampleExtension": "value"},
        "contentType": "text/xml", "data": "<much wow=\"xml\"/>"}))
    (msg,) = normalized_rows(path)["messages"]
    assert msg["uid"] == "cloudevents:msg:/mycontext/A234-1234-1234"
    assert msg["detail"]["extensions"] == {"comExampleExtension": "value"}
    assert msg["detail"]["eventtypeversion"] == "1.0"
    assert msg["detail"]["datacontenttype"] == "text/xml"


def test_conformance_yaml_vectors() -> None:
    rows = normalized_rows(YAML)
    assert rows["source"]["loaded"] == 6
    payloads = {m["uid"].rsplit("/", 1)[1]: m["payload"] for m in rows["messages"]}
    assert payloads["conformance-0001"] == "Hello, World!\n"  # text/plain kept as text
    assert payloads["conformance-0003"] == "Hello, 🌎!"  # a JSON string value
    assert payloads["conformance-0004"] == {"msg": "Hello, 🌎!"}
    assert payloads["conformance-0005"] == ["Hello", "🌎!"]
    assert payloads["conformance-0006"] == "<msg>Hello, 🌎!</msg>\n"
    assert {m["location"] for m in rows["messages"]} == {f"document {i}" for i in range(1, 7)}
    assert {m["detail"]["specversion"] for m in rows["messages"]} == {"1.0"}


def test_event_without_required_attributes_is_rejected(tmp_path: Path) -> None:
    batch = json.loads(BATCH.read_text())
    del batch[1]["id"]
    del batch[1]["source"]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(batch, indent=2))
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 3 and rows["source"]["loaded"] == 2
    assert rows["rejects"] == [{
        "location": "[1]",
        "reason": "expected the required CloudEvents attributes, missing id, source"}]
