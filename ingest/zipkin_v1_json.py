"""Zipkin v1 spans as JSON: the /api/v1 span arrays older tracers and Zipkin servers write.

What Zipkin 1.x served (``/api/v1/trace/{id}``, ``/api/v1/traces``: a list of traces), what
the classic UI's "JSON" button shows, and what v1 reporters POST to ``/api/v1/spans``
(Brave 3/4, Finagle, zipkin-js before 0.11, py_zipkin's v1 encoder, Sleuth 1.x): spans of
``traceId``, ``id``, ``parentId``, ``name``, ``timestamp``/``duration`` (epoch µs, optional),
``annotations`` ``[{timestamp, value, endpoint}]`` and ``binaryAnnotations``
``[{key, value, endpoint}]``, where ``endpoint`` is ``{serviceName, ipv4, ipv6, port}``.
Also read: a span array, a list of traces, JSON lines of either, and a single span.

Each v1 span is turned into the v2 spans Zipkin itself makes of it (``zipkin2.v1.
V1SpanConverter``), and those go through ``zipkin_json``: a v1 span and its v2 equivalent
give the same rows. ``docs/mappings.md`` has the table; in short:

- core annotations give the kind and the local endpoint: ``cs``/``cr`` a CLIENT half
  (``cr - cs`` its duration), ``sr``/``ss`` a SERVER half, ``ms`` a PRODUCER, ``mr`` a
  CONSUMER; a span with none is a local span. One v1 span holding both ``cs`` and ``sr``
  (Finagle and Brave 3/4 report one span id for both sides of an RPC) becomes two: the
  SERVER half is ``shared``, and ``zipkin_json`` splits it off below the CLIENT half. Both
  ``ms`` and ``mr`` make the CONSUMER a child of the PRODUCER (a derived id).
- the span's own ``timestamp``/``duration`` fill what its annotations do not say.
- address annotations ``sa``, ``ca`` and ``ma`` (``value: true``) are the remote endpoint of
  the client, server and messaging half; other binary annotations are tags of the half whose
  endpoint recorded them (the first half if none did), values as text. ``error`` fails the
  span as in v2; ``lc`` (local component) names a local span's endpoint and stays a tag.
- other annotations (``ws``, ``wr``, free text) stay annotations of the half whose endpoint
  recorded them.

A shared v1 span is one input record that gives two spans: ``records`` counts spans after
that split, their locations end in ``client``/``server``, and ``detail.zipkin_v1_spans`` says
how many v1 spans the file held.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ingest import _spans, zipkin_json
from ingest._json import json_documents
from ingest.base import Batch, BatchBuilder, Source

NAME = "zipkin_v1_json"

#: Core annotations, and the half of a v1 span each belongs to.
CORE: dict[str, str] = {"cs": "CLIENT", "cr": "CLIENT", "sr": "SERVER", "ss": "SERVER",
                        "ms": "PRODUCER", "mr": "CONSUMER"}
#: Wire annotations: they time a messaging half (``ws`` ends a PRODUCER, ``wr`` begins a
#: CONSUMER); in other spans they stay annotations.
WIRE = frozenset({"ws", "wr"})
#: Address binary annotations: the halves whose remote endpoint they are, in preference order.
ADDRESSES: dict[str, tuple[str, ...]] = {
    "sa": ("CLIENT", "PRODUCER"), "ca": ("SERVER",), "ma": ("PRODUCER", "CONSUMER"),
}
#: Order of the halves of one v1 span (the calling side first).
HALVES = ("CLIENT", "SERVER", "PRODUCER", "CONSUMER")
#: Location suffix of each half of a v1 span that gave more than one.
HALF_NAMES = {"CLIENT": "client", "SERVER": "server", "PRODUCER": "producer",
              "CONSUMER": "consumer", None: "local"}

_V1_MARK = re.compile(rb'"binaryAnnotations"|"endpoint"\s*:')


def sniff(head: bytes, path: str) -> bool:
    text = zipkin_json.first_span(head)
    if text is None:
        return False
    # v1 spans carry endpoints on their annotations (and binaryAnnotations); v2 spans carry
    # localEndpoint/remoteEndpoint instead.
    return (b'"traceId"' in text and b'"id"' in text and _V1_MARK.search(text) is not None
            and b'"localEndpoint"' not in text and b'"remoteEndpoint"' not in text)


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    v1_spans = 0
    for location, doc in json_documents(src, b, before="bom"):
        for chunk in _spans.by_trace(zipkin_json.walk(doc, location, b, "a Zipkin v1 span array"),
                                     zipkin_json.CHUNK_SPANS):
            decoded: list[_spans.Decoded] = []
            for where, span in chunk:
                v1_spans += 1
                try:
                    halves = to_v2(span)
                except (TypeError, ValueError, AttributeError) as exc:
                    b.read()
                    b.reject(where, str(exc), str(span)[:300])
                    continue
                for kind, v2 in halves:
                    here = f"{where} {HALF_NAMES[kind]}" if len(halves) > 1 else where
                    try:
                        decoded.append((here, *zipkin_json.to_otlp(v2)))
                    except (TypeError, ValueError, AttributeError) as exc:
                        b.read()
                        b.reject(here, str(exc), str(span)[:300])
            _spans.add_spans(decoded, src, b)
            if b.ready():
                b.note("zipkin_v1_spans", v1_spans)
                yield b.take()
    b.note("zipkin_v1_spans", v1_spans)
    yield b.take()


def to_v2(span: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """A v1 span as the v2 spans Zipkin makes of it: ``[(kind or None, v2 span), ...]``.

    Raises ValueError (with the reason a reject gives) when the span cannot be read.
    """
    if not isinstance(span, dict):
        raise ValueError(f"expected a span object, got {type(span).__name__}")
    halves: dict[str | None, dict[str, Any]] = {}  # kind (None: local) -> its parts
    marks: dict[str, Any] = {}  # core or wire annotation -> its timestamp
    other: list[tuple[dict[str, Any], dict[str, Any], bool]] = []  # (annotation, endpoint, wire)
    for a in _list(span, "annotations"):
        endpoint, value = _endpoint(a.get("endpoint")), a.get("value")
        known = isinstance(value, str) and value not in marks
        if known and value in CORE:
            half = halves.setdefault(CORE[value], _half({}))
            half["endpoint"] = half["endpoint"] or endpoint
            marks[value] = a.get("timestamp")
            continue
        if known and value in WIRE:
            marks[value] = a.get("timestamp")
        other.append(({"timestamp": a.get("timestamp"), "value": value}, endpoint,
                      known and value in WIRE))
    remotes: dict[str, dict[str, Any]] = {}
    tags: list[tuple[str, str, dict[str, Any]]] = []
    component: dict[str, Any] = {}  # the endpoint of "lc": a local span's own
    for ba in _list(span, "binaryAnnotations"):
        key, value = ba.get("key"), ba.get("value")
        if not isinstance(key, str):
            raise ValueError(f"binaryAnnotations: expected a string key, got {key!r}"[:200])
        endpoint = _endpoint(ba.get("endpoint"))
        if key in ADDRESSES and (value is True or str(value).lower() in ("1", "true")):
            remotes.setdefault(key, endpoint)
            continue
        if key == "lc":
            component = component or endpoint
        if value is not None and not (key == "lc" and value == ""):
            tags.append((key, _text(value), endpoint))
    if "sa" in remotes and not halves:
        # A span that only names its server (an uninstrumented peer: a database, a cache) is
        # the client side of that call.
        halves["CLIENT"] = _half(remotes.get("ca", {}))
    if not halves:
        local = component or next((e for _, e, _ in other if e), None) or next(
            (e for _, _, e in tags if e), {})
        halves[None] = _half(local)
    messaging = "PRODUCER" in halves or "CONSUMER" in halves
    order = [k for k in (*HALVES, None) if k in halves]
    for key, endpoint in remotes.items():
        target = next((k for k in ADDRESSES[key] if k in halves), None)
        if target and endpoint != halves[target]["endpoint"]:
            halves[target]["remote"] = endpoint
    for annotation, endpoint, wire in other:
        if not (wire and messaging):  # ws/wr time the messaging halves
            halves[_owner(halves, order, endpoint)]["annotations"].append(annotation)
    for key, value, endpoint in tags:
        halves[_owner(halves, order, endpoint)]["tags"][key] = value
    times = _times(span, halves, marks)
    return [(kind, _v2(span, kind, halves[kind], times[kind], halves)) for kind in order]


def _half(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {"endpoint": endpoint, "annotations": [], "tags": {}}


def _times(span: dict[str, Any], halves: dict[str | None, Any], marks: dict[str, Any]
           ) -> dict[str | None, tuple[Any, Any]]:
    """``(timestamp, duration)`` of each half as ``V1SpanConverter`` assigns them: the span's
    own timestamp and duration, when it states both, time the half that began the span (the
    client of a shared RPC, the producer of a shared message); otherwise the half's begin and
    end annotations do."""
    stated = (span.get("timestamp"), span.get("duration"))
    own = bool(stated[0]) and bool(stated[1])

    def timed(begin: str, end: str | None, first: bool = True) -> tuple[Any, Any]:
        start, stop = marks.get(begin), marks.get(end) if end else None
        if start is None or (own and first):
            return stated if own or start is None else (start, None)
        if stop is None or _micros(stop) <= _micros(start):  # as Zipkin: no skewed durations
            return start, None
        return start, _micros(stop) - _micros(start)

    rpc = "CLIENT" in halves and "SERVER" in halves
    msg = "PRODUCER" in halves and "CONSUMER" in halves
    return {
        "CLIENT": timed("cs", "cr"),
        "SERVER": timed("sr", "ss", first=not rpc),
        "PRODUCER": timed("ms", "ws"),
        "CONSUMER": timed("wr", "mr", not msg) if "wr" in marks else timed("mr", None, not msg),
        None: stated,
    }


def _owner(halves: dict[Any, dict[str, Any]], order: list[Any], endpoint: dict[str, Any]
           ) -> Any:
    """The half an annotation belongs to: the one its endpoint recorded, else the first."""
    name = endpoint.get("serviceName")
    for kind in order:
        if endpoint and (halves[kind]["endpoint"] == endpoint or (
                name and halves[kind]["endpoint"].get("serviceName") == name)):
            return kind
    first = order[0]
    if not halves[first]["endpoint"] and endpoint:
        halves[first]["endpoint"] = endpoint
    return first


def _v2(span: dict[str, Any], kind: str | None, half: dict[str, Any], times: tuple[Any, Any],
        halves: dict[str | None, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span.get("traceId"), "id": span.get("id"), "parentId": span.get("parentId"),
        "name": span.get("name"), "timestamp": times[0], "duration": times[1],
        "localEndpoint": half["endpoint"] or None, "remoteEndpoint": half.get("remote"),
        "annotations": sorted(half["annotations"], key=lambda a: _micros(a["timestamp"])),
        "tags": half["tags"], "debug": span.get("debug"),
    }
    if kind:
        out["kind"] = kind
    if kind == "SERVER" and "CLIENT" in halves:
        out["shared"] = True  # both sides of the RPC reported one span id
    if kind == "CONSUMER" and "PRODUCER" in halves:
        # One id for both sides of a message: the consumer becomes the producer's child.
        tid, sid = span.get("traceId"), span.get("id")
        out["id"] = _spans.derived_span_id(str(tid), str(sid))
        out["parentId"] = sid
    return {k: v for k, v in out.items() if v is not None}


def _list(span: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = span.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"field '{field}': expected an array of objects, got "
                         f"{str(value)[:60]!r}")
    return value


def _endpoint(value: Any) -> dict[str, Any]:
    """A v1 endpoint as v2 writes it: empty names, addresses and port 0 left out."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"field 'endpoint': expected an object, got {value!r}"[:200])
    return {k: value[k] for k in ("serviceName", "ipv4", "ipv6", "port")
            if value.get(k) not in (None, "", 0)}


def _micros(value: Any) -> int:
    """A timestamp for ordering and durations; what is no number orders first."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
