"""Jaeger traces as JSON: query API responses, UI downloads, api_v3 results, span arrays.

Shapes read (Jaeger 1.x and 2.x):

- query HTTP API ``GET /api/traces[/<id>]`` (what the UI's "Trace JSON" and search downloads
  save): ``{"data": [{traceID, spans, processes, warnings}], total, limit, offset, errors}``;
  ``errors`` (``[{code, msg, traceID}]``, e.g. trace not found) are rejected records;
- one trace object ``{traceID, spans, processes}`` (UI model, ``jaeger-ui`` upload files), also
  as the UI holds it in its store, ``{"data": <trace>, "id", "state": "FETCH_DONE"}``
  (``packages/jaeger-ui/src/reducers/trace``; spans carry their ``process`` inline and
  ``references[].span`` copies of the parent, which are ignored);
- api_v3 ``GET /api/v3/traces...``: ``{"result": <OTLP TracesData>}`` (one per line when
  streamed), handed to ``otlp_json``; ``{"error": {httpCode, message}}`` is a rejected record;
- span arrays with an inline ``process`` per span (``jaeger-anonymizer`` output, written as
  ``[`` + one span per line + ``]``: a cut-off file is read line by line, as Jaeger's uiconv
  does), and JSON lines of spans (the collector's Kafka exporter with ``encoding=json``);
- the Go domain model ``model.Trace`` as ``encoding/json`` writes it (Jaeger's storage
  integration fixtures before 1.9): ``{"Spans": [...]}``, short hex ids (``"11"``), RFC 3339
  ``startTime`` and ``duration`` in nanoseconds (``time.Duration``), ``process`` inline;
- the protobuf JSON mapping of the api_v2 model (``grpcurl`` against the query service, storage
  fixtures): ``traceId``/``spanId`` in base64, RFC 3339 ``startTime``, ``"0.000123s"``
  durations, tags ``{key, vType, vStr|vBool|vInt64|vFloat64|vBinary}`` with defaults omitted
  (no ``vType`` = STRING, no ``refType`` = CHILD_OF).

Quirks: 64-bit trace ids (16 hex digits) are padded to 128 bits so they join OTLP ones; int64
tag values arrive as strings (JS-safe); bool tags as ``"true"`` strings (anonymizer); duplicate
span ids (Zipkin-style shared client/server spans, see ``_spans.split_shared``).

Each span goes through ``otlp_json``'s mapping the way Jaeger's own jaeger->OTLP translator
would shape it: the first CHILD_OF reference in the same trace is the parent, every other
reference (FOLLOWS_FROM, or CHILD_OF into another trace) a span link; tags ``span.kind``,
``error``, ``otel.status_code``/``otel.status_description`` and ``otel.scope.*`` become kind,
status and scope; span logs become events (``event`` names them); process tags become resource
attributes. An ``error`` tag that is true (bool or ``"true"``) fails the span; the text comes
from ``otel.status_description`` or a log with ``event: error`` (OpenTracing).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from ingest import _spans, otlp_json
from ingest._json import json_documents
from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    first_json_value,
    loads,
    span_id,
    trace_id,
    us_from_iso,
)

NAME = "jaeger_json"
#: What ``sniff`` looks for (said for a file no format claims).
LOOKS_FOR = ("spans with operationName and spanID: {data: [traces]}, a trace {traceID, spans}, "
             "a span array, or an api_v3 {result}")

#: Tag ``type`` (query API / UI) -> OTLP AnyValue field.
TAG_TYPES = {"string": "stringValue", "bool": "boolValue", "int64": "intValue",
             "float64": "doubleValue", "binary": "bytesValue"}
#: api_v2 protobuf JSON: ``vType`` -> the field holding the value (STRING, the zero enum, is
#: omitted by the protobuf JSON mapping, and so is any zero value).
JSONPB_FIELDS = {"string": "vStr", "bool": "vBool", "int64": "vInt64", "float64": "vFloat64",
                 "binary": "vBinary"}
#: What the protobuf JSON mapping omits for a zero value, per type.
ZERO_VALUES: dict[str, Any] = {"string": "", "bool": False, "int64": 0, "float64": 0.0,
                               "binary": ""}
#: ``refType`` spellings (names, or enum numbers when marshalled with ints) -> link attribute.
REF_TYPES = {"child_of": "child_of", "follows_from": "follows_from", "0": "child_of",
             "1": "follows_from"}
#: ``otel.status_code`` tag values -> OTLP status code.
STATUS_TAGS = {"ok": 1, "error": 2, "unset": 0}
#: Tags that hold span fields in Jaeger and go back into those fields, not into attributes.
FOLDED_TAGS = frozenset({"span.kind", "otel.status_code", "otel.status_description",
                         "otel.scope.name", "otel.scope.version", "otel.library.name",
                         "otel.library.version"})
#: Process tags Jaeger clients write -> the OTel resource attribute they are (as Jaeger's
#: jaeger->OTLP translator renames them), so host filters work across formats.
PROCESS_TAGS = {"hostname": "host.name"}
#: Fields of an ``event: error`` log (OpenTracing) that carry the error text, best first.
ERROR_LOG_FIELDS = ("message", "error.message", "error.object", "error.kind")

#: Duration units (protobuf ``s``, Go's ``time.Duration`` spellings) in µs.
DURATION_UNITS_US: dict[str, Decimal] = {
    "ns": Decimal("0.001"), "us": Decimal(1), "µs": Decimal(1), "μs": Decimal(1),
    "ms": Decimal(1000), "s": Decimal(1_000_000), "m": Decimal(60_000_000),
    "h": Decimal(3_600_000_000)}

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|μs|ms|s|m|h)")
_V3 = re.compile(rb'^\{\s*"(?:result|error)"\s*:\s*\{')
_KCAT = re.compile(rb'^\{\s*"topic"\s*:')
_EMPTY = re.compile(rb'^\{\s*"data"\s*:\s*(?:\[\s*\]|null)')


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if not text.startswith((b"{", b"[")):
        return False
    if _V3.match(text):
        return b'"resourceSpans"' in text or b'"resource_spans"' in text or b'"httpCode"' in text
    if _EMPTY.match(text):
        return b'"total"' in text or b'"errors"' in text
    if _KCAT.match(text):
        return False  # a kcat envelope whose decoded payload is a Jaeger span (jaeger-spans topic)
    return b'"operationName"' in text and (b'"spanID"' in text or b'"spanId"' in text)


#: Loose spans (JSON lines of spans, a salvaged span array) are mapped this many at a time,
#: so parents and services are resolved across lines without holding a whole file.
LOOSE_SPANS = 20_000


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    loose: list[tuple[str, Any]] = []
    for location, doc in json_documents(src, b, before="bom", salvage=_anonymizer_lines):
        is_span = isinstance(doc, dict) and ("spanID" in doc or "spanId" in doc)
        if is_span:
            loose.append((location, doc))
        if loose and (not is_span or len(loose) >= LOOSE_SPANS):
            _add_spans(loose, {}, src, b)
            loose = []
        if not is_span:
            yield from _document(doc, location, src, b)
        if b.ready():
            yield b.take()
    if loose:
        _add_spans(loose, {}, src, b)
    yield b.take()


def _document(doc: Any, loc: str, src: Source, b: BatchBuilder) -> Iterator[Batch]:
    """One JSON document, whichever of the shapes in the module docstring it has; yields
    batches as they fill (an API response may hold thousands of traces)."""
    if isinstance(doc, list):
        if all(isinstance(x, dict) and "spans" in x for x in doc) and doc:
            for i, trace in enumerate(doc):
                _add_trace(trace, loc, f"[{i}].", src, b)
                if b.ready():
                    yield b.take()
        else:
            spans = ((f"{loc} [{i}]", span) for i, span in enumerate(doc))
            for chunk in _spans.by_trace(spans, LOOSE_SPANS):
                _add_spans(chunk, {}, src, b)
                if b.ready():
                    yield b.take()
        return
    if not isinstance(doc, dict):
        b.read()
        b.reject(loc, f"expected a Jaeger API response, trace or span; got {type(doc).__name__}")
        return
    if "result" in doc:
        otlp_json.spans_from_request(doc["result"], f"{loc} result", src, b)
    elif isinstance(doc.get("error"), dict):
        err = doc["error"]
        b.read()
        b.reject(f"{loc} error", "the Jaeger api_v3 returned an error, not traces: "
                 f"{err.get('httpCode', '')} {err.get('message', '')}".strip(), str(doc)[:300])
    elif isinstance(doc.get("data"), dict) and "spans" in doc["data"]:
        _add_trace(doc["data"], loc, "data.", src, b)  # a Jaeger UI trace state {data, id, state}
    elif "data" in doc:
        data = doc.get("data") or []
        if not isinstance(data, list):
            b.read()
            b.reject(f"{loc} data", f"expected a list of traces, got {type(data).__name__}")
            data = []
        for i, trace in enumerate(data):
            _add_trace(trace, loc, f"data[{i}].", src, b)
            if b.ready():
                yield b.take()
        errors = doc.get("errors") or []
        for j, err in enumerate(errors if isinstance(errors, list) else [errors]):
            b.read()
            what = err if not isinstance(err, dict) else (
                f"trace {err.get('traceID') or '?'}: {err.get('code', '')} {err.get('msg', '')}")
            b.reject(f"{loc} errors[{j}]", f"the Jaeger query API reported an error: {what}",
                     str(err)[:300])
    elif "spans" in doc:
        _add_trace(doc, loc, "", src, b)
    elif isinstance(doc.get("Spans"), list):  # Go encoding/json of the domain model.Trace
        _add_trace({"spans": doc["Spans"]}, loc, "", src, b)
    else:
        b.read()
        b.reject(loc, "expected a Jaeger API response {data: [...]}, a trace {traceID, spans, "
                 f"processes}}, a span or an api_v3 {{result: ...}}; got keys {sorted(doc)[:8]}",
                 str(doc)[:300])


def _add_trace(trace: Any, loc: str, path: str, src: Source, b: BatchBuilder) -> None:
    """The spans of one trace object at ``path`` (``data[0].``) of the document at ``loc``."""
    spans = trace.get("spans") if isinstance(trace, dict) else None
    if not isinstance(spans, list):
        b.read()
        b.reject(f"{loc} {path.rstrip('.')}".rstrip(), "expected a trace object with a 'spans' "
                 "list", str(trace)[:300])
        return
    processes = trace.get("processes")
    if isinstance(trace.get("warnings"), list) and trace["warnings"]:
        # Adjuster warnings (clock skew, duplicate ids, missing parents) say how far to trust
        # the trace's times; they belong to no single span.
        b.note("jaeger_warnings", [str(w) for w in trace["warnings"][:20]])
    _add_spans([(f"{loc} {path}spans[{i}]", s) for i, s in enumerate(spans)],
               processes if isinstance(processes, dict) else {}, src, b)


def _add_spans(spans: list[tuple[str, Any]], processes: dict[str, Any], src: Source,
               b: BatchBuilder) -> None:
    decoded: list[_spans.Decoded] = []
    for where, span in spans:
        try:
            decoded.append((where, *to_otlp(span, processes)))
        except (TypeError, ValueError, AttributeError) as exc:
            b.read()
            b.reject(where, str(exc), str(span)[:300])
    _spans.add_spans(decoded, src, b)


def _first(d: dict[str, Any], *names: str) -> Any:
    for name in names:
        if d.get(name) not in (None, ""):
            return d[name]
    return None


def to_otlp(span: Any, processes: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any],
                                                           str]:
    """A Jaeger span as ``(OTLP/JSON span, service, resource attributes, scope)``.

    Raises ValueError (with the reason a reject gives) when the span cannot be used.
    """
    if not isinstance(span, dict):
        raise ValueError(f"expected a span object, got {type(span).__name__}")
    raw_tid, raw_sid = _first(span, "traceID", "traceId"), _first(span, "spanID", "spanId")
    tid, sid = trace_id(raw_tid), span_id(raw_sid)
    if not tid or not sid:
        raise ValueError("expected a non-zero traceID (16 or 32 hex digits, or base64) and "
                         f"spanID (16 hex digits); got {raw_tid!r}/{raw_sid!r}")
    process = span.get("process")
    if not isinstance(process, dict):
        process = processes.get(str(_first(span, "processID", "processId"))) or {}
    service = str(process.get("serviceName") or "unknown_service")
    resource = otlp_json.attributes([_tag(t) for t in process.get("tags") or []])
    for name, otel_name in PROCESS_TAGS.items():
        if name in resource and otel_name not in resource:
            resource[otel_name] = resource.pop(name)
    resource["service.name"] = service
    tags = [kv for kv in (_tag(t) for t in span.get("tags") or []) if kv]
    plain = otlp_json.attributes(tags)
    kind = _spans.KIND_CODES.get(str(plain.get("span.kind") or "").lower(), 0)
    events = [_event(log) for log in span.get("logs") or [] if isinstance(log, dict)]
    code, message, error_folded = _status(plain, events)
    attrs = [kv for kv in tags if kv["key"] not in FOLDED_TAGS
             and not (kv["key"] == "error" and error_folded)]
    if span.get("warnings"):
        attrs.append({"key": "jaeger.warnings", "value": {"arrayValue": {"values": [
            {"stringValue": str(w)} for w in span["warnings"]]}}})
    parent, links = _references(span.get("references"), tid)
    if parent is None:
        parent = span_id(_first(span, "parentSpanID", "parentSpanId"))
    start = _micros(span.get("startTime"), "startTime")
    # An RFC 3339 start is the Go model's time.Time: its bare-integer duration is time.Duration
    duration = _duration(span.get("duration"), ns=isinstance(span.get("startTime"), str))
    scope = str(plain.get("otel.scope.name") or plain.get("otel.library.name") or "")
    otlp = {
        "traceId": tid, "spanId": sid, "parentSpanId": parent,
        "name": str(span.get("operationName") or ""), "kind": kind,
        "startTimeUnixNano": start * 1000 if start else None,
        "endTimeUnixNano": (start + duration) * 1000 if start and duration is not None else None,
        "attributes": attrs, "events": events, "links": links,
        "status": {"code": code, "message": message},
    }
    return otlp, service, resource, scope


def _tag(tag: Any) -> dict[str, Any] | None:
    """A Jaeger tag (query API ``{key, type, value}`` or api_v2 ``{key, vType, v...}``) as an
    OTLP KeyValue."""
    if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
        return None
    if "type" in tag or "value" in tag:
        typ = str(tag.get("type") or "string").lower()
        value = tag.get("value")
    else:
        typ = str(tag.get("vType") or "string").lower()
        value = tag.get(JSONPB_FIELDS.get(typ, "vStr"))
    if value is None:
        value = ZERO_VALUES.get(typ, "")
    if typ == "bool" and not isinstance(value, bool):
        value = str(value).strip().lower() == "true"
    elif typ not in TAG_TYPES:
        typ = "string"
    if typ == "string" and not isinstance(value, str):
        value = str(value)
    return {"key": tag["key"], "value": {TAG_TYPES[typ]: value}}


def _event(log: dict[str, Any]) -> dict[str, Any]:
    fields = [kv for kv in (_tag(f) for f in log.get("fields") or []) if kv]
    name = next((otlp_json.any_value(kv["value"]) for kv in fields if kv["key"] == "event"), "")
    ts = _micros(log.get("timestamp"), "logs.timestamp")
    return {"name": str(name), "timeUnixNano": ts * 1000 if ts else None,
            "attributes": [kv for kv in fields if kv["key"] != "event"]}


def _status(tags: dict[str, Any], events: list[dict[str, Any]]) -> tuple[int, str | None, bool]:
    """``(OTLP status code, message, whether the error tag was folded into the status)``."""
    err = tags.get("error")
    # An error tag is bool in Jaeger; a string one is "true" (anonymizer) or, from Zipkin
    # instrumentation, the error text itself (Zipkin fails a span on any error tag).
    failed = err is True or (isinstance(err, str) and err.strip().lower() not in ("false", "0"))
    folded = err is True or (isinstance(err, str) and err.strip().lower() == "true")
    code_tag = str(tags.get("otel.status_code") or "").lower().removeprefix("status_code_")
    code = 2 if failed else STATUS_TAGS.get(code_tag, 0)
    message = tags.get("otel.status_description")
    if code == 2 and not message:
        for event in events:
            if event["name"] == "error":
                fields = otlp_json.attributes(event["attributes"])
                message = next((fields[f] for f in ERROR_LOG_FIELDS if fields.get(f)), None)
                if message:
                    break
        if not message and isinstance(err, str) and not folded and err.strip():
            message = err
    return code, str(message) if message else None, folded


def _references(refs: Any, tid: str) -> tuple[str | None, list[dict[str, Any]]]:
    """The parent (first CHILD_OF in the same trace) and the other references as span links."""
    parent: str | None = None
    links: list[dict[str, Any]] = []
    for ref in refs if isinstance(refs, list) else []:
        if not isinstance(ref, dict):
            continue
        rtid = trace_id(_first(ref, "traceID", "traceId"))
        rsid = span_id(_first(ref, "spanID", "spanId"))
        if not rtid or not rsid:
            continue
        rtype = REF_TYPES.get(str(ref.get("refType", "CHILD_OF")).lower(), "child_of")
        if parent is None and rtype == "child_of" and rtid == tid:
            parent = rsid
            continue
        links.append({"traceId": rtid, "spanId": rsid, "attributes": [
            {"key": "opentracing.ref_type", "value": {"stringValue": rtype}}]})
    return parent, links


def _micros(value: Any, field: str) -> int | None:
    """Epoch µs from the query API's integer µs or the api_v2 JSON's RFC 3339 text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"field '{field}': expected epoch microseconds, got {value!r}")
    if isinstance(value, int):
        return value or None
    if isinstance(value, float):
        return int(value) or None
    text = str(value).strip()
    if text.isdigit():
        return int(text) or None
    try:
        return us_from_iso(text)
    except ValueError:
        raise ValueError(f"field '{field}': expected epoch microseconds or RFC 3339 time, "
                         f"got {value!r}") from None


def _duration(value: Any, *, ns: bool = False) -> int | None:
    """Duration in µs: an integer (query API µs; ``ns``: the Go model's ``time.Duration``
    nanoseconds, as ``encoding/json`` writes it), a protobuf Duration (``"0.000123s"``) or a Go
    duration (``"5000ns"``, ``"1m2.5s"``: gogo jsonpb accepts them and fixtures use them)."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value // 1000 if ns else value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"field 'duration': expected microseconds or a duration like "
                         f"'0.000123s', got {value!r}")
    return int(sum(Decimal(n) * DURATION_UNITS_US[u] for n, u in parts))


def _anonymizer_lines(data: bytes, b: BatchBuilder) -> list[tuple[str, Any]] | None:
    """Spans of a cut-off ``[`` + one span per line array (jaeger-anonymizer), or None."""
    lines = data.split(b"\n")
    if not lines or not lines[0].lstrip().startswith(b"["):
        return None
    out: list[tuple[str, Any]] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if number == 1:
            text = text[1:].strip()
        text = text.rstrip(b",").strip()
        if text in (b"", b"]"):
            continue
        try:
            out.append((f"line {number}", loads(text)))
        except ValueError as exc:
            if not out and number == 1:
                return None  # not one span per line: the file is simply broken
            b.read()
            b.reject(f"line {number}", f"expected one span object per line (cut off?): {exc}",
                     raw)
    return out
