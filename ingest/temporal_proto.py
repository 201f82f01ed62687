"""Temporal workflow histories as binary protobuf: temporal.api.history.v1.History and exports.

What the SDKs' replay test files (``*.bin``, e.g. sdk-typescript ``history_files``), a
``GetWorkflowExecutionHistoryResponse`` body and Temporal Cloud's Workflow History Export
(``temporal.api.export.v1.WorkflowExecutions``, hourly files, 2024+) hold. A file may be gzip.

Parsed with a small descriptor built here from the table below (only the fields the mapping
reads; enums as in temporal.api.enums.v1) rather than the ``temporalio`` package: that package
adds a 33 MB native SDK core and its own protobuf pin for what is a handful of messages, and
unknown fields (newer servers) are simply ignored. Each event is decoded on its own into the
shape of the proto3 JSON mapping (what ``temporal workflow show -o json`` writes) and mapped
by ``temporal_json``, so both encodings give the same rows. A truncated file loses only the
event that was cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    message_factory,
    timestamp_pb2,
)
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from ingest import temporal_json
from ingest.base import Batch, BatchBuilder, Source, proto_fields, read_varint
from ingest.temporal_json import ENUMS, EVENT_TYPES, FAILED_CAUSES, TEMPORAL, Hints

NAME = "temporal_proto"

#: Private proto package, so that a ``temporalio`` imported in the same process cannot clash.
PACKAGE = "tracemap.temporal"

#: Enum types: name -> (value prefix, names by number); from temporal_json's tables.
ENUM_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "EventType": ("EVENT_TYPE_", ("UNSPECIFIED", *(
        temporal_json._snake_upper(EVENT_TYPES[n]) if n in EVENT_TYPES else f"RESERVED_{n}"
        for n in range(1, max(EVENT_TYPES) + 1)))),
    "RetryState": ENUMS["retryState"],
    "TimeoutType": ENUMS["timeoutType"],
    "ContinueAsNewInitiator": ENUMS["initiator"],
    "ParentClosePolicy": ENUMS["parentClosePolicy"],
    "WorkflowTaskFailedCause": FAILED_CAUSES["WorkflowTaskFailed"],
    "StartChildWorkflowExecutionFailedCause": FAILED_CAUSES["StartChildWorkflowExecutionFailed"],
    "SignalExternalWorkflowExecutionFailedCause":
        FAILED_CAUSES["SignalExternalWorkflowExecutionFailed"],
    "CancelExternalWorkflowExecutionFailedCause":
        FAILED_CAUSES["RequestCancelExternalWorkflowExecutionFailed"],
}

#: Messages of temporal.api (common, failure, update, sdk, history v1, api v1.4x), as far as
#: the mapping reads them: ``field=number:type``; type is a scalar, an enum or message here,
#: ``Timestamp``/``Duration``, ``T[]`` (repeated) or ``map<K,V>``.
MESSAGES: dict[str, str] = {
    "WorkflowExecution": "workflow_id=1:string run_id=2:string",
    "WorkflowType": "name=1:string",
    "ActivityType": "name=1:string",
    "TaskQueue": "name=1:string",
    "Payload": "metadata=1:map<string,bytes> data=2:bytes",
    "Payloads": "payloads=1:Payload[]",
    "Header": "fields=1:map<string,Payload>",
    "Memo": "fields=1:map<string,Payload>",
    "SearchAttributes": "indexed_fields=1:map<string,Payload>",
    "RetryPolicy": "maximum_attempts=4:int32",
    "WorkerVersionStamp": "build_id=1:string",
    "WorkerDeploymentVersion": "build_id=1:string deployment_name=2:string",
    "WorkflowTaskCompletedMetadata": "sdk_name=3:string sdk_version=4:string",
    "Empty": "",
    "ApplicationFailureInfo": "type=1:string non_retryable=2:bool",
    "TimeoutFailureInfo": "timeout_type=1:TimeoutType",
    "ActivityFailureInfo": "activity_type=4:ActivityType activity_id=5:string "
                           "retry_state=6:RetryState",
    "ChildWorkflowExecutionFailureInfo": "workflow_execution=2:WorkflowExecution "
                                         "workflow_type=3:WorkflowType retry_state=6:RetryState",
    "Failure": "message=1:string source=2:string cause=4:Failure "
               "application_failure_info=5:ApplicationFailureInfo "
               "timeout_failure_info=6:TimeoutFailureInfo canceled_failure_info=7:Empty "
               "terminated_failure_info=8:Empty server_failure_info=9:Empty "
               "activity_failure_info=11:ActivityFailureInfo "
               "child_workflow_execution_failure_info=12:ChildWorkflowExecutionFailureInfo "
               "nexus_operation_execution_failure_info=13:Empty",
    "UpdateMeta": "update_id=1:string identity=2:string",
    # temporal.api.common.v1.Link: a Nexus operation's started event names its handler's run
    "LinkWorkflowEvent": "namespace=1:string workflow_id=2:string run_id=3:string",
    "Link": "workflow_event=1:LinkWorkflowEvent",
    "UpdateInput": "header=1:Header name=2:string args=3:Payloads",
    "UpdateRequest": "meta=1:UpdateMeta input=2:UpdateInput",
    "UpdateOutcome": "success=1:Payloads failure=2:Failure",
    # <EventType>EventAttributes
    "WorkflowExecutionStarted": (
        "workflow_type=1:WorkflowType parent_workflow_namespace=2:string "
        "parent_workflow_execution=3:WorkflowExecution task_queue=5:TaskQueue input=6:Payloads "
        "continued_execution_run_id=10:string initiator=11:ContinueAsNewInitiator "
        "original_execution_run_id=14:string identity=15:string first_execution_run_id=16:string "
        "retry_policy=17:RetryPolicy attempt=18:int32 cron_schedule=20:string memo=22:Memo "
        "search_attributes=23:SearchAttributes header=25:Header workflow_id=28:string "
        "root_workflow_execution=31:WorkflowExecution"),
    "WorkflowExecutionCompleted": "result=1:Payloads new_execution_run_id=3:string",
    "WorkflowExecutionFailed": "failure=1:Failure retry_state=2:RetryState "
                               "new_execution_run_id=4:string",
    "WorkflowExecutionTimedOut": "retry_state=1:RetryState new_execution_run_id=2:string",
    "WorkflowTaskStarted": "identity=2:string worker_version=6:WorkerVersionStamp",
    "WorkflowTaskCompleted": (
        "identity=3:string binary_checksum=4:string worker_version=5:WorkerVersionStamp "
        "sdk_metadata=6:WorkflowTaskCompletedMetadata worker_deployment_name=10:string "
        "deployment_version=11:WorkerDeploymentVersion"),
    "WorkflowTaskTimedOut": "timeout_type=3:TimeoutType",
    "WorkflowTaskFailed": "cause=3:WorkflowTaskFailedCause failure=4:Failure identity=5:string "
                          "binary_checksum=9:string worker_version=10:WorkerVersionStamp",
    "ActivityTaskScheduled": "activity_id=1:string activity_type=2:ActivityType "
                             "task_queue=4:TaskQueue header=5:Header input=6:Payloads "
                             "retry_policy=12:RetryPolicy",
    "ActivityTaskStarted": "scheduled_event_id=1:int64 identity=2:string attempt=4:int32 "
                           "last_failure=5:Failure worker_version=6:WorkerVersionStamp",
    "ActivityTaskCompleted": "result=1:Payloads scheduled_event_id=2:int64 identity=4:string",
    "ActivityTaskFailed": "failure=1:Failure scheduled_event_id=2:int64 identity=4:string "
                          "retry_state=5:RetryState",
    "ActivityTaskTimedOut": "failure=1:Failure scheduled_event_id=2:int64 "
                            "retry_state=4:RetryState",
    "ActivityTaskCancelRequested": "scheduled_event_id=1:int64",
    "ActivityTaskCanceled": "scheduled_event_id=3:int64 identity=5:string",
    "TimerStarted": "timer_id=1:string start_to_fire_timeout=2:Duration",
    "TimerFired": "timer_id=1:string started_event_id=2:int64",
    "TimerCanceled": "timer_id=1:string started_event_id=2:int64",
    "WorkflowExecutionCancelRequested": "cause=1:string "
                                        "external_workflow_execution=3:WorkflowExecution "
                                        "identity=4:string",
    "WorkflowExecutionCanceled": "details=2:Payloads",
    "MarkerRecorded": "marker_name=1:string details=2:map<string,Payloads> header=4:Header "
                      "failure=5:Failure",
    "WorkflowExecutionSignaled": "signal_name=1:string input=2:Payloads identity=3:string "
                                 "header=4:Header external_workflow_execution=6:WorkflowExecution",
    "WorkflowExecutionTerminated": "reason=1:string details=2:Payloads identity=3:string",
    "RequestCancelExternalWorkflowExecutionInitiated": "workflow_execution=3:WorkflowExecution",
    "RequestCancelExternalWorkflowExecutionFailed": (
        "cause=1:CancelExternalWorkflowExecutionFailedCause "
        "workflow_execution=4:WorkflowExecution"),
    "ExternalWorkflowExecutionCancelRequested": "workflow_execution=3:WorkflowExecution",
    "WorkflowExecutionContinuedAsNew": "new_execution_run_id=1:string "
                                       "initiator=9:ContinueAsNewInitiator failure=10:Failure",
    "StartChildWorkflowExecutionInitiated": (
        "namespace=1:string workflow_id=2:string workflow_type=3:WorkflowType "
        "task_queue=4:TaskQueue input=5:Payloads parent_close_policy=9:ParentClosePolicy "
        "header=15:Header"),
    "StartChildWorkflowExecutionFailed": (
        "workflow_id=2:string cause=4:StartChildWorkflowExecutionFailedCause "
        "initiated_event_id=6:int64"),
    "ChildWorkflowExecutionStarted": "initiated_event_id=2:int64 "
                                     "workflow_execution=3:WorkflowExecution",
    "ChildWorkflowExecutionCompleted": "result=1:Payloads workflow_execution=3:WorkflowExecution "
                                       "initiated_event_id=5:int64",
    "ChildWorkflowExecutionFailed": "failure=1:Failure workflow_execution=3:WorkflowExecution "
                                    "initiated_event_id=5:int64 retry_state=7:RetryState",
    "ChildWorkflowExecutionCanceled": "workflow_execution=3:WorkflowExecution "
                                      "initiated_event_id=5:int64",
    "ChildWorkflowExecutionTimedOut": "workflow_execution=2:WorkflowExecution "
                                      "initiated_event_id=4:int64 retry_state=6:RetryState",
    "ChildWorkflowExecutionTerminated": "workflow_execution=2:WorkflowExecution "
                                        "initiated_event_id=4:int64",
    "SignalExternalWorkflowExecutionInitiated": (
        "namespace=2:string workflow_execution=3:WorkflowExecution signal_name=4:string "
        "input=5:Payloads child_workflow_only=7:bool header=8:Header"),
    "SignalExternalWorkflowExecutionFailed": (
        "cause=1:SignalExternalWorkflowExecutionFailedCause workflow_execution=4:WorkflowExecution "
        "initiated_event_id=5:int64"),
    "ExternalWorkflowExecutionSignaled": "initiated_event_id=1:int64 "
                                         "workflow_execution=3:WorkflowExecution",
    "UpsertWorkflowSearchAttributes": "search_attributes=2:SearchAttributes",
    "WorkflowExecutionUpdateAccepted": "accepted_request=4:UpdateRequest",
    "WorkflowExecutionUpdateRejected": "rejected_request=4:UpdateRequest failure=5:Failure",
    "WorkflowExecutionUpdateCompleted": "meta=1:UpdateMeta outcome=2:UpdateOutcome "
                                        "accepted_event_id=3:int64",
    "WorkflowPropertiesModifiedExternally": "upserted_memo=5:Memo",
    "ActivityPropertiesModifiedExternally": "scheduled_event_id=1:int64",
    "WorkflowPropertiesModified": "upserted_memo=2:Memo",
    "NexusOperationScheduled": "endpoint=1:string service=2:string operation=3:string "
                               "input=4:Payload nexus_header=6:map<string,string>",
    "NexusOperationStarted": "scheduled_event_id=1:int64",
    "NexusOperationCompleted": "scheduled_event_id=1:int64 result=2:Payload",
    "NexusOperationFailed": "scheduled_event_id=1:int64 failure=2:Failure",
    "NexusOperationCanceled": "scheduled_event_id=1:int64 failure=2:Failure",
    "NexusOperationTimedOut": "scheduled_event_id=1:int64 failure=2:Failure",
    "NexusOperationCancelRequested": "scheduled_event_id=1:int64",
    "NexusOperationCancelRequestCompleted": "scheduled_event_id=3:int64",
    "NexusOperationCancelRequestFailed": "failure=3:Failure scheduled_event_id=4:int64",
}

#: HistoryEvent's ``attributes`` oneof: event type -> field number (6 = started ... 65).
ATTRIBUTE_FIELDS: dict[str, int] = {
    EVENT_TYPES[n]: f for n, f in (
        (1, 6), (2, 7), (3, 8), (4, 9), (5, 10), (6, 11), (7, 12), (8, 13), (9, 14), (10, 15),
        (11, 16), (12, 17), (13, 18), (14, 19), (17, 20), (18, 21), (15, 22), (16, 23), (19, 24),
        (25, 25), (26, 26), (27, 27), (20, 28), (21, 29), (22, 30), (23, 31), (24, 32), (28, 33),
        (29, 34), (30, 35), (31, 36), (32, 37), (33, 38), (34, 39), (35, 40), (36, 41), (37, 42),
        (38, 43), (39, 44), (40, 45), (41, 46), (42, 47), (43, 48), (44, 49), (45, 50), (46, 51),
        (47, 52), (48, 53), (49, 54), (50, 55), (51, 56), (52, 57), (53, 58), (54, 59), (55, 60),
        (56, 61), (57, 62), (58, 63), (59, 64), (60, 65))
}

_SCALARS = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
}
_WELL_KNOWN = {"Timestamp": ".google.protobuf.Timestamp", "Duration": ".google.protobuf.Duration"}
_FIELD = re.compile(r"^(\w+)=(\d+):(map<(\w+),(\w+)>|\w+(\[\])?)$")


def _set_type(fd: descriptor_pb2.FieldDescriptorProto, type_name: str) -> None:
    fdp = descriptor_pb2.FieldDescriptorProto
    if type_name in _SCALARS:
        fd.type = _SCALARS[type_name]
    elif type_name in ENUM_TYPES:
        fd.type, fd.type_name = fdp.TYPE_ENUM, f".{PACKAGE}.{type_name}"
    else:
        fd.type = fdp.TYPE_MESSAGE
        fd.type_name = _WELL_KNOWN.get(type_name) or f".{PACKAGE}.{_message_name(type_name)}"


def _message_name(name: str) -> str:
    return f"{name}EventAttributes" if name in ATTRIBUTE_FIELDS else name


def _add_fields(msg: descriptor_pb2.DescriptorProto, spec: str) -> None:
    fdp = descriptor_pb2.FieldDescriptorProto
    for token in spec.split():
        m = _FIELD.match(token)
        if not m:
            raise ValueError(f"bad field spec {token!r}")
        name, number, kind, key, value, repeated = m.groups()
        fd = msg.field.add(name=name, number=int(number), label=fdp.LABEL_OPTIONAL)
        if key:  # map<K,V>: a nested XxxEntry message, as protoc generates it
            entry = msg.nested_type.add(name="".join(p.capitalize() for p in name.split("_"))
                                        + "Entry")
            entry.options.map_entry = True
            _set_type(entry.field.add(name="key", number=1, label=fdp.LABEL_OPTIONAL), key)
            _set_type(entry.field.add(name="value", number=2, label=fdp.LABEL_OPTIONAL), value)
            fd.label, fd.type = fdp.LABEL_REPEATED, fdp.TYPE_MESSAGE
            fd.type_name = f".{PACKAGE}.{msg.name}.{entry.name}"
        else:
            if repeated:
                fd.label = fdp.LABEL_REPEATED
            _set_type(fd, kind.removesuffix("[]"))


def _build() -> tuple[type[Message], type[Message]]:
    """The HistoryEvent and History message classes, from the tables above."""
    file = descriptor_pb2.FileDescriptorProto(
        name="tracemap/temporal_history.proto", package=PACKAGE, syntax="proto3",
        dependency=["google/protobuf/timestamp.proto", "google/protobuf/duration.proto"])
    for name, (prefix, values) in ENUM_TYPES.items():
        enum = file.enum_type.add(name=name)
        for number, value in enumerate(values):
            enum.value.add(name=prefix + value, number=number)
    for name, spec in MESSAGES.items():
        _add_fields(file.message_type.add(name=_message_name(name)), spec)
    event = file.message_type.add(name="HistoryEvent")
    _add_fields(event, "event_id=1:int64 event_time=2:Timestamp event_type=3:EventType "
                "version=4:int64 task_id=5:int64 links=302:Link[]")
    fdp = descriptor_pb2.FieldDescriptorProto
    for etype, number in ATTRIBUTE_FIELDS.items():
        snake = temporal_json._snake_upper(etype).lower()
        fd = event.field.add(name=f"{snake}_event_attributes", number=number,
                             label=fdp.LABEL_OPTIONAL, type=fdp.TYPE_MESSAGE)
        # Types the mapping reads nothing from still get a message, so the event keeps one.
        if etype not in MESSAGES:
            file.message_type.add(name=f"{etype}EventAttributes")
        fd.type_name = f".{PACKAGE}.{etype}EventAttributes"
    _add_fields(file.message_type.add(name="History"), "events=1:HistoryEvent[]")
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(duration_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(file.SerializeToString())
    return (message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.HistoryEvent")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.History")))


HistoryEvent, History = _build()


# --------------------------------------------------------------------------------------------
# Sniff and parse


def sniff(head: bytes, path: str) -> bool:
    # History.events(1) -> HistoryEvent: event_id(1) varint, event_time(2) a Timestamp of this
    # century, event_type(3) a known type. Exports wrap it in one or two more field-1 levels.
    buf = head
    for _ in range(3):
        fields = proto_fields(buf)
        if not fields or fields[0][:2] != (1, 2):
            return False
        buf = fields[0][2]
        inner = proto_fields(buf)
        if inner and inner[0][:2] == (1, 0):
            return _looks_like_event(inner)
    return False


def _looks_like_event(fields: list[tuple[int, int, Any]]) -> bool:
    by_number = {f: (w, v) for f, w, v in fields}
    time, etype = by_number.get(2), by_number.get(3)
    if not time or not etype or time[0] != 2 or etype[0] != 0 or etype[1] not in EVENT_TYPES:
        return False
    seconds = proto_fields(time[1])
    return bool(seconds) and seconds[0][:2] == (1, 0) and 946_684_800 <= seconds[0][2] < 4e9


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    data = src.read_document()
    depth = _depth(data)
    if depth is None:
        b.read()
        b.reject("file", "expected a protobuf temporal.api.history.v1.History (field 1 = "
                 "HistoryEvent), a GetWorkflowExecutionHistoryResponse or an export "
                 "WorkflowExecutions; the first field is not one", data[:64].hex())
        yield b.take()
        return
    origins: dict[str, set[str]] = {"workflow_id_from": set(), "run_id_from": set()}
    if depth == 3:  # export: items(1) -> WorkflowExecution.history(1) -> History
        items = list(_split(data, b, "items"))
        for i, item in enumerate(items):
            history = _first_field_1(item)
            if history is None:
                b.read()
                b.reject(f"items[{i}]", "expected a WorkflowExecution holding a history")
                continue
            _map(b, src, history, f"items[{i}] ", Hints(use_file=len(items) == 1), origins)
            if b.ready():
                yield b.take()
    else:
        history = data if depth == 1 else _first_field_1(data)
        _map(b, src, history or b"", "", Hints(), origins)
    for name, values in origins.items():
        if values:
            b.note(name, ",".join(sorted(values)))
    yield b.take()


def _map(b: BatchBuilder, src: Source, history: bytes, prefix: str, hints: Hints,
         origins: dict[str, set[str]]) -> None:
    events: list[tuple[str, Any]] = []
    for i, raw in enumerate(_split(history, b, f"{prefix}events")):
        try:
            message = HistoryEvent.FromString(raw)
        except DecodeError as exc:
            b.read()
            b.reject(f"{prefix}events[{i}]", f"expected a protobuf HistoryEvent: {exc}",
                     raw[:64].hex())
            continue
        events.append((f"{prefix}events[{i}]", to_dict(message)))
    for name, value in temporal_json.map_history(b, src, events, TEMPORAL, hints, prefix).items():
        origins[name].add(value)


def to_dict(message: Message) -> dict[str, Any]:
    """A message as the dict ``temporal_json`` reads: proto3 JSON names and enum names, with
    int64 as ints, bytes kept as bytes and times as ``{seconds, nanos}`` (all of which the
    mapping also accepts). Four times faster than ``json_format.MessageToDict``, which matters
    at millions of events."""
    out: dict[str, Any] = {}
    for fd, value in message.ListFields():
        name, repeated, kind, extra = _plan(fd)
        if kind == "map":
            _, _, value_kind, value_extra = _plan(extra)
            out[name] = {k: _value(value_kind, value_extra, v) for k, v in value.items()}
        elif repeated:
            out[name] = [_value(kind, extra, v) for v in value]
        else:
            out[name] = _value(kind, extra, value)
    return out


_PLANS: dict[FieldDescriptor, tuple[str, bool, str, Any]] = {}


def _plan(fd: FieldDescriptor) -> tuple[str, bool, str, Any]:
    """(JSON name, repeated, kind, extra) of a field, worked out once."""
    plan = _PLANS.get(fd)
    if plan is not None:
        return plan
    kind, extra = "scalar", None
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        full = fd.message_type.full_name
        if fd.message_type.GetOptions().map_entry:
            kind, extra = "map", fd.message_type.fields_by_name["value"]
        else:
            kind = {"google.protobuf.Timestamp": "time",
                    "google.protobuf.Duration": "duration"}.get(full, "message")
    elif fd.type == FieldDescriptor.TYPE_ENUM:
        kind, extra = "enum", {v.number: v.name for v in fd.enum_type.values}
    plan = _PLANS[fd] = (fd.json_name, fd.is_repeated and kind != "map", kind, extra)
    return plan


def _value(kind: str, extra: Any, value: Any) -> Any:
    if kind == "scalar":
        return value
    if kind == "message":
        return to_dict(value)
    if kind == "enum":
        return extra.get(value, value)
    if kind == "time":
        return {"seconds": value.seconds, "nanos": value.nanos}
    return value.ToJsonString()  # Duration: "10s", "1.500s", as protojson writes it


def _depth(data: bytes) -> int | None:
    """How many field-1 levels wrap the first HistoryEvent: 1 History, 2 a response, 3 export."""
    buf = data[:1 << 16]
    for depth in (1, 2, 3):
        fields = proto_fields(buf)
        if not fields or fields[0][:2] != (1, 2):
            return None
        buf = fields[0][2]
        inner = proto_fields(buf)
        if inner and inner[0][:2] == (1, 0):
            return depth
    return None


def _first_field_1(buf: bytes) -> bytes | None:
    for number, wire, value in proto_fields(buf):
        if number == 1 and wire == 2:
            return value
    return None


def _split(buf: bytes, b: BatchBuilder, what: str) -> Iterator[bytes]:
    """Each field-1 value of a message, strictly: a value cut short is one rejected record."""
    i, n, index = 0, len(buf), 0
    while i < n:
        start = i
        tag, i = read_varint(buf, i)
        if tag is None or tag >> 3 == 0 or (tag & 7) not in (0, 1, 2, 5):
            b.read()
            b.reject(f"{what}[{index}]", f"not protobuf at byte {start}: bad field tag "
                     "(truncated or corrupt file)", buf[start:start + 64].hex())
            return
        wire = tag & 7
        if wire == 2:
            size, i = read_varint(buf, i)
            end = i + (size or 0)
            if size is None or end > n:
                b.read()
                b.reject(f"{what}[{index}]", f"truncated at byte {n}: a field of {size} bytes "
                         f"starts at byte {i}", buf[start:start + 64].hex())
                return
            if tag >> 3 == 1:
                yield buf[i:end]
                index += 1
            i = end
        elif wire == 0:
            _, i = read_varint(buf, i)
        else:
            i += 8 if wire == 1 else 4
