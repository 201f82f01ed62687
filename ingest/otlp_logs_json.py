"""OTLP logs as JSON: ExportLogsServiceRequest documents, or JSON lines of them.

Written by the OpenTelemetry Collector ``file`` exporter in a logs pipeline (one request per
line), ``otlp/json`` HTTP payloads to ``/v1/logs``, and SDK/test tools. Quirks handled, as for
``otlp_json`` traces: hex or base64 ids, int64 fields as strings, ``severityNumber`` as an
int or an enum name (``SEVERITY_NUMBER_INFO2``), snake_case field names. A value without
``resourceLogs`` is not a request and is one rejected record; ``{}`` is an empty request.

Each log record becomes a ``logs`` row: ``entity_uid`` is the span it was written in
(``otel:span:<trace>/<span>``, the uid the trace ingestors give that span) when it carries
both ids; the time is ``timeUnixNano``, else ``observedTimeUnixNano``; severity is folded
from ``severityNumber`` (1-4 trace ... 21-24 fatal), else from ``severityText``; the body
(any AnyValue) is text, JSON for maps and arrays; attributes (``exception.*`` among them),
resource attributes and the scope go into ``detail``. Logs are not entities: they carry no keys.
The uid hashes what identifies the record (ids, times, severity, body, attributes, service), so
the same record gives the same row from JSON or protobuf, and on re-ingest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import orjson

from ingest import otlp_json
from ingest._json import json_documents, raw_text, shape
from ingest.base import (
    SHAPE_ERRORS,
    Batch,
    BatchBuilder,
    Source,
    dumps,
    first_json_value,
    span_id,
    trace_id,
    us_from_ns,
)
from tracemap.model import Severity

NAME = "otlp_logs_json"
#: Each JSON line is one ExportLogsServiceRequest (the Collector's file exporter), mapped
#: without the others: a large file is parsed in ranges of lines (``tracemap.load``).
LINE_RECORDS = True

#: Severity of each SeverityNumber range of four (TRACE=1..4, DEBUG=5..8 ... FATAL=21..24).
NUMBER_SEVERITIES = (Severity.TRACE, Severity.DEBUG, Severity.INFO, Severity.WARN,
                     Severity.ERROR, Severity.FATAL)
#: First SeverityNumber of each range, by the word the enum names use (``INFO2`` = 9 + 1).
SEVERITY_BASES: dict[str, int] = {str(s): 4 * i + 1 for i, s in enumerate(NUMBER_SEVERITIES)}
#: severityText spellings (lower-cased, trailing digits cut) -> severity, for records without a
#: number: log4j/logback, Python logging, syslog, .NET, Go slog, glog initials.
SEVERITY_TEXTS: dict[str, Severity] = {
    "trace": Severity.TRACE, "finest": Severity.TRACE, "finer": Severity.TRACE,
    "verbose": Severity.TRACE,
    "debug": Severity.DEBUG, "dbg": Severity.DEBUG, "fine": Severity.DEBUG, "d": Severity.DEBUG,
    "info": Severity.INFO, "information": Severity.INFO, "informational": Severity.INFO,
    "notice": Severity.INFO, "config": Severity.INFO, "i": Severity.INFO,
    "warn": Severity.WARN, "warning": Severity.WARN, "w": Severity.WARN,
    "error": Severity.ERROR, "err": Severity.ERROR, "severe": Severity.ERROR,
    "e": Severity.ERROR,
    "fatal": Severity.FATAL, "critical": Severity.FATAL, "crit": Severity.FATAL,
    "alert": Severity.FATAL, "emergency": Severity.FATAL, "emerg": Severity.FATAL,
    "panic": Severity.FATAL, "f": Severity.FATAL,
}
_ENUM_NAME = re.compile(r"^(?:severity_number_)?([a-z]+)(\d?)$")


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)[:2048]
    return text.startswith(b"{") and (b'"resourceLogs"' in text or b'"resource_logs"' in text)


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    for location, doc in json_documents(src, b, before="bom"):
        yield from logs_from_request(doc, location, b)
    yield b.take()


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    return d.get(camel, d.get(snake))


def logs_from_request(doc: Any, location: str, b: BatchBuilder) -> Iterator[Batch]:
    """Add the log records of one ExportLogsServiceRequest (as a dict) to the builder,
    yielding batches as they fill (one request may hold millions of records)."""
    if not isinstance(doc, dict):
        b.read()
        b.reject(location, f"expected an ExportLogsServiceRequest object, got {type(doc).__name__}")
        return
    if "resourceLogs" not in doc and "resource_logs" not in doc:
        if doc:  # {} is an empty request (protobuf's JSON mapping leaves empty lists out)
            b.read()
            b.reject(location, "expected an ExportLogsServiceRequest object with "
                     f"'resourceLogs', got {shape(doc)}", raw_text(doc, 300))
        return
    for i, rl in _items(_get(doc, "resourceLogs", "resource_logs"), f"{location} resourceLogs",
                        b):
        if not isinstance(rl, dict):
            b.read()
            b.reject(f"{location} resourceLogs[{i}]", "expected an object")
            continue
        # A resource of the wrong shape would leave its records without their service:
        # they are rejected instead, saying why.
        res, resource, unreadable = rl.get("resource"), {}, None
        if res is not None and not isinstance(res, dict):
            unreadable = f"resourceLogs[{i}].resource: expected an object, got {type(res).__name__}"
        else:
            try:
                resource = otlp_json.attributes((res or {}).get("attributes"))
            except SHAPE_ERRORS as exc:  # attribute values nested past what Python recurses
                unreadable = f"resourceLogs[{i}].resource is unreadable: {exc}"
        service = str(resource.get("service.name") or "unknown_service")
        for j, sl in _items(_get(rl, "scopeLogs", "scope_logs")
                            or _get(rl, "instrumentationLibraryLogs",
                                    "instrumentation_library_logs"),
                            f"{location} resourceLogs[{i}].scopeLogs", b):
            if not isinstance(sl, dict):
                continue
            scope = sl.get("scope") or sl.get("instrumentationLibrary") or {}
            scope_name = str(scope.get("name") or "") if isinstance(scope, dict) else ""
            for k, rec in _items(_get(sl, "logRecords", "log_records"),
                                 f"{location} resourceLogs[{i}].scopeLogs[{j}].logRecords", b):
                where = f"{location} resourceLogs[{i}].scopeLogs[{j}].logRecords[{k}]"
                b.read()
                if not isinstance(rec, dict):
                    b.reject(where, f"expected a log record object, got {type(rec).__name__}")
                    continue
                if unreadable:
                    b.reject(where, unreadable, str(rec)[:300])
                    continue
                mark = b.mark()
                try:
                    _add_log(b, rec, where, service, resource, scope_name)
                except SHAPE_ERRORS as exc:
                    b.restore(mark)
                    b.reject(where, f"log record has a field of the wrong type: {exc}",
                             str(rec)[:300])
                    continue
                b.loaded()
                if b.ready():
                    yield b.take()


def _items(value: Any, where: str, b: BatchBuilder) -> list[tuple[int, Any]]:
    """The elements of a list field; anything else but null is one rejected record."""
    if isinstance(value, list):
        return list(enumerate(value))
    if value is not None:
        b.read()
        b.reject(where, f"expected a list, got {type(value).__name__}", str(value)[:300])
    return []


def _add_log(b: BatchBuilder, rec: dict[str, Any], where: str, service: str,
             resource: dict[str, Any], scope: str) -> None:
    tid = trace_id(_get(rec, "traceId", "trace_id"))
    sid = span_id(_get(rec, "spanId", "span_id"))
    time_ns = _ns(_get(rec, "timeUnixNano", "time_unix_nano"))
    observed_ns = _ns(_get(rec, "observedTimeUnixNano", "observed_time_unix_nano"))
    number = severity_number(_get(rec, "severityNumber", "severity_number"))
    text = _get(rec, "severityText", "severity_text") or None
    body = otlp_json.any_value(rec.get("body"))
    body_text = body if isinstance(body, str) or body is None else dumps(body)
    attrs = otlp_json.attributes(rec.get("attributes"))
    identity = [tid, sid, time_ns, observed_ns, number, text, body_text, service, attrs]
    uid = "otel:log:" + hashlib.sha256(
        orjson.dumps(identity, default=str, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    detail = {**{k: v for k, v in resource.items() if k != "service.name"}, **attrs,
              "otel.scope": scope, "severity_text": text,
              "event_name": _get(rec, "eventName", "event_name") or None,
              "flags": rec.get("flags") or None,
              "observed_time_unix_nano": str(observed_ns) if observed_ns and time_ns else None}
    b.log(uid=uid, entity_uid=f"otel:span:{tid}/{sid}" if tid and sid else None, trace_id=tid,
          span_id=sid, service=service, time=us_from_ns(time_ns or observed_ns),
          severity=fold_severity(number, text), severity_number=number or None, body=body_text,
          location=where, detail={k: v for k, v in detail.items() if v is not None})


def _ns(value: Any) -> int | None:
    """Epoch ns from an int or numeric string; 0 (unset) is None."""
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except OverflowError:
        raise ValueError(f"time {str(value)[:40]!r} is not a finite number") from None
    if n >= 2**63:
        raise ValueError(f"time {str(value)[:40]!r} is past the int64 nanoseconds OTLP uses")
    return n if n > 0 else None


def severity_number(value: Any) -> int | None:
    """A SeverityNumber from an int, numeric string or enum name (``SEVERITY_NUMBER_INFO2``)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**31 else None  # an INTEGER column; the enum ends at 24
    text = str(value).strip().lower()
    if text.isdigit():
        return severity_number(int(text))
    m = _ENUM_NAME.match(text)
    if m and m.group(1) in SEVERITY_BASES:
        return SEVERITY_BASES[m.group(1)] + int(m.group(2) or 1) - 1
    return None


def fold_severity(number: int | None, text: str | None) -> str:
    """The shared Severity of a record: from its number when in 1-24, else from its text."""
    if number and 1 <= number <= 24:
        return NUMBER_SEVERITIES[(number - 1) // 4]
    if text:
        word = str(text).strip().lower().rstrip("0123456789")
        if word in SEVERITY_TEXTS:
            return SEVERITY_TEXTS[word]
    return Severity.UNKNOWN
