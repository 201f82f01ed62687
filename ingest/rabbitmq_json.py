"""RabbitMQ messages: rabbitmq_tracing JSON logs, and Amazon MQ for RabbitMQ events in Lambda.

Two shapes:

- The ``rabbitmq_tracing`` plugin's JSON log (a trace created with format ``json`` in the
  management UI or ``PUT /api/traces/<vhost>/<name>``; files under
  ``/var/tmp/rabbitmq-tracing/<name>.log``): one object per line, written by
  ``rabbit_tracing_consumer`` from the firehose (``amq.rabbitmq.trace``): ``{channel,
  connection, exchange, node, payload (base64, cut at max_payload_bytes), properties{...AMQP
  basic properties, snake_case, headers as a table}, queue, routed_queues, routing_keys,
  timestamp, type: "published" | "received", user, vhost}``. The encoder writes keys in
  alphabetical order, the atom ``none`` as the string ``"none"`` (``queue`` of a published
  line, ``routed_queues`` of a received one), and ``timestamp`` as RFC 3339 with the node's
  local offset and milliseconds (3.x before 3.8 wrote ``2019-03-05 9:05:07``, local, no
  offset: taken as UTC).
- Amazon MQ for RabbitMQ -> Lambda events: ``{"eventSource": "aws:rmq", "eventSourceArn",
  "rmqMessagesByQueue": {"<queue>::<vhost>": [{basicProperties{contentType, headers{name:
  {"bytes": [signed byte ...]} | value}, deliveryMode, priority, correlationId, replyTo,
  expiration, messageId, timestamp, type, userId, appId, clusterId, bodySize},
  redelivered, data (base64)}]}}``. ``timestamp`` is Gson's default Java date text
  (``Jan 1, 1970, 12:33:41 AM``, the JVM's zone: UTC on Lambda; newer JDKs put U+202F
  before AM/PM).

Rows: a published message is a message on its exchange (``rabbitmq:exchange:<x>``, the
default exchange as ``amq.default``); the copy a queue holds and delivers is a message on the
queue (``rabbitmq:queue:<q>``). uids: ``rabbitmq:msg:<message_id>`` for the published message
and ``rabbitmq:msg:<message_id>@<queue>`` for a queue's copy, so the tracing log's
"received" line and a Lambda delivery of the same message are one row; without a
``message_id`` the id is ``h-<hash>`` (first 12 hex digits of the SHA-1 of vhost, exchange,
routing keys, properties without headers, and payload), which a published line and the
received lines of the same message share. A published line links its message to the copy in
each of its ``routed_queues`` (``follows_from``: the copy exists because of the publish).
``produced_at`` is the broker's trace time (publish, or delivery for a queue copy: the
publisher's AMQP ``timestamp`` has only second precision and the publisher's clock); a Lambda
delivery has only the AMQP ``timestamp``.

Keys: ``correlation_id`` and ``message_id`` properties, every routing key as
``message_key``, the header key rules over the headers, the payload key rules over a JSON
payload. A Lambda delivery with ``redelivered: true`` has status ``retried``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from ingest._json import (
    at,
    byte_text,
    compact,
    elements,
    head_object,
    json_values,
    raw_json,
    shape,
    starts_with_key,
    unique,
)
from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    b64_text,
    cap_payload,
    dumps,
    first_json_value,
    json_or_text,
    us_from_iso,
    us_from_s,
)
from tracemap.model import EdgeKind, KeyKind, Status, component

NAME = "rabbitmq_json"

TRACE_TYPES = ("published", "received")
#: The default exchange has the empty name; RabbitMQ's UI and HTTP API call it this.
DEFAULT_EXCHANGE = "amq.default"
#: Lambda ``basicProperties`` (Java bean names) -> AMQP property names as the tracer writes.
LAMBDA_PROPERTIES = {"contentType": "content_type", "contentEncoding": "content_encoding",
                     "deliveryMode": "delivery_mode", "correlationId": "correlation_id",
                     "replyTo": "reply_to", "messageId": "message_id", "userId": "user_id",
                     "appId": "app_id", "clusterId": "cluster_id", "bodySize": "body_size"}
#: AMQP properties kept in ``detail`` (the ids and headers go to keys and headers).
PROPERTY_DETAIL = ("content_type", "content_encoding", "delivery_mode", "priority",
                   "reply_to", "expiration", "user_id", "app_id", "cluster_id", "body_size")
#: Gson's default date formats (JDK 8, and JDK 9+ with its extra comma).
GSON_FORMATS = ("%b %d, %Y, %I:%M:%S %p", "%b %d, %Y %I:%M:%S %p")
_OLD_TRACE_TIME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})$")


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if not text.startswith((b"{", b"[")):
        return False
    if b'"rmqMessagesByQueue"' in text or b'"aws:rmq"' in text:
        return True
    obj = head_object(head)
    if obj is not None:
        return (obj.get("type") in TRACE_TYPES and "exchange" in obj
                and "routing_keys" in obj and "properties" in obj)
    # A first line cut at the sniff limit: the tracer's alphabetical key order.
    return (starts_with_key(head, "channel") and b'"connection"' in text
            and b'"exchange"' in text and b'"node"' in text)


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    expected = "a rabbitmq_tracing JSON log line or an Amazon MQ Lambda event"
    add_line = partial(_add_trace_line, b, src)
    for where, value in json_values(src, b, expected):
        for loc, doc in elements(value, where):
            if isinstance(doc, dict) and "rmqMessagesByQueue" in doc:
                _add_lambda_event(b, src, doc, loc)
            else:
                b.record(add_line, doc, loc or "document", raw=raw_json)
            if b.ready():
                yield b.take()
    yield b.take()


# --------------------------------------------------------------------------------------------
# rabbitmq_tracing log lines


def _add_trace_line(b: BatchBuilder, src: Source, line: Any, where: str) -> str | None:
    if not isinstance(line, dict) or line.get("type") not in TRACE_TYPES:
        return ("expected a rabbitmq_tracing line with type published or received, got "
                + (repr(line.get("type")) if isinstance(line, dict) else shape(line)))
    kind = line["type"]
    props = line.get("properties") if isinstance(line.get("properties"), dict) else {}
    exchange = line.get("exchange")
    if not isinstance(exchange, str):
        return f"field 'exchange': expected a string, got {shape(exchange)}"
    try:
        at_us = _trace_time(line.get("timestamp"))
    except ValueError:
        return f"field 'timestamp': expected an RFC 3339 time, got {line.get('timestamp')!r}"
    payload_b64 = line.get("payload")
    raw = b64_text(payload_b64) if isinstance(payload_b64, str) else None
    if isinstance(payload_b64, str) and raw is None:
        return f"field 'payload': expected base64, got {payload_b64[:60]!r}"
    routing_keys = [str(k) for k in _listed(line.get("routing_keys"))]
    vhost = str(line.get("vhost") or "/")
    base = _message_base(props, lambda: {
        "vhost": vhost, "exchange": exchange, "routing_keys": routing_keys,
        "properties": {k: v for k, v in props.items() if k != "headers"},
        "payload": payload_b64})
    trace = {"node": line.get("node"), "connection": line.get("connection"),
             "user": line.get("user"), "amqp_channel": line.get("channel"), "vhost": vhost,
             "exchange": exchange, "routing_keys": routing_keys or None,
             "amqp_timestamp": props.get("timestamp")}
    if kind == "published":
        queues = [str(q) for q in _listed(line.get("routed_queues"))]
        uid = f"rabbitmq:msg:{base}"
        name = exchange or DEFAULT_EXCHANGE
        _add_message(b, src, uid, component("rabbitmq", "exchange", name), name, props, raw,
                     at_us, Status.OK, where,
                     {**trace, "routed_queues": queues})
        for queue in queues:
            b.link(uid, f"rabbitmq:msg:{base}@{queue}", EdgeKind.FOLLOWS_FROM,
                   "rabbitmq_tracing routed_queues", where)
    else:
        queue = line.get("queue")
        if not isinstance(queue, str) or not queue or queue == "none":
            return f"field 'queue': expected the queue a received message came from, got {queue!r}"
        uid = f"rabbitmq:msg:{base}@{queue}"
        _add_message(b, src, uid, component("rabbitmq", "queue", queue), queue, props, raw,
                     at_us, Status.OK, where,
                     {**trace, "queue": queue, "delivered_at": line.get("timestamp")})
    for key in routing_keys:
        b.key(uid, KeyKind.MESSAGE_KEY, key)
    return None


def _listed(value: Any) -> list[Any]:
    """A list field; the tracer writes the atom ``none`` as ``"none"`` where there is none."""
    return value if isinstance(value, list) else []


def _trace_time(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    old = _OLD_TRACE_TIME.match(value.strip())
    if old:
        y, mo, d, h, mi, s = (int(g) for g in old.groups())
        return int(datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()) * 1_000_000
    return us_from_iso(value)


# --------------------------------------------------------------------------------------------
# Amazon MQ -> Lambda events


def _add_lambda_event(b: BatchBuilder, src: Source, event: dict[str, Any], where: str) -> None:
    by_queue = event.get("rmqMessagesByQueue")
    if not isinstance(by_queue, dict):
        b.read()
        b.reject(where or "document", "field 'rmqMessagesByQueue': expected an object of "
                 f"'<queue>::<vhost>' -> messages, got {shape(by_queue)}", raw_json(event))
        return
    if not by_queue:
        b.read()
        b.skip("empty event")
        return
    for group, messages in by_queue.items():
        if not isinstance(messages, list):
            b.read()
            b.reject(at(where, f"rmqMessagesByQueue[{group}]"), "expected a list of messages, "
                     f"got {shape(messages)}", raw_json(messages))
            continue
        queue, _, vhost = str(group).rpartition("::")
        queue, vhost = (queue, vhost) if queue else (vhost, "/")
        add = partial(_add_delivery, b, src, queue=queue, vhost=vhost, event=event)
        for i, msg in enumerate(messages):
            b.record(add, msg, at(where, f"rmqMessagesByQueue[{group}][{i}]"), raw=raw_json)


def _add_delivery(b: BatchBuilder, src: Source, msg: Any, where: str, queue: str, vhost: str,
                  event: dict[str, Any]) -> str | None:
    if not isinstance(msg, dict):
        return f"expected a message object, got {shape(msg)}"
    bean = msg.get("basicProperties") if isinstance(msg.get("basicProperties"), dict) else {}
    props = {LAMBDA_PROPERTIES.get(k, k): v for k, v in bean.items()}
    data = msg.get("data")
    raw = b64_text(data) if isinstance(data, str) else None
    if isinstance(data, str) and raw is None:
        return f"field 'data': expected base64, got {data[:60]!r}"
    try:
        produced = _amqp_time(props.get("timestamp"))
    except ValueError:
        return f"field 'basicProperties.timestamp': expected a date, got {props['timestamp']!r}"
    base = _message_base(props, lambda: {"vhost": vhost, "queue": queue, "properties": {
        k: v for k, v in props.items() if k != "headers"}, "payload": data})
    redelivered = msg.get("redelivered") is True
    _add_message(b, src, f"rabbitmq:msg:{base}@{queue}", component("rabbitmq", "queue", queue),
                 queue, props, raw, produced, Status.RETRIED if redelivered else Status.OK,
                 where, {"vhost": vhost, "queue": queue, "redelivered": redelivered,
                         "broker_arn": event.get("eventSourceArn"),
                         "amqp_timestamp_raw": props.get("timestamp")})
    return None


# --------------------------------------------------------------------------------------------
# Shared


def _message_base(props: dict[str, Any], content: Any) -> str:
    """The natural id of a message: its ``message_id``, else a hash of its content."""
    message_id = props.get("message_id")
    if message_id not in (None, ""):
        return str(message_id)
    return "h-" + hashlib.sha1(dumps(content()).encode()).hexdigest()[:12]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _add_message(b: BatchBuilder, src: Source, uid: str, comp: str, channel: str,
                 props: dict[str, Any], raw: bytes | None, produced: int | None, status: str,
                 where: str, extra: dict[str, Any]) -> None:
    headers = _headers(props.get("headers"))
    decoded = json_or_text(raw) if raw is not None else None
    text, cut = cap_payload(decoded)
    b.message(uid=uid, system="rabbitmq", component=comp, channel=channel,
              event_type=_text(props.get("type")), msg_key=None, produced_at=produced,
              status=status, headers=headers, payload=text, location=where,
              detail=compact({**extra, **{k: props.get(k) for k in PROPERTY_DETAIL},
                              "payload_truncated": cut or None}))
    b.keys(uid, unique([(KeyKind.CORRELATION_ID, props.get("correlation_id")),
                        (KeyKind.MESSAGE_ID, props.get("message_id")),
                        *src.rules.headers(headers), *src.rules.payload(decoded)]))


def _headers(raw: Any) -> dict[str, str]:
    """AMQP headers as text: Lambda's ``{"bytes": [...]}`` decoded, tables as JSON text."""
    out: dict[str, str] = {}
    if not isinstance(raw, dict):
        return out
    for name, value in raw.items():
        if isinstance(value, dict) and isinstance(value.get("bytes"), list):
            value = value["bytes"]
        text = byte_text(value)
        if text is not None:
            out[str(name)] = text
    return out


def _amqp_time(value: Any) -> int | None:
    """An AMQP ``timestamp`` property: epoch seconds, or Gson's Java date text (UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or str(value).isdigit():
        return us_from_s(value)
    text = str(value).replace("\u202f", " ").replace("\u00a0", " ").strip()
    for fmt in GSON_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(parsed.timestamp()) * 1_000_000
    raise ValueError(f"not an AMQP timestamp: {value!r}")
