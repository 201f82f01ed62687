"""Amazon EventBridge events: delivered envelopes, or PutEvents requests that send them.

Envelopes are what EventBridge delivers to targets (Lambda, SQS, CloudWatch Logs, archives,
``aws events test-event-pattern`` samples): ``{version, id, detail-type, source, account,
time, region, resources[], detail{}, replay-name?}``, one per file, a JSON array, or JSON
lines. PutEvents requests (``aws events put-events --cli-input-json``, SDK request logs)
are ``{"Entries": [{Source, DetailType, Detail (a JSON *string*), Resources, EventBusName,
Time (epoch seconds, or a timestamp string in CLI input), TraceHeader}], "EndpointId"?}``.

Rows: one message per event on channel = the event bus (``EventBusName``, name or ARN; a
delivered envelope does not name its bus, so the ``bus`` option or ``default``), component
``eventbridge:bus:<name>``, event type = ``detail-type``, uid ``eventbridge:msg:<id>`` and
key ``message_id`` = ``id``. PutEvents entries have no id until EventBridge assigns one, so
their uid is ``eventbridge:msg:putevents/<hash>/<n>``: the first 12 hex digits of the SHA-1
of the entry, and its occurrence number among identical entries of the file.

Links and keys: every Step Functions execution ARN in ``resources`` (or ``detail.
executionArn``) becomes an ``execution_arn`` key; a "Step Functions Execution Status Change"
event is emitted by that execution, so it also gets the link ``stepfunctions:run:<arn>``
-> message (``emits``). Other events naming an execution (the Step Functions
``events:putEvents`` integration adds the execution and state machine ARNs to
``resources``) only get the key: the key alone joins them to the run. ``detail`` goes
through the payload key rules; a few ids other systems log (``DETAIL_KEYS``) become keys;
an X-Ray ``TraceHeader`` gives trace/span ids.

The LocalStack Step Functions snapshot that embeds captured events
(``stepfunctions_events``) is the stepfunctions ingestors' file; ``add_event`` is public so
they can add those events the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from functools import partial
from typing import Any

from ingest._json import (
    at,
    compact,
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
    cap_payload,
    dumps,
    first_json_value,
    loads,
    us_from_iso,
    us_from_s,
    xray_keys,
)
from tracemap.model import EdgeKind, KeyKind, Status, business_key, channel_component

NAME = "eventbridge_json"

SFN_STATUS_CHANGE = "Step Functions Execution Status Change"
#: Standard (``execution``) and Express (``express``) execution ARNs, any partition.
SFN_EXECUTION_ARN = re.compile(r"^arn:[^:]+:states:[^:]*:[^:]*:(?:execution|express):")
#: ``detail`` fields that carry ids other systems record -> key kind.
#: (Step Functions ``executionArn`` is handled with the execution ARNs of ``resources``.)
DETAIL_KEYS: dict[str, str] = {
    "jobRunId": KeyKind.JOB_RUN_ID,  # Glue Job State Change
    "execution-id": business_key("pipeline_execution_id"),  # CodePipeline
}
#: ``detail`` fields copied into the row's ``detail`` (state and the ids above).
DETAIL_KEPT = ("status", "state", "executionArn", "stateMachineArn", "execution-id",
               "pipeline", "stage", "action", "jobName", "jobRunId")
#: Envelope fields that mark an event (one of them first in an object cut by the sniff limit).
ENVELOPE_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region",
                   "resources", "detail")
#: PutEvents entry field -> envelope field.
ENTRY_FIELDS = {"Source": "source", "DetailType": "detail-type", "Detail": "detail",
                "Resources": "resources", "Time": "time", "EventBusName": "event-bus-name",
                "TraceHeader": "trace-header"}


def sniff(head: bytes, path: str) -> bool:
    obj = head_object(head)
    if obj is not None:
        return _is_event(obj) or _is_request(obj)
    text = first_json_value(head)
    return ((starts_with_key(head, *ENVELOPE_FIELDS) and b'"detail-type"' in text)
            or (starts_with_key(head, "Entries", "EndpointId") and b'"DetailType"' in text))


def _is_event(obj: dict[str, Any]) -> bool:
    return "detail-type" in obj and "source" in obj


def _is_request(obj: dict[str, Any]) -> bool:
    entries = obj.get("Entries")
    return (isinstance(entries, list) and bool(entries) and isinstance(entries[0], dict)
            and ("DetailType" in entries[0] or "Detail" in entries[0]))


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    seen: Counter[str] = Counter()
    expected = "an EventBridge event (detail-type, source, detail) or a PutEvents request"
    for where, value in json_values(src, b, expected):
        for loc, event, bus in _events(value, where):
            if event is None:
                b.read()
                b.reject(loc, "expected an EventBridge event object or a PutEvents request "
                         "with 'Entries', got " + shape(value), raw_json(value))
                continue
            b.record(partial(add_event, b, src, bus=bus, seen=seen), event, loc, raw=raw_json,
                     catch=True)
            if b.ready():
                yield b.take()
    yield b.take()


def _events(value: Any, where: str) -> Iterator[tuple[str, Any, str | None]]:
    """``(location, event or entry, bus)`` for an event, an array, or a PutEvents request."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _events(item, at(where, f"[{i}]"))
    elif isinstance(value, dict) and isinstance(value.get("Entries"), list):
        for i, entry in enumerate(value["Entries"]):
            yield at(where, f"Entries[{i}]"), _entry(entry), None
    elif isinstance(value, dict):
        yield where or "event", value, None
    else:
        yield where or "event", None, None


def _entry(entry: Any) -> Any:
    """A PutEvents entry in the envelope's spelling (``Detail`` decoded when it is JSON)."""
    if not isinstance(entry, dict):
        return entry
    event = {ENTRY_FIELDS.get(k, k): v for k, v in entry.items()}
    detail = event.get("detail")
    if isinstance(detail, str):
        try:
            event["detail"] = loads(detail)
        except ValueError:
            event["detail_malformed"] = True  # PutEvents itself refuses it (MalformedDetail)
    event["_entry"] = entry
    return event


def add_event(b: BatchBuilder, src: Source, event: dict[str, Any], where: str,
              bus: str | None = None, seen: Counter[str] | None = None) -> str | None:
    """Add one EventBridge event (envelope, or a PutEvents entry in envelope spelling).

    Returns why the event is unusable, or None. ``seen`` counts identical id-less entries so
    each gets its own uid; pass one Counter per file.
    """
    if not isinstance(event, dict):
        return f"expected an EventBridge event object, got {shape(event)}"
    detail_type, source = event.get("detail-type"), event.get("source")
    if not detail_type or not source:
        return ("expected an EventBridge event with 'detail-type' and 'source', got "
                + shape(event.get("_entry", event)))
    entry = event.get("_entry")
    bus_name = _bus(event.get("event-bus-name")) or bus or src.options.get("bus") or "default"
    uid = _uid(event, entry, seen)
    detail = event.get("detail")
    produced, time_raw = _time(event.get("time"))
    listed = event.get("resources")
    resources = [r for r in listed if isinstance(r, str)] if isinstance(listed, list) else []
    text, cut = cap_payload(detail)
    kept = {k: detail.get(k) for k in DETAIL_KEPT} if isinstance(detail, dict) else {}
    b.message(uid=uid, system="eventbridge", component=channel_component("eventbridge", bus_name),
              channel=bus_name, event_type=str(detail_type), msg_key=None, produced_at=produced,
              status=Status.OK, headers=None, payload=text, location=where,
              detail=compact({"source": source, "account": event.get("account"),
                              "region": event.get("region"), "version": event.get("version"),
                              "resources": resources or None,
                              "replay_name": event.get("replay-name"), "time_raw": time_raw,
                              "detail_malformed": event.get("detail_malformed"),
                              "put_events": True if entry is not None else None,
                              **{k: v for k, v in kept.items() if not isinstance(v, dict | list)},
                              "payload_truncated": cut or None}))
    pairs: list[tuple[str, Any]] = [(KeyKind.MESSAGE_ID, event.get("id"))]
    executions = [r for r in resources if SFN_EXECUTION_ARN.match(r)]
    if isinstance(detail, dict):
        pairs += [(kind, detail.get(name)) for name, kind in DETAIL_KEYS.items()
                  if isinstance(detail.get(name), str)]
        arn = detail.get("executionArn")
        if isinstance(arn, str) and SFN_EXECUTION_ARN.match(arn) and arn not in executions:
            executions.append(arn)
    for arn in executions:
        pairs.append((KeyKind.EXECUTION_ARN, arn))
        if detail_type == SFN_STATUS_CHANGE:
            b.link(f"stepfunctions:run:{arn}", uid, EdgeKind.EMITS,
                   f"eventbridge {SFN_STATUS_CHANGE} resources", where)
    if isinstance(event.get("trace-header"), str):
        pairs += xray_keys(event["trace-header"])
    b.keys(uid, unique([*pairs, *src.rules.payload(detail)]))
    return None


def _uid(event: dict[str, Any], entry: Any, seen: Counter[str] | None) -> str:
    if event.get("id"):
        return f"eventbridge:msg:{event['id']}"
    digest = hashlib.sha1(dumps(entry if entry is not None else event).encode()).hexdigest()[:12]
    n = 0
    if seen is not None:
        n = seen[digest]
        seen[digest] += 1
    return f"eventbridge:msg:putevents/{digest}/{n}"


def _bus(value: Any) -> str | None:
    """A bus name from ``EventBusName`` (a name, or an ARN ``...:event-bus/<name>``)."""
    if not isinstance(value, str) or not value:
        return None
    return value.rsplit("event-bus/", 1)[-1] if value.startswith("arn:") else value


def _time(value: Any) -> tuple[int | None, str | None]:
    """(epoch µs, the raw value when it is not a time): envelopes write RFC 3339, PutEvents
    epoch seconds; test snapshots write placeholders such as ``"date"``."""
    if value is None or value == "":
        return None, None
    try:
        if isinstance(value, int | float) or (isinstance(value, str)
                                              and value.replace(".", "", 1).isdigit()):
            return us_from_s(value), None
        return us_from_iso(value), None
    except ValueError:
        return None, str(value)
