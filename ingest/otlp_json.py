"""OTLP traces as JSON: ExportTraceServiceRequests (or JSON lines of them), Tempo downloads.

Written by the OpenTelemetry Collector ``file`` exporter (one request per line, v0.60+),
``otlp/json`` HTTP payloads, Jaeger's OTLP fixtures and test tools. Quirks handled:

- ids are hex (OTLP/JSON spec, any case) or base64 (protobuf JSON mapping, jsonpb);
- int64 fields (``*UnixNano``, ``intValue``) arrive as strings or numbers;
- ``kind``/``status.code`` arrive as ints (2) or enum names (``SPAN_KIND_SERVER``);
- pre-1.0 ``instrumentationLibrarySpans`` and snake_case field names (``resource_spans``);
- Grafana Tempo trace-by-id JSON (``/api/traces/<id>``, what Grafana's "Download traces"
  saves): ``{"batches": [ResourceSpans ...]}``, Tempo's ``tempopb.Trace`` message
  (``repeated ResourceSpans batches = 1`` in grafana/tempo pkg/tempopb/tempo.proto; later
  versions name the field ``resourceSpans``), read as ``resourceSpans``.

A value with none of these keys is not a request: it is one rejected record. An empty object
is an empty request, as protobuf's JSON mapping writes one (the Collector's ``file``
exporter among them: empty repeated fields are left out).

Spans become steps; the local root span of each service (no parent, or a parent in another
service or not in the document) also becomes a run of ``otel:service:<service.name>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ingest._json import json_documents, raw_text, shape, starts_with_key
from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    first_json_value,
    span_id,
    trace_id,
    us_from_ns,
)
from tracemap.model import (
    CHANNEL_KINDS,
    MESSAGING_OPERATIONS,
    EdgeKind,
    KeyKind,
    Status,
    channel_component,
    component,
    kafka_record_uid,
)

NAME = "otlp_json"
#: Each JSON line is one ExportTraceServiceRequest (the Collector's file exporter), mapped
#: without the others: a large file is parsed in ranges of lines (``tracemap.load``).
LINE_RECORDS = True

SPAN_KINDS = {
    0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer",
}
STATUS_CODES = {0: Status.OK, 1: Status.OK, 2: Status.FAILED}  # unset, ok, error
_KIND_NAMES = {v: k for k, v in SPAN_KINDS.items()}

#: AWS SDK calls (``rpc.system = aws-api``, as botocore/AWS SDK instrumentations write them)
#: that publish to a channel: (rpc.service, rpc.method) -> (bus, attributes naming the channel,
#: channel when none does). EventBridge's bus is not recorded by the SDK instrumentations:
#: ``default`` is the bus PutEvents uses unless told otherwise.
AWS_SDK_PUBLISH: dict[tuple[str, str], tuple[str, tuple[str, ...], str | None]] = {
    ("eventbridge", "putevents"): ("eventbridge", ("aws.eventbridge.event_bus_name",),
                                   "default"),
    ("sqs", "sendmessage"): ("sqs", ("messaging.destination.name", "aws.sqs.queue_url",
                                     "aws.queue_url"), None),
    ("sqs", "sendmessagebatch"): ("sqs", ("messaging.destination.name", "aws.sqs.queue_url",
                                          "aws.queue_url"), None),
    ("sns", "publish"): ("sns", ("messaging.destination.name", "aws.sns.topic_arn"), None),
    ("sns", "publishbatch"): ("sns", ("messaging.destination.name", "aws.sns.topic_arn"), None),
}
#: Attributes naming the destination a message went to, and the bus the name implies.
DESTINATION_ATTRS: tuple[tuple[str, str | None], ...] = (
    ("messaging.destination.name", None),  # OTel semconv >= 1.17
    ("messaging.destination", None),  # OTel semconv < 1.17
    ("messaging.kafka.topic", "kafka"),
    ("kafka.topic", "kafka"),  # Brave kafka-clients / spring-kafka
    ("rabbit.exchange", "rabbitmq"),  # Brave amqp-client / spring-rabbit
    ("message_bus.destination", None),  # OpenTracing semantic conventions
)
#: Attributes carrying the key a message was routed by (Kafka record key, AMQP routing key).
MESSAGE_KEY_ATTRS: tuple[tuple[str, str], ...] = (
    ("messaging.kafka.message.key", "kafka"),
    ("messaging.kafka.message_key", "kafka"),  # OTel semconv < 1.17
    ("kafka.key", "kafka"),
    ("messaging.rabbitmq.destination.routing_key", "rabbitmq"),
    ("messaging.rabbitmq.routing_key", "rabbitmq"),
    ("rabbit.routing_key", "rabbitmq"),
)
#: AMQP's default exchange is named "" (OTel semconv too); RabbitMQ also accepts this alias,
#: and a channel needs a name.
DEFAULT_EXCHANGE = "amq.default"
#: Where a span states the Kafka record it sent or read, newest convention first (OTel semconv:
#: the partition as ``messaging.destination.partition.id``, formerly
#: ``messaging.kafka.destination.partition``, before that ``messaging.kafka.partition``; the
#: offset as ``kafka.offset``, formerly ``messaging.kafka.offset``, before that
#: ``messaging.kafka.message.offset``). With the topic they name one record, exactly.
KAFKA_PARTITION_ATTRS = ("messaging.destination.partition.id",
                         "messaging.kafka.destination.partition", "messaging.kafka.partition")
KAFKA_OFFSET_ATTRS = ("kafka.offset", "messaging.kafka.offset", "messaging.kafka.message.offset")
_STATUS_NAMES = {"unset": 0, "ok": 1, "error": 2}
#: The keys a request's ResourceSpans list goes by: the OTLP/JSON name, the protobuf field name
#: (snake_case, as some JSON writers keep it), older Tempo's ``batches``.
RESOURCE_SPANS_KEYS = ("resourceSpans", "resource_spans", "batches")
#: A ResourceSpans' scope list, and the start of a Tempo document whose first batch opens with
#: an OTLP resource (its attributes can push the scope list past the head).
_SCOPE_SPANS = re.compile(
    rb'"(?:scopeSpans|scope_spans|instrumentationLibrarySpans|instrumentation_library_spans)"'
    rb'\s*:\s*\[')
_TEMPO_RESOURCE = re.compile(
    rb'\{\s*"batches"\s*:\s*\[\s*\{\s*"resource"\s*:\s*\{\s*"attributes"\s*:\s*\[')


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if not text.startswith(b"{"):
        return False
    if b'"resourceSpans"' in text[:2048] or b'"resource_spans"' in text[:2048]:
        return True
    # Tempo's wrapper: "batches" is a common word, so its elements must be ResourceSpans.
    return starts_with_key(text, "batches") and bool(
        _SCOPE_SPANS.search(text) or _TEMPO_RESOURCE.match(text))


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    for location, doc in json_documents(src, b):
        spans_from_request(doc, location, src, b)
        if b.ready():
            yield b.take()
    yield b.take()


#: AnyValue fields whose value is the plain value as it is.
_PLAIN_VALUES = frozenset({"stringValue", "string_value", "boolValue", "bool_value",
                           "doubleValue", "double_value", "bytesValue", "bytes_value"})


def any_value(v: Any) -> Any:
    """An OTLP AnyValue as a plain Python value."""
    if not isinstance(v, dict):
        return v
    if len(v) == 1:  # one field, as AnyValue has: no need to try each name in turn
        ((name, value),) = v.items()
        if name in _PLAIN_VALUES:
            return value
    for name in ("stringValue", "string_value", "boolValue", "bool_value", "doubleValue",
                 "double_value", "bytesValue", "bytes_value"):
        if name in v:
            return v[name]
    for name in ("intValue", "int_value"):
        if name in v:
            try:
                return int(v[name])
            except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity
                return v[name]
    arr = v.get("arrayValue", v.get("array_value"))
    if isinstance(arr, dict):
        return [any_value(x) for x in arr.get("values") or []]
    kvl = v.get("kvlistValue", v.get("kvlist_value"))
    if isinstance(kvl, dict):
        return attributes(kvl.get("values"))
    return None


def attributes(items: Any) -> dict[str, Any]:
    """A list of ``{key, value: AnyValue}`` as a dict."""
    out: dict[str, Any] = {}
    if isinstance(items, list):
        for kv in items:
            if isinstance(kv, dict) and isinstance(key := kv.get("key"), str):
                value = kv.get("value")
                if type(value) is dict and len(value) == 1 and "stringValue" in value:
                    out[key] = value["stringValue"]  # the usual attribute, read directly
                else:
                    out[key] = any_value(value)
    return out


def _enum(value: Any, names: dict[str, int], prefix: str) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        return names.get(value.lower().removeprefix(prefix), 0)
    return 0


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    return d[camel] if camel in d else d.get(snake)


#: Every attribute ``messaging`` reads: a span with none of them states no bus.
_MESSAGING_ATTRS = frozenset({"messaging.system", "peer.service",
                              *(name for name, _ in DESTINATION_ATTRS),
                              *(name for name, _ in MESSAGE_KEY_ATTRS)})


def messaging(attrs: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """``(bus, destination, message key)`` a span's attributes state, each possibly None."""
    if attrs.keys().isdisjoint(_MESSAGING_ATTRS):  # most spans: not messaging
        return None, None, None
    bus = attrs.get("messaging.system")
    bus = str(bus).lower() if bus else None
    dest = key = None
    for name, implied in DESTINATION_ATTRS:
        value = attrs.get(name)
        if isinstance(value, str | int):
            dest, bus = str(value), bus or implied
            break
    for name, implied in MESSAGE_KEY_ATTRS:
        value = attrs.get(name)
        if isinstance(value, str | int) and str(value) != "":
            key, bus = str(value), bus or implied
            break
    if not bus:
        peer = str(attrs.get("peer.service") or "").lower()
        bus = peer if peer in CHANNEL_KINDS else None
    if dest == "" and bus in ("rabbitmq", "amqp"):
        dest = DEFAULT_EXCHANGE
    return bus, dest or None, key


def aws_sdk_channel(attrs: dict[str, Any]) -> tuple[str | None, str | None]:
    """The bus and channel an AWS SDK client span publishes to, or (None, None)."""
    if attrs.get("rpc.system") != "aws-api":
        return None, None
    found = AWS_SDK_PUBLISH.get((str(attrs.get("rpc.service", "")).lower(),
                                 str(attrs.get("rpc.method", "")).lower()))
    if not found:
        return None, None
    bus, names, fallback = found
    for name in names:
        value = attrs.get(name)
        if isinstance(value, str) and value:
            # A queue URL or topic ARN ends with the name.
            return bus, value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return bus, fallback


def parent_edge(kind: str, parent_service: str | None, service: str) -> EdgeKind:
    """What a parent → child span reference means between components.

    Inside one service it is containment. A consumer span whose parent is in another service
    continues the producer's trace across a bus: the dependency runs through the message
    (correlation adds producer → message → consumer), so the direct reference is only
    ``follows_from``, not a call between the two services. Anything else is a call.
    """
    if parent_service == service:
        return EdgeKind.CONTAINS
    return EdgeKind.FOLLOWS_FROM if kind == "consumer" else EdgeKind.CALLS


def spans_from_request(doc: Any, location: str, src: Source, b: BatchBuilder) -> None:
    """Add the spans of one ExportTraceServiceRequest (as a dict) to the builder."""
    if not isinstance(doc, dict):
        b.read()
        b.reject(location,
                 f"expected an ExportTraceServiceRequest object, got {type(doc).__name__}")
        return
    name = next((k for k in RESOURCE_SPANS_KEYS if k in doc), None)
    if name is None:
        if doc:  # {} is an empty request; anything else is some other document
            b.read()
            b.reject(location, "expected an ExportTraceServiceRequest object with "
                     f"'resourceSpans' (or Tempo's 'batches'), got {shape(doc)}",
                     raw_text(doc, 300))
        return
    spans: list[tuple[str, dict[str, Any], str, dict[str, Any], str]] = []
    for i, rs in enumerate(_list(doc[name], location, name, b)):
        where_rs = f"{location} {name}[{i}]"
        if not isinstance(rs, dict):
            b.read()
            b.reject(where_rs, f"expected an object, got {type(rs).__name__}")
            continue
        resource = attributes(_dict(rs.get("resource")).get("attributes"))
        service = str(resource.get("service.name") or "unknown_service")
        scopes = (_get(rs, "scopeSpans", "scope_spans")
                  or _get(rs, "instrumentationLibrarySpans", "instrumentation_library_spans"))
        for j, ss in enumerate(_list(scopes, where_rs, "scopeSpans", b)):
            ss = _dict(ss)
            scope = _dict(ss.get("scope") or ss.get("instrumentationLibrary"))
            where_ss = f"{where_rs}.scopeSpans[{j}]"
            for k, span in enumerate(_list(ss.get("spans"), where_ss, "spans", b)):
                spans.append((f"{where_ss}.spans[{k}]", span, service, resource,
                              str(scope.get("name") or "")))
    add_spans(spans, src, b)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any, where: str, name: str, b: BatchBuilder) -> list[Any]:
    """A list field; anything else in its place is one rejected record (its spans are lost)."""
    if value is None or isinstance(value, list):
        return value or []
    b.read()
    b.reject(f"{where}.{name}", f"expected a list, got {type(value).__name__}")
    return []


def add_spans(spans: list[tuple[str, Any, str, dict[str, Any], str]], src: Source,
              b: BatchBuilder) -> None:
    """Turn decoded spans ``(location, span, service, resource attrs, scope)`` into rows."""
    good: list[tuple[str, dict[str, Any], str, dict[str, Any], str, str, str, str | None]] = []
    b.read(len(spans))
    for where, span, service, resource, scope in spans:
        if not isinstance(span, dict):
            b.reject(where, "expected a span object")
            continue
        tid = trace_id(_get(span, "traceId", "trace_id"))
        sid = span_id(_get(span, "spanId", "span_id"))
        if not tid or not sid:
            b.reject(where, "expected a non-zero traceId (16 bytes) and spanId (8 bytes), "
                     f"hex or base64; got {span.get('traceId')!r}/{span.get('spanId')!r}",
                     str(span)[:300])
            continue
        parent = span_id(_get(span, "parentSpanId", "parent_span_id"))
        good.append((where, span, service, resource, scope, tid, sid, parent))
    service_of = {(g[5], g[6]): g[2] for g in good}
    # A resource's attributes but service.name, for the detail of each of its spans: spans
    # share their request's resource, so this is made once per resource, by its identity.
    rest_of: dict[int, dict[str, Any]] = {}
    loaded = 0
    for where, span, service, resource, scope, tid, sid, parent in good:
        rest = rest_of.get(id(resource))
        if rest is None:
            rest = rest_of[id(resource)] = {k: v for k, v in resource.items()
                                            if k != "service.name"}
        try:
            _add_span(b, src, where, span, service, rest, scope, tid, sid, parent, service_of)
        except (TypeError, ValueError, AttributeError) as exc:
            b.reject(where, f"span has a field of the wrong type: {exc}", str(span)[:300])
            continue
        loaded += 1
    b.loaded(loaded)


#: Operation components by ``<service>/<span name>``: a service has a few dozen operations,
#: each named on thousands of spans (bounded).
_OPERATIONS: dict[str, str] = {}


def _operation(service: str, name: str) -> str:
    key = f"{service}/{name}"
    found = _OPERATIONS.get(key)
    if found is None:
        if len(_OPERATIONS) >= 1 << 16:
            _OPERATIONS.clear()
        found = _OPERATIONS[key] = component("otel", "operation", key)
    return found


def _add_span(b: BatchBuilder, src: Source, where: str, span: dict[str, Any], service: str,
              rest: dict[str, Any], scope: str, tid: str, sid: str, parent: str | None,
              service_of: dict[tuple[str, str], str]) -> None:
    """One span's rows; ``rest`` is its resource's attributes but ``service.name``."""
    uid = f"otel:span:{tid}/{sid}"
    kind = SPAN_KINDS.get(_enum(span.get("kind"), _KIND_NAMES, "span_kind_"), "unspecified")
    status = span.get("status") or {}
    code = _enum(status.get("code"), _STATUS_NAMES, "status_code_")
    attrs = attributes(span.get("attributes"))
    name = str(span.get("name") or "")
    start = us_from_ns(_get(span, "startTimeUnixNano", "start_time_unix_nano"))
    end = us_from_ns(_get(span, "endTimeUnixNano", "end_time_unix_nano"))
    error = status.get("message") or None
    for event in span.get("events") or []:
        if isinstance(event, dict) and event.get("name") == "exception":
            ev = attributes(event.get("attributes"))
            error = error or str(ev.get("exception.message") or ev.get("exception.type") or "")
    parent_service = service_of.get((tid, parent)) if parent else None
    local_root = parent is None or parent_service != service
    run_uid = f"otel:run:{tid}/{sid}" if local_root else None
    detail = {**rest, **attrs, "otel.kind": kind, "otel.scope": scope, "service.name": service}
    parent_uid = f"otel:span:{tid}/{parent}" if parent else None
    state = STATUS_CODES.get(code, Status.UNKNOWN)
    b.step(uid=uid, run_uid=run_uid, system="otel", component=_operation(service, name),
           name=name, step_type=kind, status=state, started_at=start, ended_at=end,
           attempt=None, parent_uid=parent_uid, error=error, location=where, detail=detail)
    if local_root:
        b.run(uid=run_uid, system="otel", component=component("otel", "service", service),
              name=name, status=state, started_at=start, ended_at=end, attempt=None,
              error=error, location=where, parent_uid=parent_uid,
              detail={"service.name": service, "root_span": uid, "otel.kind": kind, **rest})
        b.link(run_uid, uid, EdgeKind.CONTAINS, "local root span of the service", where)
        b.key(run_uid, KeyKind.TRACE_ID, tid)
    if parent_uid:
        b.link(parent_uid, uid, parent_edge(kind, parent_service, service), "parentSpanId",
               where)
    for link in span.get("links") or []:
        if isinstance(link, dict):
            ltid, lsid = trace_id(link.get("traceId")), span_id(link.get("spanId"))
            if ltid and lsid:
                b.link(f"otel:span:{ltid}/{lsid}", uid, EdgeKind.FOLLOWS_FROM, "span link", where)
    b.key(uid, KeyKind.TRACE_ID, tid)
    b.key(uid, KeyKind.SPAN_ID, sid)
    b.keys(uid, src.rules.attributes(attrs))
    bus, dest, message_key = messaging(attrs)
    if not (bus and dest):
        # An AWS SDK publish names its channel elsewhere; other spans keep the bus they state.
        sdk_bus, sdk_dest = aws_sdk_channel(attrs)
        if sdk_bus:
            bus, dest = sdk_bus, sdk_dest
    if bus and dest:
        channel = channel_component(bus, dest)
        b.key(uid, KeyKind.CHANNEL, channel)
        if run_uid:
            b.key(run_uid, KeyKind.CHANNEL, channel)
    if bus and message_key:
        b.key(uid, KeyKind.MESSAGE_KEY, message_key)
    record = kafka_record(attrs, bus, dest)
    side = messaging_side(kind, attrs) if record else None
    if side == "producer":
        b.link(uid, record, EdgeKind.EMITS, "messaging topic, partition and offset", where)
    elif side == "consumer":
        b.link(record, uid, EdgeKind.TRIGGERS, "messaging topic, partition and offset", where)


def kafka_record(attrs: dict[str, Any], bus: str | None, dest: str | None) -> str | None:
    """The uid of the Kafka record a span states it sent or read (topic, partition and
    offset, ``kafka_record_uid``), or None."""
    if bus != "kafka" or not dest:
        return None
    partition = _position(next((attrs[a] for a in KAFKA_PARTITION_ATTRS if a in attrs), None))
    offset = _position(next((attrs[a] for a in KAFKA_OFFSET_ATTRS if a in attrs), None))
    if partition is None or offset is None:
        return None
    return kafka_record_uid(dest, partition, offset)


def _position(value: Any) -> int | None:
    """A partition or offset: a whole number from 0 (an instrumentation's -1 is "unknown")."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def messaging_side(kind: str, attrs: dict[str, Any]) -> str | None:
    """``producer`` or ``consumer``: the side of a hop a span is on, by its messaging operation
    (``MESSAGING_OPERATIONS``), else by its kind; None when neither says."""
    operation = attrs.get("messaging.operation.type", attrs.get("messaging.operation"))
    side = MESSAGING_OPERATIONS.get(str(operation).lower()) if operation else None
    return side or (kind if kind in ("producer", "consumer") else None)
