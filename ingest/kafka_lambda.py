"""Kafka records as AWS Lambda receives them from Amazon MSK or self-managed Kafka.

The event source mapping writes ``{"eventSource": "aws:kafka" | "SelfManagedKafka",
"eventSourceArn", "bootstrapServers", "records": {"<topic>-<partition>": [record ...]}}``
(saved test events often spell the second ``aws:SelfManagedKafka``: read alike);
each record is ``{topic, partition, offset, timestamp (epoch ms), timestampType, key (base64),
value (base64), headers: [{"<name>": [byte ...]}]}`` (AWS Lambda developer guide, "Using
Lambda with Amazon MSK" / "... self-managed Apache Kafka"; events logged by functions or
saved as test events, one per file or one per line).

Quirks handled: header values are Java ``byte[]`` serialised as *signed* ints (-128..127);
a header name may repeat (last value wins, like kcat); ``key``/``value`` may be missing or
null (tombstones) or not UTF-8 (schema-registry framing); since 2025 records of a mapping
with a schema registry carry ``keySchemaMetadata``/``valueSchemaMetadata`` (kept in detail).

A record is the same row as in a kcat dump of the topic: uid ``kafka:msg:<topic>/<partition>/
<offset>``, key and value decoded to the text kcat would show.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from ingest._json import (
    at,
    byte_text,
    compact,
    elements,
    envelope_records,
    json_values,
    raw_json,
    shape,
    unique,
)
from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    b64_text,
    cap_payload,
    first_json_value,
    loads,
    us_from_ms,
)
from ingest.kafka_kcat import event_type, position
from tracemap.model import KeyKind, Status, channel_component, kafka_record_uid

NAME = "kafka_lambda"

#: ``eventSource`` values of Kafka event source mappings. AWS sends ``SelfManagedKafka`` for
#: self-managed clusters (AWS Lambda Developer Guide; Powertools corrected its model to it,
#: aws-powertools/powertools-lambda-python#5559); saved test events widely spell it
#: ``aws:SelfManagedKafka`` (Powertools' own ``kafkaEventSelfManaged.json``), with records of
#: the same shape.
EVENT_SOURCES = ("aws:kafka", "SelfManagedKafka", "aws:SelfManagedKafka")
#: ``timestampType`` -> kcat's ``tstype`` spelling, so both exports describe a record alike.
TIMESTAMP_TYPES = {"CREATE_TIME": "create", "LOG_APPEND_TIME": "logappend",
                   "NO_TIMESTAMP_TYPE": "none"}


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if not text.startswith(b"{") or b'"records"' not in text:
        return False
    return any(f'"{s}"'.encode() in text for s in EVENT_SOURCES) and b'"eventSource"' in text


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    for where, doc in json_values(src, b, "a Lambda Kafka event (JSON object with 'records')"):
        for event_where, event in elements(doc, where):
            _add_event(b, src, event, event_where)
            if b.ready():
                yield b.take()
    yield b.take()


def _add_event(b: BatchBuilder, src: Source, event: Any, where: str) -> None:
    records = envelope_records(b, event, where, "records", dict,
                               "a Lambda Kafka event with a 'records' object")
    if records is None:
        return
    cluster = {"event_source": event.get("eventSource"),
               "event_source_arn": event.get("eventSourceArn"),
               "bootstrap_servers": event.get("bootstrapServers")}
    add = partial(_add_record, b, src, cluster=cluster)
    for group, items in records.items():
        if not isinstance(items, list):
            b.read()
            b.reject(at(where, f"records[{group}]"), "expected a list of Kafka records, got "
                     f"{shape(items)}", raw_json(items))
            continue
        for i, rec in enumerate(items):
            b.record(add, rec, at(where, f"records[{group}][{i}]"), raw=raw_json, catch=True)


def _timestamp_type(value: Any) -> Any:
    return TIMESTAMP_TYPES.get(value, value) if isinstance(value, str) else value


def _add_record(b: BatchBuilder, src: Source, rec: Any, where: str,
                cluster: dict[str, Any]) -> str | None:
    """Add one Kafka record; returns why it is unusable, or None."""
    if not isinstance(rec, dict):
        return f"expected a Kafka record object, got {shape(rec)}"
    place = position(rec)
    if isinstance(place, str):
        return place
    topic, partition, offset = place
    try:
        produced = us_from_ms(rec.get("timestamp"))
    except (TypeError, ValueError):
        return f"field 'timestamp': expected epoch milliseconds, got {rec.get('timestamp')!r}"
    headers = lambda_headers(rec.get("headers"))
    key, key_raw = _b64_field(rec.get("key"))
    value, value_raw = _b64_field(rec.get("value"))
    if key is None and key_raw is not None:
        return f"field 'key': expected base64, got {key_raw[:60]!r}"
    if value is None and value_raw is not None:
        return f"field 'value': expected base64, got {value_raw[:60]!r}"
    decoded = _json_value(value)
    uid = kafka_record_uid(topic, partition, offset)
    text, cut = cap_payload(decoded if decoded is not None else value)
    key_schema = rec.get("keySchemaMetadata") or {}
    value_schema = rec.get("valueSchemaMetadata") or {}
    b.message(
        uid=uid, system="kafka", component=channel_component("kafka", topic), channel=topic,
        event_type=event_type(headers, decoded) or ("tombstone" if value is None else None),
        msg_key=key, produced_at=produced, status=Status.OK, headers=headers, payload=text,
        location=where,
        detail=compact({"partition": partition, "offset": offset,
                "tstype": _timestamp_type(rec.get("timestampType")),
                **cluster, "payload_truncated": cut or None,
                "key_base64": key_raw if key is not None and "\ufffd" in key else None,
                "key_format": key_schema.get("dataFormat"),
                "key_schema_id": key_schema.get("schemaId"),
                "value_format": value_schema.get("dataFormat"),
                "value_schema_id": value_schema.get("schemaId")}),
    )
    pairs = [*src.rules.headers(headers), *src.rules.payload(decoded)]
    if key:
        pairs.append((KeyKind.MESSAGE_KEY, key))
    if "ce_id" in headers:
        # CloudEvents binary mode: the same message id cloudevents_json and kafka_kcat give.
        pairs.append((KeyKind.MESSAGE_ID, f"{headers.get('ce_source', '')}/{headers['ce_id']}"))
    b.keys(uid, unique(pairs))
    return None


def lambda_headers(raw: Any) -> dict[str, str]:
    """``[{"name": [signed byte ...]}, ...]`` as ``{name: text}`` (a repeated name: last wins)."""
    out: dict[str, str] = {}
    if not isinstance(raw, list):
        return out
    for item in raw:
        if not isinstance(item, dict):
            continue
        for name, value in item.items():
            text = byte_text(value)
            if text is not None:
                out[str(name)] = text
    return out


def _b64_field(value: Any) -> tuple[str | None, str | None]:
    """(decoded text, the base64 as given); decoded is None when absent or not base64."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        return None, str(value)
    raw = b64_text(value)
    if raw is None:
        return None, value
    return raw.decode("utf-8", "replace"), value


def _json_value(text: str | None) -> Any:
    if text and text.lstrip()[:1] in ("{", "["):
        try:
            return loads(text)
        except ValueError:
            return None
    return None
