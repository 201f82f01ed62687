"""Span mapping shared by the Jaeger and Zipkin ingestors (not a format: not registered).

Both convert their spans to the decoded OTLP/JSON shape and hand them to
``otlp_json.add_spans``, so a span gives the same rows whichever system exported it. What
OTLP does not need and these two do is here:

- ``split_shared``: a SERVER span sharing its id with a CLIENT span of the same trace (Zipkin
  B3 "shared" spans, Jaeger traces reported by Zipkin instrumentation) gets a derived id of its
  own, the client half as parent, and the server-side children of that id. A server span whose
  client half is not in the trace keeps its id, whatever its ``shared`` flag says.
- ``add_messaging_keys``: the channel and message key each span states
  (``otlp_json.messaging``: Brave, OpenTracing and OTel tags), shared between a PRODUCER span
  and the CONSUMER span that names it as parent, because that parent id travelled in the
  message's headers. An OTLP export holds one service's spans per request, so the two sides
  rarely meet in one batch there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from ingest import otlp_json
from ingest.base import BatchBuilder, Source
from tracemap.model import KeyKind, channel_component

#: A decoded span as ``otlp_json.add_spans`` takes it: (location, OTLP/JSON span, service,
#: resource attributes, scope name).
Decoded = tuple[str, dict[str, Any], str, dict[str, Any], str]

#: OTLP span kinds (``otlp_json.SPAN_KINDS``) by name, for the kind names Jaeger/Zipkin write.
KIND_CODES = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4,
              "consumer": 5}
_SERVER, _CLIENT, _PRODUCER, _CONSUMER = 2, 3, 4, 5

#: Attribute (so: ``detail`` field) naming the id a re-identified shared server span had.
SHARED_ATTR = "shared_span_id"


def add_spans(spans: list[Decoded], src: Source, b: BatchBuilder) -> None:
    """Rows for decoded spans: shared ids split, ``otlp_json.add_spans``, messaging keys.

    The spans' ``traceId``/``spanId``/``parentSpanId`` are already normalized (``trace_id``,
    ``span_id``), as the Jaeger and Zipkin ``to_otlp`` write them.
    """
    spans, shared = split_shared(spans)
    steps_before = len(b.rows["steps"])
    otlp_json.add_spans(spans, src, b)
    for step in b.rows["steps"][steps_before:] if shared else []:
        # The server half of a shared span still answers to the id that travelled in the
        # request's B3 headers.
        if step["uid"] in shared:
            b.key(step["uid"], KeyKind.SPAN_ID, shared[step["uid"]])
    add_messaging_keys(spans, b, steps_before)


def by_trace(items: Iterable[tuple[str, Any]], size: int) -> Iterator[list[tuple[str, Any]]]:
    """``(location, span)`` items regrouped by trace, in lists of whole traces of about ``size``.

    A span array may hold many traces in any order; mapping a bounded number of whole traces at
    a time keeps parents and services resolvable while rows go out in batches.
    """
    traces: dict[str | None, list[tuple[str, Any]]] = {}
    for where, span in items:
        raw = span.get("traceId", span.get("traceID")) if isinstance(span, dict) else None
        # Grouping only: hex ids compare without their leading zeros (64-bit vs padded 128-bit).
        tid = raw.lower().lstrip("0") if isinstance(raw, str) else None
        traces.setdefault(tid, []).append((where, span))
    chunk: list[tuple[str, Any]] = []
    for spans in traces.values():
        chunk.extend(spans)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def derived_span_id(tid: str, sid: str) -> str:
    """The id given to the server half of a shared span: stable, so re-ingesting agrees."""
    return hashlib.sha256(f"{tid}/{sid}/server".encode()).hexdigest()[:16]


def split_shared(spans: list[Decoded]) -> tuple[list[Decoded], dict[str, str]]:
    """Give the SERVER half of a shared span id its own id, below the CLIENT half.

    A server span is split off when a CLIENT span of the same trace has its id: only then do
    two spans answer to that id. Zipkin's ``shared`` flag alone does not split: a shared server
    whose caller was never reported (a root behind an untraced proxy, Yelp's ``routing`` in
    zipkin-lens testdata/yelp.json) is the only span with that id, and the spans it called name
    it as parent; a derived id would leave them pointing at no span. Zipkin agrees: Trace.merge
    backfills ``shared`` from a CLIENT of the same id, and zipkin-lens's ``mergeV2ById`` drops
    the flag from a shared root span (no parent, so no client half). Jaeger spans carry no
    flag: a duplicate id is the only sign. Children that name the shared id as parent and run
    in the server's service are re-parented onto the server half, as Zipkin's tree builder and
    Jaeger's span-id deduper do; so do span links to it from that service.
    Returns the spans and, for each server half, its uid -> the shared id.
    """
    clients = {(span["traceId"], span["spanId"]) for _, span, _, _, _ in spans
               if span.get("kind") == _CLIENT}
    # (trace, shared id, server service) -> derived id
    servers: dict[tuple[str, str, str], str] = {}
    for _, span, service, _, _ in spans:
        if span.get("kind") == _SERVER and (span["traceId"], span["spanId"]) in clients:
            servers[(span["traceId"], span["spanId"], service)] = derived_span_id(
                span["traceId"], span["spanId"])
    if not servers:
        return spans, {}
    out: list[Decoded] = []
    shared: dict[str, str] = {}
    for where, span, service, resource, scope in spans:
        tid, sid, parent = span["traceId"], span["spanId"], span.get("parentSpanId")
        new = servers.get((tid, sid, service))
        if new and span.get("kind") == _SERVER:
            span = {**span, "spanId": new, "parentSpanId": sid,
                    "attributes": [*span.get("attributes", []), _attr(SHARED_ATTR, sid)]}
            shared[f"otel:span:{tid}/{new}"] = sid
        elif parent and (tid, parent, service) in servers:
            span = {**span, "parentSpanId": servers[(tid, parent, service)]}
        if span.get("links"):
            span = {**span, "links": [_relink(link, service, servers) for link in span["links"]]}
        out.append((where, span, service, resource, scope))
    return out, shared


def _relink(link: dict[str, Any], service: str,
            servers: dict[tuple[str, str, str], str]) -> dict[str, Any]:
    """A span link to a shared id, from the server's side, points at the server half."""
    key = (link["traceId"], link["spanId"], service)
    return {**link, "spanId": servers[key]} if key in servers else link


def _attr(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": str(value)}}


def add_messaging_keys(spans: list[Decoded], b: BatchBuilder, steps_before: int) -> None:
    """Channel and message-key keys for the producer/consumer spans just added.

    A CONSUMER span whose parent is a PRODUCER span of the same trace received that producer's
    message (the producer's span context rode in its headers), so each side lends the other
    the destination and key it lacks: Brave tags ``kafka.key`` only on the producer and
    ``rabbit.*`` only on the consumer.
    """
    info: dict[str, list[Any]] = {}  # span uid -> [kind, bus, destination, key]
    parent_of: dict[str, str] = {}
    for _, span, _, _, _ in spans:
        if span.get("kind") not in (_PRODUCER, _CONSUMER):
            continue
        uid = f"otel:span:{span['traceId']}/{span['spanId']}"
        attrs = otlp_json.attributes(span.get("attributes"))
        info[uid] = [span["kind"], *otlp_json.messaging(attrs)]
        if span.get("parentSpanId"):
            parent_of[uid] = f"otel:span:{span['traceId']}/{span['parentSpanId']}"
    if not info:
        return
    for uid, parent in parent_of.items():
        consumer, producer = info[uid], info.get(parent)
        if consumer[0] != _CONSUMER or not producer or producer[0] != _PRODUCER:
            continue
        if not _agree(consumer[1], producer[1]) or not _agree(consumer[2], producer[2]):
            continue
        for i in (1, 2, 3):
            consumer[i] = consumer[i] or producer[i]
        for i in (1, 2, 3):
            producer[i] = producer[i] or consumer[i]
    # Keys otlp_json.add_spans already gave (from OTel messaging.* attributes) are not repeated.
    wanted: dict[str, list[tuple[str, str]]] = {}
    for step in b.rows["steps"][steps_before:]:
        got = info.get(step["uid"])
        if not got:
            continue
        _, bus, dest, key = got
        if bus and dest:
            channel = channel_component(bus, dest)
            wanted.setdefault(step["uid"], []).append((KeyKind.CHANNEL, channel))
            if step.get("run_uid"):
                wanted.setdefault(step["run_uid"], []).append((KeyKind.CHANNEL, channel))
        if key:
            wanted.setdefault(step["uid"], []).append((KeyKind.MESSAGE_KEY, key))
    have = {(k["entity_uid"], k["kind"], k["value"]) for k in b.rows["keys"]
            if k["entity_uid"] in wanted}
    for uid, pairs in wanted.items():
        for kind, value in pairs:
            if (uid, str(kind), value) not in have:
                have.add((uid, str(kind), value))
                b.key(uid, kind, value)


def _agree(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b
