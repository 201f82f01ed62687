"""Kafka records as AWS Lambda receives them from Amazon MSK or self-managed Kafka.

The event source mapping writes ``{"eventSource": "aws:kafka" | "SelfManagedKafka",
"eventSourceArn", "bootstrapServers", "records": {"<topic>-<partition>": [record ...]}}``;
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

This module also holds the small readers the other bus-event modules share (``json_values``,
``head_object``, ``byte_text``); they belong in ``ingest/base.py`` eventually.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ingest.base import (
    SHAPE_ERRORS,
    Batch,
    BatchBuilder,
    Source,
    b64_text,
    cap_payload,
    first_json_value,
    loads,
    us_from_ms,
)
from ingest.kafka_kcat import event_type
from tracemap.model import KeyKind, Status, channel_component

NAME = "kafka_lambda"

#: ``eventSource`` values of Kafka event source mappings.
EVENT_SOURCES = ("aws:kafka", "SelfManagedKafka")
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
        for event_where, event in _events(doc, where):
            _add_event(b, src, event, event_where)
            if b.ready():
                yield b.take()
    yield b.take()


def _events(doc: Any, where: str) -> Iterator[tuple[str, Any]]:
    """One event, or each event of a JSON array of them (a saved list of invocations)."""
    if isinstance(doc, list):
        for i, event in enumerate(doc):
            yield at(where, f"[{i}]"), event
    else:
        yield where, doc


def _add_event(b: BatchBuilder, src: Source, event: Any, where: str) -> None:
    records = event.get("records") if isinstance(event, dict) else None
    if not isinstance(records, dict):
        b.read()
        b.reject(where or "document", "expected a Lambda Kafka event with a 'records' object, "
                 f"got {shape(event)}", raw_json(event))
        return
    if not records:
        # An invocation with nothing in it is well-formed; it is still an input record.
        b.read()
        b.skip("empty event")
        return
    cluster = {"event_source": event.get("eventSource"),
               "event_source_arn": event.get("eventSourceArn"),
               "bootstrap_servers": event.get("bootstrapServers")}
    for group, items in records.items():
        if not isinstance(items, list):
            b.read()
            b.reject(at(where, f"records[{group}]"), "expected a list of Kafka records, got "
                     f"{shape(items)}", raw_json(items))
            continue
        for i, rec in enumerate(items):
            b.read()
            loc = at(where, f"records[{group}][{i}]")
            mark = b.mark()
            try:
                reason = _add_record(b, src, rec, loc, cluster)
            except SHAPE_ERRORS as exc:
                b.restore(mark)  # none of a half-added record's rows stay
                reason = f"a field has an unexpected type or value: {exc}"
            if reason:
                b.reject(loc, reason, raw_json(rec))
            else:
                b.loaded()


def _timestamp_type(value: Any) -> Any:
    return TIMESTAMP_TYPES.get(value, value) if isinstance(value, str) else value


def _add_record(b: BatchBuilder, src: Source, rec: Any, where: str,
                cluster: dict[str, Any]) -> str | None:
    """Add one Kafka record; returns why it is unusable, or None."""
    if not isinstance(rec, dict):
        return f"expected a Kafka record object, got {shape(rec)}"
    topic, partition, offset = rec.get("topic"), rec.get("partition"), rec.get("offset")
    if not isinstance(topic, str) or not topic:
        return "field 'topic': expected a non-empty string"
    try:
        partition, offset = int(partition), int(offset)
    except (TypeError, ValueError):
        return f"fields 'partition'/'offset': expected integers, got {partition!r}/{offset!r}"
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
    uid = f"kafka:msg:{topic}/{partition}/{offset}"
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


def byte_text(value: Any) -> str | None:
    """A Java ``byte[]`` as JSON (signed or unsigned ints) decoded as UTF-8; strings pass through.

    Bytes that are not UTF-8 become U+FFFD, as kcat shows them, so the texts compare equal.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(x, int) for x in value):
        return bytes(x & 0xFF for x in value).decode("utf-8", "replace")
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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


# --------------------------------------------------------------------------------------------
# Readers shared by the bus-event modules (kafka_lambda, debezium_json, dms_kafka,
# cloudevents_json, eventbridge_json, rabbitmq_json, sqs_lambda).


def at(where: str, suffix: str) -> str:
    """A location inside a value found at ``where`` (``line 3`` + ``[2]`` -> ``line 3 [2]``)."""
    return f"{where} {suffix}" if where else suffix


def unique(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Key pairs without repeats (the same id often arrives by two routes: header and body)."""
    return list(dict.fromkeys((str(k), str(v)) for k, v in pairs if v not in (None, "")))


def compact(detail: dict[str, Any]) -> dict[str, Any]:
    """A detail object without its null fields (absent and null mean the same there)."""
    return {k: v for k, v in detail.items() if v is not None}


def shape(value: Any) -> str:
    """What a value is, for reject reasons: ``an object with keys a, b``, ``list``, ``null``."""
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:6])
        return f"an object with keys {keys}" if keys else "an empty object"
    return "null" if value is None else type(value).__name__


def raw_json(value: Any) -> str:
    """A decoded value back as JSON text for a reject's ``raw`` (capped)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:2048]
    except (TypeError, ValueError):
        return repr(value)[:2048]


def head_object(head: bytes) -> dict[str, Any] | None:
    """The first JSON object of a head (inside a top-level array too), if it is complete there.

    For sniffing: checks on an object's top-level keys are much stricter than byte searches.
    None when the head holds no complete first object (cut at the sniff limit, or not JSON).
    """
    text = first_json_value(head)
    if text.startswith(b"["):
        text = text[1:].lstrip()
    if not text.startswith(b"{"):
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _record_lines(src: Source) -> Iterator[tuple[int, bytes]]:
    """The file's non-blank lines after a leading comment block (licence headers, notes).

    ``/* ... */`` blocks and ``#``/``//`` lines before the first record are not records: they
    are passed over without being counted; line numbers stay those of the file.
    """
    started = in_comment = False
    for number, line in src.lines():
        if not started:
            if number == 1:
                line = line.lstrip(b"\xef\xbb\xbf").strip()
            if in_comment:
                end = line.find(b"*/")
                if end < 0:
                    continue
                in_comment, line = False, line[end + 2 :].strip()
            while line.startswith(b"/*"):
                end = line.find(b"*/", 2)
                if end < 0:
                    in_comment, line = True, b""
                    break
                line = line[end + 2 :].strip()
            if not line or line.startswith((b"#", b"//")):
                continue
            started = True
        yield number, line


def _parses(line: bytes) -> bool:
    try:
        loads(line)
    except ValueError:
        return False
    return True


def json_values(src: Source, b: BatchBuilder, expected: str) -> Iterator[tuple[str, Any]]:
    """Each top-level JSON value of the file with where it is.

    JSON lines give ``("line N", value)``; a whole-file document (pretty-printed object or
    array) gives ``("", value)``. The file is JSON lines when its first record line parses on
    its own, or when its first does not but its second does (a broken first line must not
    turn a large JSON-lines file into one rejected document). A line or document that is not
    JSON is one rejected record whose reason says ``expected``.
    """
    first: list[bytes] = []
    known = len(src.oversized)
    for _, line in _record_lines(src):
        first.append(line)
        if len(first) == 2:
            break
    # The peek read lines the full pass reads again: over-long ones must be rejected once.
    del src.oversized[known:]
    if not first:
        return
    is_lines = _parses(first[0]) or (len(first) == 2 and _parses(first[1])
                                     and first[1][:1] in (b"{", b"["))
    if is_lines:
        for number, line in _record_lines(src):
            try:
                yield f"line {number}", loads(line)
            except ValueError as exc:
                b.read()
                b.reject(f"line {number}", f"expected {expected}, one per line: {exc}", line)
        return
    whole = src.read_document()
    data = first_json_value(whole)
    try:
        doc = loads(data)
    except ValueError as exc:
        if _has_second_value(data):
            yield from _concatenated(whole, data, b, expected)
        else:
            b.read()
            b.reject("file", f"expected {expected} as one JSON document (truncated?): {exc}",
                     data[:200])
        return
    yield "", doc


def _has_second_value(data: bytes) -> bool:
    """Is ``data`` a complete JSON value followed by another one (pretty-printed records)?"""
    try:
        _, end = json.JSONDecoder().raw_decode(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return False
    return data.decode("utf-8", "replace")[end:].lstrip()[:1] in ("{", "[")


_NON_SPACE = re.compile(r"\S")


def _concatenated(whole: bytes, data: bytes, b: BatchBuilder,
                  expected: str) -> Iterator[tuple[str, Any]]:
    """Values written one after another, each pretty-printed over several lines.

    A console consumer prints records of a pretty-JSON producer (DMS ``MessageFormat`` json)
    this way. Each value is located by the line it starts on; a value that does not decode is
    rejected up to the next line that starts with ``{`` and reading resumes there.
    """
    text = data.decode("utf-8", "replace")
    line = whole[: len(whole) - len(data)].count(b"\n") + 1
    decoder, pos = json.JSONDecoder(), 0
    while True:
        start = _NON_SPACE.search(text, pos)
        if start is None:
            return
        line += text.count("\n", pos, start.start())
        pos = start.start()
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            nxt = text.find("\n{", pos)
            end = len(text) if nxt < 0 else nxt + 1
            b.read()
            b.reject(f"line {line}", f"expected {expected}: {exc}", text[pos:end])
        else:
            yield f"line {line}", value
        line += text.count("\n", pos, end)
        pos = end


def starts_with_key(head: bytes, *names: str) -> bool:
    """Does the head start with an object (maybe inside an array) whose first key is in ``names``?

    For sniffing heads whose first object is cut at the sniff limit, where ``head_object``
    cannot help.
    """
    text = first_json_value(head)
    if text.startswith(b"["):
        text = text[1:].lstrip()
    m = re.match(rb'\{\s*"([^"]{1,64})"\s*:', text)
    return bool(m) and m.group(1).decode("utf-8", "replace") in names
