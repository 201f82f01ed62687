"""Acme Shop: the fictional company of the sample landscape, and its incidents, as data.

Everything the sample shows is defined here once: the services and what they run on, the
Temporal workflows, Kafka topics, the EventBridge bus and Step Functions state machine, the
Airflow DAGs and their datasets, what the AsyncAPI documents declare, the component edges the
traffic produces, and the four incidents with their time windows. ``traffic.py`` plays the day
out; ``answers.py`` derives the planted answers from these definitions, never from tracemap.

Order flow (one trace per order)::

    order-api --HTTP--> inventory
        `--StartWorkflow--> OrderWorkflow (order-worker, task queue "orders")
              ReserveStock --HTTP--> inventory
              ChargePayment --HTTP--> payments            (retries: up to 5 attempts)
              PublishOrderPlaced --> kafka orders.placed --> billing --HTTP--> tax-service
              |                                          |           `--> kafka invoices.created
              |                                          |           `--> EventBridge (default bus)
              |                                          |                  `--> InvoiceStateMachine
              |                                          `--> fulfilment      (declared nowhere)
              `--child--> ShipmentWorkflow (shipping-worker, task queue "shipping")
                            BookCarrier, timer, PrintLabel,
                            PublishOrderShipped --> kafka orders.shipped --> notifier

    An EventBridge Pipe reads invoices.created and starts InvoiceArchive with the Pipes batch
    (``SelfManagedKafka`` records: topic, partition, offset, base64 key and value, headers).
    The InvoiceCreated event on the default bus carries the same correlationId and is put just
    before the archive starts: time alone would wire the bus (or orders.placed) to it.

    shipping-worker exports no spans (no exporter configured, ``UNEXPORTED``): its hop to
    orders.shipped is known only from the record's traceparent and the activity's _tracer-data.

    Airflow (the night before): nightly_sales writes bigquery acme-analytics.sales.daily_sales,
    which finance_report reads: a dependency nobody declared, carried by a dataset. Its
    extract_orders task also reads the orders.placed topic, which lineage names the OpenLineage
    way (kafka://host:port + topic): the same topic as the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tracemap.model import channel_component, component

#: The fixed day the sample happens on (its first order); ``generate(start=...)`` moves it.
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
#: How long order traffic runs.
TRAFFIC = timedelta(hours=3, minutes=30)
#: Orders per hour at scale 1 (``--scale`` multiplies it).
ORDERS_PER_HOUR = 18.0
#: Airflow nights reported at scale 1 (the nights before ``START``); scales too.
NIGHTS = 2

ACCOUNT = "123456789012"
REGION = "eu-west-1"
TEMPORAL_NAMESPACE = "acme-prod"
KAFKA_BOOTSTRAP = "kafka-0.kafka.acme.internal:9092"


@dataclass(frozen=True, slots=True)
class Service:
    """A service that exports OTLP traces through the company's OpenTelemetry Collector."""

    name: str
    version: str
    language: str  # telemetry.sdk.language
    sdk_version: str  # telemetry.sdk.version
    skew_ms: int  # how far its clock is off (the Temporal server and AWS are the reference)
    pods: tuple[str, ...]
    port: int = 8080


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("order-api", "3.8.2", "python", "1.27.0", 0,
                ("order-api-7c9d8f6b5-m4qzt", "order-api-7c9d8f6b5-x8k2p")),
        Service("inventory", "1.19.0", "go", "1.31.0", -120,
                ("inventory-5b7f9d4c8-2rlwn", "inventory-5b7f9d4c8-qv7ts")),
        Service("order-worker", "2.3.7", "python", "1.27.0", 80,
                ("order-worker-6d5f9c7b8-kx2lp", "order-worker-6d5f9c7b8-tn4wz")),
        Service("payments", "4.1.0", "java", "1.42.1", -180,
                ("payments-84c6b7d9f-j5hxm", "payments-84c6b7d9f-wq2cr")),
        Service("shipping-worker", "1.6.3", "go", "1.31.0", 0,
                ("shipping-worker-7f8c5d6b9-9pzkd",)),
        Service("billing", "3.2.1", "python", "1.27.0", 250,
                ("billing-69d8b5c7f-c4vnm", "billing-69d8b5c7f-h7gsr")),
        Service("tax-service", "0.9.14", "go", "1.31.0", -300,
                ("tax-service-6c9b8d7f5-ld5xq",)),
        Service("fulfilment", "2.0.5", "go", "1.31.0", 150,
                ("fulfilment-58d9c6b7f-mz3tk",)),
        Service("notifier", "1.12.0", "nodejs", "1.26.0", -200,
                ("notifier-7b6c9d8f5-r2xjv",)),
    )
}

#: The services of the hazards planted for ``tracemap risks`` (``samples/hazards.py``): the
#: loyalty programme and account closure, apart from the order flow.
HAZARD_SERVICES = (
    Service("loyalty-api", "1.4.2", "python", "1.27.0", 40, ("loyalty-api-5d8f7c6b9-q2wrt",)),
    Service("points-ledger", "2.0.1", "python", "1.27.0", -60,
            ("points-ledger-6b9c8d7f5-z7kpl",)),
    Service("rewards", "0.7.3", "go", "1.31.0", 90, ("rewards-7c5d9b8f6-m3xvn",)),
    Service("reward-mailer", "1.1.0", "nodejs", "1.26.0", -110,
            ("reward-mailer-5f7b6c9d8-h8trq",)),
    Service("loyalty-worker", "1.4.2", "python", "1.27.0", 40,
            ("loyalty-worker-8d6f5c7b9-w4jzs",)),
    Service("account-api", "2.2.0", "python", "1.27.0", 0, ("account-api-6c8d7f9b5-p5ncl",)),
    Service("account-worker", "2.2.0", "python", "1.27.0", 30,
            ("account-worker-7b9f6d8c5-k9dqm",)),
    Service("crm", "5.3.0", "go", "1.31.0", -70, ("crm-5b8c7d9f6-t6rwx",)),
    Service("ledger-api", "3.0.4", "go", "1.31.0", 120, ("ledger-api-6f9d8b7c5-b2lhs",)),
    Service("identity", "1.18.2", "go", "1.31.0", -20, ("identity-7d5c9f8b6-v3mzk",)),
    Service("email-gateway", "0.12.1", "python", "1.27.0", 60,
            ("email-gateway-5c7b8d9f6-n7qpw",)),
)
SERVICES.update({s.name: s for s in HAZARD_SERVICES})

#: Services whose own spans are not in the OTLP export (the worker has no exporter configured):
#: their hops must come from the Temporal histories and the records' trace context. Their clock
#: then only stamps the records they produce (shipping-worker's is on time).
UNEXPORTED = frozenset({"shipping-worker"})


@dataclass(frozen=True, slots=True)
class Topic:
    """A Kafka topic: who writes it, who reads it (consumer group = service name)."""

    name: str
    partitions: int
    producer: str
    consumers: tuple[str, ...]
    event_type: str


TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        Topic("orders.placed", 6, "order-worker", ("billing", "fulfilment"), "OrderPlaced"),
        Topic("orders.shipped", 3, "shipping-worker", ("notifier",), "OrderShipped"),
        Topic("invoices.created", 3, "billing", (), "InvoiceCreated"),
    )
}

#: Kafka's log start offset per topic when it was dumped (retention dropped what came before).
BASE_OFFSETS = {"orders.placed": 1_284_000, "orders.shipped": 702_000, "invoices.created": 955_000}


@dataclass(frozen=True, slots=True)
class Workflow:
    """A Temporal workflow type, its task queue and the worker service that runs it."""

    type: str
    task_queue: str
    worker: str
    activities: tuple[str, ...]
    child: str | None = None


WORKFLOWS: dict[str, Workflow] = {
    w.type: w
    for w in (
        Workflow("OrderWorkflow", "orders", "order-worker",
                 ("ReserveStock", "ChargePayment", "PublishOrderPlaced"), "ShipmentWorkflow"),
        Workflow("ShipmentWorkflow", "shipping", "shipping-worker",
                 ("BookCarrier", "PrintLabel", "PublishOrderShipped")),
    )
}

EVENT_BUS = "default"
EVENT_RULE = "invoice-created-start-invoicing"
EVENT_SOURCE = "acme.billing"
STATE_MACHINE = "InvoiceStateMachine"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}"
#: InvoiceStateMachine: (state, resource type, resource, Lambda function or bucket).
STATES = (
    ("ValidateInvoice", "lambda", "invoke", "validate-invoice"),
    ("SendInvoice", "lambda", "invoke", "send-invoice"),
)
#: InvoiceArchive: started by an EventBridge Pipe from invoices.created (self-managed Kafka
#: source, batch size 1): its input is the Pipes batch, a JSON array of Kafka records.
ARCHIVE_MACHINE = "InvoiceArchive"
ARCHIVE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{ARCHIVE_MACHINE}"
ARCHIVE_PIPE = "invoices-created-to-archive"
ARCHIVE_TOPIC = "invoices.created"
ARCHIVE_BUCKET = "acme-invoice-archive"
#: How long the Pipe takes from the record to the execution (polling and batching window).
PIPE_LATENCY_MS = (400.0, 1200.0)


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset as OpenLineage names it (namespace + name, per the OpenLineage naming spec)."""

    namespace: str
    name: str

    @property
    def component(self) -> str:
        """tracemap's node for it: a ``kafka://`` dataset is the topic (tracemap.identity)."""
        if self.namespace.startswith("kafka://"):
            return channel_component("kafka", self.name)
        return component("dataset", None, f"{self.namespace}/{self.name}")


ORDERS_TABLE = Dataset("postgres://orders-db.acme.internal:5432", "shop.public.orders")
ORDERS_TOPIC = Dataset(f"kafka://{KAFKA_BOOTSTRAP}", "orders.placed")
RAW_ORDERS = Dataset("s3://acme-lake", "raw/orders")
SALES = Dataset("bigquery", "acme-analytics.sales.daily_sales")
REVENUE = Dataset("bigquery", "acme-analytics.finance.revenue_report")
REPORT_FILE = Dataset("gs://acme-finance-reports", "daily/revenue.csv")


@dataclass(frozen=True, slots=True)
class Task:
    """An Airflow task: its operator, what it reads and writes, the tasks it feeds."""

    task_id: str
    operator: str
    inputs: tuple[Dataset, ...]
    outputs: tuple[Dataset, ...]
    downstream: tuple[str, ...]
    minutes: float


@dataclass(frozen=True, slots=True)
class Dag:
    """An Airflow DAG on a daily schedule."""

    dag_id: str
    schedule: str
    at: timedelta  # time of day the scheduled run starts
    fileloc: str
    tasks: tuple[Task, ...]


DAGS: dict[str, Dag] = {
    d.dag_id: d
    for d in (
        Dag("nightly_sales", "30 1 * * *", timedelta(hours=1, minutes=30),
            "/opt/airflow/dags/sales/nightly_sales.py", (
                Task("extract_orders",
                     "airflow.providers.amazon.aws.transfers.sql_to_s3.SqlToS3Operator",
                     (ORDERS_TABLE, ORDERS_TOPIC), (RAW_ORDERS,), ("load_sales",), 6.0),
                Task("load_sales", "acme_airflow.operators.s3_to_bigquery.S3ToBigQueryOperator",
                     (RAW_ORDERS,), (SALES,), (), 9.0),
            )),
        Dag("finance_report", "0 4 * * *", timedelta(hours=4),
            "/opt/airflow/dags/finance/finance_report.py", (
                Task("build_report",
                     "airflow.providers.google.cloud.operators.bigquery.BigQueryInsertJobOperator",
                     (SALES,), (REVENUE,), ("publish_report",), 4.0),
                Task("publish_report",
                     "airflow.providers.google.cloud.transfers.bigquery_to_gcs.BigQueryToGCSOperator",
                     (REVENUE,), (REPORT_FILE,), (), 1.5),
            )),
    )
}


# ------------------------------------------------------------------------------------------
# Components, named as tracemap names them


def service(name: str) -> str:
    return component("otel", "service", name)


def workflow(name: str) -> str:
    return component("temporal", "workflow", name)


def activity(name: str) -> str:
    return component("temporal", "activity", name)


def topic(name: str) -> str:
    return channel_component("kafka", name)


def dag(name: str) -> str:
    return component("airflow", "dag", name)


def task(dag_id: str, task_id: str) -> str:
    return component("airflow", "task", f"{dag_id}.{task_id}")


BUS = channel_component("eventbridge", EVENT_BUS)
MACHINE = component("stepfunctions", "statemachine", STATE_MACHINE)
ARCHIVE = component("stepfunctions", "statemachine", ARCHIVE_MACHINE)


# ------------------------------------------------------------------------------------------
# Declarations: one AsyncAPI 3.0 document per service that owns one (declared/asyncapi/)

#: service -> ((action, topic), ...). fulfilment has no document: its consumption is hidden.
ASYNCAPI: dict[str, tuple[tuple[str, str], ...]] = {
    "order-worker": (("send", "orders.placed"),),
    "billing": (("receive", "orders.placed"), ("send", "invoices.created")),
    "shipping-worker": (("send", "orders.shipped"),),
    "notifier": (("receive", "orders.shipped"),),
}


@dataclass(frozen=True, slots=True)
class Edge:
    """A component edge the traffic produces (what tracemap should observe)."""

    src: str
    dst: str
    kind: str  # calls, starts, child, emits, consumes, triggers, writes, reads
    via: str
    declared_by: str | None = None  # where it is declared, or None: a hidden dependency


def _asyncapi_edges() -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for svc, ops in ASYNCAPI.items():
        for action, name in ops:
            edge = (service(svc), topic(name))
            out.add(edge if action == "send" else (edge[1], edge[0]))
    return out


_DECLARED = _asyncapi_edges()


def _msg(src: str, dst: str, kind: str, via: str) -> Edge:
    declared = "asyncapi" if (src, dst) in _DECLARED else None
    return Edge(src, dst, kind, via, declared)


#: Every component edge the order traffic and the nightly DAGs produce.
OBSERVED: tuple[Edge, ...] = (
    Edge(service("order-api"), service("inventory"), "calls", "HTTP GET /v1/stock/{sku}"),
    Edge(service("order-api"), workflow("OrderWorkflow"), "starts",
         "StartWorkflow:OrderWorkflow; traceparent in the history header _tracer-data"),
    Edge(workflow("OrderWorkflow"), workflow("ShipmentWorkflow"), "child",
         "StartChildWorkflowExecutionInitiated", "temporal history (parent/child)"),
    Edge(service("order-worker"), service("inventory"), "calls",
         "HTTP POST /v1/reservations (activity ReserveStock)"),
    Edge(service("order-worker"), service("payments"), "calls",
         "HTTP POST /v1/charges (activity ChargePayment)"),
    _msg(service("order-worker"), topic("orders.placed"), "emits",
         "activity PublishOrderPlaced; traceparent header"),
    _msg(topic("orders.placed"), service("billing"), "consumes", "consumer group billing"),
    _msg(topic("orders.placed"), service("fulfilment"), "consumes", "consumer group fulfilment"),
    Edge(service("billing"), service("tax-service"), "calls", "HTTP POST /v1/quotes"),
    _msg(service("billing"), topic("invoices.created"), "emits", "traceparent header"),
    Edge(service("billing"), BUS, "emits", "EventBridge PutEvents (detail-type InvoiceCreated)"),
    Edge(BUS, MACHINE, "triggers",
         f"rule {EVENT_RULE}; execution input correlationId, X-Ray trace header"),
    Edge(topic(ARCHIVE_TOPIC), ARCHIVE, "triggers",
         f"EventBridge Pipe {ARCHIVE_PIPE}; execution input is the Pipes batch (topic, "
         "partition, offset)"),
    # shipping-worker exports no spans (UNEXPORTED): the record's traceparent names a span the
    # store lacks, and the activity's _tracer-data carries the same trace (trace-context rule).
    Edge(activity("PublishOrderShipped"), topic("orders.shipped"), "emits",
         "record traceparent names an unexported span; the activity's _tracer-data carries "
         "its trace and the activity was running at produce time"),
    _msg(topic("orders.shipped"), service("notifier"), "consumes", "consumer group notifier"),
    *(
        Edge(task(d.dag_id, t.task_id), ds.component, "writes", "OpenLineage outputs")
        for d in DAGS.values() for t in d.tasks for ds in t.outputs
    ),
    *(
        Edge(ds.component, task(d.dag_id, t.task_id), "reads", "OpenLineage inputs")
        for d in DAGS.values() for t in d.tasks for ds in t.inputs
    ),
)

@dataclass(frozen=True, slots=True)
class Convention:
    """A production export convention the sample plants, as a component edge that must be in
    the graph (``present``) or must not be (a direction or a source only time would suggest)."""

    name: str
    src: str
    dst: str
    present: bool
    why: str


#: The conventions of issue 13, each as the edge it must (or must not) give.
CONVENTIONS: tuple[Convention, ...] = (
    Convention("consumer linking to the record", topic("orders.placed"), service("fulfilment"),
               True, "fulfilment's consumer span roots a new trace with a span link"),
    Convention("consumer linking to the record", service("fulfilment"), topic("orders.placed"),
               False, "a linked consumer does not emit what it consumes"),
    Convention("topic read through OpenLineage", topic("orders.placed"),
               task("nightly_sales", "extract_orders"), True,
               f"OpenLineage input namespace kafka://{KAFKA_BOOTSTRAP}, name orders.placed"),
    Convention("uninstrumented database", service("order-api"),
               component("postgresql", "database", "shop"), True,
               "client span db.system=postgresql, db.name=shop; the database sends nothing"),
    Convention("service not exported", activity("PublishOrderShipped"), topic("orders.shipped"),
               True, "shipping-worker exports no spans; record traceparent + _tracer-data"),
    Convention("service not exported", service("notifier"), topic("orders.shipped"), False,
               "the consumer (clock 200 ms behind) never sends what it receives"),
    Convention("service not exported", workflow("OrderWorkflow"), topic("orders.shipped"), False,
               "the parent run contains the produce time but does not name the topic"),
    Convention("Pipes-started state machine", topic(ARCHIVE_TOPIC), ARCHIVE, True,
               "the execution input is the Pipes batch naming topic, partition and offset"),
    Convention("Pipes-started state machine", BUS, ARCHIVE, False,
               "the InvoiceCreated event (same correlationId) is put just before it starts"),
    Convention("Pipes-started state machine", topic("orders.placed"), ARCHIVE, False,
               "the order's record carries the same correlation id, earlier"),
)

#: Edges the sources themselves declare (definitions, not observations).
SOURCE_DECLARED: tuple[Edge, ...] = (
    Edge(workflow("OrderWorkflow"), workflow("ShipmentWorkflow"), "child",
         "StartChildWorkflowExecutionInitiated", "temporal history"),
    *(
        Edge(task(d.dag_id, t.task_id), task(d.dag_id, down), "precedes",
             "airflow job facet tasks.downstream_task_ids", "openlineage airflow facet")
        for d in DAGS.values() for t in d.tasks for down in t.downstream
    ),
    *(
        Edge(component("stepfunctions", "state", f"{STATE_MACHINE}.{a[0]}"),
             component("stepfunctions", "state", f"{STATE_MACHINE}.{b[0]}"), "precedes",
             "state machine definition (Next)", "step functions ASL")
        for a, b in zip(STATES, STATES[1:], strict=False)
    ),
)


# ------------------------------------------------------------------------------------------
# Incidents: each in its own window of the day, with normal traffic before it


@dataclass(frozen=True, slots=True)
class Incident:
    """A planted incident: its window (offsets from ``START``) and its written answer."""

    id: str
    title: str
    since: timedelta
    until: timedelta
    root_cause: tuple[str, ...]
    affected: tuple[str, ...]
    discriminators: tuple[tuple[str, str, str], ...]  # (attribute, value, where it shows)
    teaser: str
    answer: str


def _hm(hours: int, minutes: int) -> timedelta:
    return timedelta(hours=hours, minutes=minutes)


# Teasers and answers name times as {since} / {until} (HH:MM UTC on the generated day).
TAX_OUTAGE = Incident(
    "tax-outage", "Leaf service outage: tax-service returns 503",
    _hm(0, 40), _hm(1, 0),
    (service("tax-service"),),
    (service("billing"), topic("invoices.created"), BUS, MACHINE, ARCHIVE),
    (("http.response.status_code", "503", "otel:service:tax-service server spans"),),
    "{since}. Finance pings #billing-oncall: no invoices for twenty minutes. billing's "
    "dashboards are red, its consumer is throwing, and the first instinct is to roll billing "
    "back. billing did not change.",
    "tax-service answered every quote with 503 from {since} to {until} (its own server spans "
    "are the first errors, with no failing call below them). billing's calls to it failed "
    "after three tries, so billing's orders.placed consumer failed, no invoices.created record "
    "was written and no InvoiceStateMachine execution started for those orders. billing is a "
    "victim, not the cause - and OrderWorkflow, long finished, still says COMPLETED.",
)

RETRY_STORM = Incident(
    "payments-retry-storm", "Retry storm: ChargePayment retries until OrderWorkflow fails",
    _hm(1, 15), _hm(1, 35),
    (activity("ChargePayment"), service("payments")),
    (workflow("OrderWorkflow"), service("order-worker")),
    (("http.response.status_code", "503", "otel:service:payments server spans"),),
    "{since}. payments' connection pool is exhausted; every charge waits five seconds and "
    "fails. Temporal retries ChargePayment - five attempts each - and the retries keep the "
    "pool full. Orders stop completing.",
    "payments' POST /v1/charges failed (503, connection pool timeout) from {since} to {until}. "
    "ChargePayment retried (attempt 2..5, lastFailure set) and, once its five attempts were "
    "spent, failed with RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED; OrderWorkflow failed with it. "
    "An order whose retries outlast the window recovers on a later attempt (recovered_runs "
    "in answers.json).",
)

BAD_DEPLOY = Incident(
    "bad-deploy", "Upstream change breaks billing while OrderWorkflow reports success",
    _hm(1, 45), _hm(2, 15),
    (service("order-worker"), activity("PublishOrderPlaced"), workflow("OrderWorkflow")),
    (topic("orders.placed"), service("billing"), topic("invoices.created"), BUS, MACHINE,
     ARCHIVE),
    (("service.version", "2.4.0", "otel:service:order-worker resource"),
     ("schema-version", "2", "kafka:topic:orders.placed record header"),
     ("workerVersion.buildId", "2.4.0", "temporal:workflow:OrderWorkflow history events")),
    "{since}. order-worker 2.4.0 ships a cleaner OrderPlaced payload. Every OrderWorkflow is "
    "green. Half an hour later finance asks why nothing has been invoiced since the deploy.",
    "order-worker 2.4.0 (deployed {since}, rolled back to 2.3.7 at {until}) publishes "
    "OrderPlaced with header schema-version 2: 'amount' became 'total': {{value, currency}}. "
    "billing's consumer fails on every such record with KeyError: 'amount'; no invoice, no "
    "InvoiceStateMachine. OrderWorkflow still completes: a false completion. fulfilment, which "
    "does not read the amount, is unaffected. What tells the bad records apart: "
    "service.version=2.4.0 on order-worker spans, header schema-version=2, "
    "workerVersion.buildId=2.4.0 in the histories.",
)

NOTIFIER_STALLED = Incident(
    "notifier-stalled", "Consumer that silently stops: notifier stops reading orders.shipped",
    _hm(2, 30), TRAFFIC + timedelta(minutes=5),
    (service("notifier"),),
    (service("notifier"),),
    (),
    "{since}. The notifier pod's consumer thread dies after a rebalance; the process stays up, "
    "health checks pass, no error is logged. Customers stop getting shipping e-mails.",
    "From {since} notifier consumed nothing: no consumer span, no error. ShipmentWorkflow kept "
    "publishing to orders.shipped. Every orders.shipped record produced from {since} on has no "
    "consumer; notifier, which consumed every earlier one, is the expected consumer.",
)

INCIDENTS: tuple[Incident, ...] = (TAX_OUTAGE, RETRY_STORM, BAD_DEPLOY, NOTIFIER_STALLED)

#: order-worker's versions: the bad build runs during BAD_DEPLOY's window only.
GOOD_BUILD, BAD_BUILD = SERVICES["order-worker"].version, "2.4.0"


def window(incident: Incident, start: datetime) -> tuple[datetime, datetime]:
    """The incident's window on the day that begins at ``start``."""
    return start + incident.since, start + incident.until


def told(text: str, incident: Incident, start: datetime) -> str:
    """A teaser or answer with its ``{since}``/``{until}`` filled in (HH:MM)."""
    since, until = window(incident, start)
    return text.format(since=f"{since:%H:%M}", until=f"{until:%H:%M}")
