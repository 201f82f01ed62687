"""Cadence workflow histories as JSON: `cadence workflow show --of`, cadence-client replay files.

Written by the Cadence CLI (``cadence --do <domain> workflow show -w <id> --of h.json``,
0.x-1.x) and by cadence-client's ``GetWorkflowExecutionHistory`` dumps used as replay test
files: a bare JSON array of thrift ``HistoryEvent`` objects (also ``{"events": [...]}``).
Cadence is Temporal's ancestor, so the mapping is ``temporal_json``'s; the differences are the
tables below. Quirks handled:

- ``timestamp`` is int64 epoch nanoseconds (no ``eventTime``): converted without a float on the
  way, and kept whole as ``started_ns``/``ended_ns`` in detail;
- ``Decision*`` events are Temporal's ``WorkflowTask*``; ``taskList`` and ``domain`` are
  ``taskQueue`` and ``namespace``;
- payloads (``input``, ``result``, header and memo fields) are base64 bytes, several arguments
  as newline-separated JSON values (the Go client's encoding);
- failures are ``reason`` + base64 ``details`` (no Failure message), attempts count from 0;
- a marker's ``details`` are its data, never a failure: only a ``LocalActivity`` marker whose
  data (Go client: the details; Java client: the ``LocalActivityHeader`` header field) has an
  ``errReason`` records a failed local activity.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

import orjson

from ingest import temporal_json
from ingest.base import Batch, Source, first_json_value, us_from_ns
from ingest.temporal_json import NOTHING, Dialect

NAME = "cadence_json"

#: Cadence event types that are Temporal's under another name.
EVENT_ALIASES: dict[str, str] = {
    "DecisionTaskScheduled": "WorkflowTaskScheduled",
    "DecisionTaskStarted": "WorkflowTaskStarted",
    "DecisionTaskCompleted": "WorkflowTaskCompleted",
    "DecisionTaskTimedOut": "WorkflowTaskTimedOut",
    "DecisionTaskFailed": "WorkflowTaskFailed",
}

#: Cadence-only event types: failed cancel commands, part of the run and nothing more.
EXTRA_EVENTS = frozenset({"RequestCancelActivityTaskFailed", "CancelTimerFailed"})

#: Temporal field names -> Cadence's.
FIELDS: dict[str, str] = {
    "taskQueue": "taskList",
    "namespace": "domain",
    "parentWorkflowNamespace": "parentWorkflowDomain",
}

#: Where a Cadence event keeps what Temporal puts in a ``Failure``: (reason, details) fields,
#: the first pair an event has. WorkflowExecutionContinuedAsNew spells them failureReason and
#: failureDetails (set when a retry policy or cron schedule continues a failed run).
FAILURE_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "failure": (("reason", "details"), ("failureReason", "failureDetails")),
    "lastFailure": (("lastFailureReason", "lastFailureDetails"),),
}

#: The reason the server gives a timeout: ``cadenceInternal:Timeout START_TO_CLOSE``
#: (TimerTypeToReason in the Cadence server, the reason retry policies match).
TIMEOUT_REASON = "cadenceInternal:Timeout "

#: Longest failure details kept in an error text.
DETAILS_CAP = 500

#: The marker the Go and Java clients record a local activity's outcome in. The Go client
#: writes its localActivityMarkerData (activityId, activityType, errReason, errJson,
#: resultJson, replayTime, attempt, backoff; internal/internal_event_handlers.go) as the
#: details; the Java client writes those fields but the result to the ``LocalActivityHeader``
#: header field, and the result or the error details as the details. Version, SideEffect and
#: MutableSideEffect markers record values and never fail.
LOCAL_ACTIVITY_MARKER = "LocalActivity"
LOCAL_ACTIVITY_HEADER = "LocalActivityHeader"


def _bytes(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def payloads(value: Any) -> list[Any]:
    """The JSON values in a Cadence payload: one JSON document, or one per line."""
    data = _bytes(value)
    if data is None:
        return []
    try:
        return [orjson.loads(data)]
    except orjson.JSONDecodeError:
        pass
    out = []
    for line in data.splitlines():
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            return []  # not JSON-encoded arguments (thrift, protobuf, custom data converter)
    return out


def payload(value: Any) -> Any:
    """One header/memo/search-attribute value (base64 JSON bytes), or ``NOTHING``."""
    values = payloads(value)
    if len(values) == 1:
        return values[0]
    data = _bytes(value)
    if data is not None and data.isascii() and data.isprintable():
        return data.decode()  # plain text headers (tracing contexts written as strings)
    return NOTHING


def _details_text(value: Any) -> str | None:
    data = _bytes(value)
    if not data:
        return None
    try:
        decoded = orjson.loads(data)
        text = decoded if isinstance(decoded, str) else orjson.dumps(decoded).decode()
    except orjson.JSONDecodeError:
        text = data.decode("utf-8", "replace")
    text = text.strip()
    return text[:DETAILS_CAP] or None


def failure(attrs: dict[str, Any], which: str) -> tuple[str | None, dict[str, Any]]:
    """``reason: details`` of a Cadence failure, its reason as the failure type, and the
    timeout type when the reason is the server's for a timeout."""
    pairs = FAILURE_FIELDS[which]
    reason_field, details_field = next(
        (pair for pair in pairs if pair[0] in attrs or pair[1] in attrs), pairs[0])
    reason = attrs.get(reason_field)
    reason = reason if isinstance(reason, str) and reason else None
    details = _details_text(attrs.get(details_field))
    text = ": ".join(x for x in (reason, details) if x) or None
    if not reason or which != "failure":
        return text, {}
    detail = {"failure_type": reason}
    if reason.startswith(TIMEOUT_REASON):
        detail["timeout_type"] = temporal_json.enum_name(
            reason[len(TIMEOUT_REASON):].strip(), *temporal_json.ENUMS["timeoutType"]) or "timeout"
    return text, detail


def marker_failure(attrs: dict[str, Any],
                   values: list[Any]) -> tuple[str | None, dict[str, Any]]:
    """``errReason: errJson`` of a failed local activity's marker; no failure for the rest."""
    if attrs.get("markerName") != LOCAL_ACTIVITY_MARKER:
        return None, {}
    data = next((v for v in values
                 if isinstance(v, dict) and {"activityId", "activityType"} & v.keys()), None)
    errors = None
    if data is None:  # Java client: the data in the header, the error details in details
        data = payload(temporal_json._get(attrs, "header", "fields", LOCAL_ACTIVITY_HEADER))
        errors = _details_text(attrs.get("details"))
    if not isinstance(data, dict):
        return None, {}
    reason = data.get("errReason")
    if not isinstance(reason, str) or not reason:
        return None, {}
    if errors is None and isinstance(data.get("errJson"), str):
        errors = data["errJson"].strip()[:DETAILS_CAP] or None
    return ": ".join(x for x in (reason, errors) if x), {"failure_type": reason}


def event_time(event: dict[str, Any]) -> tuple[int | None, str | None]:
    """Epoch µs and the raw nanoseconds of ``timestamp`` (int64 ns, as a number or string)."""
    value = event.get("timestamp")
    if value is None:
        return temporal_json.temporal_time(event)  # proto-JSON exports write eventTime
    try:
        ns = int(value)  # ints from orjson stay exact; strings of digits too
    except OverflowError:  # a float infinity
        raise ValueError(f"field 'timestamp': expected int64 nanoseconds, got {value!r}") from None
    return us_from_ns(ns), str(ns)


CADENCE = Dialect(
    system="cadence", event_aliases=EVENT_ALIASES, extra_events=EXTRA_EVENTS, fields=FIELDS,
    task_word="decision task", time=event_time, payloads=payloads, payload=payload,
    failure=failure, marker_failure=marker_failure,
    attempt=lambda value: _attempt(temporal_json.as_int(value) or 0),
)


def _attempt(retries: int) -> int | None:
    """Cadence counts retries from 0; past an int32 (the thrift type) is no attempt count."""
    return retries + 1 if 0 <= retries < 2**31 - 1 else None


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    return (text[:1] in (b"[", b"{") and b'"eventId"' in text and b'"timestamp"' in text
            and b'EventAttributes"' in text and b'"eventTime"' not in text
            and not any(word in text for word in temporal_json.TEMPORAL_WORDS))


def parse(src: Source) -> Iterator[Batch]:
    yield from temporal_json.parse_histories(src, CADENCE)
