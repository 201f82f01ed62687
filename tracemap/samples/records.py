"""What happened, before any system wrote it down: the records the simulation hands the writers.

The simulation (``traffic.py``) decides every id, time and outcome once; each writer renders the
same record in its system's own format. That is what makes the formats agree with each other:
the span id in a Temporal header, the ``traceparent`` of a Kafka record and the OTLP span are
one value chosen here.

Times are epoch microseconds in the clock of the system that records them (the simulation adds
each system's skew before it builds a record).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# OTLP span kinds (opentelemetry.proto.trace.v1.Span.SpanKind).
INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER = 1, 2, 3, 4, 5


@dataclass(slots=True)
class SpanEvent:
    """An event on a span (only ``exception`` events are produced)."""

    time_us: int
    name: str
    attrs: dict[str, Any]


@dataclass(slots=True)
class Span:
    """One span, in the clock of the service that recorded it."""

    service: str
    version: str
    pod: str
    scope: str
    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    parent_id: str | None
    name: str
    kind: int
    start_us: int
    end_us: int
    attrs: dict[str, Any]
    error: str | None = None  # status message; the span's status is ERROR when set
    events: list[SpanEvent] = field(default_factory=list)
    remote_parent: bool = False
    links: list[tuple[str, str]] = field(default_factory=list)  # (trace id, span id) linked to


@dataclass(slots=True)
class Failure:
    """A Temporal failure (``temporal.api.failure.v1.Failure``), as far as the sample needs it."""

    message: str
    type: str
    stack: str
    non_retryable: bool = False


@dataclass(slots=True)
class ActivityRun:
    """An activity as the workflow saw it: scheduled once, attempted ``attempts`` times."""

    activity_id: str
    type: str
    task_queue: str
    scheduled_us: int
    started_us: int  # start of the last attempt (Temporal records only that one)
    ended_us: int
    attempts: int
    input: list[Any]
    result: Any
    traceparent: str  # the StartActivity span that scheduled it
    retry_policy: dict[str, Any]
    start_to_close: str
    last_failure: Failure | None = None  # why the attempt before the last one failed
    failure: Failure | None = None  # set when the activity failed for good


@dataclass(slots=True)
class TimerRun:
    """A durable timer (``workflow.sleep``)."""

    timer_id: str
    started_us: int
    fired_us: int
    seconds: int


@dataclass(slots=True)
class ChildRun:
    """A child workflow as its parent saw it; the child's own history is another ``WorkflowRun``."""

    workflow_id: str
    run_id: str
    type: str
    task_queue: str
    initiated_us: int
    started_us: int
    ended_us: int
    traceparent: str
    input: list[Any]
    result: Any
    completed: bool = True


@dataclass(slots=True)
class WorkflowRun:
    """One Temporal workflow run, as its history will show it."""

    namespace: str
    workflow_id: str
    run_id: str
    type: str
    task_queue: str
    start_us: int
    end_us: int
    input: list[Any]
    traceparent: str
    starter_identity: str
    worker_identity: str
    builds: tuple[tuple[int, str], ...]  # (from µs, worker build id), ascending: deploys show
    sdk: tuple[str, str]
    steps: list[ActivityRun | TimerRun | ChildRun]
    result: Any = None
    failure: Failure | None = None  # set when the workflow failed
    parent: tuple[str, str] | None = None  # (workflow id, run id) of the parent
    search_attributes: dict[str, str] = field(default_factory=dict)

    def build_at(self, time_us: int) -> str:
        """The worker build that handled a workflow task at ``time_us``."""
        build = self.builds[0][1]
        for since, name in self.builds:
            if time_us >= since:
                build = name
        return build


@dataclass(slots=True)
class KafkaRecord:
    """One record on a topic, with the offset the broker gave it."""

    topic: str
    partition: int
    offset: int
    ts_ms: int  # CreateTime: the producer's clock
    key: str
    headers: list[tuple[str, str]]
    payload: dict[str, Any]

    @property
    def uid(self) -> str:
        """tracemap's uid for the record (``ingest/kafka_kcat.py``)."""
        return f"kafka:msg:{self.topic}/{self.partition}/{self.offset}"


@dataclass(slots=True)
class BusEvent:
    """An EventBridge event as the bus delivered it to its rule targets."""

    event: dict[str, Any]


@dataclass(slots=True)
class StateRun:
    """One state of a Step Functions execution (all task states in this landscape)."""

    name: str
    resource_type: str  # lambda, s3
    resource: str  # invoke, putObject
    parameters: dict[str, Any]
    entered_us: int
    scheduled_us: int
    started_us: int
    succeeded_us: int
    exited_us: int
    input: Any  # a JSON object, or the Pipes batch (an array)
    output: dict[str, Any]
    task_output: dict[str, Any]


@dataclass(slots=True)
class Execution:
    """One Step Functions execution: describe-execution fields plus its states."""

    name: str
    arn: str
    state_machine_arn: str
    role_arn: str
    start_us: int
    stop_us: int
    status: str  # SUCCEEDED, FAILED
    input: Any  # a JSON object, or the Pipes batch (an array)
    output: dict[str, Any]
    trace_header: str
    states: list[StateRun]


@dataclass(slots=True)
class TaskRun:
    """One Airflow task instance as OpenLineage reports it."""

    task_id: str
    ol_run_id: str
    start_us: int
    end_us: int
    queued_us: int
    inputs: list[tuple[str, str]]  # (namespace, name)
    outputs: list[tuple[str, str]]
    row_count: int
    state: str = "success"


@dataclass(slots=True)
class DagRun:
    """One Airflow DAG run as OpenLineage reports it."""

    dag_id: str
    run_id: str
    ol_run_id: str
    logical_us: int  # data_interval_start
    interval_end_us: int
    start_us: int
    end_us: int
    tasks: list[TaskRun]
    state: str = "success"


@dataclass(slots=True)
class Outcome:
    """How one order went, for the planted answers (never written to any export)."""

    order_id: str
    workflow_id: str
    run_id: str
    placed_at_us: int
    workflow_ok: bool = True
    charge_attempts: int = 1
    placed_msg: str | None = None
    schema_version: str = "1"
    billing: str | None = None  # ok, failed (None: never consumed)
    billing_error: str | None = None
    invoice_msg: str | None = None
    execution_arn: str | None = None
    shipped_msg: str | None = None
    shipped_at_us: int | None = None
    notified: bool = False
    incidents: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Story:
    """Everything one order left behind, in every system it touched."""

    spans: list[Span]
    workflows: list[WorkflowRun]
    kafka: list[KafkaRecord]
    bus: list[BusEvent]
    executions: list[Execution]
    outcome: Outcome
