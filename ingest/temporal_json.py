"""Temporal workflow histories as JSON: `temporal workflow show -o json`, Web UI downloads, tctl.

Written by the Temporal CLI (``temporal workflow show --output json``, 0.x-1.x), the Web UI's
"Download" button, ``tctl workflow show --output_filename`` and the SDKs' ``toJSON`` history
helpers: ``{"events": [...]}`` (also ``{"history": {"events": ...}}`` as the
GetWorkflowExecutionHistory response, a bare array of events, or JSON lines of either).
Quirks handled:

- event types as ``EVENT_TYPE_ACTIVITY_TASK_SCHEDULED`` (protojson, CLI 0.10+, UI 2.x),
  ``ActivityTaskScheduled`` (tctl, SDK 1.x test files, CLI before 0.10) or enum numbers;
  other enums (retry state, timeout type, ...) likewise, folded to the proto enum name;
- int64 fields (eventId, scheduledEventId ...) as numbers or as strings (protojson);
- payloads ``{"metadata": {"encoding": "<base64 json/plain>"}, "data": "<base64>"}``: JSON
  payloads are decoded for correlation keys, ``binary/*`` and encrypted ones are not;
- histories that do not name their own workflow id (the started event carries it only since
  server 1.2x): it is taken from a wrapper, the file name (``<workflowId>__<runId>.json``, the
  run id a UUID), the ``workflow_id`` option, or derived from the content (noted as
  ``workflow_id_from``); the run id likewise (``run_id_from``). What the history states wins
  and a file name only fills what it lacks, except that ``<workflowId>__<runUUID>`` names
  the run over the started event's originalExecutionRunId (which a reset preserves);
- events of types this module does not know (newer servers) are skipped by type.

A run of ``temporal:workflow:<type>`` per history; activities, child workflows, timers, signals,
markers (a local activity's type and id in ``detail``, from the core SDKs' ``data`` object or
the Java SDK's ``type``/``activityId`` payloads), updates and Nexus operations are its steps (a
Nexus operation links, as a child, the handler's run its started event names in ``links``). An
activity's input strings that look like channel names are kept in ``detail.input_names`` for
correlation's trace-context rule (the channel an activity publishes to is often its argument). The
mapping is shared with ``cadence_json`` and ``temporal_proto`` through ``Dialect`` and
``map_history``.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import orjson

from ingest._json import cut_document
from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    first_json_value,
    loads,
    span_id,
    trace_id,
    us_auto,
    us_from_iso,
    us_from_ns,
)
from tracemap.model import EdgeKind, KeyKind, Status, business_key, component

NAME = "temporal_json"

# --------------------------------------------------------------------------------------------
# Tables: event types and enums as temporal.api.enums.v1 defines them (api v1.4x, 2025).

#: EventType enum numbers (what protobuf and number-valued JSON carry) -> event type.
EVENT_TYPES: dict[int, str] = {
    1: "WorkflowExecutionStarted", 2: "WorkflowExecutionCompleted",
    3: "WorkflowExecutionFailed", 4: "WorkflowExecutionTimedOut", 5: "WorkflowTaskScheduled",
    6: "WorkflowTaskStarted", 7: "WorkflowTaskCompleted", 8: "WorkflowTaskTimedOut",
    9: "WorkflowTaskFailed", 10: "ActivityTaskScheduled", 11: "ActivityTaskStarted",
    12: "ActivityTaskCompleted", 13: "ActivityTaskFailed", 14: "ActivityTaskTimedOut",
    15: "ActivityTaskCancelRequested", 16: "ActivityTaskCanceled", 17: "TimerStarted",
    18: "TimerFired", 19: "TimerCanceled", 20: "WorkflowExecutionCancelRequested",
    21: "WorkflowExecutionCanceled", 22: "RequestCancelExternalWorkflowExecutionInitiated",
    23: "RequestCancelExternalWorkflowExecutionFailed",
    24: "ExternalWorkflowExecutionCancelRequested", 25: "MarkerRecorded",
    26: "WorkflowExecutionSignaled", 27: "WorkflowExecutionTerminated",
    28: "WorkflowExecutionContinuedAsNew", 29: "StartChildWorkflowExecutionInitiated",
    30: "StartChildWorkflowExecutionFailed", 31: "ChildWorkflowExecutionStarted",
    32: "ChildWorkflowExecutionCompleted", 33: "ChildWorkflowExecutionFailed",
    34: "ChildWorkflowExecutionCanceled", 35: "ChildWorkflowExecutionTimedOut",
    36: "ChildWorkflowExecutionTerminated", 37: "SignalExternalWorkflowExecutionInitiated",
    38: "SignalExternalWorkflowExecutionFailed", 39: "ExternalWorkflowExecutionSignaled",
    40: "UpsertWorkflowSearchAttributes", 41: "WorkflowExecutionUpdateAccepted",
    42: "WorkflowExecutionUpdateRejected", 43: "WorkflowExecutionUpdateCompleted",
    44: "WorkflowPropertiesModifiedExternally", 45: "ActivityPropertiesModifiedExternally",
    46: "WorkflowPropertiesModified", 47: "WorkflowExecutionUpdateAdmitted",
    48: "NexusOperationScheduled", 49: "NexusOperationStarted", 50: "NexusOperationCompleted",
    51: "NexusOperationFailed", 52: "NexusOperationCanceled", 53: "NexusOperationTimedOut",
    54: "NexusOperationCancelRequested", 55: "WorkflowExecutionOptionsUpdated",
    56: "NexusOperationCancelRequestCompleted", 57: "NexusOperationCancelRequestFailed",
    58: "WorkflowExecutionPaused", 59: "WorkflowExecutionUnpaused",
    60: "WorkflowExecutionTimeSkippingTransitioned",
}

#: Events that close the run, and the status they give it.
RUN_CLOSE: dict[str, Status] = {
    "WorkflowExecutionCompleted": Status.OK,
    "WorkflowExecutionFailed": Status.FAILED,
    "WorkflowExecutionTimedOut": Status.TIMED_OUT,
    "WorkflowExecutionCanceled": Status.CANCELLED,
    "WorkflowExecutionTerminated": Status.FAILED,  # detail.terminated says it was not the code
    "WorkflowExecutionContinuedAsNew": Status.OK,  # linked to the next run
}

#: Events that open a step, and the step type they open (the handler is in ``_OPENERS``).
STEP_OPENERS: dict[str, str] = {
    "ActivityTaskScheduled": "activity",
    "StartChildWorkflowExecutionInitiated": "child_workflow",
    "TimerStarted": "timer",
    "SignalExternalWorkflowExecutionInitiated": "signal_sent",
    "WorkflowExecutionSignaled": "signal_received",
    "MarkerRecorded": "marker",
    "NexusOperationScheduled": "nexus_operation",
    "WorkflowExecutionUpdateAccepted": "update",
    "WorkflowExecutionUpdateRejected": "update",
}

#: Events that move an open step on: the field naming the opening event, and the effect
#: (a final status, ``started``, or a flag kept in detail).
STEP_PROGRESS: dict[str, tuple[str, Status | str]] = {
    "ActivityTaskStarted": ("scheduledEventId", "started"),
    "ActivityTaskCompleted": ("scheduledEventId", Status.OK),
    "ActivityTaskFailed": ("scheduledEventId", Status.FAILED),
    "ActivityTaskTimedOut": ("scheduledEventId", Status.TIMED_OUT),
    "ActivityTaskCanceled": ("scheduledEventId", Status.CANCELLED),
    "ActivityTaskCancelRequested": ("scheduledEventId", "cancel_requested"),
    "ActivityPropertiesModifiedExternally": ("scheduledEventId", "properties_modified"),
    "TimerFired": ("startedEventId", Status.OK),
    "TimerCanceled": ("startedEventId", Status.CANCELLED),
    "ChildWorkflowExecutionStarted": ("initiatedEventId", "started"),
    "ChildWorkflowExecutionCompleted": ("initiatedEventId", Status.OK),
    "ChildWorkflowExecutionFailed": ("initiatedEventId", Status.FAILED),
    "ChildWorkflowExecutionCanceled": ("initiatedEventId", Status.CANCELLED),
    "ChildWorkflowExecutionTimedOut": ("initiatedEventId", Status.TIMED_OUT),
    "ChildWorkflowExecutionTerminated": ("initiatedEventId", Status.FAILED),
    "StartChildWorkflowExecutionFailed": ("initiatedEventId", Status.FAILED),
    "ExternalWorkflowExecutionSignaled": ("initiatedEventId", Status.OK),
    "SignalExternalWorkflowExecutionFailed": ("initiatedEventId", Status.FAILED),
    "NexusOperationStarted": ("scheduledEventId", "started"),
    "NexusOperationCompleted": ("scheduledEventId", Status.OK),
    "NexusOperationFailed": ("scheduledEventId", Status.FAILED),
    "NexusOperationCanceled": ("scheduledEventId", Status.CANCELLED),
    "NexusOperationTimedOut": ("scheduledEventId", Status.TIMED_OUT),
    "NexusOperationCancelRequested": ("scheduledEventId", "cancel_requested"),
    "NexusOperationCancelRequestCompleted": ("scheduledEventId", "cancel_requested"),
    "NexusOperationCancelRequestFailed": ("scheduledEventId", "cancel_request_failed"),
    "WorkflowExecutionUpdateCompleted": ("acceptedEventId", "outcome"),
}

#: Run-level events that are not the start or the close: what each contributes to the run.
RUN_EVENTS: dict[str, str] = {
    "WorkflowTaskScheduled": "task",
    "WorkflowTaskStarted": "task",
    "WorkflowTaskCompleted": "task",
    "WorkflowTaskFailed": "task_failed",
    "WorkflowTaskTimedOut": "task_failed",
    "WorkflowExecutionCancelRequested": "cancel_requested",
    "UpsertWorkflowSearchAttributes": "search_attributes",
    "WorkflowPropertiesModified": "memo",
    "WorkflowPropertiesModifiedExternally": "memo",
    "RequestCancelExternalWorkflowExecutionInitiated": "cancel_external",
    "RequestCancelExternalWorkflowExecutionFailed": "cancel_external",
    "ExternalWorkflowExecutionCancelRequested": "cancel_external",
    # Known, and of no use beyond being part of the run.
    "WorkflowExecutionUpdateAdmitted": "none",
    "WorkflowExecutionOptionsUpdated": "none",
    "WorkflowExecutionPaused": "none",
    "WorkflowExecutionUnpaused": "none",
    "WorkflowExecutionTimeSkippingTransitioned": "none",
}

#: Enums other than EventType that rows keep, by JSON field: (proto prefix, numbers).
ENUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "retryState": ("RETRY_STATE_", (
        "UNSPECIFIED", "IN_PROGRESS", "NON_RETRYABLE_FAILURE", "TIMEOUT",
        "MAXIMUM_ATTEMPTS_REACHED", "RETRY_POLICY_NOT_SET", "INTERNAL_SERVER_ERROR",
        "CANCEL_REQUESTED")),
    "timeoutType": ("TIMEOUT_TYPE_", (
        "UNSPECIFIED", "START_TO_CLOSE", "SCHEDULE_TO_START", "SCHEDULE_TO_CLOSE", "HEARTBEAT")),
    "initiator": ("CONTINUE_AS_NEW_INITIATOR_", (
        "UNSPECIFIED", "WORKFLOW", "RETRY", "CRON_SCHEDULE")),
    "parentClosePolicy": ("PARENT_CLOSE_POLICY_", (
        "UNSPECIFIED", "TERMINATE", "ABANDON", "REQUEST_CANCEL")),
}

#: Initiators of a continue-as-new that retries the run (Temporal ``RETRY``, Cadence
#: ``RetryPolicy``): the next run is a retry of this one, not its successor.
RETRY_INITIATORS = frozenset({"CONTINUE_AS_NEW_INITIATOR_RETRY",
                              "CONTINUE_AS_NEW_INITIATOR_RETRY_POLICY"})

#: ``cause`` of the failed-command events, by event type: (proto prefix, numbers).
FAILED_CAUSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "WorkflowTaskFailed": ("WORKFLOW_TASK_FAILED_CAUSE_", (
        "UNSPECIFIED", "UNHANDLED_COMMAND", "BAD_SCHEDULE_ACTIVITY_ATTRIBUTES",
        "BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES", "BAD_START_TIMER_ATTRIBUTES",
        "BAD_CANCEL_TIMER_ATTRIBUTES", "BAD_RECORD_MARKER_ATTRIBUTES",
        "BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES", "BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES",
        "BAD_CANCEL_WORKFLOW_EXECUTION_ATTRIBUTES",
        "BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES",
        "BAD_CONTINUE_AS_NEW_ATTRIBUTES",
        "START_TIMER_DUPLICATE_ID", "RESET_STICKY_TASK_QUEUE", "WORKFLOW_WORKER_UNHANDLED_FAILURE",
        "BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES", "BAD_START_CHILD_EXECUTION_ATTRIBUTES",
        "FORCE_CLOSE_COMMAND", "FAILOVER_CLOSE_COMMAND", "BAD_SIGNAL_INPUT_SIZE", "RESET_WORKFLOW",
        "BAD_BINARY", "SCHEDULE_ACTIVITY_DUPLICATE_ID", "BAD_SEARCH_ATTRIBUTES",
        "NON_DETERMINISTIC_ERROR", "BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES",
        "PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED", "PENDING_ACTIVITIES_LIMIT_EXCEEDED",
        "PENDING_SIGNALS_LIMIT_EXCEEDED", "PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED",
        "BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE", "UNHANDLED_UPDATE",
        "BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES", "PENDING_NEXUS_OPERATIONS_LIMIT_EXCEEDED",
        "BAD_REQUEST_CANCEL_NEXUS_OPERATION_ATTRIBUTES", "FEATURE_DISABLED",
        "GRPC_MESSAGE_TOO_LARGE", "PAYLOADS_TOO_LARGE", "EXTERNAL_STORAGE_FAILURE",
        "WORKFLOW_PAUSE_REQUESTED_BEFORE_TASK_STARTED", "REQUEST_TOO_LARGE")),
    "StartChildWorkflowExecutionFailed": ("START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_", (
        "UNSPECIFIED", "WORKFLOW_ALREADY_EXISTS", "NAMESPACE_NOT_FOUND",
        "INVALID_VERSIONING_OVERRIDE")),
    "SignalExternalWorkflowExecutionFailed": ("SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_", (
        "UNSPECIFIED", "EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND", "NAMESPACE_NOT_FOUND",
        "SIGNAL_COUNT_LIMIT_EXCEEDED")),
    "RequestCancelExternalWorkflowExecutionFailed": (
        "CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_",
        ("UNSPECIFIED", "EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND", "NAMESPACE_NOT_FOUND")),
}

#: Payload encodings whose data is JSON (metadata ``encoding``, base64 in JSON exports).
JSON_ENCODINGS = frozenset({"json/plain", "json/protobuf"})

#: Search attributes the server or SDKs set: not business identifiers.
SYSTEM_SEARCH_ATTRIBUTES = frozenset({"BuildIds", "BinaryChecksums", "BatcherUser",
                                      "BatcherNamespace"})

#: Marker detail fields that name the activity of a local-activity marker (Go/Java/core SDKs).
LOCAL_ACTIVITY_TYPE_FIELDS = ("activity_type", "ActivityType", "activityType")
#: Keys of a local-activity marker's ``details`` map that each hold one datum: the Java SDK
#: (``LocalActivityMarkerUtils``, marker ``LocalActivity``) writes ``type`` and ``activityId``
#: as payloads of their own, where the core SDKs put one ``data`` object.
LOCAL_ACTIVITY_DETAIL_KEYS = {"type": "local_activity_type", "activityId": "local_activity_id"}

#: A string of an activity's input that may name a channel: the characters Kafka allows in a
#: topic name (also valid SQS/SNS/RabbitMQ names), with a letter, short. Up to
#: ``INPUT_NAMES_MAX`` of them are kept in the step's ``detail.input_names`` so correlation's
#: trace-context rule can see which channel an activity publishes to (its argument).
INPUT_NAME = re.compile(r"^(?=[A-Za-z0-9._-]*[A-Za-z])[A-Za-z0-9._-]{1,120}$")
INPUT_NAMES_MAX = 8

#: A run id as Temporal and Cadence servers make them: a UUID.
RUN_ID = (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: File names that state the ids: ``<workflowId>__<runId>``, and ``<workflowId>_<runId>`` /
#: ``<workflowId>.<runId>`` when the history confirms the run id. The part after ``__`` must be
#: a run id: ``repo__update-after-complete.json`` names a file, not a run.
FILE_NAME_EXPLICIT = re.compile(rf"^(?P<wf>.+)__(?P<run>{RUN_ID})$")
FILE_NAME_CONFIRMED = re.compile(rf"^(?P<wf>.+)[_.](?P<run>{RUN_ID})$")
#: ``<workflowId>_event_history``: the name the Temporal docs give ``temporal workflow show
#: --workflow-id X --output json > X_event_history.json``. A bare ``_history`` suffix is not
#: enough: replay test files are named ``cancel_fake_progress_history.json``.
FILE_NAME_HISTORY = re.compile(r"^(?P<wf>.+?)[_.-]event[_-]?history$", re.I)
#: Extensions stripped from a file name before the patterns above are tried.
FILE_EXTENSIONS = re.compile(r"(\.(json|jsonl|ndjson|bin|pb|binpb|proto|gz))+$", re.I)

#: Keys the workflow-level fields of a wrapper document may use for its execution.
WRAPPER_EXECUTION = ("execution", "workflowExecution", "workflow_execution")


# --------------------------------------------------------------------------------------------
# Value helpers


def _s(value: Any) -> str | None:
    """A non-empty scalar as a string, else None."""
    if type(value) is str:  # the common case first: called for most fields of every event
        return value or None
    if value is None or isinstance(value, dict | list) or value == "":
        return None
    return str(value)


def as_int(value: Any) -> int | None:
    """An int64 written as a number or a string; None when it is neither."""
    if type(value) is int:  # exact type: a bool is an int, and no int64
        return value
    if isinstance(value, str):
        return int(value) if value.strip().lstrip("-").isdigit() else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _get(doc: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(name)
    return doc


def _name(doc: Any) -> str | None:
    """``workflowType``/``activityType``/``taskQueue``: ``{"name": ...}`` or a bare string."""
    return _s(doc.get("name")) if isinstance(doc, dict) else _s(doc)


def _snake_upper(text: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).upper()


def enum_name(value: Any, prefix: str, numbers: tuple[str, ...] = ()) -> str | None:
    """An enum value in any spelling as its proto name (``RETRY_STATE_TIMEOUT``).

    Accepts ``RETRY_STATE_TIMEOUT``, ``Timeout`` (tctl/older CLI), ``TIMEOUT`` (Cadence) and
    enum numbers; the unspecified value is None.
    """
    if isinstance(value, int | str) and not isinstance(value, bool) and as_int(value) is not None:
        number = as_int(value)
        assert number is not None
        if 0 <= number < len(numbers):
            value = numbers[number]
        else:
            return str(number) if number else None
    text = _s(value)
    if text is None:
        return None
    if not text.startswith(prefix):
        text = prefix + (text if text.isupper() else _snake_upper(text))
    return None if text.endswith("_UNSPECIFIED") else text


def _enum(attrs: dict[str, Any], field_name: str) -> str | None:
    prefix, numbers = ENUMS[field_name]
    return enum_name(attrs.get(field_name), prefix, numbers)


def _cause(attrs: dict[str, Any], etype: str) -> str | None:
    """The ``cause`` of a failed-command event, without its enum prefix (short for errors)."""
    prefix, numbers = FAILED_CAUSES.get(etype, ("", ()))
    name = enum_name(attrs.get("cause"), prefix, numbers) if prefix else _s(attrs.get("cause"))
    return name.removeprefix(prefix) if name and prefix else name


#: Event type spellings already read (a history repeats a few dozen of them), bounded.
_EVENT_TYPE_SPELLINGS: dict[str, str | None] = {}


def event_type(value: Any) -> str | None:
    """An event type in any spelling (``EVENT_TYPE_TIMER_FIRED``, ``TimerFired``, 18)."""
    if type(value) is not str:
        return _event_type(value)
    try:
        return _EVENT_TYPE_SPELLINGS[value]
    except KeyError:
        name = _EVENT_TYPE_SPELLINGS[value] = _event_type(value)
        if len(_EVENT_TYPE_SPELLINGS) > 4096:  # odd input: keep the cache small
            _EVENT_TYPE_SPELLINGS.clear()
        return name


def _event_type(value: Any) -> str | None:
    number = as_int(value)
    if number is not None:
        return EVENT_TYPES.get(number)
    text = _s(value)
    if text is None:
        return None
    if text.startswith("EVENT_TYPE_"):
        return "".join(part.capitalize() for part in text[len("EVENT_TYPE_"):].split("_"))
    return text


def _b64(value: Any) -> bytes | None:
    """Base64 text decoded; bytes (from protobuf) as they are."""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        return None
    try:  # base64.b64decode(validate=False), without its Python layer
        return binascii.a2b_base64((value + "=" * (-len(value) % 4)).encode("ascii"))
    except (binascii.Error, ValueError):  # a non-ASCII character: UnicodeEncodeError
        return None


NOTHING = object()


def temporal_payload(payload: Any) -> Any:
    """A Temporal ``Payload`` as a Python value when it is JSON, else ``NOTHING``.

    An object without ``metadata``/``data`` is taken as already decoded (exports made through
    a codec server write the value itself).
    """
    if not isinstance(payload, dict) or ("metadata" not in payload and "data" not in payload):
        return payload
    if not _is_json_encoding(_get(payload, "metadata", "encoding")):
        return NOTHING
    data = _b64(payload.get("data"))
    if data is None:
        return NOTHING
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return NOTHING


#: Whether a payload's (base64) ``encoding`` is JSON, by its spelling: a file repeats a few.
_JSON_ENCODING: dict[str | bytes, bool] = {}


def _is_json_encoding(value: Any) -> bool:
    if isinstance(value, str | bytes):
        known = _JSON_ENCODING.get(value)
        if known is not None:
            return known
    encoding = _b64(value)
    is_json = encoding is not None and encoding.decode("utf-8", "replace") in JSON_ENCODINGS
    if isinstance(value, str | bytes) and len(_JSON_ENCODING) < 1024:
        _JSON_ENCODING[value] = is_json
    return is_json


def temporal_payloads(payloads: Any) -> list[Any]:
    """The JSON values of a ``Payloads`` message (``{"payloads": [...]}``) or one ``Payload``."""
    if isinstance(payloads, dict) and isinstance(payloads.get("payloads"), list):
        items = payloads["payloads"]
    elif isinstance(payloads, dict) and ("metadata" in payloads or "data" in payloads):
        items = [payloads]
    else:
        return []
    return [v for v in (temporal_payload(p) for p in items) if v is not NOTHING]


def input_names(values: list[Any]) -> list[str]:
    """Strings of decoded input payloads that look like channel names (``INPUT_NAME``): each
    argument, and the values of an argument object or array (one level), first ones first."""
    out: list[str] = []
    for value in values:
        inner = value.values() if isinstance(value, dict) else (
            value if isinstance(value, list) else [value])
        for item in inner:
            if (isinstance(item, str) and INPUT_NAME.match(item) and item not in out
                    and len(out) < INPUT_NAMES_MAX):
                out.append(item)
    return out


def failure_text(failure: Any, depth: int = 0) -> tuple[str | None, dict[str, Any]]:
    """A Temporal ``Failure`` and its cause chain as one line, and the detail worth keeping.

    ``activity HeartbeatAndThrowIO failed: java.io.IOException: simulated IO problem``: each
    level is its message (or what its failure info says), prefixed by the application type.
    """
    parts: list[str] = []
    detail: dict[str, Any] = {}
    while isinstance(failure, dict) and depth < 32:
        depth += 1
        message = _s(failure.get("message"))
        app = failure.get("applicationFailureInfo")
        part = message
        if isinstance(app, dict):
            detail["failure_type"] = _s(app.get("type")) or detail.get("failure_type")
            if app.get("nonRetryable") is True:
                detail["non_retryable"] = True
            if detail["failure_type"] and message:
                part = f"{detail['failure_type']}: {message}"
            elif detail["failure_type"]:
                part = detail["failure_type"]
        elif part is None:
            part = _failure_info_text(failure)
        timeout = failure.get("timeoutFailureInfo")
        if isinstance(timeout, dict) and depth == 1:  # the failure is a timeout, not its cause
            detail["timeout_type"] = (enum_name(timeout.get("timeoutType"), *ENUMS["timeoutType"])
                                      or "timeout")
        if part and (not parts or parts[-1] != part):
            parts.append(part)
        if "failure_source" not in detail and _s(failure.get("source")):
            detail["failure_source"] = _s(failure.get("source"))
        failure = failure.get("cause")
    return (": ".join(parts) or None), {k: v for k, v in detail.items() if v is not None}


def _failure_info_text(failure: dict[str, Any]) -> str | None:
    """What a failure without a message says through its ``*FailureInfo``."""
    activity = failure.get("activityFailureInfo")
    if isinstance(activity, dict):
        return f"activity {_name(activity.get('activityType')) or ''} failed".replace("  ", " ")
    child = failure.get("childWorkflowExecutionFailureInfo")
    if isinstance(child, dict):
        return f"child workflow {_name(child.get('workflowType')) or ''} failed".replace("  ", " ")
    timeout = failure.get("timeoutFailureInfo")
    if isinstance(timeout, dict):
        kind = enum_name(timeout.get("timeoutType"), *ENUMS["timeoutType"])
        return f"timeout {kind}" if kind else "timeout"
    for info, text in (("canceledFailureInfo", "canceled"), ("terminatedFailureInfo", "terminated"),
                       ("serverFailureInfo", "server error"),
                       ("nexusOperationExecutionFailureInfo", "nexus operation failed")):
        if info in failure:
            return text
    return None


def _temporal_failure(attrs: dict[str, Any], which: str) -> tuple[str | None, dict[str, Any]]:
    return failure_text(attrs.get(which))


def _temporal_marker_failure(attrs: dict[str, Any],
                             values: list[Any]) -> tuple[str | None, dict[str, Any]]:
    """A Temporal marker fails through its own ``failure`` field (a local activity's, mostly)."""
    return failure_text(attrs.get("failure"))


def temporal_time(event: dict[str, Any]) -> tuple[int | None, str | None]:
    """Epoch µs of ``eventTime``: RFC 3339 text, ``{seconds, nanos}`` or a number; before
    Temporal 1.0 (API 0.x, as sdk-go's replay test files) an int64 ``timestamp`` in ns."""
    value = event.get("eventTime")
    if value is None and "timestamp" in event:
        ns = as_int(event["timestamp"])
        return (us_from_ns(ns) if ns is not None else None), None
    if isinstance(value, str):
        return us_from_iso(value), None
    if isinstance(value, dict):
        seconds, nanos = as_int(value.get("seconds")) or 0, as_int(value.get("nanos")) or 0
        return (seconds * 1_000_000 + nanos // 1000) or None, None
    return us_auto(value), None


def _temporal_attempt(value: Any) -> int | None:
    n = max(as_int(value) or 1, 1)  # Temporal counts attempts from 1
    return n if n < 2**31 else None  # past an int32 (the proto's type) is no attempt count


# --------------------------------------------------------------------------------------------
# Dialects: where Cadence (Temporal's ancestor) spells things differently.


@dataclass(frozen=True)
class Dialect:
    """How one engine writes its histories; ``map_history`` reads events through it.

    Attributes:
        system: system name in uids and components (``temporal``, ``cadence``).
        event_aliases: the engine's event types -> Temporal's (``DecisionTaskFailed``).
        extra_events: engine-only event types known to be of no use beyond the run.
        fields: Temporal field names -> the engine's (``taskQueue`` -> ``taskList``).
        task_word: what the engine calls a workflow task, for error text.
        time: event -> (epoch µs, the raw value to keep in detail or None).
        payloads: a ``Payloads``-like field -> its decoded JSON values.
        payload: one value of a header/memo/search-attribute map -> decoded, or ``NOTHING``.
        failure: (attributes, ``failure``|``lastFailure``) -> (text, detail).
        marker_failure: (marker attributes, its decoded details) -> (text, detail); a
            marker's details are its data (a result, a version), not a failure.
        attempt: a source attempt value -> the attempt counted from 1.
    """

    system: str
    event_aliases: dict[str, str]
    extra_events: frozenset[str]
    fields: dict[str, str]
    task_word: str
    time: Callable[[dict[str, Any]], tuple[int | None, str | None]]
    payloads: Callable[[Any], list[Any]]
    payload: Callable[[Any], Any]
    failure: Callable[[dict[str, Any], str], tuple[str | None, dict[str, Any]]]
    marker_failure: Callable[[dict[str, Any], list[Any]], tuple[str | None, dict[str, Any]]]
    attempt: Callable[[Any], int | None]

    def f(self, name: str) -> str:
        """The engine's name for a Temporal field."""
        return self.fields.get(name, name)


TEMPORAL = Dialect(
    system="temporal", event_aliases={}, extra_events=frozenset(), fields={},
    task_word="workflow task", time=temporal_time, payloads=temporal_payloads,
    payload=temporal_payload, failure=_temporal_failure,
    marker_failure=_temporal_marker_failure, attempt=_temporal_attempt,
)

#: Every event type the mapping knows (others are skipped by type).
KNOWN_EVENTS = frozenset({"WorkflowExecutionStarted", *RUN_CLOSE, *STEP_OPENERS, *STEP_PROGRESS,
                          *RUN_EVENTS})


# --------------------------------------------------------------------------------------------
# Sniff and parse


#: Words only Temporal's histories use (Cadence says ``taskList`` and ``DecisionTask``): they
#: tell a pre-1.0 Temporal history, timed by ``timestamp`` nanoseconds as Cadence's are, apart.
TEMPORAL_WORDS = (b'"taskQueue"', b'WorkflowTask', b'WORKFLOW_TASK')


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    timed = b'"eventTime"' in text or (
        b'"timestamp"' in text and any(word in text for word in TEMPORAL_WORDS))
    return (text[:1] in (b"{", b"[") and b'"eventId"' in text and timed
            and (b'"eventType"' in text or b'EventAttributes"' in text))


def parse(src: Source) -> Iterator[Batch]:
    yield from parse_histories(src, TEMPORAL)


@dataclass
class Hints:
    """What the surroundings of a history say about it (wrapper fields, file name, options)."""

    workflow_id: str | None = None
    run_id: str | None = None
    namespace: str | None = None
    use_file: bool = True  # file name and options apply only to a file of one history


def parse_histories(src: Source, dialect: Dialect) -> Iterator[Batch]:
    """Parse a JSON file of one or more histories with ``dialect``; shared by cadence_json."""
    b = BatchBuilder()
    origins: dict[str, set[str]] = {"workflow_id_from": set(), "run_id_from": set()}
    for prefix, events, hints in _histories(src, b):
        for name, value in map_history(b, src, events, dialect, hints, prefix).items():
            origins[name].add(value)
        if b.ready():
            yield b.take()
    for name, values in origins.items():
        if values:
            b.note(name, ",".join(sorted(values)))
    yield b.take()


def _histories(src: Source, b: BatchBuilder) -> Iterator[tuple[str, list[tuple[str, Any]],
                                                                Hints]]:
    """``(location prefix, [(location, event)], hints)`` for each history in the file.

    A whole document that is not JSON (truncated) is one rejected record.
    """
    if _is_json_lines(src.head(1 << 16)):
        yield from _lines(src, b)
        return
    data = src.read_document()
    try:
        doc = loads(data)
    except ValueError as exc:
        if "after document" in str(exc):  # JSON lines whose first line is past the head
            del data
            yield from _lines(src, b)
            return
        doc = cut_document(data, data, exc, b, "one JSON document holding a workflow history")
        if doc is None:
            return
    found = list(_unwrap(doc, ""))
    if not found:
        b.read()
        keys = sorted(doc)[:8] if isinstance(doc, dict) else []
        b.reject("document", "expected a workflow history: {\"events\": [...]}, "
                 "{\"history\": {\"events\": [...]}} or an array of events; got "
                 f"{type(doc).__name__} with keys {keys}", data[:200])
        return
    for prefix, events, hints in found:
        hints.use_file = len(found) == 1
        yield prefix, [(f"{prefix}events[{i}]", e) for i, e in enumerate(events)], hints


def _is_json_lines(head: bytes) -> bool:
    """Several JSON values, one per line (a pretty-printed document's first line is not JSON)."""
    text, lines, start = first_json_value(head), [], 0
    while len(lines) < 2 and start <= len(text):  # the first two non-blank lines, no more
        end = text.find(b"\n", start)
        end = len(text) if end < 0 else end
        if text[start:end].strip():
            lines.append(text[start:end])
        start = end + 1
    if len(lines) < 2 or not lines[1].lstrip().startswith((b"{", b"[")):
        return False
    try:
        loads(lines[0])
    except ValueError:
        return False
    return True


def _is_event(doc: Any) -> bool:
    return (isinstance(doc, dict) and ("eventType" in doc or "eventId" in doc)
            and "events" not in doc)


def _unwrap(doc: Any, prefix: str) -> Iterator[tuple[str, list[Any], Hints]]:
    """The histories in a parsed document, with what their wrapper says about them."""
    if isinstance(doc, list):
        if doc and _is_event(doc[0]):
            yield prefix, doc, Hints()
        else:
            for i, item in enumerate(doc):
                yield from _unwrap(item, f"{prefix}[{i}] ")
        return
    if not isinstance(doc, dict):
        return
    history = doc.get("history")
    if isinstance(doc.get("events"), list):
        yield prefix, doc["events"], _wrapper_hints(doc)
    elif isinstance(history, dict) and isinstance(history.get("events"), list):
        yield prefix, history["events"], _wrapper_hints(doc)
    elif isinstance(doc.get("items"), list):  # temporal.api.export.v1.WorkflowExecutions
        for i, item in enumerate(doc["items"]):
            yield from _unwrap(item, f"{prefix}items[{i}] ")


def _wrapper_hints(doc: dict[str, Any]) -> Hints:
    execution = next((doc[k] for k in WRAPPER_EXECUTION if isinstance(doc.get(k), dict)), {})
    return Hints(workflow_id=_s(execution.get("workflowId")) or _s(doc.get("workflowId")),
                 run_id=_s(execution.get("runId")) or _s(doc.get("runId")),
                 namespace=_s(doc.get("namespace")) or _s(doc.get("domain")))


def _lines(src: Source, b: BatchBuilder) -> Iterator[tuple[str, list[tuple[str, Any]], Hints]]:
    """JSON lines: one event per line (one history), or one history document per line."""
    events: list[tuple[str, Any]] = []
    for number, line in src.lines():
        where = f"line {number}"
        try:
            doc = loads(line)
        except ValueError as exc:
            b.read()
            b.reject(where, f"expected a JSON event or history per line: {exc}", line)
            continue
        if _is_event(doc):
            events.append((where, doc))
            continue
        found = list(_unwrap(doc, f"{where} "))
        if not found:
            b.read()
            b.reject(where, "expected a history event or a history document", line)
        for prefix, history, hints in found:
            hints.use_file = False
            yield prefix, [(f"{prefix}events[{i}]", e) for i, e in enumerate(history)], hints
    if events:
        yield "", events, Hints()


# --------------------------------------------------------------------------------------------
# Mapping one history


@dataclass(slots=True)
class _Event:
    eid: int
    us: int | None
    raw_time: str | None
    type: str
    attrs: dict[str, Any]
    location: str
    links: list[Any] = field(default_factory=list)  # the event's own ``links`` (API 1.3x+)


@dataclass(slots=True)
class _Step:
    uid: str
    step_type: str
    component: str
    name: str | None
    started: int | None
    location: str
    status: Status | None = None  # None while open
    ended: int | None = None
    attempt: int | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    keys: list[tuple[str, str]] = field(default_factory=list)


def map_history(b: BatchBuilder, src: Source, raw_events: list[tuple[str, Any]],
                dialect: Dialect, hints: Hints, prefix: str = "") -> dict[str, str]:
    """Add one history's rows to ``b``; every event is loaded, rejected or skipped once.

    Returns where the workflow id and run id came from (``started_event``, ``wrapper``,
    ``file_name``, ``option`` or ``generated``), for the source notes.
    """
    b.read(len(raw_events))
    events: list[_Event] = []
    for location, raw in raw_events:
        ev = _normalize(b, raw, location, prefix, dialect)
        if ev is not None:
            events.append(ev)
    if not events:
        return {}
    history = _History(b, src, dialect, events, hints)
    loaded = 0
    for ev in events:
        try:
            history.handle(ev)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            b.reject(ev.location, f"{ev.type}: a field has the wrong shape: {exc}",
                     orjson.dumps(ev.attrs, default=str)[:2048])
            continue
        loaded += 1
    b.loaded(loaded)
    history.emit()
    return {"workflow_id_from": history.wf_from, "run_id_from": history.run_from}


def _normalize(b: BatchBuilder, raw: Any, location: str, prefix: str,
               dialect: Dialect) -> _Event | None:
    """An event with its type, id and time read; rejects or skips it (returning None) if not."""
    if not isinstance(raw, dict):
        b.reject(location, f"expected a history event object, got {type(raw).__name__}",
                 str(raw)[:200])
        return None
    attrs_key, attrs = None, {}
    for k, v in raw.items():
        if k.endswith("EventAttributes") and isinstance(v, dict):
            attrs_key, attrs = k, v or {}
            break
    etype = event_type(raw.get("eventType"))
    if etype is None and as_int(raw.get("eventType")) is not None:
        etype = f"EventType{raw['eventType']}"  # a number newer than EVENT_TYPES: skipped below
    if etype is None and attrs_key:
        etype = attrs_key[0].upper() + attrs_key[1:-len("EventAttributes")]
    eid = as_int(raw.get("eventId"))
    if eid is not None:
        location = f"{prefix}event {eid}"
    if etype is None:
        b.reject(location, "expected 'eventType' or an '...EventAttributes' object; found "
                 f"neither (keys {sorted(raw)[:8]})", orjson.dumps(raw, default=str)[:2048])
        return None
    etype = dialect.event_aliases.get(etype, etype)
    if etype not in KNOWN_EVENTS and etype not in dialect.extra_events:
        b.skip(etype)
        return None
    if eid is None:
        b.reject(location, f"field 'eventId': expected an integer, got {raw.get('eventId')!r}",
                 orjson.dumps(raw, default=str)[:2048])
        return None
    try:
        us, raw_time = dialect.time(raw)
    except (TypeError, ValueError) as exc:
        b.reject(location, f"event time: expected RFC 3339 text or epoch nanoseconds: {exc}",
                 orjson.dumps(raw, default=str)[:2048])
        return None
    links = raw.get("links")
    return _Event(eid, us, raw_time, etype, attrs, location,
                  links if isinstance(links, list) else [])


class _History:
    """The state of one history while its events are walked, then its rows."""

    def __init__(self, b: BatchBuilder, src: Source, dialect: Dialect, events: list[_Event],
                 hints: Hints) -> None:
        self.b, self.src, self.d = b, src, dialect
        started = next((e for e in events if e.type == "WorkflowExecutionStarted"), None)
        self.started_attrs = started.attrs if started else {}
        self._resolve_ids(events[0], started, hints)
        self.uid = self.run_uid(self.wf, self.run)
        first = started or events[0]
        self.run_row: dict[str, Any] = {
            "uid": self.uid, "system": dialect.system, "name": self.wf,
            "component": component(dialect.system, "workflow", "unknown"),
            "status": None, "started_at": first.us, "ended_at": None, "attempt": None,
            "parent_uid": None, "error": None, "location": first.location,
        }
        self.workflow_type = "unknown"
        self.detail: dict[str, Any] = {"workflow_id_from": self.wf_from,
                                       "run_id_from": self.run_from}
        if hints.namespace:
            self.detail["namespace"] = hints.namespace
        if first.raw_time is not None:
            self.detail["started_ns"] = first.raw_time
        self.run_keys: list[tuple[str, str]] = []
        if self.wf_from != "generated":
            self.run_keys.append((KeyKind.WORKFLOW_ID, self.wf))
        if self.run_from != "generated":
            self.run_keys.append((KeyKind.RUN_ID, self.run))
        self.steps: dict[int, _Step] = {}
        self.by_activity_id: dict[str, _Step] = {}
        self.child_runs: dict[str, list[str]] = {}  # child workflow id -> its runs seen
        self.signals_by_id: list[tuple[_Step, str]] = []
        self.links: list[tuple[str, str, str, str, str]] = []
        self.declared: set[tuple[str, str, str, str]] = set()
        self.task_failures = 0
        self.last_task_failure: str | None = None
        self.build_ids: list[str] = []
        self.checksums: list[str] = []

    # ids ------------------------------------------------------------------------------------
    def run_uid(self, wf: str, run: str) -> str:
        return f"{self.d.system}:run:{wf}/{run}"

    def _resolve_ids(self, first: _Event, started: _Event | None, hints: Hints) -> None:
        attrs = started.attrs if started else {}
        own_run = _s(attrs.get("originalExecutionRunId"))
        file_wf, file_run = (_ids_from_file_name(self.src.path.name, own_run,
                                                 _s(attrs.get("firstExecutionRunId")))
                             if hints.use_file else (None, None))
        option_wf = _s(self.src.options.get("workflow_id")) if hints.use_file else None
        option_run = _s(self.src.options.get("run_id")) if hints.use_file else None
        # Read through _s: proto3 drops an empty identity that JSON writes as "".
        digest = hashlib.sha256("|".join(str(x) for x in (
            first.eid, first.type, first.us, _name(attrs.get("workflowType")), own_run,
            _s(attrs.get("identity")), _name(attrs.get(self.d.f("taskQueue"))),
        )).encode()).hexdigest()
        generated = f"unknown-{digest[:12]}"
        self.wf, self.wf_from = next((v, how) for v, how in (
            (_s(attrs.get("workflowId")), "started_event"), (hints.workflow_id, "wrapper"),
            (file_wf, "file_name"), (option_wf, "option"), (generated, "generated")) if v)
        # What the history states wins, with one exception: a file named
        # ``<workflowId>__<runId>`` names the run it holds, while the started event's
        # originalExecutionRunId keeps naming the run before a reset (Temporal's docs: "a
        # workflow reset changes the execution run_id, but preserves this field").
        explicit = file_run if file_run and FILE_NAME_EXPLICIT.match(
            FILE_EXTENSIONS.sub("", self.src.path.name)) else None
        self.run, self.run_from = next((v, how) for v, how in (
            (hints.run_id, "wrapper"), (explicit, "file_name"), (own_run, "started_event"),
            (file_run, "file_name"), (option_run, "option"), (generated, "generated")) if v)

    # dispatch -------------------------------------------------------------------------------
    def handle(self, ev: _Event) -> None:
        found = _HANDLERS.get(ev.type)
        if found is not None:  # dialect.extra_events: known, nothing to take from them
            handler, args = found
            handler(self, ev, *args)

    # run events -----------------------------------------------------------------------------
    def _started(self, ev: _Event) -> None:
        a, d = ev.attrs, self.d
        self.workflow_type = _name(a.get("workflowType")) or "unknown"
        self.run_row["component"] = component(d.system, "workflow", self.workflow_type)
        self.run_row["attempt"] = d.attempt(a.get("attempt"))
        self.detail.update(_compact({
            "task_queue": _name(a.get(d.f("taskQueue"))),
            "identity": _s(a.get("identity")),
            "cron_schedule": _s(a.get("cronSchedule")),
            "initiator": _enum(a, "initiator"),
            "first_execution_run_id": _s(a.get("firstExecutionRunId")),
            "original_execution_run_id": _s(a.get("originalExecutionRunId")),
            "continued_execution_run_id": _s(a.get("continuedExecutionRunId")),
            "parent_namespace": _s(a.get(d.f("parentWorkflowNamespace"))),
            "max_attempts": as_int(_get(a, "retryPolicy", "maximumAttempts")) or None,
        }))
        for name in ("firstExecutionRunId", "originalExecutionRunId"):
            if _s(a.get(name)):
                self.run_keys.append((KeyKind.RUN_ID, a[name]))
        parent = a.get("parentWorkflowExecution")
        pwf, prun = _s(_get(parent, "workflowId")), _s(_get(parent, "runId"))
        if pwf:
            self.detail["parent_workflow_id"] = pwf
            self.run_keys.append((KeyKind.WORKFLOW_ID, pwf))
        if pwf and prun:
            self.detail["parent_run_id"] = prun
            self.run_keys.append((KeyKind.RUN_ID, prun))
            self.run_row["parent_uid"] = self.run_uid(pwf, prun)
            # The parent's history states the same link from its side (child started event).
            self._link(self.run_uid(pwf, prun), self.uid, EdgeKind.CHILD,
                       "workflowExecutionStarted.parentWorkflowExecution", ev.location)
        root = a.get("rootWorkflowExecution")
        if _s(_get(root, "workflowId")):
            self.detail["root_workflow_id"] = _s(_get(root, "workflowId"))
            self.detail["root_run_id"] = _s(_get(root, "runId"))
        previous = _s(a.get("continuedExecutionRunId"))
        if previous:
            if _enum(a, "initiator") in RETRY_INITIATORS:
                self._link(self.uid, self.run_uid(self.wf, previous), EdgeKind.RETRY_OF,
                           "continuedExecutionRunId", ev.location)
            else:
                self._link(self.run_uid(self.wf, previous), self.uid, EdgeKind.PRECEDES,
                           "continuedExecutionRunId", ev.location)
        self.run_keys.extend(self._header_keys(a.get("header")))
        self.run_keys.extend(self._payload_keys(a.get("input")))
        self._memo(a.get("memo"))
        self._search_attributes(a.get("searchAttributes"))

    def _closed(self, ev: _Event, status: Status) -> None:
        a = ev.attrs
        row, detail = self.run_row, self.detail
        error, fdetail = self.d.failure(a, "failure")
        if ev.type == "WorkflowExecutionContinuedAsNew" and error:
            # A run that failed or timed out, continued by its retry policy or cron schedule
            # (Cadence: failureReason; Temporal before servers wrote WorkflowExecutionFailed
            # with newExecutionRunId: failure).
            status = Status.TIMED_OUT if fdetail.get("timeout_type") else Status.FAILED
        row["status"], row["ended_at"] = status, ev.us
        detail["close_event"] = ev.type
        if ev.raw_time is not None:
            detail["ended_ns"] = ev.raw_time
        detail.update(fdetail)
        retry_state = _enum(a, "retryState")
        if retry_state:
            detail["retry_state"] = retry_state
        if ev.type == "WorkflowExecutionTerminated":
            reason = _s(a.get("reason"))
            error = f"terminated: {reason}" if reason else "terminated"
            detail.update(_compact({"terminated": True, "terminated_by": _s(a.get("identity"))}))
        elif ev.type == "WorkflowExecutionTimedOut":
            kind = _enum(a, "timeoutType")
            error = f"workflow timed out ({kind})" if kind else "workflow timed out"
        if status != Status.OK and self.last_task_failure and ev.type != "WorkflowExecutionFailed":
            error = f"{error}; last {self.d.task_word} failure: {self.last_task_failure}"
        row["error"] = error if status != Status.OK else None
        self.run_keys.extend(self._payload_keys(a.get("result")))
        nxt = _s(a.get("newExecutionRunId"))
        if nxt:
            detail["new_execution_run_id"] = nxt
            initiator = _enum(a, "initiator")
            if initiator:
                detail["new_execution_initiator"] = initiator
            # A continue-as-new says who started the next run, as the next run's started
            # event does; a failed or timed-out close with a next run is the server retrying.
            retried = (initiator in RETRY_INITIATORS if ev.type == "WorkflowExecutionContinuedAsNew"
                       else status in (Status.FAILED, Status.TIMED_OUT))
            if retried:
                self._link(self.run_uid(self.wf, nxt), self.uid, EdgeKind.RETRY_OF,
                           "newExecutionRunId", ev.location)
            else:
                self._link(self.uid, self.run_uid(self.wf, nxt), EdgeKind.PRECEDES,
                           "newExecutionRunId", ev.location)

    def _task(self, ev: _Event) -> None:
        a = ev.attrs
        if "workerVersion" in a or "deploymentVersion" in a:  # most task events have neither
            for build in (_get(a, "workerVersion", "buildId"),
                          _get(a, "deploymentVersion", "buildId")):
                if _s(build) and build not in self.build_ids:
                    self.build_ids.append(build)
        checksum = _s(a.get("binaryChecksum"))
        if checksum and checksum not in self.checksums:
            self.checksums.append(checksum)
        if ev.type == "WorkflowTaskCompleted":
            self.detail.update(_compact({
                "worker_identity": _s(a.get("identity")),
                "sdk_name": _s(_get(a, "sdkMetadata", "sdkName")) or self.detail.get("sdk_name"),
                "sdk_version": (_s(_get(a, "sdkMetadata", "sdkVersion"))
                                or self.detail.get("sdk_version")),
                "deployment_name": (_s(a.get("workerDeploymentName"))
                                    or _s(_get(a, "deploymentVersion", "deploymentName"))),
            }))

    def _task_failed(self, ev: _Event) -> None:
        self._task(ev)
        a = ev.attrs
        self.task_failures += 1
        cause = _cause(a, "WorkflowTaskFailed")
        text, _ = self.d.failure(a, "failure")
        kind = _enum(a, "timeoutType")
        if ev.type == "WorkflowTaskTimedOut":
            text = f"timed out ({kind})" if kind else "timed out"
        self.last_task_failure = ": ".join(x for x in (cause, text) if x) or ev.type

    def _cancel_requested(self, ev: _Event) -> None:
        self.detail.update(_compact({
            "cancel_requested": True, "cancel_requested_by": _s(ev.attrs.get("identity")),
            "cancel_cause": _s(ev.attrs.get("cause"))}))

    def _search_attribute_event(self, ev: _Event) -> None:
        self._search_attributes(ev.attrs.get("searchAttributes"))

    def _memo_event(self, ev: _Event) -> None:
        self._memo(ev.attrs.get("upsertedMemo"))

    def _cancel_external(self, ev: _Event) -> None:
        target = _s(_get(ev.attrs, "workflowExecution", "workflowId"))
        if target:
            targets = self.detail.setdefault("cancel_requested_workflows", [])
            if target not in targets:
                targets.append(target)

    def _nothing(self, ev: _Event) -> None:
        pass

    # steps ----------------------------------------------------------------------------------
    def _open(self, ev: _Event, step_type: str, kind: str, comp_name: str | None,
              name: str | None, **detail: Any) -> _Step:
        step = _Step(uid=f"{self.d.system}:step:{self.wf}/{self.run}/{ev.eid}",
                     step_type=step_type, component=component(self.d.system, kind, comp_name or ""),
                     name=name, started=ev.us, location=ev.location, detail=_compact(detail))
        if ev.raw_time is not None:
            step.detail["started_ns"] = ev.raw_time
        self.steps[ev.eid] = step
        return step

    def _close_step(self, step: _Step, ev: _Event, status: Status) -> None:
        step.status, step.ended = status, ev.us
        if ev.location != step.location:  # signals received and markers open and close at once
            step.detail["close_event"] = ev.type
        if ev.raw_time is not None:
            step.detail["ended_ns"] = ev.raw_time

    def _activity(self, ev: _Event) -> None:
        a = ev.attrs
        step = self._open(ev, "activity", "activity", _name(a.get("activityType")),
                          _s(a.get("activityId")), activity_id=_s(a.get("activityId")),
                          task_queue=_name(a.get(self.d.f("taskQueue"))),
                          max_attempts=as_int(_get(a, "retryPolicy", "maximumAttempts")) or None)
        step.keys.extend(self._header_keys(a.get("header")))
        inputs = self.d.payloads(a.get("input"))  # decoded once: keys and channel names
        step.keys.extend(self._value_keys(inputs))
        names = input_names(inputs)
        if names:
            step.detail["input_names"] = names
        if step.name:
            self.by_activity_id[step.name] = step

    def _child(self, ev: _Event) -> None:
        a = ev.attrs
        child_type = _name(a.get("workflowType"))
        child_wf = _s(a.get("workflowId"))
        step = self._open(ev, "child_workflow", "workflow", child_type, child_wf,
                          namespace=_s(a.get(self.d.f("namespace"))),
                          task_queue=_name(a.get(self.d.f("taskQueue"))),
                          parent_close_policy=_enum(a, "parentClosePolicy"))
        if child_wf:
            step.keys.append((KeyKind.WORKFLOW_ID, child_wf))
        step.keys.extend(self._header_keys(a.get("header")))
        step.keys.extend(self._payload_keys(a.get("input")))
        self.declared.add((self.run_row["component"], step.component, EdgeKind.CHILD,
                           "startChildWorkflowExecutionInitiated.workflowType"))

    def _timer(self, ev: _Event) -> None:
        a = ev.attrs
        timeout = _s(a.get("startToFireTimeout"))
        seconds = as_int(a.get("startToFireTimeoutSeconds"))  # Cadence
        if timeout is None and seconds is not None:
            timeout = f"{seconds}s"
        self._open(ev, "timer", "timer", self.workflow_type, _s(a.get("timerId")),
                   start_to_fire_timeout=timeout)

    def _signal_sent(self, ev: _Event) -> None:
        a = ev.attrs
        target_wf = _s(_get(a, "workflowExecution", "workflowId"))
        target_run = _s(_get(a, "workflowExecution", "runId"))
        step = self._open(ev, "signal_sent", "signal", _s(a.get("signalName")),
                          _s(a.get("signalName")), target_workflow_id=target_wf,
                          target_run_id=target_run, namespace=_s(a.get(self.d.f("namespace"))),
                          child_workflow_only=a.get("childWorkflowOnly") is True or None)
        if target_wf:
            step.keys.append((KeyKind.WORKFLOW_ID, target_wf))
        if target_wf and target_run:
            step.keys.append((KeyKind.RUN_ID, target_run))
            self._link(self.uid, self.run_uid(target_wf, target_run), EdgeKind.SIGNALS,
                       "signalExternalWorkflowExecutionInitiated.workflowExecution", ev.location)
        elif target_wf:
            # Sent by workflow id: the run is knowable only if it is our own child and this
            # history names exactly one run of it (decided once all events are seen).
            self.signals_by_id.append((step, target_wf))
        step.keys.extend(self._header_keys(a.get("header")))
        step.keys.extend(self._payload_keys(a.get("input")))

    def _signal_received(self, ev: _Event) -> None:
        a = ev.attrs
        step = self._open(ev, "signal_received", "signal", _s(a.get("signalName")),
                          _s(a.get("signalName")), sender_identity=_s(a.get("identity")))
        self._close_step(step, ev, Status.OK)
        sender_wf = _s(_get(a, "externalWorkflowExecution", "workflowId"))
        sender_run = _s(_get(a, "externalWorkflowExecution", "runId"))
        if sender_wf:
            step.detail["sender_workflow_id"] = sender_wf
            step.keys.append((KeyKind.WORKFLOW_ID, sender_wf))
        if sender_wf and sender_run:
            step.keys.append((KeyKind.RUN_ID, sender_run))
            self._link(self.run_uid(sender_wf, sender_run), self.uid, EdgeKind.SIGNALS,
                       "workflowExecutionSignaled.externalWorkflowExecution", ev.location)
        step.keys.extend(self._header_keys(a.get("header")))
        step.keys.extend(self._payload_keys(a.get("input")))

    def _marker(self, ev: _Event) -> None:
        a = ev.attrs
        step = self._open(ev, "marker", "marker", _s(a.get("markerName")), _s(a.get("markerName")))
        details = a.get("details")
        values: list[Any] = []
        if isinstance(details, dict) and "payloads" in details:  # API before v1.0: Payloads
            values.extend(self.d.payloads(details))
        elif isinstance(details, dict):  # Temporal: map<string, Payloads>
            local = "localactivity" in (_s(a.get("markerName")) or "").lower().replace("_", "")
            for key, payloads in details.items():
                decoded = self.d.payloads(payloads)
                values.extend(decoded)
                named = LOCAL_ACTIVITY_DETAIL_KEYS.get(key) if local else None
                if named and decoded and _s(decoded[0]):
                    step.detail[named] = _s(decoded[0])
        else:  # Cadence: bytes
            values.extend(self.d.payloads(details))
        error, fdetail = self.d.marker_failure(a, values)
        self._close_step(step, ev, Status.FAILED if error else Status.OK)
        step.error = error
        step.detail.update(fdetail)
        for value in values:
            step.keys.extend(self.src.rules.payload(value))
            if isinstance(value, dict):
                kind = next((_name(value[k]) for k in LOCAL_ACTIVITY_TYPE_FIELDS if k in value),
                            None)
                if kind:
                    step.detail["local_activity_type"] = kind
        step.keys.extend(self._header_keys(a.get("header")))

    def _nexus(self, ev: _Event) -> None:
        a = ev.attrs
        service, operation = _s(a.get("service")), _s(a.get("operation"))
        step = self._open(ev, "nexus_operation", "nexus", f"{service}.{operation}", operation,
                          endpoint=_s(a.get("endpoint")), service=service, operation=operation)
        step.keys.extend(self._payload_keys(a.get("input")))
        header = a.get("nexusHeader")
        if isinstance(header, dict):
            step.keys.extend(self.src.rules.headers(header))

    def _update(self, ev: _Event) -> None:
        a = ev.attrs
        request = a.get("acceptedRequest") or a.get("rejectedRequest") or {}
        name = _s(_get(request, "input", "name"))
        step = self._open(ev, "update", "update", name, _s(_get(request, "meta", "updateId")),
                          update_id=_s(_get(request, "meta", "updateId")),
                          identity=_s(_get(request, "meta", "identity")))
        step.keys.extend(self._header_keys(_get(request, "input", "header")))
        step.keys.extend(self._payload_keys(_get(request, "input", "args")))
        if ev.type == "WorkflowExecutionUpdateRejected":
            self._close_step(step, ev, Status.FAILED)
            step.error, fdetail = self.d.failure(a, "failure")
            step.detail.update(fdetail)

    def _progress(self, ev: _Event, ref_field: str, effect: Status | str) -> None:
        a = ev.attrs
        ref = as_int(a.get(ref_field))
        step = self.steps.get(ref) if ref is not None else None
        if step is None and _s(a.get("activityId")):  # Cadence cancel requests name the id
            step = self.by_activity_id.get(a["activityId"])
        if step is None:
            raise ValueError(f"field '{ref_field}': no opening event {a.get(ref_field)!r} in "
                             "this history")
        if effect == "started":
            if step.step_type == "activity":
                step.attempt = self.d.attempt(a.get("attempt"))
            last, _ = self.d.failure(a, "lastFailure")
            step.detail.update(_compact({
                "worker_identity": _s(a.get("identity")),
                "build_id": _s(_get(a, "workerVersion", "buildId")),
                "last_failure": last,
                "last_attempt_started_at": _iso(ev.us) if step.step_type == "activity" else None,
            }))
        elif effect == "outcome":  # update completed
            error, fdetail = self.d.failure(a.get("outcome") or {}, "failure")
            self._close_step(step, ev, Status.FAILED if error else Status.OK)
            step.error = error
            step.detail.update(fdetail)
            step.keys.extend(self._payload_keys(_get(a, "outcome", "success")))
        elif isinstance(effect, Status):
            self._close_step(step, ev, effect)
            error, fdetail = self.d.failure(a, "failure")
            kind = _enum(a, "timeoutType")
            if error is None and kind:
                error = f"timeout {kind}"
            if effect == Status.FAILED and error is None:
                cause = _cause(a, ev.type)
                error = f"{ev.type}: {cause}" if cause else ev.type
            step.error = error
            step.detail.update(fdetail)
            step.detail.update(_compact({"retry_state": _enum(a, "retryState"),
                                         "worker_identity": _s(a.get("identity"))
                                         or step.detail.get("worker_identity")}))
            step.keys.extend(self._payload_keys(a.get("result")))
        else:
            step.detail[effect] = True
        if step.step_type == "child_workflow":
            self._child_execution(step, ev)
        elif step.step_type == "nexus_operation":
            self._nexus_handler(step, ev)

    def _nexus_handler(self, step: _Step, ev: _Event) -> None:
        """Link a Nexus operation to the workflow run that handles it: Temporal puts that run on
        the caller's ``NexusOperationStarted`` event as a ``links[].workflowEvent``."""
        for i, link in enumerate(ev.links):
            target = link.get("workflowEvent") if isinstance(link, dict) else None
            wf = _s(_get(target, "workflowId")) if isinstance(target, dict) else None
            run = _s(_get(target, "runId")) if isinstance(target, dict) else None
            if not (wf and run) or (KeyKind.RUN_ID, run) in step.keys:
                continue
            step.keys.append((KeyKind.RUN_ID, run))
            step.detail.setdefault("handler_runs", []).append(
                _compact({"namespace": _s(target.get("namespace")), "workflow_id": wf,
                          "run_id": run}))
            evidence = f"{ev.type[0].lower()}{ev.type[1:]}.links[{i}].workflowEvent"
            self._link(step.uid, self.run_uid(wf, run), EdgeKind.CHILD, evidence, ev.location)

    def _child_execution(self, step: _Step, ev: _Event) -> None:
        """Link the parent run, and the child-workflow step, to each run of the child that an
        event names: the step and the run are one child workflow seen from both sides (the
        trace folds them), and a step whose child never started links nothing."""
        a = ev.attrs
        child_wf = _s(_get(a, "workflowExecution", "workflowId")) or step.name
        child_run = _s(_get(a, "workflowExecution", "runId"))
        if not (child_wf and child_run):
            return
        runs = step.detail.setdefault("child_run_ids", [])
        if child_run not in self.child_runs.setdefault(child_wf, []):
            self.child_runs[child_wf].append(child_run)
        if child_run in runs:
            return
        runs.append(child_run)
        step.keys.append((KeyKind.RUN_ID, child_run))
        # The child's own history states the same link (its parentWorkflowExecution).
        evidence = f"{ev.type[0].lower()}{ev.type[1:]}.workflowExecution"
        self._link(self.uid, self.run_uid(child_wf, child_run), EdgeKind.CHILD, evidence,
                   ev.location)
        self._link(step.uid, self.run_uid(child_wf, child_run), EdgeKind.CHILD, evidence,
                   ev.location)

    # keys -----------------------------------------------------------------------------------
    def _payload_keys(self, payloads: Any) -> list[tuple[str, str]]:
        return self._value_keys(self.d.payloads(payloads))

    def _value_keys(self, values: list[Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for value in values:
            out.extend(self.src.rules.payload(value))
        return out

    def _decoded_map(self, doc: Any, name: str) -> dict[str, Any]:
        fields = doc.get(name) if isinstance(doc, dict) else None
        if not isinstance(fields, dict):
            return {}
        decoded = {k: self.d.payload(v) for k, v in fields.items()}
        return {k: v for k, v in decoded.items() if v is not NOTHING}

    def _header_keys(self, header: Any) -> list[tuple[str, str]]:
        """Keys from propagated headers: ``_tracer-data`` {traceparent}, correlation ids."""
        rules = self.src.rules
        out: list[tuple[str, str]] = []
        flat: dict[str, Any] = {}
        for name, value in self._decoded_map(header, "fields").items():
            if isinstance(value, dict):
                out.extend(rules.headers(value))
                out.extend(rules.payload(value))
                out.extend(_trace_context_keys(value))
            elif not isinstance(value, list):
                flat[name] = value
        out.extend(rules.headers(flat))
        out.extend(_trace_context_keys(flat))
        return out

    def _search_attributes(self, doc: Any) -> None:
        values = self._decoded_map(doc, "indexedFields")
        for name, value in values.items():
            self.detail[f"search.{name}"] = value
            if name not in SYSTEM_SEARCH_ATTRIBUTES and not name.startswith("Temporal"):
                self.run_keys.extend(_business_keys(name, value))
        self.run_keys.extend(self.src.rules.attributes(values))
        self.run_keys.extend(self.src.rules.payload(values))

    def _memo(self, doc: Any) -> None:
        values = self._decoded_map(doc, "fields")
        for name, value in values.items():
            if not isinstance(value, dict | list):
                self.detail[f"memo.{name}"] = value
            self.run_keys.extend(_business_keys(name, value))
            self.run_keys.extend(self.src.rules.payload(value))
        self.run_keys.extend(self.src.rules.attributes(values))

    # rows -----------------------------------------------------------------------------------
    def _link(self, src_uid: str, dst_uid: str, kind: str, evidence: str, location: str) -> None:
        self.links.append((src_uid, dst_uid, kind, evidence, location))

    def _resolve_signals(self) -> None:
        for step, target_wf in self.signals_by_id:
            runs = self.child_runs.get(target_wf, [])
            if len(runs) == 1:
                step.detail["target_run_id"] = runs[0]
                step.keys.append((KeyKind.RUN_ID, runs[0]))
                self._link(self.uid, self.run_uid(target_wf, runs[0]), EdgeKind.SIGNALS,
                           "signalExternalWorkflowExecutionInitiated.workflowExecution "
                           "(the child started by this run)", step.location)

    def emit(self) -> None:
        self._resolve_signals()
        b, row, detail = self.b, self.run_row, self.detail
        closed = row["status"] is not None
        if not closed:
            row["status"] = Status.RUNNING
        if self.build_ids:
            detail["build_id"] = self.build_ids[-1]
            if len(self.build_ids) > 1:
                detail["build_ids"] = self.build_ids
        if self.checksums:
            detail["binary_checksum"] = self.checksums[-1]
            if len(self.checksums) > 1:
                detail["binary_checksums"] = self.checksums
        if self.task_failures:
            detail[f"{self.d.task_word.replace(' ', '_')}_failures"] = self.task_failures
            detail[f"last_{self.d.task_word.replace(' ', '_')}_failure"] = self.last_task_failure
        b.run(**row, detail=detail)
        b.keys(self.uid, _unique(self.run_keys))
        for step in self.steps.values():
            status = step.status or (Status.UNKNOWN if closed else Status.RUNNING)
            b.step(uid=step.uid, run_uid=self.uid, system=self.d.system,
                   component=step.component, name=step.name, step_type=step.step_type,
                   status=status, started_at=step.started, ended_at=step.ended,
                   attempt=step.attempt, parent_uid=None, error=step.error,
                   location=step.location, detail=step.detail)
            b.keys(step.uid, _unique(step.keys))
        for link in dict.fromkeys(self.links):
            b.link(*link)
        for declared in sorted(self.declared):
            b.declare(*declared)


_OPENERS: dict[str, Callable[[_History, _Event], None]] = {
    "activity": _History._activity,
    "child_workflow": _History._child,
    "timer": _History._timer,
    "signal_sent": _History._signal_sent,
    "signal_received": _History._signal_received,
    "marker": _History._marker,
    "nexus_operation": _History._nexus,
    "update": _History._update,
}

_RUN_HANDLERS: dict[str, Callable[[_History, _Event], None]] = {
    "task": _History._task,
    "task_failed": _History._task_failed,
    "cancel_requested": _History._cancel_requested,
    "search_attributes": _History._search_attribute_event,
    "memo": _History._memo_event,
    "cancel_external": _History._cancel_external,
    "none": _History._nothing,
}


def _handlers() -> dict[str, tuple[Callable[..., None], tuple[Any, ...]]]:
    """Each known event type's handler and its arguments after the event, read off the tables
    once (not per event). A type in two tables goes to the first, as an if-chain would take it:
    the started event, closes, openers, progress, then run events."""
    out: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {}
    for etype, handler in RUN_EVENTS.items():
        out[etype] = (_RUN_HANDLERS[handler], ())
    for etype, (ref_field, effect) in STEP_PROGRESS.items():
        out[etype] = (_History._progress, (ref_field, effect))
    for etype, step_type in STEP_OPENERS.items():
        out[etype] = (_OPENERS[step_type], ())
    for etype, status in RUN_CLOSE.items():
        out[etype] = (_History._closed, (status,))
    out["WorkflowExecutionStarted"] = (_History._started, ())
    return out


#: Event type -> (handler, arguments after the event).
_HANDLERS = _handlers()


def _compact(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if v is not None}


def _unique(keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((str(k), str(v)) for k, v in keys if v is not None and v != ""))


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(
        microsecond=us % 1_000_000).isoformat().replace("+00:00", "Z")


def _business_keys(name: str, value: Any) -> list[tuple[str, str]]:
    """``business:<name>`` keys for the id-like values of a search attribute or memo field.

    Only values that look like identifiers (no spaces, a digit in them, or large integers):
    a shared ``env=prod`` or ``tier=3`` would otherwise stitch unrelated runs together.
    """
    values = value if isinstance(value, list) else [value]
    out: list[tuple[str, str]] = []
    for v in values:
        if isinstance(v, bool):
            continue
        if (isinstance(v, int) and abs(v) >= 1000) or (
                isinstance(v, str) and 0 < len(v) <= 200 and not any(c.isspace() for c in v)
                and any(c.isdigit() for c in v)):
            out.append((business_key(name), str(v)))
    return out


def _trace_context_keys(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Trace ids from Jaeger (``uber-trace-id``) and B3 propagation, which tracers of the
    Java and Go SDKs' OpenTracing interceptors put in ``_tracer-data``."""
    low = {k.lower(): v for k, v in values.items() if isinstance(v, str)}
    out: list[tuple[str, str]] = []
    uber = low.get("uber-trace-id")
    if uber and uber.count(":") >= 3:
        tid, sid = uber.split(":")[:2]
        out.extend([(KeyKind.TRACE_ID, trace_id(tid)), (KeyKind.SPAN_ID, span_id(sid))])
    b3 = low.get("b3")
    if b3 and "-" in b3:
        tid, sid = b3.split("-")[:2]
        out.extend([(KeyKind.TRACE_ID, trace_id(tid)), (KeyKind.SPAN_ID, span_id(sid))])
    if low.get("x-b3-traceid"):
        out.append((KeyKind.TRACE_ID, trace_id(low["x-b3-traceid"])))
    if low.get("x-b3-spanid"):
        out.append((KeyKind.SPAN_ID, span_id(low["x-b3-spanid"])))
    return [(k, v) for k, v in out if v]


def _ids_from_file_name(name: str, own_run: str | None,
                        first_run: str | None) -> tuple[str | None, str | None]:
    """Workflow id and run id stated by a file name (see ``FILE_NAME_*``)."""
    named = FILE_EXTENSIONS.sub("", PurePath(name).name)
    history = FILE_NAME_HISTORY.match(named)
    stem = history["wf"] if history else named
    m = FILE_NAME_EXPLICIT.match(stem)
    if m:
        return m["wf"], m["run"]
    m = FILE_NAME_CONFIRMED.match(stem)
    if m and m["run"].lower() in {r.lower() for r in (own_run, first_run) if r}:
        return m["wf"], m["run"]
    return (stem, None) if history else (None, None)
