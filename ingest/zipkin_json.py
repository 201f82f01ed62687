"""Zipkin v2 spans as JSON: span arrays, lists of traces, or JSON lines of either.

What Zipkin's API returns (``/api/v2/trace/{id}``: a span array; ``/api/v2/traces``: a list of
traces ``[[...], [...]]``), what the UI's "Download JSON" saves, what reporters POST to
``/api/v2/spans`` and what the ``zipkin`` Kafka topic holds (one array per message, so one
per line when dumped). Spans: ``traceId`` (16 or 32 hex), ``id``, ``parentId``, ``kind``
(CLIENT/SERVER/PRODUCER/CONSUMER, absent for local spans), ``name``, ``timestamp``/``duration``
in epoch µs, ``localEndpoint``/``remoteEndpoint`` ``{serviceName, ipv4, ipv6, port}``,
``annotations`` ``[{timestamp, value}]``, ``tags`` (string map), ``debug``, ``shared``.

Mapped as the OpenTelemetry Collector's Zipkin receiver maps them, then through ``otlp_json``:
no kind is ``unspecified`` (unless a ``span.kind`` tag says), any ``error`` tag fails the span
(its value is the error text, ``"true"`` aside), ``otel.status_code`` is honoured. Quirks:

- B3 "shared" spans (Brave/Finagle single-host RPC spans, 2016+): the SERVER half reuses the
  CLIENT's span id (``shared: true``). When that CLIENT span is in the trace, the server half
  gets a derived id of its own with the client half as parent (a ``calls`` link); server-side
  children follow it (``_spans.split_shared``). A shared SERVER whose CLIENT half was never
  reported (an untraced caller) keeps its id, so the spans it called still find their parent.
- a ``parentId`` missing from the file stays the parent, and the span is a local root.
- times are as recorded, clock skew included (Zipkin's UI corrects skew when drawing; we don't).
- ``remoteEndpoint.serviceName`` of a client/producer/consumer span (``mysql``, ``kafka``) is
  its ``peer.service``; Brave messaging tags (``kafka.topic``/``kafka.key``, ``rabbit.*``) give
  channel and message-key keys (``_spans.add_messaging_keys``).
- Zipkin v1 spans (``binaryAnnotations``, endpoints on annotations) are read by
  ``zipkin_v1_json``, which sniffs a file of them first; a v1 span met among v2 spans is a
  reject that says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ingest import _spans
from ingest._json import json_documents
from ingest.base import Batch, BatchBuilder, Source, first_json_value, span_id, trace_id

NAME = "zipkin_json"

#: Zipkin ``kind`` -> OTLP span kind.
KINDS = {"CLIENT": 3, "SERVER": 2, "PRODUCER": 4, "CONSUMER": 5}
#: Kinds whose remote endpoint is the service they called (or the broker): ``peer.service``.
PEER_KINDS = frozenset({3, 4, 5})
#: ``otel.status_code`` tag values (OTel's Zipkin exporter writes them) -> OTLP status code.
STATUS_TAGS = {"ok": 1, "error": 2, "unset": 0}
#: Tags that are span fields in OTLP, folded back by the Collector's Zipkin receiver.
FOLDED_TAGS = frozenset({"span.kind", "otel.status_code", "otel.status_description",
                         "otel.scope.name", "otel.scope.version", "otel.library.name",
                         "otel.library.version"})


def first_span(head: bytes) -> bytes | None:
    """The text from the first span object on, in a span, a span array or a list of traces."""
    text = first_json_value(head)
    for _ in range(2):  # a span array, or a list of traces
        if text.startswith(b"["):
            text = text[1:].lstrip()
    return text if text.startswith(b"{") else None


def sniff(head: bytes, path: str) -> bool:
    text = first_span(head)
    if text is None:
        return False
    # The first object's own scalar fields, before its first nested value: Zipkin writers put
    # traceId and id there (kcat envelopes, OTLP and Jaeger spans do not).
    cut = [i for i in (text.find(b"{", 1), text.find(b"[", 1)) if i > 0]
    flat = text[: min(cut)] if cut else text
    return (b'"traceId"' in flat and b'"id"' in flat and b'"spanId"' not in flat
            and b'"operationName"' not in flat)


#: Spans mapped at a time (whole traces), so a large file's rows go out in batches.
CHUNK_SPANS = 20_000


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    for location, doc in json_documents(src, b, before="bom"):
        for chunk in _spans.by_trace(walk(doc, location, b), CHUNK_SPANS):
            decoded: list[_spans.Decoded] = []
            for where, span in chunk:
                try:
                    decoded.append((where, *to_otlp(span)))
                except (TypeError, ValueError, AttributeError) as exc:
                    b.read()
                    b.reject(where, str(exc), str(span)[:300])
            _spans.add_spans(decoded, src, b)
            if b.ready():
                yield b.take()
    yield b.take()


def walk(doc: Any, loc: str, b: BatchBuilder,
         what: str = "a Zipkin span array") -> Iterator[tuple[str, Any]]:
    """The spans of a document: a span, a span array, or a list of traces (span arrays).

    Zipkin v1 and v2 documents nest spans alike, so ``zipkin_v1_json`` walks them here too.
    """
    if isinstance(doc, dict):
        yield loc, doc
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            if isinstance(item, list):
                for j, span in enumerate(item):
                    yield f"{loc} [{i}][{j}]", span
            else:
                yield f"{loc} [{i}]", item
    else:
        b.read()
        b.reject(loc, f"expected {what}, got {type(doc).__name__}", str(doc)[:300])


def to_otlp(span: Any) -> tuple[dict[str, Any], str, dict[str, Any], str]:
    """A Zipkin v2 span as ``(OTLP/JSON span, service, resource attributes, scope)``.

    Raises ValueError (with the reason a reject gives) when the span cannot be used.
    """
    if not isinstance(span, dict):
        raise ValueError(f"expected a span object, got {type(span).__name__}")
    if "binaryAnnotations" in span or any(
            isinstance(a, dict) and "endpoint" in a for a in span.get("annotations") or []):
        raise ValueError("a Zipkin v1 span (binaryAnnotations / annotation endpoints) "
                         "among v2 spans: keep v1 spans in a file of their own, read as "
                         "zipkin_v1_json (--format zipkin_v1_json)")
    tid, sid = trace_id(span.get("traceId")), span_id(span.get("id"))
    if not tid or not sid:
        raise ValueError("expected a non-zero traceId (16 or 32 hex digits) and id (16 hex "
                         f"digits); got {span.get('traceId')!r}/{span.get('id')!r}")
    local = _endpoint(span.get("localEndpoint"), "localEndpoint")
    remote = _endpoint(span.get("remoteEndpoint"), "remoteEndpoint")
    service = str(local.get("serviceName") or "unknown_service")
    resource = {"service.name": service, "net.host.ip": local.get("ipv4") or local.get("ipv6"),
                "net.host.port": local.get("port")}
    tags = span.get("tags") or {}
    if not isinstance(tags, dict):
        raise ValueError(f"field 'tags': expected an object of strings, got {tags!r}"[:200])
    if not all(type(v) is str for v in tags.values()):
        tags = {str(k): v if isinstance(v, str) else str(v) for k, v in tags.items()}
    kind = KINDS.get(str(span.get("kind") or "").upper())
    if kind is None:
        kind = _spans.KIND_CODES.get(tags.get("span.kind", "").lower(), 0)
    code, message = _status(tags)
    attrs = {k: v for k, v in tags.items()
             if k not in FOLDED_TAGS and not (k == "error" and v.lower() == "true")}
    if remote.get("serviceName"):
        attrs.setdefault("peer.service" if kind in PEER_KINDS else "zipkin.remote_service",
                         str(remote["serviceName"]))
    if remote.get("ipv4") or remote.get("ipv6"):
        attrs.setdefault("net.peer.ip", str(remote.get("ipv4") or remote.get("ipv6")))
    if remote.get("port"):
        attrs.setdefault("net.peer.port", str(remote["port"]))
    start = _micros(span.get("timestamp"), "timestamp")
    duration = _micros(span.get("duration"), "duration")
    otlp = {
        "traceId": tid, "spanId": sid, "parentSpanId": span_id(span.get("parentId")),
        "name": str(span.get("name") or ""), "kind": kind,
        "startTimeUnixNano": start * 1000 if start else None,
        "endTimeUnixNano": (start + duration) * 1000 if start and duration is not None else None,
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
        "events": [_event(a) for a in span.get("annotations") or [] if isinstance(a, dict)],
        "status": {"code": code, "message": message},
    }
    scope = tags.get("otel.scope.name") or tags.get("otel.library.name") or ""
    return otlp, service, {k: v for k, v in resource.items() if v is not None}, scope


def _endpoint(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"field '{field}': expected an object, got {value!r}"[:200])
    return value


def _status(tags: dict[str, str]) -> tuple[int, str | None]:
    """OTLP status code and message: any ``error`` tag fails the span (Zipkin's rule)."""
    code = STATUS_TAGS.get(tags.get("otel.status_code", "").lower().removeprefix("status_code_"),
                           0)
    message = tags.get("otel.status_description") or None
    if "error" in tags:
        code = 2
        text = tags["error"].strip()
        message = message or (text if text and text.lower() != "true" else None)
    return code, message


def _event(annotation: dict[str, Any]) -> dict[str, Any]:
    ts = _micros(annotation.get("timestamp"), "annotations.timestamp")
    return {"name": str(annotation.get("value") or ""),
            "timeUnixNano": ts * 1000 if ts else None}


def _micros(value: Any, field: str) -> int | None:
    """µs as Zipkin writes them: integers (some reporters send floats or numeric strings)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"field '{field}': expected microseconds, got {value!r}")
    micros = value
    if isinstance(value, float) and math.isfinite(value):
        micros = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        micros = int(value.strip())
    # Past int64 is no time (and no column holds it).
    if isinstance(micros, int) and not isinstance(micros, bool) and -2**63 <= micros < 2**63:
        return micros
    raise ValueError(f"field '{field}': expected microseconds, got {str(value)[:40]!r}")
