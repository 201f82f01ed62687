"""The normalized model: the one vocabulary every ingestor writes and every analysis reads.

Ingestors emit rows for the tables below (columns and Polars dtypes in ``TABLES``); the
loader hands them to DuckDB in bulk. ``schema.sql`` is the same model as DDL; a test keeps the
two in step.

Conventions every ingestor follows:

- ``uid`` is a stable natural id, ``<system>:<entity>:<natural id>`` (``temporal:run:wf/run``,
  ``otel:span:<trace>/<span>``, ``kafka:msg:<topic>/<partition>/<offset>``), so the same record
  ingested twice, or from two encodings, is the same row.
- Times are epoch microseconds (``int``) in the rows an ingestor builds; the batch builder
  turns them into UTC ``TIMESTAMPTZ``.
- ``status`` is one of ``Status``; a source's own spelling stays in ``detail``.
- ``component`` is ``system:kind:name`` made by ``component()``.
- ``detail`` is a JSON object of the source's own fields worth keeping (flat where possible):
  analyzers read discriminating attributes (build id, host, partition, schema version) there.
"""

from __future__ import annotations

from enum import StrEnum

import polars as pl


class Status(StrEnum):
    """The shared status vocabulary.

    ``skipped`` is work its own flow decided not to run (an Argo ``when`` that was false, a
    DAG task whose ``depends`` was not met): it neither failed nor was stopped, where
    ``cancelled`` work was stopped or withdrawn by someone or something.
    """

    OK = "ok"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    RUNNING = "running"
    RETRIED = "retried"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


#: Statuses that count as a failure of the entity itself.
FAILURE_STATUSES = frozenset({Status.FAILED, Status.TIMED_OUT})


class EntityKind(StrEnum):
    """The four kinds of entity the graph is built from."""

    RUN = "run"
    STEP = "step"
    MESSAGE = "message"
    DATASET = "dataset"


class EdgeKind(StrEnum):
    """Edge kinds, for explicit links and derived edges alike."""

    CONTAINS = "contains"  # run -> its step; parent span -> child span in one service
    PRECEDES = "precedes"  # step -> the next step it enabled
    CHILD = "child"  # parent run/step -> child run (child workflow, sub-execution)
    RETRY_OF = "retry_of"  # a later attempt -> the attempt it retried
    EMITS = "emits"  # producer step/run -> message
    TRIGGERS = "triggers"  # message -> run/step it started
    CONSUMES = "consumes"  # consumer step/run -> message it read (direction kept as read)
    CALLS = "calls"  # client span -> server span of another service
    SIGNALS = "signals"  # workflow -> workflow it signalled
    READS = "reads"  # dataset -> job that read it
    WRITES = "writes"  # job -> dataset it wrote
    FOLLOWS_FROM = "follows_from"  # span link / FOLLOWS_FROM reference


class KeyKind(StrEnum):
    """Correlation key kinds; ``business:<name>`` keys are open-ended."""

    CORRELATION_ID = "correlation_id"
    TRACE_ID = "trace_id"
    SPAN_ID = "span_id"
    WORKFLOW_ID = "workflow_id"
    RUN_ID = "run_id"
    MESSAGE_ID = "message_id"
    CAUSATION_ID = "causation_id"
    EXECUTION_ARN = "execution_arn"
    JOB_RUN_ID = "job_run_id"
    MESSAGE_KEY = "message_key"  # a bus record's key (Kafka key, routing key of a delivery)
    #: The channel component a span or run published to / consumed from (``kafka:topic:x``).
    #: Not an identity: correlation never merges executions over it, it only orients edges.
    CHANNEL = "channel"


#: Key kinds that describe an entity but do not identify an execution.
NON_IDENTITY_KEYS = frozenset({KeyKind.CHANNEL})


class Severity(StrEnum):
    """Log severity, folded from every source's spelling."""

    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    FATAL = "fatal"
    UNKNOWN = "unknown"


def business_key(name: str) -> str:
    """The key kind for a business identifier, e.g. ``business:order_id``."""
    return f"business:{name}"


def component(system: str, kind: str | None, name: str) -> str:
    """Name the logical component an instance belongs to: ``system:kind:name``.

    Datasets have no kind: ``component("dataset", None, "postgres://prod/public.orders")``
    is ``dataset:postgres://prod/public.orders``.
    """
    system = system.strip().lower()
    name = name.strip() if name else "unknown"
    if not kind:
        return f"{system}:{name}"
    return f"{system}:{kind.strip().lower()}:{name}"


def split_component(name: str) -> tuple[str, str, str]:
    """Split ``system:kind:name`` back into its parts (``kind`` empty for datasets)."""
    system, _, rest = name.partition(":")
    if system == "dataset":
        return system, "", rest
    kind, _, leaf = rest.partition(":")
    return system, kind, leaf


_TS = pl.Datetime("us", "UTC")

#: Columns and dtypes of every table an ingestor can write. Times are built from epoch µs.
TABLES: dict[str, dict[str, pl.DataType]] = {
    "runs": {
        "uid": pl.String,
        "system": pl.String,
        "component": pl.String,
        "name": pl.String,  # the instance's own id: workflow id, dag run id, execution name
        "status": pl.String,
        "started_at": _TS,
        "ended_at": _TS,
        "attempt": pl.Int32,
        "parent_uid": pl.String,
        "error": pl.String,
        "location": pl.String,
        "detail": pl.String,
    },
    "steps": {
        "uid": pl.String,
        "run_uid": pl.String,
        "system": pl.String,
        "component": pl.String,
        "name": pl.String,
        "step_type": pl.String,  # activity, timer, span, task, state, pod, job ...
        "status": pl.String,
        "started_at": _TS,
        "ended_at": _TS,
        "attempt": pl.Int32,
        "parent_uid": pl.String,
        "error": pl.String,
        "location": pl.String,
        "detail": pl.String,
    },
    "messages": {
        "uid": pl.String,
        "system": pl.String,  # the bus: kafka, rabbitmq, sqs, eventbridge, cloudevents
        "component": pl.String,
        "channel": pl.String,  # topic, queue, exchange, event bus
        "event_type": pl.String,
        "msg_key": pl.String,
        "produced_at": _TS,
        "status": pl.String,
        "headers": pl.String,  # JSON object of header name -> string value
        "payload": pl.String,  # JSON, capped at PAYLOAD_CAP bytes
        "location": pl.String,
        "detail": pl.String,
    },
    "datasets": {
        "uid": pl.String,
        "component": pl.String,
        "namespace": pl.String,
        "name": pl.String,
        "detail": pl.String,
    },
    "keys": {
        "entity_uid": pl.String,
        "kind": pl.String,
        "value": pl.String,
    },
    "links": {
        "src_uid": pl.String,
        "dst_uid": pl.String,
        "kind": pl.String,
        "evidence": pl.String,  # which field of the source states it
        "location": pl.String,
    },
    "declared": {
        "src": pl.String,  # a component
        "dst": pl.String,  # a component
        "kind": pl.String,  # an EdgeKind
        "evidence": pl.String,
    },
    "logs": {
        "uid": pl.String,
        "entity_uid": pl.String,  # the span/step it belongs to, when the record says
        "trace_id": pl.String,
        "span_id": pl.String,
        "service": pl.String,
        "time": _TS,
        "severity": pl.String,
        "severity_number": pl.Int32,
        "body": pl.String,
        "location": pl.String,
        "detail": pl.String,
    },
}

#: Tables whose rows are input records' entities (what `status` counts per system).
ENTITY_TABLES = ("runs", "steps", "messages", "datasets")

#: Payloads above this many bytes are cut (the cut is recorded in ``detail``).
PAYLOAD_CAP = 16 * 1024


#: OTel messaging operations (``messaging.operation.type``, semconv >= 1.26, and the older
#: ``messaging.operation``) by the side of the hop they are on. The operation decides over the
#: span kind: a ``receive`` is a CLIENT span in current conventions, a batch ``send`` may be.
MESSAGING_OPERATIONS = {"publish": "producer", "send": "producer", "create": "producer",
                        "receive": "consumer", "process": "consumer", "deliver": "consumer",
                        "settle": "consumer"}

#: The kind word of a bus's channels, for ``channel_component``.
CHANNEL_KINDS: dict[str, str] = {
    "kafka": "topic",
    "rabbitmq": "exchange",
    "amqp": "exchange",
    "sqs": "queue",
    "aws_sqs": "queue",
    "sns": "topic",
    "aws_sns": "topic",
    "eventbridge": "bus",
    "pubsub": "topic",
    "gcp_pubsub": "topic",
    "servicebus": "queue",
    "eventhubs": "hub",
    "nats": "subject",
    "pulsar": "topic",
    "activemq": "queue",
    "jms": "queue",
    "dapr": "topic",  # a Dapr pub/sub topic, named <pubsub component>/<topic>
}

#: Bus names as systems write them (OTel ``messaging.system`` values) -> our system name.
BUS_ALIASES: dict[str, str] = {"aws_sqs": "sqs", "aws_sns": "sns", "amqp": "rabbitmq",
                               "gcp_pubsub": "pubsub"}


def channel_component(bus: str, destination: str) -> str:
    """The component of a bus channel: ``kafka:topic:orders``, ``rabbitmq:exchange:billing``."""
    bus = bus.strip().lower()
    system = BUS_ALIASES.get(bus, bus)
    return component(system, CHANNEL_KINDS.get(bus, "destination"), destination)


def kafka_record_uid(topic: str, partition: int, offset: int) -> str:
    """A Kafka record's uid, the same in every reader (kcat, Lambda events, spans naming it):
    its topic, partition and offset identify it."""
    return f"kafka:msg:{topic}/{partition}/{offset}"
