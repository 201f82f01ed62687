"""AWS Step Functions execution histories (GetExecutionHistory, CloudWatch Logs events) as JSON.

Shapes read, alone or anywhere inside a JSON document (test snapshots, API responses, users'
own wrappers are walked for them):

- ``aws stepfunctions get-execution-history`` output: ``{"events": [{"timestamp", "type",
  "id", "previousEventId", "<type>EventDetails": {...}}]}`` (also a bare list of events).
  AWS CLI v1 writes ``timestamp`` as epoch seconds with a fraction (``1551297436.064``; read
  from the text, never through a float), CLI v2 and SDKs as ISO 8601, boto3 ``default=str``
  dumps as ``2019-02-27 20:57:16.064000+00:00``. ``input``/``output``/``parameters`` are JSON
  *strings* (snapshot tools such as LocalStack's store them decoded: both are read).
- the same merged with ``describe-execution`` fields (``executionArn``, ``stateMachineArn``,
  ``name``, ``status``, ``startDate``, ``stopDate``, ``input``, ``output``, ``traceHeader``,
  ``redriveCount``), on the history object itself, on its parent, or in a sibling object
  (the Cumulus API ``/executions/status`` response keeps them in ``execution`` next to
  ``executionHistory``, and flattens event details onto the event).
- CloudWatch Logs execution events (logging level ALL/ERROR/FATAL, 2020-02+): snake_case
  ``{"id": "1", "type", "details", "previous_event_id": "0", "event_timestamp": "<ms>",
  "execution_arn", "redrive_count"}`` with ids and times as strings; as JSON lines, as a
  list, or as the ``message`` strings of ``aws logs filter-log-events``/``get-log-events``.
  Below ERROR level only failure events are logged: such executions are partial. Also as
  ``sam logs`` prints them (``<log stream> <time> {`` + the event pretty-printed, aws-sam-cli
  1.x ``CWJsonFormatter``) or ``aws logs tail`` does (``<time> <log stream> <event>``);
  log events whose message is text (CloudWatch's delivery check at the head of a vended log
  group, a Lambda's START/REPORT lines) are skipped as ``log message that is not JSON``.
- ``definition`` objects next to a history (describe-state-machine, Cumulus ``stateMachine``)
  are declared as ``stepfunctions_asl`` declares them.

An execution becomes a run of ``stepfunctions:statemachine:<machine>`` (uid
``stepfunctions:run:<executionArn>``; without an ARN, ``stepfunctions:run:derived-<hash of
its first event>``). Each state entry becomes a step of ``stepfunctions:state:<machine>.<state>``
(uid ``stepfunctions:step:<execution>/<entered event id>``); a task retried within one entry
(repeated ``TaskScheduled``/``LambdaFunctionScheduled``/``ActivityScheduled``) gives one step
per attempt, later ones suffixed ``#<attempt>``, earlier ones ``retried``. Events are tied to
their state by following ``previousEventId`` (Parallel branches and Map iterations interleave).
If one document holds two different executions under one ARN (snapshot tools redact ARNs to
one placeholder), the later one is kept apart as ``<arn>@<n>``; an event seen twice (history
and logs of one execution) is skipped as ``duplicate event``. EventBridge events found next
to histories are skipped (``eventbridge_json`` reads them).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from ingest import stepfunctions_asl as asl
from ingest._event_source import started_by
from ingest._json import cut_document, has_log_prefix, log_records
from ingest.base import (
    MAX_JSON_DEPTH,
    Batch,
    BatchBuilder,
    Source,
    dumps,
    first_json_value,
    is_json_lines,
    loads,
    traceparent_keys,
    us_auto,
    us_from_iso,
    us_from_s,
    xray_keys,
)
from tracemap.model import EdgeKind, KeyKind, Status, component

NAME = "stepfunctions_json"
#: What ``sniff`` looks for (said for a file no format claims).
LOOKS_FOR = ("history events with previousEventId (previous_event_id in CloudWatch events), "
             "or executionHistory next to executionArn")

#: The state types of ASL, as history event types spell them.
STATE_TYPES = ("Task", "Choice", "Fail", "Map", "Parallel", "Pass", "Succeed", "Wait")

#: History event type -> (state type it belongs to, role). ``attempt`` opens a (re)try of the
#: state's work; ``exit``/``abort`` close the state. A family left ``""`` here is read off the
#: type's prefix (FAMILY_PREFIXES); still ``""`` (EvaluationFailed) it means "whatever state is
#: current".
EVENTS: dict[str, tuple[str, str]] = {
    **{f"{t}StateEntered": (t, "enter") for t in STATE_TYPES},
    **{f"{t}StateExited": (t, "exit") for t in STATE_TYPES},
    **{f"{t}StateAborted": (t, "abort") for t in ("Task", "Map", "Parallel", "Wait")},
    **dict.fromkeys(("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled",
                     "ParallelStateStarted", "MapStateStarted"), ("", "attempt")),
    **dict.fromkeys(("TaskStarted", "TaskSubmitted", "LambdaFunctionStarted", "ActivityStarted",
                     "MapIterationStarted", "MapIterationSucceeded", "MapIterationFailed",
                     "MapIterationAborted", "MapRunStarted", "MapRunSucceeded", "MapRunAborted",
                     "MapRunRedriven"), ("", "info")),
    **dict.fromkeys(("TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded",
                     "ParallelStateSucceeded", "MapStateSucceeded"), ("", "succeed")),
    **dict.fromkeys(("TaskFailed", "TaskStartFailed", "TaskSubmitFailed", "LambdaFunctionFailed",
                     "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed",
                     "ActivityFailed", "ActivityScheduleFailed", "ParallelStateFailed",
                     "MapStateFailed", "MapRunFailed", "EvaluationFailed"), ("", "fail")),
    **dict.fromkeys(("TaskTimedOut", "LambdaFunctionTimedOut", "ActivityTimedOut"),
                    ("", "timeout")),
    "ExecutionStarted": ("Execution", "start"),
    "ExecutionRedriven": ("Execution", "redrive"),
    **dict.fromkeys(("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut",
                     "ExecutionAborted"), ("Execution", "end")),
}
#: The state type an event belongs to, by the prefix of its type (for those not set above).
FAMILY_PREFIXES = (("LambdaFunction", "Task"), ("Activity", "Task"), ("Task", "Task"),
                   ("Parallel", "Parallel"), ("MapRun", "Map"), ("MapIteration", "Map"),
                   ("Map", "Map"), ("Evaluation", ""))
#: Run status from the event that ended the execution.
EXECUTION_END: dict[str, Status] = {
    "ExecutionSucceeded": Status.OK, "ExecutionFailed": Status.FAILED,
    "ExecutionTimedOut": Status.TIMED_OUT, "ExecutionAborted": Status.CANCELLED,
}
#: Run status from describe-execution's ``status`` (and Cumulus', same spelling).
EXECUTION_STATUS: dict[str, Status] = {
    "RUNNING": Status.RUNNING, "SUCCEEDED": Status.OK, "FAILED": Status.FAILED,
    "TIMED_OUT": Status.TIMED_OUT, "ABORTED": Status.CANCELLED,
    "PENDING_REDRIVE": Status.RUNNING,  # failed, a redrive was requested and has not started
}
#: describe-execution fields kept from the object that holds (or sits next to) a history.
EXECUTION_FIELDS = ("executionArn", "stateMachineArn", "name", "status", "startDate",
                    "stopDate", "input", "output", "traceHeader", "error", "cause",
                    "redriveCount", "redriveStatus", "mapRunArn", "stateMachineVersionArn",
                    "stateMachineAliasArn")
#: Fields of an execution's input that name the execution that started it (the console's
#: parent link, set by ``"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"``).
STARTED_BY_FIELDS = ("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID",)
#: Numeric time fields: when a document has them it is parsed keeping the digits exact.
_NUMERIC_TIME = re.compile(rb'"(?:timestamp|startDate|stopDate|redriveDate)"\s*:\s*\d+\.\d')
_DIGITS = re.compile(r"^\d+(\.\d+)?$")
#: A redacted id (``<uuid:1>``, ``arn:<partition>:states:...``): AWS ids never hold ``<``, and
#: snapshot tools reuse one placeholder for many values, so such keys would join strangers.
_PLACEHOLDER = re.compile(r"<[^<>]*>")
_TOKEN_FIELD = re.compile(r"^task_?token$", re.I)
#: A CloudWatch Logs export pending this many events flushes its finished executions.
MAX_PENDING_EVENTS = 200_000
_CAUSE_CAP = 2000


class _Exact(float):
    """A JSON number that remembers its text, so epoch seconds convert to µs exactly."""

    text: str

    def __new__(cls, text: str) -> _Exact:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


@dataclass(slots=True)
class _Event:
    id: int
    prev: int | None
    type: str
    ts: int | None
    details: dict[str, Any]
    where: str
    family: str = ""
    role: str = "unknown"


@dataclass
class _Execution:
    uid: str
    arn: str | None
    where: str
    meta: dict[str, Any] = field(default_factory=dict)
    events: dict[int, _Event] = field(default_factory=dict)
    redrive_count: Any = None
    ended: bool = False


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if not text.startswith((b"{", b"[")):
        return False
    return (b"previousEventId" in text or b"previous_event_id" in text
            or (b'"executionHistory"' in text and b'"executionArn"' in text))


def parse(src: Source) -> Iterator[Batch]:
    p = _Parser(src)
    yield from p.run()


class _Parser:
    """One file: documents -> histories -> executions -> rows."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.b = BatchBuilder()
        self.executions: dict[str, _Execution] = {}
        self.pending = 0
        self.limit = MAX_PENDING_EVENTS
        self.dynamic: list[str] = []
        self.unreadable_times = 0

    # ---- reading

    def run(self) -> Iterator[Batch]:
        b = self.b
        for n, (where, doc) in enumerate(self._documents()):
            self._walk(doc, where)
            if n % 1024 == 0:  # JSON lines: one event per document, so look now and then
                if self.pending > self.limit:
                    yield from self._flush(finished_only=True)
                    # what is left is unfinished: do not rescan it for every chunk
                    self.limit = max(MAX_PENDING_EVENTS, 2 * self.pending)
                if b.ready():
                    yield b.take()
        yield from self._flush(finished_only=False)
        if self.dynamic:
            b.note("dynamic_targets", self.dynamic)
        if self.unreadable_times:
            b.note("unreadable_timestamps", self.unreadable_times)
        yield b.take()

    def _documents(self) -> Iterator[tuple[str, Any]]:
        """The file as one document, or one per line (JSON lines of CloudWatch events), or one
        per log event of ``sam logs`` / ``aws logs tail`` output (``_json.log_records``)."""
        src, b = self.src, self.b
        if has_log_prefix(src):
            yield from log_records(src, b)
            return
        # JSON lines when the first line (or, garbled, the next ones) is a whole JSON value and
        # more lines follow; a one-line file is one document.
        if is_json_lines(src) and _several_lines(src):
            for number, line in src.lines():
                try:
                    yield f"line {number}", _load(line)
                except ValueError as exc:
                    b.read()
                    b.reject(f"line {number}", f"expected a JSON document per line: {exc}", line)
            return
        data = src.read_document()
        try:
            doc = _load(data)
        except ValueError as exc:
            doc = cut_document(data, data, exc, b, "one JSON document")
            if doc is None:
                return
        yield "", doc

    def _walk(self, doc: Any, base: str) -> None:
        """Find histories, log events, definitions and bus events anywhere in a document."""
        found = False
        stack: list[tuple[Any, str, Any]] = [(doc, base, None)]
        while stack:
            node, where, parent = stack.pop()
            if isinstance(node, list):
                kind = _list_kind(node)
                if kind:
                    self._list(kind, node, where, parent, None)
                    found = True
                    continue
                for i in range(len(node) - 1, -1, -1):
                    if isinstance(node[i], dict | list):
                        stack.append((node[i], f"{where}[{i}]", node))
                continue
            if not isinstance(node, dict):
                continue
            if _is_log_event(node):
                self._list("logs", [node], where or "document", parent, None, single=True)
                found = True
                continue
            bare = asl.is_definition(node)
            definition = node if bare else _definition_of(node)
            if definition is not None:
                machine = asl.machine_name(node) or "unknown"
                self.dynamic.extend(asl.declare_definition(
                    self.b, definition, machine, where or "document"))
                found = True
                if bare:
                    continue
            for key in reversed(list(node)):
                value = node[key]
                here = f"{where}.{key}" if where else key
                if isinstance(value, list):
                    kind = _list_kind(value)
                    if kind:
                        self._list(kind, value, here, node, parent)
                        found = True
                        continue
                if isinstance(value, dict | list) and key not in asl.DEFINITION_FIELDS:
                    stack.append((value, here, node))
        if not found:
            self.b.read()
            self.b.reject(base or "document",
                          "expected a Step Functions execution history (an 'events' list of "
                          "{id, type, timestamp}) or CloudWatch Logs execution events; found "
                          "neither", dumps(doc)[:200])

    def _list(self, kind: str, items: list[Any], where: str, holder: Any, outer: Any,
              single: bool = False) -> None:
        """Read one list of events: ``history``, ``logs`` (CloudWatch), ``messages`` (log
        events whose ``message`` is a CloudWatch execution event) or ``bus`` (skipped)."""
        b = self.b
        if kind == "bus":
            b.read(len(items))
            b.skip("EventBridge event (read with eventbridge_json)", len(items))
            return
        if kind == "history":
            meta = _execution_meta(holder, outer)
            events = []
            b.read(len(items))
            for i, raw in enumerate(items):
                ev = self._history_event(raw, f"{where}[{i}]")
                if ev is not None:
                    events.append(ev)
            arn = meta.get("executionArn") if isinstance(meta.get("executionArn"), str) else None
            self._add(arn, events, meta, where)
            return
        by_arn: dict[str | None, list[_Event]] = {}
        redrives: dict[str | None, Any] = {}
        for i, raw in enumerate(items):
            b.read()
            here = where if single else f"{where}[{i}]"
            if kind == "messages":
                raw = _message_event(raw)
                if raw is None:
                    b.skip("log event that is not a Step Functions execution event")
                    continue
            ev = self._log_event(raw, here)
            if ev is not None:
                arn = raw.get("execution_arn") if isinstance(raw.get("execution_arn"),
                                                             str) else None
                by_arn.setdefault(arn, []).append(ev)
                redrives[arn] = raw.get("redrive_count", redrives.get(arn))
        for arn, events in by_arn.items():
            ex = self._add(arn, events, {}, where)
            if ex is not None and redrives.get(arn) is not None:
                ex.redrive_count = redrives[arn]

    def _history_event(self, raw: Any, where: str) -> _Event | None:
        b = self.b
        if not isinstance(raw, dict):
            b.reject(where, f"expected a history event object, got {type(raw).__name__}")
            return None
        ev_id, ev_type = _int(raw.get("id")), raw.get("type")
        if ev_id is None or not isinstance(ev_type, str) or not ev_type:
            b.reject(where, "expected 'id' (integer) and 'type' (string), got "
                     f"{raw.get('id')!r}/{ev_type!r}", dumps(raw)[:300])
            return None
        details: dict[str, Any] = {}
        for key, value in raw.items():
            if key.endswith("EventDetails") and isinstance(value, dict):
                details.update(value)
            elif key not in ("id", "type", "timestamp", "previousEventId"):
                details.setdefault(key, value)  # Cumulus flattens details onto the event
        return self._event(ev_id, _int(raw.get("previousEventId")), ev_type,
                           raw.get("timestamp"), details, where)

    def _log_event(self, raw: Any, where: str) -> _Event | None:
        b = self.b
        if not isinstance(raw, dict):
            b.reject(where, f"expected a CloudWatch execution event object, got "
                     f"{type(raw).__name__}")
            return None
        ev_id, ev_type = _int(raw.get("id")), raw.get("type")
        if ev_id is None or not isinstance(ev_type, str) or not ev_type:
            b.reject(where, "expected 'id' (integer or digits) and 'type' (string), got "
                     f"{raw.get('id')!r}/{ev_type!r}", dumps(raw)[:300])
            return None
        details = raw.get("details") if isinstance(raw.get("details"), dict) else {}
        return self._event(ev_id, _int(raw.get("previous_event_id")), ev_type,
                           raw.get("event_timestamp"), details, where)

    def _event(self, ev_id: int, prev: int | None, ev_type: str, ts: Any,
               details: dict[str, Any], where: str) -> _Event:
        when = _time(ts)
        if when is None and ts is not None:
            self.unreadable_times += 1
        family, role = _family_role(ev_type)
        return _Event(ev_id, prev, ev_type, when, details, where, family, role)

    def _add(self, arn: str | None, events: list[_Event], meta: dict[str, Any],
             where: str) -> _Execution | None:
        """File events under their execution; returns it (None when no event was usable)."""
        b = self.b
        if not events:
            return None
        if arn:
            base = arn
        else:
            first = min(events, key=lambda e: e.id)
            digest = hashlib.sha1(dumps([first.type, first.ts, first.details]).encode())
            base = "derived-" + digest.hexdigest()[:16]
        key, n = base, 1
        while key in self.executions and _conflicts(self.executions[key], events):
            n += 1
            key = f"{base}@{n}"
        ex = self.executions.get(key)
        if ex is None:
            ex = self.executions[key] = _Execution(f"stepfunctions:run:{key}", arn, where)
        for name, value in meta.items():
            ex.meta.setdefault(name, value)
        for ev in events:
            if ev.id in ex.events:
                b.skip("duplicate event")
                continue
            ex.events[ev.id] = ev
            self.pending += 1
            if ev.role == "unknown":
                b.skip(ev.type)  # kept only so previousEventId chains still lead somewhere
            else:
                b.loaded()
            if ev.role == "end":
                ex.ended = True
        return ex

    # ---- building rows

    def _flush(self, finished_only: bool) -> Iterator[Batch]:
        for key in list(self.executions):
            ex = self.executions[key]
            if finished_only and not ex.ended:
                continue
            _Builder(self.b, self.src, ex).build()
            self.pending -= len(ex.events)
            del self.executions[key]
            if self.b.ready():
                yield self.b.take()


# --------------------------------------------------------------------------------------------
# Document helpers


def _several_lines(src: Source) -> bool:
    lines = Source(src.path).lines()  # its own reader: nothing here is a record
    try:
        return next(islice(lines, 1, 2), None) is not None
    finally:
        lines.close()


def _load(data: bytes | str) -> Any:
    """JSON; numbers with a fraction in time fields keep their text (see ``_Exact``)."""
    raw = data.encode() if isinstance(data, str) else data
    if not _NUMERIC_TIME.search(raw):
        return loads(raw)
    try:
        return json.loads(raw, parse_float=_Exact)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None


def _list_kind(items: list[Any]) -> str | None:
    """What a list holds, judged by its first few objects."""
    for item in items[:8]:
        if not isinstance(item, dict):
            continue
        if _is_log_event(item):
            return "logs"
        if "type" in item and "id" in item and ("previousEventId" in item
                                                 or "timestamp" in item):
            return "history"
        if isinstance(item.get("message"), str) and "execution_arn" in item["message"]:
            return "messages"
        if "detail-type" in item and "source" in item:
            return "bus"
    return None


def _is_log_event(obj: dict[str, Any]) -> bool:
    return "execution_arn" in obj and "type" in obj and "id" in obj


def _message_event(item: Any) -> dict[str, Any] | None:
    """The execution event inside a CloudWatch Logs event's ``message`` string, if any."""
    if not isinstance(item, dict) or not isinstance(item.get("message"), str):
        return None
    try:
        doc = loads(item["message"])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and _is_log_event(doc) else None


def _definition_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    for key in asl.DEFINITION_FIELDS:
        value = obj.get(key)
        if isinstance(value, dict) and asl.is_definition(value):
            return value
        if isinstance(value, str) and "StartAt" in value:
            try:
                parsed = asl.load_json_or_json5(value)
            except ValueError:
                continue
            if asl.is_definition(parsed):
                return parsed
    return None


def _execution_meta(holder: Any, outer: Any) -> dict[str, Any]:
    """describe-execution fields for a history held by ``holder`` (inside ``outer``)."""
    for obj in (holder, outer):
        if isinstance(obj, dict) and ("executionArn" in obj or "stateMachineArn" in obj):
            return {k: obj[k] for k in EXECUTION_FIELDS if obj.get(k) is not None}
    for obj in (holder, outer):
        if isinstance(obj, dict):
            for value in obj.values():
                if isinstance(value, dict) and isinstance(value.get("executionArn"), str):
                    return {k: value[k] for k in EXECUTION_FIELDS if value.get(k) is not None}
    return {}


def _conflicts(ex: _Execution, events: list[_Event]) -> bool:
    """Does a list of events disagree with what an execution already holds for the same ids?

    The same event seen twice (overlapping exports) is identical; anything else under the
    same id is another execution that claims the same ARN.
    """
    for ev in events:
        seen = ex.events.get(ev.id)
        if seen is not None and (seen.type, seen.ts, seen.details) != (ev.type, ev.ts,
                                                                        ev.details):
            return True
    return False


#: ``(state type, role)`` by event type, read off ``EVENTS`` and ``FAMILY_PREFIXES`` once per
#: type rather than per event (bounded).
_FAMILY_ROLES: dict[str, tuple[str, str]] = {}


def _family_role(ev_type: str) -> tuple[str, str]:
    known = _FAMILY_ROLES.get(ev_type)
    if known is None:
        family, role = EVENTS.get(ev_type, ("", "unknown"))
        if not family:
            family = next((f for p, f in FAMILY_PREFIXES if ev_type.startswith(p)), "")
        known = (family, role)
        if len(_FAMILY_ROLES) < 4096:
            _FAMILY_ROLES[ev_type] = known
    return known


def _int(value: Any) -> int | None:
    if type(value) is int:  # the common case; a bool is an int, and no event id
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _time(value: Any) -> int | None:
    """Epoch µs from an event time: exact epoch seconds, ms digits (CloudWatch), ISO text."""
    try:
        if type(value) is str:  # the common case: ISO text (boto3, the console)
            text = value.strip()
            return us_auto(text) if _DIGITS.match(text) else us_from_iso(text)
        if isinstance(value, _Exact):
            return us_from_s(value.text)
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int | float):
            return us_auto(value)
        if isinstance(value, str):
            text = value.strip()
            return us_auto(text) if _DIGITS.match(text) else us_from_iso(text)
    except (ValueError, ArithmeticError):
        return None
    return None


def _json(value: Any) -> Any:
    """A field that holds JSON text, decoded; other values as they are."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return loads(value)
        except ValueError:
            return value
    return value


def _task_tokens(doc: Any) -> list[str]:
    """Task tokens passed to an integration (``TaskToken.$: $$.Task.Token`` once resolved)."""
    out: list[str] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and _TOKEN_FIELD.match(key) and value[:1] != "$":
                    out.append(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
                elif isinstance(value, str) and value[:1] == "{":
                    decoded = _json(value)  # SQS MessageBody is often JSON text
                    if isinstance(decoded, dict):
                        stack.append(decoded)
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _error(error: Any, cause: Any) -> str | None:
    """The error name; without one, the first line of the cause (Fail states often give only
    a cause)."""
    if isinstance(error, str) and error:
        return error
    if isinstance(cause, str) and cause.strip():
        return cause.strip().splitlines()[0][:200]
    return None


def _cap(text: Any) -> str | None:
    if text is None:
        return None
    text = text if isinstance(text, str) else dumps(text)
    return text if len(text) <= _CAUSE_CAP else text[:_CAUSE_CAP] + "..."


def child_execution_arn(params: Any, outputs: list[Any]) -> str | None:
    """The execution a ``states:startExecution`` task started: from its output, else from
    the ``StateMachineArn`` and ``Name`` it was given."""
    for out in outputs:
        if isinstance(out, dict) and isinstance(out.get("ExecutionArn"), str):
            return out["ExecutionArn"]
    if isinstance(params, dict):
        machine, name = params.get("StateMachineArn"), params.get("Name")
        if isinstance(machine, str) and isinstance(name, str) and ":stateMachine:" in machine:
            head, _, rest = machine.partition(":stateMachine:")
            return f"{head}:execution:{rest.split(':', 1)[0]}:{name}"
    return None


# --------------------------------------------------------------------------------------------
# Rows


@dataclass
class _Entry:
    """One entry into a state, from its ``<Type>StateEntered`` event to its exit."""

    entered: _Event
    name: str
    state_type: str
    parent: int | None  # the entry this one is nested in (Parallel branch, Map iteration)
    events: list[_Event] = field(default_factory=list)
    closed: _Event | None = None
    attempts: list[list[_Event]] = field(default_factory=list)
    uids: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)


class _Builder:
    """Rows for one execution."""

    def __init__(self, b: BatchBuilder, src: Source, ex: _Execution) -> None:
        self.b, self.src, self.ex = b, src, ex
        self.events = [ex.events[i] for i in sorted(ex.events)]
        self.keys: dict[str, set[tuple[str, str]]] = {}

    def build(self) -> None:
        ex, meta = self.ex, self.ex.meta
        arn = ex.arn
        machine = (_machine_of(meta.get("stateMachineArn")) or _machine_of(arn)
                   or self._machine_from_events() or "unknown")
        entries, closers = self._entries()
        run_status, run_end, end_event = self._run_status()
        run = ex.uid
        started = next((e.ts for e in self.events if e.role == "start"), None)
        start_details = next((e.details for e in self.events if e.role == "start"), None)
        run_input = _json(meta.get("input", (start_details or {}).get("input")))
        run_output = _json(meta.get("output", end_event.details.get("output")
                                    if end_event else None))
        parent_arn = _started_by(run_input)
        redrives = meta.get("redriveCount", ex.redrive_count)
        end_details = end_event.details if end_event else {}
        self.b.run(
            uid=run, system="stepfunctions",
            component=component("stepfunctions", "statemachine", machine),
            name=meta.get("name") or _execution_name(arn),
            status=run_status, started_at=started or _time(meta.get("startDate")),
            ended_at=run_end or _time(meta.get("stopDate")),
            attempt=(_int(redrives) or 0) + 1 if redrives is not None else None,
            parent_uid=f"stepfunctions:run:{parent_arn}" if parent_arn else None,
            error=_error(end_details.get("error") or meta.get("error"),
                         end_details.get("cause") or meta.get("cause")), location=ex.where,
            detail={k: v for k, v in {
                "execution_arn": arn, "state_machine_arn": meta.get("stateMachineArn"),
                "status": meta.get("status") or (end_event.type if end_event else None),
                "role_arn": (start_details or {}).get("roleArn"),
                "state_machine_version_arn": (start_details or {}).get("stateMachineVersionArn")
                or meta.get("stateMachineVersionArn"),
                "state_machine_alias_arn": (start_details or {}).get("stateMachineAliasArn")
                or meta.get("stateMachineAliasArn"),
                "map_run_arn": meta.get("mapRunArn"), "redrive_count": redrives,
                "trace_header": meta.get("traceHeader"),
                "cause": _cap(end_details.get("cause") or meta.get("cause")),
                "execution_type": "EXPRESS" if arn and ":express:" in arn else None,
                "derived_uid": True if not arn else None,
                "partial_history": None if start_details or meta else True,
            }.items() if v is not None})
        if arn:
            self._id_key(run, KeyKind.EXECUTION_ARN, arn)
        if isinstance(meta.get("mapRunArn"), str):
            self._id_key(run, KeyKind.EXECUTION_ARN, meta["mapRunArn"])
        self._payload_keys(run, run_input)
        self._payload_keys(run, run_output)
        for kind, value in xray_keys(meta.get("traceHeader")):
            self._key(run, kind, value)
        if parent_arn:
            self.b.link(f"stepfunctions:run:{parent_arn}", run, EdgeKind.CHILD,
                        "input AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID", ex.where)
        for msg_uid, channel, why in started_by(run_input):  # a Pipes/event source batch
            self.b.link(msg_uid, run, EdgeKind.TRIGGERS, why, ex.where)
            if channel:
                self._key(run, KeyKind.CHANNEL, channel)
        # Every entry's steps first: a link may point at an entry later in the history (ids
        # out of order), whose uids must exist by then.
        for entry in entries.values():
            self._steps(entry, entries, machine, run_status, run_end, end_details)
        for entry_id, entry in entries.items():
            parent = _attempt_at(entries[entry.parent], entry.entered.id) if (
                entry.parent in entries) else run
            for uid, where in zip(entry.uids, entry.locations, strict=True):
                self.b.link(parent, uid, EdgeKind.CONTAINS,
                            "previousEventId" if entry.parent in entries else "execution", where)
            before = closers.get(entry.entered.prev or 0)
            if before is not None and before in entries and before != entry_id:
                self.b.link(entries[before].uids[-1], entry.uids[0], EdgeKind.PRECEDES,
                            "previousEventId", entry.entered.where)
        for uid, pairs in self.keys.items():
            self.b.keys(uid, sorted(pairs))

    def _machine_from_events(self) -> str | None:
        for ev in self.events:
            if ev.role == "start":
                for key in ("stateMachineArn", "stateMachineVersionArn", "stateMachineAliasArn"):
                    if name := _machine_of(ev.details.get(key)):
                        return name
        return None

    def _entries(self) -> tuple[dict[int, _Entry], dict[int, int]]:
        """State entries, with each event filed under the entry it belongs to.

        ``scope[e]`` is the innermost open entry after event ``e``: an event belongs to the
        nearest enclosing entry of its own state type (a ``ParallelStateFailed`` follows the
        failed branch task's event, yet belongs to the Parallel state). ``closers`` maps an
        exit/abort event id to the entry it closed.
        """
        entries: dict[int, _Entry] = {}
        closers: dict[int, int] = {}
        scope: dict[int, int | None] = {}
        for ev in self.events:
            outer = scope.get(ev.prev) if ev.prev is not None else None
            if ev.role == "enter":
                name = ev.details.get("name")
                entries[ev.id] = _Entry(ev, name if isinstance(name, str) else "unknown",
                                        ev.family, outer)
                scope[ev.id] = ev.id
                continue
            if ev.family == "Execution":
                scope[ev.id] = outer
                continue
            owner = outer
            while owner is not None and ev.family and entries[owner].state_type != ev.family:
                owner = entries[owner].parent
            if owner is None and ev.role != "unknown":
                owner = self._open_entry(ev, entries)  # partial logs: the previous event is gone
            if owner is None:
                scope[ev.id] = outer
                continue
            entry = entries[owner]
            if ev.role != "unknown":
                entry.events.append(ev)
            if ev.role in ("exit", "abort") and entry.closed is None:
                entry.closed = ev
                closers[ev.id] = owner
                scope[ev.id] = entry.parent
            else:
                scope[ev.id] = owner
        return entries, closers

    @staticmethod
    def _open_entry(ev: _Event, entries: dict[int, _Entry]) -> int | None:
        """The latest still-open entry of the event's state type before it."""
        for entry_id in sorted(entries, reverse=True):
            entry = entries[entry_id]
            if entry_id < ev.id and entry.closed is None and (
                    not ev.family or entry.state_type == ev.family):
                return entry_id
        return None

    def _run_status(self) -> tuple[Status, int | None, _Event | None]:
        meta = self.ex.meta
        end = None
        for ev in self.events:
            if ev.role == "end":
                end = ev
            elif ev.role == "redrive":
                end = None
        if end is not None:
            return EXECUTION_END[end.type], end.ts, end
        status = meta.get("status")
        if isinstance(status, str) and status.upper() in EXECUTION_STATUS:
            return EXECUTION_STATUS[status.upper()], None, None
        if any(ev.role == "start" for ev in self.events):
            return Status.RUNNING, None, None
        return Status.UNKNOWN, None, None

    def _steps(self, entry: _Entry, entries: dict[int, _Entry], machine: str,
               run_status: Status, run_end: int | None, end_details: dict[str, Any]) -> None:
        ex = self.ex
        attempts: list[list[_Event]] = [[]]
        for ev in entry.events:
            if ev.role == "attempt" and any(e.role == "attempt" for e in attempts[-1]):
                attempts.append([])
            attempts[-1].append(ev)
        entry.attempts = attempts
        base = f"stepfunctions:step:{ex.uid.removeprefix('stepfunctions:run:')}/{entry.entered.id}"
        entry.uids = [base if n == 1 else f"{base}#{n}" for n in range(1, len(attempts) + 1)]
        entry.locations = [entry.entered.where] + [a[0].where for a in attempts[1:]]
        comp = asl.state_component(machine, entry.name)
        parent_uid = (_attempt_at(entries[entry.parent], entry.entered.id)
                      if entry.parent in entries else None)
        state_input = _json(entry.entered.details.get("input"))
        for n, events in enumerate(attempts, start=1):
            last = n == len(attempts)
            uid = entry.uids[n - 1]
            failure = next((e for e in reversed(events) if e.role in ("fail", "timeout")), None)
            success = next((e for e in reversed(events) if e.role == "succeed"), None)
            if failure is not None and success is not None and success.id > failure.id:
                failure = None
            status, error, cause = self._attempt_status(entry, failure, last, run_status,
                                                        end_details)
            started = entry.entered.ts if n == 1 else events[0].ts
            if last:
                # a state never exited (a Fail state, or one the execution failed in) ends
                # with the execution
                ended = entry.closed.ts if entry.closed else (
                    (failure or success).ts if (failure or success) else run_end)
            else:
                ended = failure.ts if failure else (events[-1].ts if events else None)
            task = self._task(uid, events)
            detail = {k: v for k, v in {
                "state_type": entry.state_type, "entered_event_id": entry.entered.id,
                "end_event": (entry.closed.type if entry.closed and last else
                              failure.type if failure else None),
                "cause": _cap(cause), **task,
            }.items() if v is not None}
            self.b.step(uid=uid, run_uid=ex.uid, system="stepfunctions", component=comp,
                        name=entry.name, step_type=entry.state_type.lower(), status=status,
                        started_at=started, ended_at=ended, attempt=n, parent_uid=parent_uid,
                        error=_error(error, cause) or (failure.type if failure else None),
                        location=entry.locations[n - 1],
                        detail=detail)
            if n > 1:
                self.b.link(uid, entry.uids[n - 2], EdgeKind.RETRY_OF,
                            events[0].type, events[0].where)
            if n == 1:
                self._payload_keys(uid, state_input)

    @staticmethod
    def _attempt_status(entry: _Entry, failure: _Event | None, last: bool, run_status: Status,
                        end_details: dict[str, Any]) -> tuple[Status, Any, Any]:
        if failure is not None:
            error, cause = failure.details.get("error"), failure.details.get("cause")
            if not last:
                return Status.RETRIED, error, cause
            return (Status.TIMED_OUT if failure.role == "timeout" else Status.FAILED,
                    error, cause)
        if not last:
            return Status.RETRIED, None, None
        if entry.closed is not None and entry.closed.role == "abort":
            return Status.CANCELLED, None, None
        if entry.state_type == "Fail":
            return Status.FAILED, end_details.get("error"), end_details.get("cause")
        if entry.closed is not None:
            return Status.OK, None, None
        # Still open when the execution ended: the state was what the execution ended in.
        if run_status in (Status.FAILED, Status.TIMED_OUT, Status.CANCELLED):
            return run_status, end_details.get("error"), end_details.get("cause")
        return (Status.RUNNING if run_status == Status.RUNNING else Status.UNKNOWN), None, None

    def _task(self, uid: str, events: list[_Event]) -> dict[str, Any]:
        """What a task attempt called, with the keys that tie it to what it called."""
        scheduled = next((e for e in events if e.role == "attempt"), None)
        if scheduled is None or scheduled.family not in ("Task", ""):
            map_run = next((e.details.get("mapRunArn") for e in events
                            if e.type == "MapRunStarted"), None)
            if isinstance(map_run, str):
                self._id_key(uid, KeyKind.EXECUTION_ARN, map_run)
                return {"map_run_arn": map_run}
            return {}
        d = scheduled.details
        resource, resource_type = d.get("resource"), d.get("resourceType")
        params = _json(d.get("parameters"))
        if not isinstance(params, dict):
            params = {}
        if scheduled.type == "LambdaFunctionScheduled":
            params = {"FunctionName": resource}
            resource, resource_type = "invoke", "lambda"
        outputs = [_json(e.details.get("output")) for e in events
                   if e.type in ("TaskSubmitted", "TaskSucceeded")]
        targets, _ = asl.task_targets(
            resource if scheduled.type != "ActivityScheduled" else d.get("resource"),
            params, resource_type)
        service, action, _ = asl.split_resource(
            resource if isinstance(resource, str) else None,
            resource_type if isinstance(resource_type, str) else None)
        out: dict[str, Any] = {"resource_type": resource_type, "resource": d.get("resource"),
                               "region": d.get("region"),
                               "timeout_seconds": d.get("timeoutInSeconds"),
                               "heartbeat_seconds": d.get("heartbeatInSeconds")}
        for comp, kind, _why in targets:
            if kind == EdgeKind.EMITS:
                self._key(uid, KeyKind.CHANNEL, comp)
                out.setdefault("channel", comp)
            else:
                out.setdefault("target", comp)
        entries = params.get("Entries") if service == "events" else None
        if isinstance(entries, list):
            # putEvents: what was published, so the bus's events can be matched by type
            for field_name, out_name in (("DetailType", "detail_types"), ("Source", "sources")):
                seen = sorted({e[field_name] for e in entries
                               if isinstance(e, dict) and isinstance(e.get(field_name), str)})
                if seen:
                    out[out_name] = seen
        for token in _task_tokens(params):
            self._id_key(uid, KeyKind.CORRELATION_ID, token)
            out.setdefault("task_token", token)
        self._payload_keys(uid, params)
        for output in outputs:
            if not isinstance(output, dict):
                continue
            if isinstance(output.get("MessageId"), str):
                self._id_key(uid, KeyKind.MESSAGE_ID, output["MessageId"])
            for entry in output.get("Entries") or []:
                if isinstance(entry, dict) and isinstance(entry.get("EventId"), str):
                    self._id_key(uid, KeyKind.MESSAGE_ID, entry["EventId"])
        if service == "states" and action.startswith("startexecution"):
            child = child_execution_arn(params, outputs)
            if child:
                self.b.link(self.ex.uid, f"stepfunctions:run:{child}", EdgeKind.CHILD,
                            f"{scheduled.type} {resource_type}:{resource}", scheduled.where)
                self._id_key(uid, KeyKind.EXECUTION_ARN, child)
                out["child_execution_arn"] = child
        return {k: v for k, v in out.items() if v is not None}

    def _payload_keys(self, uid: str, doc: Any) -> None:
        if isinstance(doc, dict):
            for kind, value in self.src.rules.payload(doc):
                self._key(uid, kind, value)
            if isinstance(doc.get("traceparent"), str):
                for kind, value in traceparent_keys(doc["traceparent"]):
                    self._key(uid, kind, value)

    def _key(self, uid: str, kind: str, value: str) -> None:
        self.keys.setdefault(uid, set()).add((str(kind), value))

    def _id_key(self, uid: str, kind: str, value: str) -> None:
        """A key from an AWS id (ARN, message id, task token), unless it is redacted."""
        if not _PLACEHOLDER.search(value):
            self._key(uid, kind, value)


def _attempt_at(entry: _Entry, event_id: int) -> str:
    """The uid of the attempt of ``entry`` that was current at ``event_id``."""
    current = 0
    for n, events in enumerate(entry.attempts):
        if n == 0 or (events and events[0].id < event_id):
            current = n
    return entry.uids[current]


def _execution_name(arn: str | None) -> str | None:
    """``...:execution:<machine>:<name>`` and ``...:express:<machine>:<name>:<id>`` -> name."""
    if not arn:
        return None
    parts = asl.arn_parts(arn)
    return parts[7] if len(parts) > 7 and parts[5] in ("execution", "express") else parts[-1]


def _machine_of(arn: Any) -> str | None:
    return asl.state_machine_from_arn(arn) if isinstance(arn, str) else None


def _started_by(run_input: Any) -> str | None:
    if isinstance(run_input, dict):
        for name in STARTED_BY_FIELDS:
            if isinstance(run_input.get(name), str) and run_input[name].startswith("arn:"):
                return run_input[name]
    return None
