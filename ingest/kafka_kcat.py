"""Kafka records as ``kcat -C -J`` (kafkacat) writes them: one JSON envelope per line.

``{"topic", "partition", "offset", "tstype", "ts", "broker", "headers": [k, v, k, v ...],
"key", "payload"}`` (kcat 1.4+; ``headers`` since 1.5). Quirks handled: flat header arrays
with repeated names, ``null`` payloads (tombstones), keys and payloads that are binary text
(schema-registry magic bytes, U+FFFD where bytes were lost), ``key_error``/``payload_error``
from deserializers, and ``-s avro`` output where key/payload are already JSON values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    cap_payload,
    first_json_value,
    loads,
    us_from_ms,
)
from tracemap.model import KeyKind, Status, channel_component

NAME = "kafka_kcat"

#: Header names that name a record's event type (CloudEvents binary mode, common conventions).
EVENT_TYPE_HEADERS = ("ce_type", "ce-type", "eventtype", "event-type", "event_type", "type")
#: Payload fields that name a record's event type.
EVENT_TYPE_FIELDS = ("type", "eventType", "event_type", "@type")


def sniff(head: bytes, path: str) -> bool:
    line = first_json_value(head).split(b"\n", 1)[0]
    return (line.startswith(b"{") and b'"topic"' in line and b'"partition"' in line
            and b'"offset"' in line)


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    for number, line in src.lines():
        b.read()
        where = f"line {number}"
        try:
            rec = loads(line)
        except ValueError as exc:
            b.reject(where, f"expected a kcat -J JSON object: {exc}", line)
            continue
        reason = _add_record(b, src, rec, where)
        if reason:
            b.reject(where, reason, line)
        else:
            b.loaded()
        if b.ready():
            yield b.take()
    yield b.take()


def _add_record(b: BatchBuilder, src: Source, rec: Any, where: str) -> str | None:
    """Add one record; returns why it is unusable, or None."""
    if not isinstance(rec, dict):
        return f"expected a JSON object with topic/partition/offset, got {type(rec).__name__}"
    topic, partition, offset = rec.get("topic"), rec.get("partition"), rec.get("offset")
    if not isinstance(topic, str) or not topic:
        return "field 'topic': expected a non-empty string"
    try:
        partition, offset = int(partition), int(offset)
    except (TypeError, ValueError):
        return f"fields 'partition'/'offset': expected integers, got {partition!r}/{offset!r}"
    headers = header_dict(rec.get("headers"))
    payload = rec.get("payload")
    decoded = _json_payload(payload)
    uid = f"kafka:msg:{topic}/{partition}/{offset}"
    text, cut = cap_payload(decoded if decoded is not None else payload)
    try:
        produced = us_from_ms(rec.get("ts")) if rec.get("tstype") != "none" else None
    except (TypeError, ValueError):
        return f"field 'ts': expected epoch milliseconds, got {rec.get('ts')!r}"
    key = rec.get("key")
    b.message(
        uid=uid, system="kafka", component=channel_component("kafka", topic), channel=topic,
        event_type=event_type(headers, decoded) or ("tombstone" if payload is None else None),
        msg_key=key if isinstance(key, str) or key is None else str(key),
        produced_at=produced, status=Status.OK, headers=headers, payload=text, location=where,
        detail={"partition": partition, "offset": offset, "tstype": rec.get("tstype"),
                "broker": rec.get("broker"), "payload_truncated": cut or None,
                "key_error": rec.get("key_error"), "payload_error": rec.get("payload_error")},
    )
    b.keys(uid, src.rules.headers(headers))
    b.keys(uid, src.rules.payload(decoded))
    if key not in (None, ""):
        b.key(uid, KeyKind.MESSAGE_KEY, key if isinstance(key, str) else str(key))
    if "ce_id" in headers:
        b.key(uid, KeyKind.MESSAGE_ID, f"{headers.get('ce_source', '')}/{headers['ce_id']}")
    return None


def header_dict(raw: Any) -> dict[str, str]:
    """kcat's flat ``[name, value, name, value ...]`` headers as a dict (last value wins)."""
    out: dict[str, str] = {}
    if isinstance(raw, list):
        for i in range(0, len(raw) - 1, 2):
            name, value = raw[i], raw[i + 1]
            if isinstance(name, str):
                out[name] = value if isinstance(value, str) or value is None else str(value)
    elif isinstance(raw, dict):
        out = {str(k): v if isinstance(v, str) or v is None else str(v) for k, v in raw.items()}
    return out


def _json_payload(payload: Any) -> Any:
    """The payload as a JSON value when it is JSON text (or already decoded), else None."""
    if isinstance(payload, dict | list):
        return payload
    if isinstance(payload, str) and payload[:1] in ("{", "["):
        try:
            return loads(payload)
        except ValueError:
            return None
    return None


def event_type(headers: dict[str, str], payload: Any) -> str | None:
    """A record's event type from its headers, else from its payload's type field."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in EVENT_TYPE_HEADERS:
        if lowered.get(name):
            return lowered[name]
    if isinstance(payload, dict):
        for name in EVENT_TYPE_FIELDS:
            if isinstance(payload.get(name), str):
                return payload[name]
    return None
