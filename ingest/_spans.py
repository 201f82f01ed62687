"""Span mapping shared by the Jaeger and Zipkin ingestors (not a format: not registered).

Both convert their spans to the decoded OTLP/JSON shape and hand them to
``otlp_json.add_spans``, so a span gives the same rows whichever system exported it. What
OTLP does not need and these two do is here:

- ``split_shared``: a SERVER span sharing its id with the CLIENT span that called it (Zipkin
  B3 "shared" spans, Jaeger traces reported by Zipkin instrumentation) gets a derived id of its
  own, the client half as parent, and the server-side children of that id.
- ``add_messaging_keys``: channel and message-key keys from the tags Brave, OpenTracing and
  OTel instrumentations write (``kafka.topic``/``kafka.key``, ``rabbit.exchange``/
  ``rabbit.routing_key``, ``messaging.*``), shared between a PRODUCER span and the CONSUMER
  span that names it as parent, because that parent id travelled in the message's headers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from ingest import otlp_json
from ingest.base import BatchBuilder, Source, is_json_lines, loads, span_id, trace_id
from tracemap.model import CHANNEL_KINDS, KeyKind, channel_component

#: A decoded span as ``otlp_json.add_spans`` takes it: (location, OTLP/JSON span, service,
#: resource attributes, scope name).
Decoded = tuple[str, dict[str, Any], str, dict[str, Any], str]

#: OTLP span kinds (``otlp_json.SPAN_KINDS``) by name, for the kind names Jaeger/Zipkin write.
KIND_CODES = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4,
              "consumer": 5}
_SERVER, _CLIENT, _PRODUCER, _CONSUMER = 2, 3, 4, 5

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
#: Attribute (so: ``detail`` field) naming the id a re-identified shared server span had.
SHARED_ATTR = "shared_span_id"


def add_spans(spans: list[Decoded], src: Source, b: BatchBuilder) -> None:
    """Rows for decoded spans: shared ids split, ``otlp_json.add_spans``, messaging keys."""
    spans = split_shared(spans)
    steps_before, keys_before = len(b.rows["steps"]), len(b.rows["keys"])
    otlp_json.add_spans(spans, src, b)
    shared = {f"otel:span:{trace_id(span.get('traceId'))}/{span['spanId']}": kv["value"]
              for _, span, _, _, _ in spans if isinstance(span, dict)
              for kv in span.get("attributes") or [] if kv.get("key") == SHARED_ATTR}
    for step in b.rows["steps"][steps_before:] if shared else []:
        # The server half of a shared span still answers to the id that travelled in the
        # request's B3 headers.
        if step["uid"] in shared:
            b.key(step["uid"], KeyKind.SPAN_ID, shared[step["uid"]]["stringValue"])
    add_messaging_keys(spans, b, steps_before, keys_before)


def derived_span_id(tid: str, sid: str) -> str:
    """The id given to the server half of a shared span: stable, so re-ingesting agrees."""
    return hashlib.sha256(f"{tid}/{sid}/server".encode()).hexdigest()[:16]


def split_shared(spans: list[Decoded]) -> list[Decoded]:
    """Give the SERVER half of a shared span id its own id, below the CLIENT half.

    A server span is shared when its span dict says so (``_shared``, Zipkin's ``shared``) or a
    CLIENT span of the same trace has the same id. Children that name the shared id as parent
    and run in the server's service are re-parented onto the server half, as Zipkin's tree
    builder and Jaeger's span-id deduper do; so do span links to it from that service.
    """
    clients: set[tuple[str, str]] = set()
    for _, span, _, _, _ in spans:
        if isinstance(span, dict) and span.get("kind") == _CLIENT:
            clients.add((trace_id(span.get("traceId")) or "", span_id(span.get("spanId")) or ""))
    # (trace, shared id, server service) -> derived id
    servers: dict[tuple[str, str, str], str] = {}
    for _, span, service, _, _ in spans:
        if not isinstance(span, dict) or span.get("kind") != _SERVER:
            continue
        tid, sid = trace_id(span.get("traceId")), span_id(span.get("spanId"))
        if tid and sid and (span.get("_shared") or (tid, sid) in clients):
            servers[(tid, sid, service)] = derived_span_id(tid, sid)
    if not servers:
        return spans
    out: list[Decoded] = []
    for where, span, service, resource, scope in spans:
        if isinstance(span, dict):
            tid, sid = trace_id(span.get("traceId")), span_id(span.get("spanId"))
            parent = span_id(span.get("parentSpanId"))
            new = servers.get((tid or "", sid or "", service))
            if new and span.get("kind") == _SERVER:
                span = {**span, "spanId": new, "parentSpanId": sid,
                        "attributes": [*span.get("attributes", []),
                                       _attr(SHARED_ATTR, sid)]}
            elif parent and (tid or "", parent, service) in servers:
                span = {**span, "parentSpanId": servers[(tid or "", parent, service)]}
            links = span.get("links")
            if links and isinstance(links, list):
                span = {**span, "links": [_relink(link, service, servers) for link in links]}
        out.append((where, span, service, resource, scope))
    return out


def _relink(link: Any, service: str, servers: dict[tuple[str, str, str], str]) -> Any:
    """A span link to a shared id, from the server's side, points at the server half."""
    if not isinstance(link, dict):
        return link
    key = (trace_id(link.get("traceId")) or "", span_id(link.get("spanId")) or "", service)
    return {**link, "spanId": servers[key]} if key in servers else link


def _attr(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": str(value)}}


def messaging(attrs: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """``(bus, destination, message key)`` a span's attributes state, each possibly None."""
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


def add_messaging_keys(spans: list[Decoded], b: BatchBuilder, steps_before: int,
                       keys_before: int) -> None:
    """Channel and message-key keys for the producer/consumer spans just added.

    A CONSUMER span whose parent is a PRODUCER span of the same trace received that producer's
    message (the producer's span context rode in its headers), so each side lends the other
    the destination and key it lacks: Brave tags ``kafka.key`` only on the producer and
    ``rabbit.*`` only on the consumer.
    """
    info: dict[tuple[str, str], list[Any]] = {}
    parent_of: dict[tuple[str, str], str] = {}
    for _, span, _, _, _ in spans:
        if not isinstance(span, dict) or span.get("kind") not in (_PRODUCER, _CONSUMER):
            continue
        tid, sid = trace_id(span.get("traceId")), span_id(span.get("spanId"))
        if not tid or not sid:
            continue
        bus, dest, key = messaging(otlp_json.attributes(span.get("attributes")))
        info[(tid, sid)] = [span["kind"], bus, dest, key]
        parent = span_id(span.get("parentSpanId"))
        if parent:
            parent_of[(tid, sid)] = parent
    for (tid, sid), parent in parent_of.items():
        consumer, producer = info[(tid, sid)], info.get((tid, parent))
        if consumer[0] != _CONSUMER or not producer or producer[0] != _PRODUCER:
            continue
        if not _agree(consumer[1], producer[1]) or not _agree(consumer[2], producer[2]):
            continue
        for i in (1, 2, 3):
            consumer[i] = consumer[i] or producer[i]
        for i in (1, 2, 3):
            producer[i] = producer[i] or consumer[i]
    if not info:
        return
    have = {(k["entity_uid"], k["kind"], k["value"]) for k in b.rows["keys"][keys_before:]}

    def add(uid: str, kind: str, value: str) -> None:
        if (uid, kind, value) not in have:
            have.add((uid, kind, value))
            b.key(uid, kind, value)

    for step in b.rows["steps"][steps_before:]:
        tid, _, sid = step["uid"].removeprefix("otel:span:").partition("/")
        got = info.get((tid, sid))
        if not got:
            continue
        _, bus, dest, key = got
        if bus and dest:
            channel = channel_component(bus, dest)
            add(step["uid"], KeyKind.CHANNEL, channel)
            if step.get("run_uid"):
                add(step["run_uid"], KeyKind.CHANNEL, channel)
        if key:
            add(step["uid"], KeyKind.MESSAGE_KEY, key)


def _agree(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def documents(src: Source, b: BatchBuilder,
              salvage: Callable[[bytes, BatchBuilder], list[tuple[str, Any]] | None] | None = None,
              ) -> Iterator[tuple[str, Any]]:
    """Each JSON document of the file with its location: one whole document, or one per line.

    A line that is not JSON is one rejected record. A whole document that is not JSON is one
    rejected record, unless ``salvage`` recovers records from it (a cut-off span array; it
    rejects what it cannot recover itself).
    """
    if is_json_lines(src):
        for number, line in src.lines():
            try:
                yield f"line {number}", loads(line)
            except ValueError as exc:
                b.read()
                b.reject(f"line {number}", f"expected a JSON document per line: {exc}", line)
        return
    data = src.read_document().lstrip(b"\xef\xbb\xbf")
    try:
        doc = loads(data)
    except ValueError as exc:
        rescued = salvage(data, b) if salvage else None
        if rescued is None:
            b.read()
            b.reject("file", f"expected one JSON document (truncated?): {exc}", data[:200])
        yield from rescued or []
        return
    yield "document", doc
