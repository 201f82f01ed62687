"""Temporal workflow histories as ``temporal workflow show --workflow-id ID --output json`` prints.

``{"events": [...]}``, indented two spaces; protobuf JSON mapping as the Temporal CLI (1.x) and
server 1.2x write it: ``EVENT_TYPE_*`` enum names, int64 ids (``eventId``, ``taskId``,
``scheduledEventId``) as strings, payload ``metadata``/``data`` base64, durations as ``"10s"``.
The OpenTelemetry interceptors (Python ``temporalio.contrib.opentelemetry``, Go
``contrib/opentelemetry``) put the W3C context in ``header.fields._tracer-data`` as a
``json/plain`` payload ``{"traceparent": ...}`` on WorkflowExecutionStarted,
ActivityTaskScheduled and the child-workflow events (compare the corpus file
``temporal/sdkts_otel_smorgasbord_traceparent.json``).

Workflow tasks (scheduled / started / completed) are filled into the gaps the simulation
leaves between commands; ``workerVersion.buildId`` on them names the worker build that ran
the task, so a deploy shows up inside a history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tracemap.samples.records import ActivityRun, ChildRun, Failure, TimerRun, WorkflowRun
from tracemap.samples.writers import Sink, b64, derived_hex, derived_uuid

FORMAT = "temporal_json"
JSON_PLAIN = b64("json/plain")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(us: int) -> str:
    """A protobuf Timestamp in JSON: RFC 3339 UTC, fraction to 0, 3 or 6 digits as protojson."""
    dt = EPOCH + timedelta(microseconds=us)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = us % 1_000_000
    if frac == 0:
        return text + "Z"
    if frac % 1000 == 0:
        return f"{text}.{frac // 1000:03d}Z"
    return f"{text}.{frac:06d}Z"


def payload(value: Any, *, sort: bool = True) -> dict[str, Any]:
    """A ``json/plain`` payload as the SDK's default converter writes it."""
    if value is None:
        return {"metadata": {"encoding": b64("binary/null")}}
    option = orjson.OPT_SORT_KEYS if sort else 0
    return {"metadata": {"encoding": JSON_PLAIN}, "data": b64(orjson.dumps(value, option=option))}


def header(traceparent: str) -> dict[str, Any]:
    """The header the OpenTelemetry interceptor writes: ``_tracer-data`` = {traceparent}."""
    data = orjson.dumps({"traceparent": traceparent})
    return {"fields": {"_tracer-data": {"metadata": {"encoding": JSON_PLAIN}, "data": b64(data)}}}


def failure_json(f: Failure) -> dict[str, Any]:
    return {"message": f.message, "stackTrace": f.stack,
            "applicationFailureInfo": {"type": f.type, **({"nonRetryable": True}
                                                          if f.non_retryable else {})}}


class History:
    """Builds one workflow run's event list."""

    def __init__(self, run: WorkflowRun, namespace_id: str) -> None:
        self.run = run
        self.namespace_id = namespace_id
        self.events: list[dict[str, Any]] = []
        self.task_id = 1_048_576 + int(derived_hex(5, run.run_id, "task"), 16)
        self.size = 0
        self.last_completed = "0"
        self.sticky = {"name": f"{run.worker_identity}-{derived_hex(32, run.run_id, 'sticky')}",
                       "kind": "TASK_QUEUE_KIND_STICKY", "normalName": run.task_queue}
        self.sort = run.sdk[0] == "temporal-python"
        self.parent_initiated = "0"  # the parent's StartChildWorkflowExecutionInitiated id

    def add(self, etype: str, time_us: int, attrs_name: str, attrs: dict[str, Any]) -> str:
        event_id = str(len(self.events) + 1)
        self.task_id += 1 + int(derived_hex(1, self.run.run_id, event_id), 16) % 4
        event = {"eventId": event_id, "eventTime": timestamp(time_us),
                 "eventType": f"EVENT_TYPE_{etype}", "taskId": str(self.task_id),
                 attrs_name: attrs}
        self.events.append(event)
        self.size += len(orjson.dumps(event))
        return event_id

    def workflow_task(self, after: int, before: int) -> str:
        """Scheduled/started/completed between ``after`` and ``before``; returns completed id."""
        run = self.run
        first = len(self.events) == 1
        queue = {"name": run.task_queue, "kind": "TASK_QUEUE_KIND_NORMAL"} if first else self.sticky
        gap = max(before - after, 60)
        scheduled = self.add("WORKFLOW_TASK_SCHEDULED", after + 10,
                             "workflowTaskScheduledEventAttributes",
                             {"taskQueue": queue, "startToCloseTimeout": "10s", "attempt": 1})
        started_at = after + gap * 2 // 5
        build = {"buildId": run.build_at(started_at)}
        started = self.add("WORKFLOW_TASK_STARTED", started_at,
                           "workflowTaskStartedEventAttributes",
                           {"scheduledEventId": scheduled, "identity": run.worker_identity,
                            "requestId": derived_uuid(run.run_id, scheduled),
                            "historySizeBytes": str(self.size), "workerVersion": build})
        done: dict[str, Any] = {"scheduledEventId": scheduled, "startedEventId": started,
                                "identity": run.worker_identity, "workerVersion": build,
                                "binaryChecksum": build["buildId"]}
        if first:
            done["sdkMetadata"] = {"sdkName": run.sdk[0], "sdkVersion": run.sdk[1]}
        done["meteringMetadata"] = {}
        self.last_completed = self.add("WORKFLOW_TASK_COMPLETED", before - 20,
                                       "workflowTaskCompletedEventAttributes", done)
        return self.last_completed

    def started(self) -> None:
        run = self.run
        attrs: dict[str, Any] = {
            "workflowType": {"name": run.type},
            "taskQueue": {"name": run.task_queue, "kind": "TASK_QUEUE_KIND_NORMAL"},
            "input": {"payloads": [payload(a, sort=self.sort) for a in run.input]},
            "workflowExecutionTimeout": "0s", "workflowRunTimeout": "0s",
            "workflowTaskTimeout": "10s",
        }
        if run.parent:
            attrs["parentWorkflowNamespace"] = run.namespace
            attrs["parentWorkflowNamespaceId"] = self.namespace_id
            attrs["parentWorkflowExecution"] = {"workflowId": run.parent[0], "runId": run.parent[1]}
            attrs["parentInitiatedEventId"] = self.parent_initiated
        attrs.update({
            "originalExecutionRunId": run.run_id, "identity": run.starter_identity,
            "firstExecutionRunId": run.run_id, "attempt": 1, "firstWorkflowTaskBackoff": "0s",
        })
        if run.search_attributes:
            attrs["searchAttributes"] = {"indexedFields": {
                k: {"metadata": {"encoding": JSON_PLAIN, "type": b64("Keyword")},
                    "data": b64(orjson.dumps(v))} for k, v in run.search_attributes.items()}}
        attrs["header"] = header(run.traceparent)
        if run.parent:
            attrs["rootWorkflowExecution"] = {"workflowId": run.parent[0], "runId": run.parent[1]}
        attrs["workflowId"] = run.workflow_id
        self.add("WORKFLOW_EXECUTION_STARTED", run.start_us,
                 "workflowExecutionStartedEventAttributes", attrs)

    def activity(self, a: ActivityRun) -> tuple[str, str]:
        run = self.run
        scheduled = self.add("ACTIVITY_TASK_SCHEDULED", a.scheduled_us,
                             "activityTaskScheduledEventAttributes", {
                                 "activityId": a.activity_id, "activityType": {"name": a.type},
                                 "taskQueue": {"name": a.task_queue,
                                               "kind": "TASK_QUEUE_KIND_NORMAL"},
                                 "header": header(a.traceparent),
                                 "input": {"payloads": [payload(x, sort=self.sort)
                                                        for x in a.input]},
                                 "scheduleToCloseTimeout": "0s", "scheduleToStartTimeout": "0s",
                                 "startToCloseTimeout": a.start_to_close,
                                 "heartbeatTimeout": "0s",
                                 "workflowTaskCompletedEventId": self.last_completed,
                                 "retryPolicy": a.retry_policy, "useWorkflowBuildId": True})
        started_attrs: dict[str, Any] = {"scheduledEventId": scheduled,
                                         "identity": run.worker_identity,
                                         "requestId": derived_uuid(run.run_id, scheduled, "act"),
                                         "attempt": a.attempts}
        if a.last_failure:
            started_attrs["lastFailure"] = failure_json(a.last_failure)
        started_attrs["workerVersion"] = {"buildId": run.build_at(a.started_us)}
        started = self.add("ACTIVITY_TASK_STARTED", a.started_us,
                           "activityTaskStartedEventAttributes", started_attrs)
        if a.failure:
            self.add("ACTIVITY_TASK_FAILED", a.ended_us, "activityTaskFailedEventAttributes", {
                "failure": failure_json(a.failure), "scheduledEventId": scheduled,
                "startedEventId": started, "identity": run.worker_identity,
                "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"})
        else:
            self.add("ACTIVITY_TASK_COMPLETED", a.ended_us, "activityTaskCompletedEventAttributes",
                     {"result": {"payloads": [payload(a.result, sort=self.sort)]},
                      "scheduledEventId": scheduled, "startedEventId": started,
                      "identity": run.worker_identity})
        return scheduled, started

    def timer(self, t: TimerRun) -> None:
        started = self.add("TIMER_STARTED", t.started_us, "timerStartedEventAttributes",
                           {"timerId": t.timer_id, "startToFireTimeout": f"{t.seconds}s",
                            "workflowTaskCompletedEventId": self.last_completed})
        self.add("TIMER_FIRED", t.fired_us, "timerFiredEventAttributes",
                 {"timerId": t.timer_id, "startedEventId": started})

    def child(self, c: ChildRun) -> str:
        run = self.run
        ns = {"namespace": run.namespace}
        execution = {"workflowId": c.workflow_id, "runId": c.run_id}
        initiated = self.add("START_CHILD_WORKFLOW_EXECUTION_INITIATED", c.initiated_us,
                             "startChildWorkflowExecutionInitiatedEventAttributes", {
                                 **ns, "workflowId": c.workflow_id,
                                 "workflowType": {"name": c.type},
                                 "taskQueue": {"name": c.task_queue,
                                               "kind": "TASK_QUEUE_KIND_NORMAL"},
                                 "input": {"payloads": [payload(x, sort=self.sort)
                                                        for x in c.input]},
                                 "workflowExecutionTimeout": "0s", "workflowRunTimeout": "0s",
                                 "workflowTaskTimeout": "10s",
                                 "parentClosePolicy": "PARENT_CLOSE_POLICY_TERMINATE",
                                 "workflowTaskCompletedEventId": self.last_completed,
                                 "workflowIdReusePolicy":
                                     "WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE",
                                 "header": header(c.traceparent),
                                 "namespaceId": self.namespace_id})
        started = self.add("CHILD_WORKFLOW_EXECUTION_STARTED", c.started_us,
                           "childWorkflowExecutionStartedEventAttributes", {
                               **ns, "initiatedEventId": initiated,
                               "workflowExecution": execution,
                               "workflowType": {"name": c.type},
                               "header": header(c.traceparent),
                               "namespaceId": self.namespace_id})
        # The parent is woken to learn the child started; it has nothing to do.
        self.workflow_task(c.started_us, c.started_us + 4000)
        self.add("CHILD_WORKFLOW_EXECUTION_COMPLETED", c.ended_us,
                 "childWorkflowExecutionCompletedEventAttributes", {
                     "result": {"payloads": [payload(c.result, sort=self.sort)]}, **ns,
                     "workflowExecution": execution, "workflowType": {"name": c.type},
                     "initiatedEventId": initiated, "startedEventId": started,
                     "namespaceId": self.namespace_id})
        return initiated

    def build(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The events; and the initiated event id of each child, by child workflow id."""
        run = self.run
        initiated: dict[str, str] = {}
        self.started()
        previous_end = run.start_us
        failed_activity: tuple[ActivityRun, str, str] | None = None
        for step in run.steps:
            begin = (step.scheduled_us if isinstance(step, ActivityRun) else
                     step.initiated_us if isinstance(step, ChildRun) else step.started_us)
            self.workflow_task(previous_end, begin)
            if isinstance(step, ActivityRun):
                scheduled, started = self.activity(step)
                if step.failure:
                    failed_activity = (step, scheduled, started)
                previous_end = step.ended_us
            elif isinstance(step, TimerRun):
                self.timer(step)
                previous_end = step.fired_us
            else:
                initiated[step.workflow_id] = self.child(step)
                previous_end = step.ended_us
        completed = self.workflow_task(previous_end, run.end_us)
        if run.failure and failed_activity:
            act, scheduled, started = failed_activity
            self.add("WORKFLOW_EXECUTION_FAILED", run.end_us,
                     "workflowExecutionFailedEventAttributes", {
                         "failure": {"message": "Activity task failed",
                                     "cause": failure_json(act.failure),  # type: ignore[arg-type]
                                     "activityFailureInfo": {
                                         "scheduledEventId": scheduled,
                                         "startedEventId": started,
                                         "identity": run.worker_identity,
                                         "activityType": {"name": act.type},
                                         "activityId": act.activity_id,
                                         "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"}},
                         "retryState": "RETRY_STATE_RETRY_POLICY_NOT_SET",
                         "workflowTaskCompletedEventId": completed})
        else:
            self.add("WORKFLOW_EXECUTION_COMPLETED", run.end_us,
                     "workflowExecutionCompletedEventAttributes",
                     {"result": {"payloads": [payload(run.result, sort=self.sort)]},
                      "workflowTaskCompletedEventId": completed})
        return self.events, initiated


def write(sink: Sink, runs: list[WorkflowRun], folder: str) -> None:
    """Write each run of one story (parent first) as its own history file under ``folder``."""
    initiated: dict[str, str] = {}
    for run in runs:
        history = History(run, derived_uuid("namespace", run.namespace))
        if run.parent:
            history.parent_initiated = initiated.get(run.workflow_id, "0")
        events, children = history.build()
        initiated.update(children)
        data = orjson.dumps({"events": events}, option=orjson.OPT_INDENT_2) + b"\n"
        sink.write(FORMAT, f"{folder}/{run.workflow_id}.json", data, records=len(events))
