"""Camunda 8 / Zeebe exported records as JSON: JSON lines, a JSON array, or Elasticsearch hits.

Written by Zeebe exporters that serialize ``Record#toJson()`` (the debug/JSON exporters, the
Hazelcast and Kafka community exporters, ``zbctl``-era test tools; one record per line) and
found in the Elasticsearch/OpenSearch exporter's ``zeebe-record_*`` indices (``elasticdump``
lines ``{"_index", "_source": {...}}`` or a ``_search`` response ``{"hits": {"hits": [...]}}``).
A record is ``{key, position, sourceRecordPosition, partitionId, recordType (EVENT, COMMAND,
COMMAND_REJECTION), valueType, intent, timestamp (epoch ms), value: {...}}``; int64 keys are
JSON numbers or strings, ``-1`` meaning none.

Mapping (records that describe one instance are merged by key; only EVENT records state what
happened, commands and rejections are skipped by type):

- ``PROCESS_INSTANCE`` of the process element: a run ``zeebe:run:<processInstanceKey>`` of
  ``zeebe:process:<bpmnProcessId>``; of any other element: a step ``zeebe:step:<key>`` of
  ``zeebe:element:<bpmnProcessId>.<elementId>``, contained by its flow scope. ELEMENT_ACTIVATING
  starts it, ELEMENT_COMPLETED ends it ``ok``, ELEMENT_TERMINATED ``cancelled``. A call
  activity's child instance (``parentElementInstanceKey``) is a ``child`` link.
- ``JOB`` (and ``JOB_BATCH`` ACTIVATED, which activates jobs): a step ``zeebe:job:<key>`` of
  ``zeebe:job:<type>`` inside its element; attempt = activations, worker in detail; FAILED with
  retries left is ``retried``, with none ``failed``; TIMED_OUT ``timed_out``.
- ``INCIDENT`` CREATED marks its element/job and the process instance ``failed`` with the error
  message unless they complete later; RESOLVED lifts the mark.
- ``MESSAGE`` PUBLISHED: a message ``zeebe:msg:<key>`` (system ``zeebe``, component
  ``zeebe:message:<name>``); ``correlationKey`` is a ``correlation_id`` key (it is what ties the
  message to the waiting instance, and what producers outside Zeebe carry as correlation id),
  ``messageId`` a ``message_id`` key. ``(PROCESS_)MESSAGE_SUBSCRIPTION`` CORRELATED is a
  ``triggers`` link message -> element, ``MESSAGE_START_EVENT_SUBSCRIPTION`` CORRELATED
  message -> process instance; subscriptions give the waiting element the correlation key.
- ``VARIABLE`` and ``PROCESS_INSTANCE_CREATION`` variables go through the payload
  correlation rules; a variable that yields no key is skipped.

Pre-1.0 spellings (``WORKFLOW_INSTANCE``, ``workflowInstanceKey``, ``workflowKey``) are read
as their 1.0 names. Instances are held in memory per file; finished ones are written early when
a file holds more than ``MAX_OPEN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest._json import json_records, raw_text
from ingest.base import (
    Batch,
    BatchBuilder,
    Skipped,
    Source,
    cap_payload,
    first_json_value,
    json_or_text,
    us_from_iso,
    us_from_ms,
)
from ingest.openlineage_json import as_int
from tracemap.model import EdgeKind, KeyKind, Status, component

NAME = "zeebe_json"

#: Pre-1.0 names -> 1.0+ names (value types, and value fields).
VALUE_TYPE_ALIASES = {"WORKFLOW_INSTANCE": "PROCESS_INSTANCE",
                      "WORKFLOW_INSTANCE_SUBSCRIPTION": "PROCESS_MESSAGE_SUBSCRIPTION",
                      "WORKFLOW_INSTANCE_CREATION": "PROCESS_INSTANCE_CREATION",
                      "WORKFLOW_INSTANCE_RESULT": "PROCESS_INSTANCE_RESULT"}
FIELD_ALIASES = {"processInstanceKey": "workflowInstanceKey",
                 "processDefinitionKey": "workflowKey",
                 "parentProcessInstanceKey": "parentWorkflowInstanceKey"}

#: Element-instance intents -> status (None: no change).
ELEMENT_INTENTS: dict[str, Status | None] = {
    "ELEMENT_ACTIVATING": Status.RUNNING,
    "ELEMENT_ACTIVATED": Status.RUNNING,
    "ELEMENT_COMPLETING": Status.RUNNING,
    "ELEMENT_COMPLETED": Status.OK,
    "ELEMENT_TERMINATING": Status.RUNNING,
    "ELEMENT_TERMINATED": Status.CANCELLED,
    "ELEMENT_MIGRATED": None,
    "ANCESTOR_MIGRATED": None,
}
#: Job intents -> status; FAILED depends on the retries left.
JOB_INTENTS: dict[str, Status | None] = {
    "CREATED": Status.RUNNING,
    "COMPLETED": Status.OK,
    "FAILED": Status.FAILED,
    "TIMED_OUT": Status.TIMED_OUT,
    "ERROR_THROWN": Status.FAILED,
    "CANCELED": Status.CANCELLED,
    "YIELDED": Status.RUNNING,
    "RECURRED_AFTER_BACKOFF": Status.RUNNING,
    "RETRIES_UPDATED": None,
    "TIMEOUT_UPDATED": None,
    "UPDATED": None,
    "MIGRATED": None,
}
ENDS = frozenset({"ELEMENT_COMPLETED", "ELEMENT_TERMINATED", "COMPLETED", "FAILED", "TIMED_OUT",
                  "ERROR_THROWN", "CANCELED"})
#: Intents after which no record of the entity follows: it may be written early. A failed job
#: is not one (an incident or a retry follows), nor a published message (it expires later).
DONE = frozenset({"ELEMENT_COMPLETED", "ELEMENT_TERMINATED", "COMPLETED", "CANCELED", "EXPIRED",
                  "DELETED"})
#: Message intents kept (PUBLISHED makes the row; the rest note its fate).
MESSAGE_INTENTS = frozenset({"PUBLISHED", "EXPIRED", "DELETED"})
SUBSCRIPTION_TYPES = frozenset({"PROCESS_MESSAGE_SUBSCRIPTION", "MESSAGE_SUBSCRIPTION"})
#: Entities held before finished ones are written early.
MAX_OPEN = 200_000
ERROR_CAP = 2000


@dataclass(slots=True)
class _Entity:
    """A process instance, element instance, job or message, merged over its records."""

    table: str
    uid: str
    location: str
    component: str = ""
    name: str = ""
    run_uid: str | None = None
    parent_uid: str | None = None
    step_type: str | None = None
    started_at: int | None = None
    ended_at: int | None = None
    status: Status | None = None
    last: tuple[int, int] = (-1, -1)
    error: str | None = None
    incidents: set[int] = field(default_factory=set)
    activations: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    keys: set[tuple[str, str]] = field(default_factory=set)
    message: dict[str, Any] = field(default_factory=dict)
    done: bool = False


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if not text.startswith((b"{", b"[")):
        return False
    return (b'"valueType"' in text and b'"intent"' in text
            and (b'"recordType"' in text or b'"partitionId"' in text))


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    z = _Zeebe(src)
    limit = MAX_OPEN
    for where, rec in json_records(src, b, array_paths=("hits.hits",), item="records"):
        b.record(z.add, rec, where, raw=raw_text)
        if len(z.entities) > limit:
            z.flush(b, final=False)
            # what is still open stays: wait for it to double before scanning again
            limit = max(MAX_OPEN, 2 * len(z.entities))
        if b.ready():
            yield b.take()
    z.flush(b, final=True)
    yield b.take()


def _key(value: Any) -> int | None:
    """An int64 key (number or string); -1 and other negatives mean none."""
    n = as_int(value)
    return n if n is not None and n >= 0 else None


def _field(value: dict[str, Any], name: str) -> Any:
    if name in value:
        return value[name]
    old = FIELD_ALIASES.get(name)
    return value.get(old) if old else None


def _time(value: Any) -> int | None:
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        try:
            return us_from_iso(value)
        except ValueError:
            return None
    try:
        return us_from_ms(value)
    except (TypeError, ValueError):
        return None


class _Zeebe:
    """Entities of one file, merged across records."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.entities: dict[str, _Entity] = {}
        self.incidents: dict[int, tuple[str, ...]] = {}  # incident key -> uids it marks
        # (src, dst, kind) -> (evidence, location): several records state the same link
        self.links: dict[tuple[str, str, str], tuple[str, str]] = {}

    def add(self, rec: Any, where: str) -> str | Skipped | None:
        """Merge one record: None when loaded, ``Skipped(type)``, or why it is rejected."""
        if isinstance(rec, dict) and isinstance(rec.get("_source"), dict):
            rec = rec["_source"]  # Elasticsearch exporter document
        if not isinstance(rec, dict):
            return f"expected a Zeebe record object, got {type(rec).__name__}"
        vtype, intent = rec.get("valueType"), rec.get("intent")
        value = rec.get("value")
        if not isinstance(vtype, str) or not isinstance(intent, str) or not isinstance(value,
                                                                                       dict):
            return ("expected a Zeebe record with valueType, intent and a value "
                    f"object, got keys {sorted(rec)[:10]}")
        vtype = VALUE_TYPE_ALIASES.get(vtype, vtype)
        rtype = str(rec.get("recordType") or "EVENT")
        if rtype != "EVENT":
            return Skipped(f"{vtype} {rtype}")
        at = _time(rec.get("timestamp"))
        order = (at or 0, as_int(rec.get("position")) or 0)
        ctx = _Ctx(where, vtype, at, order, _key(rec.get("key")), rec.get("key"),
                   rec.get("partitionId"), value)
        handler = HANDLERS.get(vtype)
        if handler is None:
            return Skipped(vtype)
        return handler(self, intent, ctx)

    # entities -------------------------------------------------------------------------------

    def _entity(self, table: str, uid: str, where: str) -> _Entity:
        e = self.entities.get(uid)
        if e is None:
            e = self.entities[uid] = _Entity(table, uid, where)
        return e

    def _status(self, e: _Entity, status: Status | None, intent: str, ctx: _Ctx, *,
                starts: bool = True) -> None:
        """Apply a lifecycle record: the latest one (by time, then log position) decides."""
        if starts and ctx.at is not None and (e.started_at is None or ctx.at < e.started_at):
            e.started_at = ctx.at
        if status is not None and ctx.order >= e.last:
            e.status, e.last = status, ctx.order
            e.detail["intent"] = intent
            e.done = intent in DONE
            e.ended_at = ctx.at if intent in ENDS else None

    def process_instance(self, intent: str, ctx: _Ctx) -> str | Skipped | None:
        v = ctx.value
        if intent not in ELEMENT_INTENTS:
            return Skipped(f"PROCESS_INSTANCE.{intent}")
        pik = _key(_field(v, "processInstanceKey"))
        if ctx.key is None or pik is None:
            return (f"fields 'key'/'value.processInstanceKey': expected int64 keys, got "
                    f"{ctx.raw_key!r}/{_field(v, 'processInstanceKey')!r}")
        process = str(v.get("bpmnProcessId") or "unknown")
        element_type = str(v.get("bpmnElementType") or "").upper()
        run_uid = f"zeebe:run:{pik}"
        if ctx.key == pik or element_type == "PROCESS":
            e = self._entity("runs", run_uid, ctx.where)
            e.component, e.name = component("zeebe", "process", process), str(pik)
            parent = _key(v.get("parentElementInstanceKey"))
            if parent is not None:
                e.parent_uid = f"zeebe:step:{parent}"
                self._link(e.parent_uid, run_uid, EdgeKind.CHILD, "parentElementInstanceKey",
                           ctx.where)
                e.detail["parent_process_instance_key"] = _key(
                    _field(v, "parentProcessInstanceKey"))
        else:
            e = self._entity("steps", f"zeebe:step:{ctx.key}", ctx.where)
            element = str(v.get("elementId") or "unknown")
            e.component = component("zeebe", "element", f"{process}.{element}")
            e.name, e.run_uid = element, run_uid
            e.step_type = element_type.lower() or None
            scope = _key(v.get("flowScopeKey"))
            if scope is not None and scope != pik:
                e.parent_uid = f"zeebe:step:{scope}"
            e.detail.update({"element_id": element, "bpmn_element_type": element_type or None})
            if v.get("bpmnEventType") not in (None, "", "UNSPECIFIED"):
                e.detail["bpmn_event_type"] = v["bpmnEventType"]
        e.detail.update({k: val for k, val in (
            ("bpmn_process_id", process), ("version", v.get("version")),
            ("process_definition_key", _key(_field(v, "processDefinitionKey"))),
            ("partition", ctx.partition), ("tenant_id", v.get("tenantId"))) if val is not None})
        self._status(e, ELEMENT_INTENTS[intent], intent, ctx)
        return None

    def job(self, intent: str, ctx: _Ctx) -> str | Skipped | None:
        if intent not in JOB_INTENTS:
            return Skipped(f"JOB.{intent}")
        if ctx.key is None:
            return f"field 'key': expected the job's int64 key, got {ctx.raw_key!r}"
        e = self._job(ctx.key, ctx.value, ctx)
        status = JOB_INTENTS[intent]
        retries = as_int(ctx.value.get("retries"))
        if intent == "FAILED" and retries is not None and retries > 0:
            status = Status.RETRIED  # the broker makes it activatable again
        if intent in ("FAILED", "ERROR_THROWN", "TIMED_OUT") and ctx.value.get("errorMessage"):
            code = ctx.value.get("errorCode")
            text = str(ctx.value["errorMessage"])[:ERROR_CAP]
            e.error = f"{code}: {text}" if code else text
        if intent == "FAILED":
            e.detail["failures"] = e.detail.get("failures", 0) + 1
        if intent == "CREATED":
            e.detail["created_at"] = _iso(ctx.at)
        # a job starts when a worker activates it (JOB_BATCH); until then, when it was created
        self._status(e, status, intent, ctx, starts=not e.activations)
        e.keys.update(self.src.rules.payload(ctx.value.get("variables")))
        return None

    def _job(self, key: int, v: dict[str, Any], ctx: _Ctx) -> _Entity:
        e = self._entity("steps", f"zeebe:job:{key}", ctx.where)
        job_type = v.get("type")
        if job_type:
            e.component, e.step_type = component("zeebe", "job", str(job_type)), "job"
            e.name = str(v.get("elementId") or job_type)
        pik, element = _key(_field(v, "processInstanceKey")), _key(v.get("elementInstanceKey"))
        if pik is not None:
            e.run_uid = f"zeebe:run:{pik}"
        if element is not None:
            e.parent_uid = f"zeebe:step:{element}"
        for name, out in (("type", "job_type"), ("worker", "worker"), ("retries", "retries"),
                          ("elementId", "element_id"), ("bpmnProcessId", "bpmn_process_id"),
                          ("errorCode", "error_code"), ("tenantId", "tenant_id")):
            if v.get(name) not in (None, ""):
                e.detail[out] = v[name]
        if isinstance(v.get("customHeaders"), dict) and v["customHeaders"]:
            e.detail["custom_headers"] = v["customHeaders"]
        e.detail["partition"] = ctx.partition
        return e

    def job_batch(self, intent: str, ctx: _Ctx) -> str | Skipped | None:
        """JOB_BATCH ACTIVATED: a worker took these jobs (the only record of an activation)."""
        if intent != "ACTIVATED":
            return Skipped(f"JOB_BATCH.{intent}")
        keys, jobs = ctx.value.get("jobKeys"), ctx.value.get("jobs")
        if not isinstance(keys, list):
            return "field 'value.jobKeys': expected a list of job keys"
        jobs = jobs if isinstance(jobs, list) and len(jobs) == len(keys) else [{}] * len(keys)
        for raw, job in zip(keys, jobs, strict=True):
            key = _key(raw)
            if key is None:
                continue
            v = {**(job if isinstance(job, dict) else {})}
            v.setdefault("worker", ctx.value.get("worker"))
            v.setdefault("type", ctx.value.get("type"))
            e = self._job(key, v, ctx)
            if not e.activations:
                e.started_at = ctx.at
            e.activations += 1
            self._status(e, Status.RUNNING, "ACTIVATED", ctx, starts=False)
        return None

    def incident(self, intent: str, ctx: _Ctx) -> str | Skipped | None:
        v = ctx.value
        if intent == "RESOLVED":
            for uid in self.incidents.pop(ctx.key or -1, ()):
                if uid in self.entities:
                    self.entities[uid].incidents.discard(ctx.key or -1)
            return None
        if intent != "CREATED":
            return Skipped(f"INCIDENT.{intent}")
        if ctx.key is None:
            return f"field 'key': expected the incident's int64 key, got {ctx.raw_key!r}"
        message = str(v.get("errorMessage") or v.get("errorType") or "incident")[:ERROR_CAP]
        targets = []
        for name, prefix in (("jobKey", "zeebe:job:"), ("elementInstanceKey", "zeebe:step:"),
                             ("processInstanceKey", "zeebe:run:")):
            key = _key(_field(v, name))
            if key is not None:
                targets.append(f"{prefix}{key}")
        for uid in dict.fromkeys(targets):
            table = "runs" if uid.startswith("zeebe:run:") else "steps"
            e = self._entity(table, uid, ctx.where)
            e.incidents.add(ctx.key)
            e.error = e.error or message
            e.detail["incident_error_type"] = v.get("errorType")
        self.incidents[ctx.key] = tuple(dict.fromkeys(targets))
        return None

    def message(self, intent: str, ctx: _Ctx) -> str | Skipped | None:
        if intent not in MESSAGE_INTENTS:
            return Skipped(f"MESSAGE.{intent}")
        if ctx.key is None:
            return f"field 'key': expected the message's int64 key, got {ctx.raw_key!r}"
        v = ctx.value
        e = self._entity("messages", f"zeebe:msg:{ctx.key}", ctx.where)
        if intent == "PUBLISHED" or not e.message:
            name = str(v.get("name") or "unknown")
            variables = v.get("variables")
            e.component, e.name = component("zeebe", "message", name), name
            e.message = {"correlation_key": v.get("correlationKey"),
                         "message_id": v.get("messageId") or None, "variables": variables}
            e.started_at = ctx.at if intent == "PUBLISHED" else e.started_at
            e.detail.update({"time_to_live_ms": v.get("timeToLive"), "partition": ctx.partition,
                             "tenant_id": v.get("tenantId")})
            if v.get("correlationKey") not in (None, ""):
                e.keys.add((KeyKind.CORRELATION_ID, str(v["correlationKey"])))
            if v.get("messageId"):
                e.keys.add((KeyKind.MESSAGE_ID, str(v["messageId"])))
            e.keys.update(self.src.rules.payload(variables))
        if intent != "PUBLISHED":
            e.detail[intent.lower() + "_at"] = _iso(ctx.at)
            e.done = True
        return None

    def subscription(self, intent: str, ctx: _Ctx) -> str | Skipped | None:
        """A waiting element's message subscription: its correlation key; CORRELATED links."""
        v = ctx.value
        element = _key(v.get("elementInstanceKey"))
        if element is None:
            return Skipped(f"{ctx.vtype}.{intent}")
        e = self._entity("steps", f"zeebe:step:{element}", ctx.where)
        if v.get("correlationKey") not in (None, ""):
            e.keys.add((KeyKind.CORRELATION_ID, str(v["correlationKey"])))
        message = _key(v.get("messageKey"))
        if intent == "CORRELATED" and message is not None:
            self._link(f"zeebe:msg:{message}", e.uid, EdgeKind.TRIGGERS,
                       "message subscription correlated", ctx.where)
        return None

    def start_subscription(self, intent: str, ctx: _Ctx) -> str | Skipped | None:
        v = ctx.value
        pik, message = _key(_field(v, "processInstanceKey")), _key(v.get("messageKey"))
        if intent != "CORRELATED" or pik is None or message is None:
            return Skipped(f"MESSAGE_START_EVENT_SUBSCRIPTION.{intent}")
        run = self._entity("runs", f"zeebe:run:{pik}", ctx.where)
        if v.get("correlationKey") not in (None, ""):
            run.keys.add((KeyKind.CORRELATION_ID, str(v["correlationKey"])))
        self._link(f"zeebe:msg:{message}", run.uid, EdgeKind.TRIGGERS,
                   "message start event correlated", ctx.where)
        return None

    def variables(self, intent: str, ctx: _Ctx) -> str | Skipped | None:
        """Variables that carry correlation keys give them to their process instance."""
        v = ctx.value
        pik = _key(_field(v, "processInstanceKey"))
        if intent == "CREATED" and "variables" in v:  # PROCESS_INSTANCE_CREATION
            doc: Any = v.get("variables")
            what = "PROCESS_INSTANCE_CREATION"
        else:
            raw = v.get("value")
            decoded = json_or_text(raw.encode()) if isinstance(raw, str) else raw
            doc = {str(v.get("name")): decoded}
            what = "VARIABLE"
        pairs = self.src.rules.payload(doc)
        if isinstance(doc, dict) and what == "VARIABLE":
            pairs += self.src.rules.payload(next(iter(doc.values())))
        if pik is None or not pairs:
            return Skipped(what)
        self._entity("runs", f"zeebe:run:{pik}", ctx.where).keys.update(pairs)
        return None

    def _link(self, src_uid: str, dst_uid: str, kind: str, evidence: str, where: str) -> None:
        self.links.setdefault((src_uid, dst_uid, kind), (evidence, where))

    # output ---------------------------------------------------------------------------------

    def flush(self, b: BatchBuilder, *, final: bool) -> None:
        """Write entities: all at the end, finished ones when memory is tight."""
        done = list(self.entities.values()) if final else [
            e for e in self.entities.values() if e.done and not e.incidents]
        for e in done:
            self._write(b, e)
            del self.entities[e.uid]
        for (src_uid, dst_uid, kind), (evidence, where) in self.links.items():
            b.link(src_uid, dst_uid, kind, evidence, where)
        self.links = {}

    def _write(self, b: BatchBuilder, e: _Entity) -> None:
        status = e.status or Status.UNKNOWN
        # an open incident stops the instance where it is: the element or job, and its process
        # instance (the incident names both), failed unless they ended otherwise afterwards
        if e.incidents and status in (Status.RUNNING, Status.UNKNOWN,
                                                          Status.RETRIED):
            status = Status.FAILED
            e.detail["open_incident"] = True
        detail = {k: v for k, v in e.detail.items() if v is not None}
        if e.table == "messages":
            text, cut = cap_payload(e.message.get("variables"))
            if cut:
                detail["payload_truncated"] = True
            b.message(uid=e.uid, system="zeebe", component=e.component or component(
                "zeebe", "message", "unknown"), channel=e.name or None, event_type=e.name or None,
                msg_key=_text(e.message.get("correlation_key")), produced_at=e.started_at,
                status=Status.OK, headers=None, payload=text, location=e.location, detail=detail)
        elif e.table == "runs":
            b.run(uid=e.uid, system="zeebe", component=e.component or component(
                "zeebe", "process", "unknown"), name=e.name or e.uid.rsplit(":", 1)[1],
                status=status, started_at=e.started_at, ended_at=e.ended_at, attempt=None,
                parent_uid=e.parent_uid, error=e.error, location=e.location, detail=detail)
        else:
            if e.activations:
                detail["activations"] = e.activations
            b.step(uid=e.uid, run_uid=e.run_uid, system="zeebe", component=e.component or
                   component("zeebe", "element", "unknown"), name=e.name or None,
                   step_type=e.step_type, status=status, started_at=e.started_at,
                   ended_at=e.ended_at, attempt=e.activations or None, parent_uid=e.parent_uid,
                   error=e.error, location=e.location, detail=detail)
            container = e.parent_uid or e.run_uid
            if container:
                b.link(container, e.uid, EdgeKind.CONTAINS,
                       "elementInstanceKey" if e.step_type == "job" else "flowScopeKey",
                       e.location)
        for kind, value in sorted(e.keys):
            b.key(e.uid, kind, value)


def _iso(us: int | None) -> str | None:
    """A detail timestamp as ISO-8601 UTC text (epoch µs are unreadable in a JSON column)."""
    if us is None:
        return None
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).isoformat()


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


@dataclass(frozen=True, slots=True)
class _Ctx:
    """One record's common fields."""

    where: str
    vtype: str
    at: int | None
    order: tuple[int, int]
    key: int | None
    raw_key: Any
    partition: Any
    value: dict[str, Any]


#: valueType -> handler; value types not listed are skipped by type.
HANDLERS = {
    "PROCESS_INSTANCE": _Zeebe.process_instance,
    "JOB": _Zeebe.job,
    "JOB_BATCH": _Zeebe.job_batch,
    "INCIDENT": _Zeebe.incident,
    "MESSAGE": _Zeebe.message,
    "PROCESS_MESSAGE_SUBSCRIPTION": _Zeebe.subscription,
    "MESSAGE_SUBSCRIPTION": _Zeebe.subscription,
    "MESSAGE_START_EVENT_SUBSCRIPTION": _Zeebe.start_subscription,
    "VARIABLE": _Zeebe.variables,
    "PROCESS_INSTANCE_CREATION": _Zeebe.variables,
}
