"""Play Acme Shop's day out: one ``Story`` per order, one ``DagRun`` per nightly DAG run.

Deterministic: every id, duration and choice comes from one ``random.Random(seed)`` consumed in
a fixed order, so the same seed and scale give the same stories byte for byte. Orders arrive at
``ORDERS_PER_HOUR * scale`` an hour (jittered); the incidents' windows are fixed times of the
day, so a larger scale puts proportionally more orders into the same incidents.

Memory stays bounded: stories are yielded one at a time and the simulation keeps only the
Kafka offsets and a few counters between them.

Times are "true" epoch microseconds here; each record gets the clock of the system that writes
it (``Service.skew_ms``; the Temporal server and AWS are the reference clock).
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from tracemap.samples import landscape as L
from tracemap.samples.records import (
    CLIENT,
    CONSUMER,
    INTERNAL,
    PRODUCER,
    SERVER,
    ActivityRun,
    BusEvent,
    ChildRun,
    DagRun,
    Execution,
    Failure,
    KafkaRecord,
    Outcome,
    Span,
    SpanEvent,
    StateRun,
    Story,
    TaskRun,
    TimerRun,
    WorkflowRun,
)
from tracemap.samples.writers.kcat import producer_text

MS = 1000
SEC = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=L.START.tzinfo)

#: Temporal retry policies as the workers declare them.
CHARGE_RETRY = {"initialInterval": "1s", "backoffCoefficient": 2, "maximumInterval": "30s",
                "maximumAttempts": 5}
DEFAULT_RETRY = {"initialInterval": "1s", "backoffCoefficient": 2, "maximumInterval": "100s"}
#: Baseline noise: a first ChargePayment attempt sometimes meets a transient 503 and retries.
TRANSIENT_CHARGE_FAILURE = 0.05
PICKUP_TIMER_S = 30

# Instrumentation scopes, per language, as the real instrumentations name their tracers.
SCOPE_TEMPORAL = {"python": "temporalio", "go": "temporal-sdk-go"}
SCOPE_HTTP_SERVER = {"python": "opentelemetry.instrumentation.fastapi",
                     "go": "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
                     "java": "io.opentelemetry.spring-webmvc-6.0"}
SCOPE_HTTP_CLIENT = {"python": "opentelemetry.instrumentation.httpx",
                     "go": "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
                     "nodejs": "@opentelemetry/instrumentation-undici"}
SCOPE_KAFKA = {"python": "opentelemetry.instrumentation.confluent_kafka",
               "go": "go.opentelemetry.io/contrib/instrumentation/github.com/IBM/sarama/otelsarama",
               "nodejs": "@opentelemetry/instrumentation-kafkajs"}
SCOPE_DB = "opentelemetry.instrumentation.asyncpg"
SCOPE_BOTO = "opentelemetry.instrumentation.botocore"
SCOPE_APP = {"go": "fulfilment/allocator"}

PAYMENTS_URL = "http://payments:8080/v1/charges"
TAX_URL = "http://tax-service:8080/v1/quotes"


def to_us(dt: datetime) -> int:
    """Epoch microseconds of an aware datetime (exact)."""
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * SEC + delta.microseconds


def traceparent(trace_id: str, span_id: str) -> str:
    return f"00-{trace_id}-{span_id}-01"


def murmur2_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (murmur2, as in the client)."""
    data = key.encode()
    m, length = 0x5BD1E995, len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = length & ~3
    rest = length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


class Day:
    """The simulation of one day of Acme Shop at a given scale."""

    def __init__(self, *, scale: float, seed: int, start: datetime) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale, self.seed = scale, seed
        self.rng = random.Random(seed)
        self.start = start
        self.start_us = to_us(start)
        self.windows = {i.id: (self.start_us + to_us(EPOCH + i.since),
                               self.start_us + to_us(EPOCH + i.until)) for i in L.INCIDENTS}
        self.offsets = {
            name: [L.BASE_OFFSETS[name] + self.rng.randrange(0, 4000) for _ in range(t.partitions)]
            for name, t in L.TOPICS.items()
        }
        self.number = 1000

    # -- the clock of incidents --------------------------------------------------------------

    def during(self, incident: L.Incident, t: int) -> bool:
        since, until = self.windows[incident.id]
        return since <= t < until

    def worker_build(self, t: int) -> str:
        return L.BAD_BUILD if self.during(L.BAD_DEPLOY, t) else L.GOOD_BUILD

    def worker_builds(self, start: int, end: int) -> tuple[tuple[int, str], ...]:
        """order-worker's build changes between ``start`` and ``end`` (deploy and rollback)."""
        since, until = self.windows[L.BAD_DEPLOY.id]
        out = [(start, self.worker_build(start))]
        for t in (since, until):
            if start < t <= end:
                out.append((t, self.worker_build(t)))
        return tuple(out)

    # -- ids ---------------------------------------------------------------------------------

    def hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def uuid7(self, ms: int) -> str:
        rand = self.rng.getrandbits(74)
        # 48-bit ms timestamp, version 7, 12 random bits, variant 0b10, 62 random bits
        value = ((ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62)
                 | (rand & (2**62 - 1)))
        return str(uuid.UUID(int=value))

    def ms(self, low: float, high: float) -> int:
        """A duration in µs, uniform between ``low`` and ``high`` milliseconds."""
        return int(self.rng.uniform(low, high) * MS)

    # -- the day -----------------------------------------------------------------------------

    def orders(self) -> Iterator[Story]:
        """Every order of the day, in arrival order.

        ``ORDERS_PER_HOUR * scale`` orders an hour, evenly spread with jitter (each order lands
        somewhere in its own slot), so a window of the day holds a predictable share of them.
        """
        total = L.TRAFFIC.total_seconds() * SEC
        count = max(1, round(L.ORDERS_PER_HOUR * self.scale * total / (3600 * SEC)))
        slot = total / count
        for i in range(count):
            t = self.start_us + int((i + 0.5 + self.rng.uniform(-0.45, 0.45)) * slot)
            self.number += 1
            yield _Order(self, self.number, t).play()

    def nights(self) -> Iterator[DagRun]:
        """The Airflow DAG runs of the nights before the day, oldest first."""
        nights = max(1, round(L.NIGHTS * self.scale))
        midnight = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        for back in range(nights - 1, -1, -1):
            day = midnight - timedelta(days=back)
            for dag in L.DAGS.values():
                yield self.dag_run(dag, day)

    def dag_run(self, dag: L.Dag, day: datetime) -> DagRun:
        run_at = day + dag.at
        logical = run_at - timedelta(days=1)
        start = to_us(run_at) + self.ms(400, 2500)
        t = start + self.ms(800, 3000)
        tasks: list[TaskRun] = []
        for task in dag.tasks:
            queued = t
            begin = queued + self.ms(900, 4000)
            end = begin + int(task.minutes * 60 * SEC * self.rng.uniform(0.8, 1.25))
            tasks.append(TaskRun(task.task_id, self.uuid7(begin // MS), begin, end, queued,
                                 [(d.namespace, d.name) for d in task.inputs],
                                 [(d.namespace, d.name) for d in task.outputs],
                                 self.rng.randrange(9_000, 60_000)))
            t = end + self.ms(1500, 6000)
        return DagRun(dag.dag_id, f"scheduled__{logical.isoformat()}", self.uuid7(start // MS),
                      to_us(logical), to_us(run_at), start, t + self.ms(200, 900), tasks)

    def offset(self, topic: str, partition: int) -> int:
        value = self.offsets[topic][partition]
        self.offsets[topic][partition] += 1
        return value


class _Order:
    """One order, from POST /orders to the shipping e-mail."""

    def __init__(self, day: Day, number: int, t0: int) -> None:
        self.day = day
        self.rng = day.rng
        self.t0 = t0
        self.order_id = f"ORD-{number}"
        self.workflow_id = f"order-{number}"
        self.run_id = day.uuid4()
        self.trace = day.hex(128)
        self.pods: dict[str, str] = {}
        self.spans: list[Span] = []
        self.kafka: list[KafkaRecord] = []
        self.bus: list[BusEvent] = []
        self.executions: list[Execution] = []
        self.workflows: list[WorkflowRun] = []
        self.outcome = Outcome(self.order_id, self.workflow_id, self.run_id, t0)
        rng = self.rng
        self.customer = f"CUS-{rng.randrange(10000, 99999)}"
        self.items = [{"sku": f"SKU-{rng.randrange(1000, 2000)}", "quantity": rng.randrange(1, 4),
                       "unitPrice": round(rng.uniform(4.5, 89.0), 2)}
                      for _ in range(rng.randrange(1, 3))]
        self.amount = round(sum(i["quantity"] * i["unitPrice"] for i in self.items), 2)

    # -- spans -------------------------------------------------------------------------------

    def span(self, service: str, scope: str, name: str, kind: int, start: int, end: int,
             attrs: dict[str, Any], parent: Span | None = None, *, error: str | None = None,
             exception: tuple[str, str, str] | None = None, version: str | None = None,
             link: Span | None = None) -> Span:
        """Record a span of ``service`` for true times ``start``..``end`` (its clock applied).

        With ``link`` and no parent the span roots a new trace that links to ``link`` (how
        current messaging instrumentation starts a consumer); its trace id is derived from the
        linked span, so the random sequence (and the rest of the sample) stays the same.
        """
        svc = L.SERVICES[service]
        if service not in self.pods:
            self.pods[service] = self.rng.choice(svc.pods)
        skew = svc.skew_ms * MS
        trace = (parent.trace_id if parent else
                 uuid.uuid5(uuid.NAMESPACE_OID, f"{link.trace_id}/{link.span_id}").hex if link
                 else self.trace)
        s = Span(service, version or svc.version, self.pods[service], scope, trace,
                 self.day.hex(64), parent.span_id if parent else None, name, kind, start + skew,
                 end + skew, attrs, error,
                 remote_parent=parent is not None and parent.service != service,
                 links=[(link.trace_id, link.span_id)] if link and not parent else [])
        if exception:
            etype, message, stack = exception
            s.events.append(SpanEvent(end + skew - 40, "exception", {
                "exception.type": etype, "exception.message": message,
                "exception.stacktrace": stack, "exception.escaped": "False"}))
        self.spans.append(s)
        return s

    def http(self, client_service: str, server_service: str, method: str, path: str,
             route: str, start: int, duration: int, parent: Span, *, status: int = 200,
             server_error: tuple[str, str, str] | None = None,
             resend: int = 0) -> tuple[Span, Span]:
        """A client span in one service and the server span it caused in another."""
        client_lang = L.SERVICES[client_service].language
        server = L.SERVICES[server_service]
        url = f"http://{server_service}:{server.port}{path}"
        failed = status >= 500
        attrs: dict[str, Any] = {"http.request.method": method, "url.full": url,
                                 "server.address": server_service, "server.port": server.port,
                                 "http.response.status_code": status}
        if resend:
            attrs["http.request.resend_count"] = resend
        if failed:
            attrs["error.type"] = str(status)
        client = self.span(client_service, SCOPE_HTTP_CLIENT[client_lang], method,
                           CLIENT, start, start + duration, attrs, parent,
                           error=f"{status} {_REASONS[status]}" if failed else None,
                           version=self.version_of(client_service, start))
        lag = self.day.ms(0.4, 1.5)
        url_path, _, query = path.partition("?")
        sattrs: dict[str, Any] = {"http.request.method": method, "http.route": route,
                                  "url.path": url_path, **({"url.query": query} if query else {}),
                                  "server.address": server_service, "server.port": server.port,
                                  "client.address": f"10.42.{self.rng.randrange(0, 8)}."
                                                    f"{self.rng.randrange(2, 250)}",
                                  "user_agent.original": _USER_AGENTS[client_lang],
                                  "http.response.status_code": status}
        if failed:
            sattrs["error.type"] = str(status)
        srv = self.span(server_service, SCOPE_HTTP_SERVER[server.language], f"{method} {route}",
                        SERVER, start + lag, start + duration - lag, sattrs, client,
                        error=(server_error[1] if server_error else None) if failed else None,
                        exception=server_error if failed else None)
        return client, srv

    def version_of(self, service: str, t: int) -> str:
        if service == "order-worker":
            return self.day.worker_build(t)
        return L.SERVICES[service].version

    # -- the order ---------------------------------------------------------------------------

    def play(self) -> Story:
        day, t0 = self.day, self.t0
        root = self.span("order-api", SCOPE_HTTP_SERVER["python"], "POST /orders", SERVER, t0, t0,
                         {"http.request.method": "POST", "http.route": "/orders",
                          "url.path": "/orders", "url.scheme": "https",
                          "server.address": "api.acme-shop.example", "server.port": 443,
                          "client.address": f"203.0.113.{self.rng.randrange(2, 250)}",
                          "user_agent.original": "acme-shop-web/2026.10 (+https://acme-shop."
                                                 "example)",
                          "http.response.status_code": 202, "correlation_id": self.order_id})
        t = t0 + day.ms(1, 4)
        skus = ",".join(i["sku"] for i in self.items)
        dur = day.ms(12, 45)
        self.http("order-api", "inventory", "GET", f"/v1/stock?skus={skus}", "/v1/stock", t, dur,
                  root)
        t += dur + day.ms(0.5, 2)
        dur = day.ms(2, 7)
        self.span("order-api", SCOPE_DB, "INSERT shop.orders", CLIENT, t, t + dur,
                  {"db.system": "postgresql", "db.name": "shop", "db.operation": "INSERT",
                   "db.sql.table": "orders", "server.address": "orders-db.acme.internal",
                   "server.port": 5432,
                   "db.statement": "INSERT INTO orders (id, customer_id, amount, currency, "
                                   "status) VALUES ($1, $2, $3, $4, 'PENDING')"}, root)
        t += dur + day.ms(0.3, 1.5)
        dur = day.ms(18, 40)
        start_wf = self.span("order-api", SCOPE_TEMPORAL["python"], "StartWorkflow:OrderWorkflow",
                             CLIENT, t, t + dur, {"temporalWorkflowID": self.workflow_id}, root)
        root.end_us = start_wf.end_us + day.ms(1, 3)
        self.order_workflow(t + int(dur * 0.6), start_wf)
        return Story(self.spans, self.workflows, self.kafka, self.bus, self.executions,
                     self.outcome)

    def order_workflow(self, ws: int, start_span: Span) -> None:
        day = self.day
        wf = L.WORKFLOWS["OrderWorkflow"]
        worker_identity = f"1@{self._pod('order-worker')}"
        first_task = ws + day.ms(3, 12)
        run_span = self.span("order-worker", SCOPE_TEMPORAL["python"], "RunWorkflow:OrderWorkflow",
                             SERVER, first_task, first_task,
                             {"temporalWorkflowID": self.workflow_id, "temporalRunID": self.run_id},
                             start_span, version=day.worker_build(first_task))
        order_input = {"orderId": self.order_id, "correlationId": self.order_id,
                       "customerId": self.customer, "items": self.items, "amount": self.amount,
                       "currency": "EUR"}
        steps: list[ActivityRun | TimerRun | ChildRun] = []
        t = first_task + day.ms(8, 25)

        # ReserveStock -> inventory
        act, t = self.activity(run_span, "1", "ReserveStock", wf.task_queue, t,
                               [{"orderId": self.order_id, "items": self.items}],
                               {"reservationId": f"RSV-{day.hex(32)[:10]}"},
                               lambda run, start: self._reserve(run, start))
        steps.append(act)

        # ChargePayment -> payments, retried
        act, t = self.charge(run_span, wf.task_queue, t + day.ms(8, 25))
        steps.append(act)
        failure = None
        if act.failure:
            self.outcome.workflow_ok = False
            failure = act.failure
            end = t + day.ms(10, 30)
        else:
            # PublishOrderPlaced -> orders.placed
            act, t = self.activity(run_span, "3", "PublishOrderPlaced", wf.task_queue,
                                   t + day.ms(8, 25), [{"orderId": self.order_id}], None,
                                   lambda run, start: self._publish_placed(run, start))
            act.result = {"topic": "orders.placed", "partition": self.kafka[-1].partition,
                          "offset": self.kafka[-1].offset}
            steps.append(act)
            # ShipmentWorkflow child
            child, t = self.shipment(run_span, t + day.ms(8, 25))
            steps.append(child)
            end = t + day.ms(10, 30)
        self.workflows.insert(0, WorkflowRun(
            L.TEMPORAL_NAMESPACE, self.workflow_id, self.run_id, wf.type, wf.task_queue, ws, end,
            [order_input], traceparent(self.trace, start_span.span_id),
            f"1@{self._pod('order-api')}", worker_identity, day.worker_builds(ws, end),
            ("temporal-python", "1.8.0"), steps,
            result=None if failure else {"orderId": self.order_id, "status": "COMPLETED"},
            failure=failure, search_attributes={"CustomerId": self.customer}))

    def _pod(self, service: str) -> str:
        if service not in self.pods:
            self.pods[service] = self.rng.choice(L.SERVICES[service].pods)
        return self.pods[service]

    def activity(self, run_span: Span, activity_id: str, name: str, queue: str, scheduled: int,
                 args: list[Any], result: Any, body: Any,
                 service: str = "order-worker") -> tuple[ActivityRun, int]:
        """A one-attempt activity: StartActivity + RunActivity spans; ``body`` adds the work."""
        day = self.day
        lang = L.SERVICES[service].language
        start_span = self.span(service, SCOPE_TEMPORAL[lang], f"StartActivity:{name}", CLIENT,
                               scheduled - day.ms(0.2, 1), scheduled if lang == "python" else
                               scheduled - day.ms(0.05, 0.15), self._temporal_attrs(run_span),
                               run_span, version=self.version_of(service, scheduled))
        if lang == "python":  # the Python interceptor's workflow-side spans have no duration
            start_span.end_us = start_span.start_us
        started = scheduled + day.ms(3, 15)
        run = self.span(service, SCOPE_TEMPORAL[lang], f"RunActivity:{name}", SERVER,
                        started + day.ms(0.5, 2), started, {
                            **self._temporal_attrs(run_span), "temporalActivityID": activity_id},
                        start_span, version=self.version_of(service, started))
        end = body(run, run.start_us - L.SERVICES[service].skew_ms * MS)
        run.end_us = end + L.SERVICES[service].skew_ms * MS + day.ms(0.3, 1.5)
        ended = end + day.ms(1, 4)
        return ActivityRun(activity_id, name, queue, scheduled, started, ended, 1, args, result,
                           traceparent(self.trace, start_span.span_id), DEFAULT_RETRY, "30s"), ended

    @staticmethod
    def _temporal_attrs(run_span: Span) -> dict[str, Any]:
        return {k: v for k, v in run_span.attrs.items() if k in ("temporalWorkflowID",
                                                                  "temporalRunID")}

    def _reserve(self, run: Span, start: int) -> int:
        dur = self.day.ms(25, 90)
        self.http("order-worker", "inventory", "POST", "/v1/reservations", "/v1/reservations",
                  start + self.day.ms(1, 3), dur, run)
        return start + dur + self.day.ms(2, 6)

    def charge(self, run_span: Span, queue: str, scheduled: int) -> tuple[ActivityRun, int]:
        """ChargePayment: each attempt is a RunActivity span calling payments; Temporal retries."""
        day, rng = self.day, self.rng
        start_span = self.span("order-worker", SCOPE_TEMPORAL["python"], "StartActivity:"
                               "ChargePayment", CLIENT, scheduled - day.ms(0.2, 1), scheduled,
                               self._temporal_attrs(run_span), run_span,
                               version=day.worker_build(scheduled))
        start_span.end_us = start_span.start_us
        skew = L.SERVICES["order-worker"].skew_ms * MS
        attempt_start = scheduled + day.ms(3, 15)
        last_failure: Failure | None = None
        failure: Failure | None = None
        attempt = 0
        interval = 1 * SEC
        while True:
            attempt += 1
            storm = day.during(L.RETRY_STORM, attempt_start)
            transient = attempt == 1 and not storm and rng.random() < TRANSIENT_CHARGE_FAILURE
            if storm:
                self.outcome.incidents.add(L.RETRY_STORM.id)
            run = self.span("order-worker", SCOPE_TEMPORAL["python"], "RunActivity:ChargePayment",
                            SERVER, attempt_start + day.ms(0.5, 2), attempt_start, {
                                **self._temporal_attrs(run_span), "temporalActivityID": "2"},
                            start_span, version=day.worker_build(attempt_start))
            call = attempt_start + day.ms(1, 3)
            if storm or transient:
                dur = day.ms(5000, 5040) if storm else day.ms(40, 120)
                self.http("order-worker", "payments", "POST", "/v1/charges", "/v1/charges", call,
                          dur, run, status=503, server_error=_POOL_TIMEOUT)
                end = call + dur + day.ms(2, 6)
                err = Failure(_HTTPX_503, "HTTPStatusError", _httpx_stack("charge_payment"))
                run.error = f"HTTPStatusError: {_HTTPX_503}"
                run.events.append(SpanEvent(end + skew - 200, "exception", {
                    "exception.type": "httpx.HTTPStatusError", "exception.message": _HTTPX_503,
                    "exception.stacktrace": err.stack, "exception.escaped": "False"}))
                run.end_us = end + skew
                if attempt >= CHARGE_RETRY["maximumAttempts"]:
                    failure = err
                    break
                last_failure = err
                attempt_start = end + interval + day.ms(2, 12)
                interval = min(interval * 2, 30 * SEC)
                continue
            dur = day.ms(110, 330)
            self.http("order-worker", "payments", "POST", "/v1/charges", "/v1/charges", call, dur,
                      run, status=201)
            end = call + dur + day.ms(2, 6)
            run.end_us = end + skew
            break
        self.outcome.charge_attempts = attempt
        ended = end + day.ms(1, 4)
        act = ActivityRun("2", "ChargePayment", queue, scheduled, attempt_start, ended, attempt,
                          [{"orderId": self.order_id, "customerId": self.customer,
                            "amount": self.amount, "currency": "EUR"}],
                          None if failure else {"chargeId": f"ch_{day.hex(96)}"},
                          traceparent(self.trace, start_span.span_id), CHARGE_RETRY, "10s",
                          last_failure=last_failure, failure=failure)
        return act, ended

    def _publish_placed(self, run: Span, start: int) -> int:
        day = self.day
        bad = day.during(L.BAD_DEPLOY, start)
        version = "2" if bad else "1"
        payload: dict[str, Any] = {"type": "OrderPlaced", "orderId": self.order_id,
                                   "correlationId": self.order_id, "customerId": self.customer,
                                   "placedAt": _iso(self.t0)}
        if bad:  # 2.4.0's "cleaner" payload: amount became total {value, currency}
            payload["total"] = {"value": self.amount, "currency": "EUR"}
        else:
            payload["amount"] = self.amount
            payload["currency"] = "EUR"
        payload["items"] = self.items
        record, producer = self.produce("order-worker", "orders.placed", start, run, payload,
                                        (("schema-version", version),))
        self.outcome.placed_msg = record.uid
        self.outcome.schema_version = version
        if bad:
            self.outcome.incidents.add(L.BAD_DEPLOY.id)
        self.billing(record, producer)
        self.fulfilment(record, producer)
        return producer.end_us - L.SERVICES["order-worker"].skew_ms * MS + day.ms(0.5, 2)

    def produce(self, service: str, topic: str, start: int, parent: Span,
                payload: dict[str, Any], extra: tuple[tuple[str, str], ...] = ()
                ) -> tuple[KafkaRecord, Span]:
        """A PRODUCER span and the Kafka record it wrote (headers carry the trace and the id)."""
        day = self.day
        t = L.TOPICS[topic]
        partition = murmur2_partition(self.order_id, t.partitions)
        offset = day.offset(topic, partition)
        dur = day.ms(2, 9)
        lang = L.SERVICES[service].language
        span = self.span(service, SCOPE_KAFKA[lang], f"publish {topic}", PRODUCER, start,
                         start + dur, {
                             "messaging.system": "kafka", "messaging.destination.name": topic,
                             "messaging.operation.type": "publish",
                             "messaging.kafka.message.key": self.order_id,
                             "messaging.destination.partition.id": str(partition),
                             "messaging.kafka.message.offset": offset,
                             "messaging.client.id": f"{service}-producer-1"}, parent,
                         version=self.version_of(service, start))
        headers = [("traceparent", traceparent(self.trace, span.span_id)),
                   ("correlation-id", self.order_id), *extra,
                   ("content-type", "application/json")]
        record = KafkaRecord(topic, partition, offset, span.start_us // MS, self.order_id,
                             headers, payload)
        self.kafka.append(record)
        return record, span

    def consumer_span(self, service: str, record: KafkaRecord, producer: Span, start: int,
                      end: int, *, linked: bool = False) -> Span:
        """A consumer span: a child of the producer's context, or (``linked``) the root of a
        new trace with a span link to it."""
        lang = L.SERVICES[service].language
        return self.span(service, SCOPE_KAFKA[lang], f"process {record.topic}", CONSUMER, start,
                         end, {"messaging.system": "kafka",
                               "messaging.destination.name": record.topic,
                               "messaging.operation.type": "process",
                               "messaging.kafka.consumer.group": service,
                               "messaging.destination.partition.id": str(record.partition),
                               "messaging.kafka.message.offset": record.offset,
                               "messaging.kafka.message.key": record.key,
                               "messaging.client.id": f"{service}-consumer-1"},
                         None if linked else producer, link=producer if linked else None)

    def billing(self, record: KafkaRecord, producer: Span) -> None:
        day = self.day
        skew = L.SERVICES["order-worker"].skew_ms * MS
        t = producer.end_us - skew + day.ms(15, 220)
        consumer = self.consumer_span("billing", record, producer, t, t)
        if "amount" not in record.payload:
            consumer.end_us = consumer.start_us + day.ms(1.5, 5)
            consumer.error = "KeyError: 'amount'"
            consumer.events.append(SpanEvent(consumer.end_us - 300, "exception", {
                "exception.type": "KeyError", "exception.message": "'amount'",
                "exception.stacktrace": _KEYERROR_STACK, "exception.escaped": "False"}))
            self.outcome.billing, self.outcome.billing_error = "failed", consumer.error
            return
        t += day.ms(1, 4)
        for attempt in range(3):
            down = day.during(L.TAX_OUTAGE, t)
            dur = day.ms(4, 12) if down else day.ms(25, 70)
            self.http("billing", "tax-service", "POST", "/v1/quotes", "/v1/quotes", t, dur,
                      consumer, status=503 if down else 200, resend=attempt,
                      server_error=_RATES_DB_DOWN)
            t += dur
            if not down:
                break
            self.outcome.incidents.add(L.TAX_OUTAGE.id)
            if attempt < 2:
                t += (200 << attempt) * MS
        else:
            end = t + day.ms(1, 3)
            consumer.end_us = end + L.SERVICES["billing"].skew_ms * MS
            consumer.error = "TaxServiceUnavailable: tax-service answered 503 three times"
            consumer.events.append(SpanEvent(consumer.end_us - 500, "exception", {
                "exception.type": "billing.tax.TaxServiceUnavailable",
                "exception.message": "tax-service answered 503 three times",
                "exception.stacktrace": _TAX_STACK, "exception.escaped": "False"}))
            self.outcome.billing, self.outcome.billing_error = "failed", consumer.error
            return
        invoice_id = f"INV-{record.key.removeprefix('ORD-')}"
        tax = round(self.amount * 0.19, 2)
        t += day.ms(1, 5)
        invoice = {"type": "InvoiceCreated", "invoiceId": invoice_id, "orderId": self.order_id,
                   "correlationId": self.order_id, "customerId": self.customer,
                   "net": self.amount, "tax": tax, "currency": "EUR"}
        inv, inv_span = self.produce("billing", "invoices.created", t, consumer, invoice)
        self.outcome.invoice_msg = inv.uid
        t = inv_span.end_us - L.SERVICES["billing"].skew_ms * MS + day.ms(0.5, 2)
        dur = day.ms(35, 90)
        event_id = day.uuid4()
        self.span("billing", SCOPE_BOTO, "EventBridge.PutEvents", CLIENT, t, t + dur, {
            "rpc.system": "aws-api", "rpc.service": "EventBridge", "rpc.method": "PutEvents",
            "aws.region": L.REGION, "aws.request_id": day.uuid4(), "retry_attempts": 0,
            "http.response.status_code": 200, "server.address":
            f"events.{L.REGION}.amazonaws.com"}, consumer)
        put_span = self.spans[-1]
        event = {"version": "0", "id": event_id, "detail-type": "InvoiceCreated",
                 "source": L.EVENT_SOURCE, "account": L.ACCOUNT,
                 "time": _iso(t + dur // 2, seconds=True), "region": L.REGION, "resources": [],
                 "detail": {"invoiceId": invoice_id, "orderId": self.order_id,
                            "correlationId": self.order_id, "amount": round(self.amount + tax, 2),
                            "currency": "EUR", "customerId": self.customer}}
        self.bus.append(BusEvent(event))
        consumer.end_us = t + dur + day.ms(1, 4) + L.SERVICES["billing"].skew_ms * MS
        self.outcome.billing = "ok"
        self.invoice_execution(event, t + dur + day.ms(150, 500), put_span)
        self.archive_execution(inv)

    def invoice_execution(self, event: dict[str, Any], start: int, put_span: Span) -> None:
        day = self.day
        name = day.uuid4()
        arn = f"arn:aws:states:{L.REGION}:{L.ACCOUNT}:execution:{L.STATE_MACHINE}:{name}"
        detail = event["detail"]
        # The rule's input transformer: what the state machine receives.
        data: dict[str, Any] = {"correlationId": detail["correlationId"],
                                "eventId": event["id"], "invoiceId": detail["invoiceId"],
                                "orderId": detail["orderId"], "amount": detail["amount"],
                                "currency": detail["currency"]}
        root = "1-" + self.trace[:8] + "-" + self.trace[8:]
        states: list[StateRun] = []
        t = start + day.ms(20, 60)
        for state, rtype, resource, target in L.STATES:
            entered = t
            scheduled = entered + day.ms(3, 15)
            started = scheduled + day.ms(10, 40)
            fn = f"arn:aws:lambda:{L.REGION}:{L.ACCOUNT}:function:{target}:$LATEST"
            params: dict[str, Any] = {"FunctionName": fn, "Payload": data}
            dur = day.ms(60, 220) if state == "ValidateInvoice" else day.ms(300, 900)
            result = ({"valid": True, "invoiceId": data["invoiceId"]}
                      if state == "ValidateInvoice" else
                      {"sent": True, "channel": "email", "messageId": f"<{day.hex(64)}@"
                                                                      "mail.acme-shop.example>"})
            request_id = day.uuid4()
            task_output = {"ExecutedVersion": "$LATEST", "Payload": result,
                           "SdkHttpMetadata": {"HttpHeaders": {
                               "X-Amz-Executed-Version": "$LATEST",
                               "x-amzn-RequestId": request_id,
                               "X-Amzn-Trace-Id": f"root={root};parent={day.hex(64)};"
                                                  "sampled=1"}, "HttpStatusCode": 200},
                           "SdkResponseMetadata": {"RequestId": request_id},
                           "StatusCode": 200}
            out = {**data, state[0].lower() + state[1:]: result}
            succeeded = started + dur
            exited = succeeded + day.ms(2, 9)
            states.append(StateRun(state, rtype, resource, params, entered, scheduled, started,
                                   succeeded, exited, data, out, task_output))
            data, t = out, exited
        # Archiving moved to InvoiceArchive (started by the Pipe): draw what its state drew here
        # (times, ETag, exit) so the rest of the day, and the planted incidents, stay the same.
        day.ms(3, 15), day.ms(10, 40), day.ms(40, 120), day.hex(128), day.ms(2, 9)
        stop = t + day.ms(2, 8)
        self.executions.append(Execution(
            name, arn, L.STATE_MACHINE_ARN,
            f"arn:aws:iam::{L.ACCOUNT}:role/service-role/StepFunctions-{L.STATE_MACHINE}-role",
            start, stop, "SUCCEEDED", states[0].input, data,
            f"Root={root};Parent={put_span.span_id};Sampled=1", states))
        self.outcome.execution_arn = arn

    def archive_execution(self, record: KafkaRecord) -> None:
        """InvoiceArchive, started by the EventBridge Pipe on invoices.created with the Pipes
        batch as input (one self-managed Kafka record). Its randomness comes from the record,
        so the day's random sequence (and the rest of the sample) stays the same."""
        rng = random.Random(f"{self.day.seed}/{record.uid}")

        def ms(low: float, high: float) -> int:
            return int(rng.uniform(low, high) * MS)

        name = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        arn = f"arn:aws:states:{L.REGION}:{L.ACCOUNT}:execution:{L.ARCHIVE_MACHINE}:{name}"
        value = producer_text(record).encode()
        batch = [{"eventSource": "SelfManagedKafka", "bootstrapServers": L.KAFKA_BOOTSTRAP,
                  "eventSourceKey": f"{record.topic}-{record.partition}",
                  "topic": record.topic, "partition": record.partition,
                  "offset": record.offset, "timestamp": record.ts_ms,
                  "timestampType": "CREATE_TIME",
                  "key": base64.b64encode(record.key.encode()).decode(),
                  "value": base64.b64encode(value).decode(),
                  "headers": [{k: list(v.encode())} for k, v in record.headers]}]
        invoice = record.payload
        start = record.ts_ms * MS - L.SERVICES["billing"].skew_ms * MS + ms(*L.PIPE_LATENCY_MS)
        entered = start + ms(20, 60)
        scheduled = entered + ms(3, 15)
        started = scheduled + ms(10, 40)
        succeeded = started + ms(40, 120)
        exited = succeeded + ms(2, 9)
        etag = f"\"{rng.getrandbits(128):032x}\""
        out = {"invoiceId": invoice["invoiceId"], "etag": etag}
        state = StateRun("ArchiveInvoice", "aws-sdk:s3", "putObject",
                         {"Bucket": L.ARCHIVE_BUCKET,
                          "Key": f"invoices/{invoice['invoiceId']}.json", "Body": invoice},
                         entered, scheduled, started, succeeded, exited, batch, out,
                         {"ETag": etag, "ServerSideEncryption": "AES256"})
        self.executions.append(Execution(
            name, arn, L.ARCHIVE_MACHINE_ARN,
            f"arn:aws:iam::{L.ACCOUNT}:role/service-role/Amazon_EventBridge_Pipe_"
            f"{L.ARCHIVE_PIPE}", start, exited + ms(2, 8), "SUCCEEDED", batch, out,
            f"Root=1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x};Sampled=0", [state]))

    def fulfilment(self, record: KafkaRecord, producer: Span) -> None:
        day = self.day
        skew = L.SERVICES["order-worker"].skew_ms * MS
        t = producer.end_us - skew + day.ms(30, 320)
        dur = day.ms(15, 55)
        consumer = self.consumer_span("fulfilment", record, producer, t, t + dur, linked=True)
        self.span("fulfilment", SCOPE_APP["go"], "AllocateWarehouse", INTERNAL,
                  t + day.ms(1, 3), t + dur - day.ms(1, 3),
                  {"acme.warehouse": self.rng.choice(["DUS-1", "HAM-2", "LEJ-1"]),
                   "acme.order_id": self.order_id}, consumer)

    def shipment(self, run_span: Span, initiated: int) -> tuple[ChildRun, int]:
        day = self.day
        wf = L.WORKFLOWS["ShipmentWorkflow"]
        child_id = f"shipment-{self.order_id}"
        child_run = day.uuid4()
        start_child = self.span("order-worker", SCOPE_TEMPORAL["python"],
                                "StartChildWorkflow:ShipmentWorkflow", CLIENT,
                                initiated - day.ms(0.2, 1), initiated,
                                self._temporal_attrs(run_span), run_span,
                                version=day.worker_build(initiated))
        start_child.end_us = start_child.start_us
        child_start = initiated + day.ms(4, 12)
        started = child_start + day.ms(2, 6)
        tp = traceparent(self.trace, start_child.span_id)
        args = [{"orderId": self.order_id, "correlationId": self.order_id, "items": self.items,
                 "address": {"country": "DE", "postcode": f"{self.rng.randrange(10000, 99999)}"}}]
        first_task = child_start + day.ms(3, 12)
        run = self.span("shipping-worker", SCOPE_TEMPORAL["go"], "RunWorkflow:ShipmentWorkflow",
                        SERVER, first_task, first_task,
                        {"temporalWorkflowID": child_id, "temporalRunID": child_run}, start_child)
        steps: list[ActivityRun | TimerRun | ChildRun] = []
        carrier = self.rng.choice(["DHL", "DPD", "GLS", "UPS"])
        tracking = f"{carrier}{self.rng.randrange(10**11, 10**12)}"
        t = first_task + day.ms(8, 25)
        act, t = self.activity(run, "5", "BookCarrier", wf.task_queue, t, args,
                               {"carrier": carrier, "trackingNumber": tracking},
                               lambda r, s: self._book(r, s), service="shipping-worker")
        steps.append(act)
        t += day.ms(8, 25)
        steps.append(TimerRun("6", t, t + PICKUP_TIMER_S * SEC + day.ms(1, 9), PICKUP_TIMER_S))
        t = steps[-1].fired_us + day.ms(8, 25)  # type: ignore[union-attr]
        act, t = self.activity(run, "7", "PrintLabel", wf.task_queue, t,
                               [{"orderId": self.order_id, "trackingNumber": tracking}],
                               {"labelUrl": f"s3://acme-labels/{tracking}.pdf"},
                               lambda r, s: s + self.day.ms(90, 280), service="shipping-worker")
        steps.append(act)
        shipment_id = f"SHP-{self.order_id.removeprefix('ORD-')}"
        act, t = self.activity(run, "8", "PublishOrderShipped", wf.task_queue,
                               t + day.ms(8, 25), [{"orderId": self.order_id,
                                                    "shipmentId": shipment_id,
                                                    "topic": "orders.shipped"}], None,
                               lambda r, s: self._publish_shipped(r, s, shipment_id, carrier,
                                                                  tracking),
                               service="shipping-worker")
        act.result = {"topic": "orders.shipped", "partition": self.kafka[-1].partition,
                      "offset": self.kafka[-1].offset}
        steps.append(act)
        child_end = t + day.ms(10, 30)
        run.end_us = child_end + L.SERVICES["shipping-worker"].skew_ms * MS - day.ms(1, 3)
        result = {"shipmentId": shipment_id, "carrier": carrier, "trackingNumber": tracking}
        self.workflows.append(WorkflowRun(
            L.TEMPORAL_NAMESPACE, child_id, child_run, wf.type, wf.task_queue, child_start,
            child_end, args, tp, f"1@{self._pod('order-worker')}",
            f"1@{self._pod('shipping-worker')}",
            ((child_start, L.SERVICES["shipping-worker"].version),), ("temporal-go", "1.31.0"),
            steps, result=result, parent=(self.workflow_id, self.run_id)))
        ended = child_end + day.ms(4, 12)
        return ChildRun(child_id, child_run, wf.type, wf.task_queue, initiated, started, ended,
                        tp, args, result), ended

    def _book(self, run: Span, start: int) -> int:
        day = self.day
        dur = day.ms(250, 850)
        self.span("shipping-worker", SCOPE_HTTP_CLIENT["go"], "POST", CLIENT, start + day.ms(1, 2),
                  start + dur, {"http.request.method": "POST",
                                "url.full": "https://api.parcelhub.example/v2/shipments",
                                "server.address": "api.parcelhub.example", "server.port": 443,
                                "http.response.status_code": 201}, run)
        return start + dur + day.ms(2, 6)

    def _publish_shipped(self, run: Span, start: int, shipment_id: str, carrier: str,
                         tracking: str) -> int:
        day = self.day
        payload = {"type": "OrderShipped", "orderId": self.order_id,
                   "correlationId": self.order_id, "shipmentId": shipment_id,
                   "carrier": carrier, "trackingNumber": tracking, "shippedAt": _iso(start)}
        record, producer = self.produce("shipping-worker", "orders.shipped", start, run, payload)
        skew = L.SERVICES["shipping-worker"].skew_ms * MS
        self.outcome.shipped_msg = record.uid
        self.outcome.shipped_at_us = start
        consume = producer.end_us - skew + day.ms(40, 300)
        if day.during(L.NOTIFIER_STALLED, start):
            self.outcome.incidents.add(L.NOTIFIER_STALLED.id)
        else:
            dur = day.ms(120, 380)
            consumer = self.consumer_span("notifier", record, producer, consume, consume + dur)
            self.span("notifier", SCOPE_HTTP_CLIENT["nodejs"], "POST", CLIENT,
                      consume + day.ms(2, 6), consume + dur - day.ms(2, 6),
                      {"http.request.method": "POST",
                       "url.full": "https://api.postmarkapp.com/email/withTemplate",
                       "server.address": "api.postmarkapp.com", "server.port": 443,
                       "http.response.status_code": 200}, consumer)
            self.outcome.notified = True
        return producer.end_us - skew + day.ms(0.5, 2)


def _iso(us: int, *, seconds: bool = False) -> str:
    """RFC 3339 UTC text of epoch µs (``Z``), to the µs or to the second."""
    dt = EPOCH + timedelta(microseconds=us)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%dT%H:%M:%S.%fZ")


_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 503: "Service Unavailable"}
_USER_AGENTS = {"python": "python-httpx/0.27.2", "go": "Go-http-client/1.1",
                "java": "Java-http-client/21.0.4", "nodejs": "undici"}
_HTTPX_503 = ("Server error '503 Service Unavailable' for url 'http://payments:8080/v1/charges'\n"
              "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/"
              "Status/503")
_POOL_TIMEOUT = (
    "java.sql.SQLTransientConnectionException",
    "HikariPool-1 - Connection is not available, request timed out after 5000ms.",
    "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
    "request timed out after 5000ms.\n"
    "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n"
    "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)\n"
    "\tat com.acme.payments.ChargeRepository.lockAccount(ChargeRepository.java:58)\n"
    "\tat com.acme.payments.ChargeController.charge(ChargeController.java:41)\n",
)
_RATES_DB_DOWN = (
    "*errors.errorString",
    "rates: dial tcp 10.42.7.19:5432: connect: connection refused",
    "goroutine 1187 [running]:\nmain.(*QuoteHandler).ServeHTTP(...)\n"
    "\t/src/tax-service/quote.go:77 +0x1f4\n",
)
_KEYERROR_STACK = (
    "Traceback (most recent call last):\n"
    "  File \"/app/billing/consumer.py\", line 88, in handle\n"
    "    invoice = build_invoice(event)\n"
    "  File \"/app/billing/invoices.py\", line 41, in build_invoice\n"
    "    net = Decimal(str(event[\"amount\"]))\n"
    "KeyError: 'amount'\n"
)
_TAX_STACK = (
    "Traceback (most recent call last):\n"
    "  File \"/app/billing/consumer.py\", line 91, in handle\n"
    "    quote = tax.quote(invoice)\n"
    "  File \"/app/billing/tax.py\", line 33, in quote\n"
    "    raise TaxServiceUnavailable(f\"tax-service answered {status} three times\")\n"
    "billing.tax.TaxServiceUnavailable: tax-service answered 503 three times\n"
)


def _httpx_stack(activity: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        f"  File \"/app/order_worker/activities.py\", line 64, in {activity}\n"
        "    response.raise_for_status()\n"
        "  File \"/usr/local/lib/python3.12/site-packages/httpx/_models.py\", line 763, in "
        "raise_for_status\n"
        "    raise HTTPStatusError(message, request=request, response=self)\n"
        f"httpx.HTTPStatusError: {_HTTPX_503}\n"
    )
