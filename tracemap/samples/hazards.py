"""The hazards ``tracemap risks`` measures, planted in Acme Shop's day after its incidents.

Self-contained: the loyalty programme and the account-closure workflow run on their own
services (``landscape.HAZARD_SERVICES``) and topics, with their own random generator, so the
order traffic, its offsets and the incidents' answers are the same with or without them. They
run after the last incident window (``OFFSET`` from the day's start):

- **loyalty chain** (no workflow owns it): ``loyalty-api`` publishes ``loyalty.earned``;
  ``points-ledger`` credits points and publishes ``points.credited`` with a new entry id each
  time (not idempotent); ``rewards`` publishes ``rewards.granted``; ``reward-mailer`` mails.
- **replay**: ``points-ledger``'s offsets on partition 0 are reset; it processes those records a
  second time and credits the points twice.
- **reordered key**: two records of one customer on one partition, handled in the other order.
- **dead letter**: one record fails in ``points-ledger`` and goes to ``loyalty.earned.DLT``
  with Spring Kafka's ``kafka_dlt-*`` headers.
- **retry storm**: ``PointsExpiryWorkflow`` runs for four shards every minute; while the points
  database is down, its ``ExpirePoints`` activity needs four attempts in every run started.
- **spanning workflow**: ``AccountClosureWorkflow`` calls ``crm``, ``ledger-api``, ``identity``
  and ``email-gateway`` synchronously from its activities; one run fails in ``identity``.

``plant(start, seed)`` returns the records (spans, Temporal runs, Kafka records) and the
answers ``tracemap risks`` should give, in its component names.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tracemap.samples import landscape as L
from tracemap.samples.records import (
    CLIENT,
    CONSUMER,
    PRODUCER,
    SERVER,
    ActivityRun,
    Failure,
    KafkaRecord,
    Span,
    WorkflowRun,
)
from tracemap.samples.traffic import (
    DEFAULT_RETRY,
    MS,
    SCOPE_HTTP_CLIENT,
    SCOPE_HTTP_SERVER,
    SCOPE_KAFKA,
    SCOPE_TEMPORAL,
    SEC,
    murmur2_partition,
    to_us,
    traceparent,
)

#: When the hazards begin, from the day's start: after the last incident window.
OFFSET = timedelta(hours=3, minutes=40)
PARTITIONS = 3
#: Log start offsets of the loyalty topics.
BASE_OFFSET = {"loyalty.earned": 40_000, "points.credited": 81_000, "rewards.granted": 12_000,
               "loyalty.earned.DLT": 0}
#: Spans handed to the OTLP batcher at a time (it writes four batches a line: 1-2 MB).
SPANS_PER_BATCH = 500
CUSTOMERS = 6
EXPIRY_MINUTES = 7
EXPIRY_STORM = range(3, 6)  # the minutes while the points database is down
EXPIRY_SHARDS = 4  # runs a minute (one per shard of the customer base)
EXPIRY_ATTEMPTS = 4
CLOSURE_RUNS = 2
CLOSURE_CALLS = (("CloseCrmAccount", "crm", "/v1/accounts/close"),
                 ("SettleLedger", "ledger-api", "/v1/settlements"),
                 ("RevokeIdentity", "identity", "/v1/identities/revoke"),
                 ("SendFarewell", "email-gateway", "/v1/messages"))
DB_DOWN = Failure("asyncpg.exceptions.CannotConnectNowError: the database system is starting up",
                  "CannotConnectNowError", "Traceback (most recent call last):\n  File "
                  "\"/app/loyalty/expiry.py\", line 41, in expire_points\n")


@dataclass(slots=True)
class Planted:
    """The hazards' records, for the writers, and the answers ``risks`` should give."""

    spans: list[Span] = field(default_factory=list)
    workflows: list[WorkflowRun] = field(default_factory=list)
    kafka: list[KafkaRecord] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    pathways: list[dict[str, Any]] = field(default_factory=list)


class _Play:
    def __init__(self, start: datetime, seed: int, scale: float) -> None:
        self.rng = random.Random(f"hazards-{seed}")
        # hazards grow with the traffic (never below what makes each one detectable)
        self.customers = max(CUSTOMERS, round(CUSTOMERS * scale))
        self.shards = max(EXPIRY_SHARDS, round(EXPIRY_SHARDS * scale))
        self.closures = max(CLOSURE_RUNS, round(CLOSURE_RUNS * scale))
        self.t0 = to_us(start + OFFSET)
        self.out = Planted()
        self.offsets = {t: [base] * PARTITIONS for t, base in BASE_OFFSET.items()}

    def hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def ms(self, low: float, high: float) -> int:
        return int(self.rng.uniform(low, high) * MS)

    def span(self, service: str, scope: str, name: str, kind: int, start: int, end: int,
             attrs: dict[str, Any], parent: Span | None, trace: str | None = None,
             error: str | None = None) -> Span:
        svc = L.SERVICES[service]
        skew = svc.skew_ms * MS
        s = Span(service, svc.version, svc.pods[0], scope,
                 trace or (parent.trace_id if parent else self.hex(128)), self.hex(64),
                 parent.span_id if parent else None, name, kind, start + skew, end + skew,
                 attrs, error, remote_parent=parent is not None and parent.service != service)
        self.out.spans.append(s)
        return s

    # -- the loyalty chain -----------------------------------------------------------------
    def produce(self, service: str, topic: str, key: str, start: int, parent: Span,
                payload: dict[str, Any], headers: tuple[tuple[str, str], ...] = (),
                partition: int | None = None) -> tuple[KafkaRecord, Span]:
        part = murmur2_partition(key, PARTITIONS) if partition is None else partition
        offset = self.offsets[topic][part]
        self.offsets[topic][part] += 1
        lang = L.SERVICES[service].language
        span = self.span(service, SCOPE_KAFKA[lang], f"publish {topic}", PRODUCER, start,
                         start + self.ms(2, 6), {
                             "messaging.system": "kafka", "messaging.destination.name": topic,
                             "messaging.operation.type": "publish",
                             "messaging.kafka.message.key": key,
                             "messaging.destination.partition.id": str(part),
                             "messaging.kafka.message.offset": offset}, parent)
        record = KafkaRecord(topic, part, offset, span.start_us // MS, key,
                             [("traceparent", traceparent(span.trace_id, span.span_id)),
                              *headers, ("content-type", "application/json")], payload)
        self.out.kafka.append(record)
        return record, span

    def consume(self, service: str, record: KafkaRecord, producer: Span, start: int,
                dur: int, error: str | None = None) -> Span:
        lang = L.SERVICES[service].language
        return self.span(service, SCOPE_KAFKA[lang], f"process {record.topic}", CONSUMER, start,
                         start + dur, {
                             "messaging.system": "kafka",
                             "messaging.destination.name": record.topic,
                             "messaging.operation.type": "process",
                             "messaging.consumer.group.name": service,
                             "messaging.destination.partition.id": str(record.partition),
                             "messaging.kafka.message.offset": record.offset,
                             "messaging.kafka.message.key": record.key}, producer, error=error)

    def earn(self, customer: str, t: int, partition: int | None = None
             ) -> tuple[KafkaRecord, Span]:
        root = self.span("loyalty-api", SCOPE_HTTP_SERVER["python"], "POST /v1/earn", SERVER, t,
                         t + self.ms(20, 40), {"http.request.method": "POST",
                                                "http.route": "/v1/earn",
                                                "http.response.status_code": 202}, None)
        return self.produce("loyalty-api", "loyalty.earned", customer, t + self.ms(5, 10), root,
                            {"type": "PointsEarned", "customerId": customer,
                             "points": self.rng.randrange(10, 200)}, partition=partition)

    def credit(self, record: KafkaRecord, producer: Span, t: int) -> int:
        """points-ledger credits the points: a new ledger entry every time it runs."""
        consumer = self.consume("points-ledger", record, producer, t, self.ms(30, 60))
        credited, pub = self.produce(
            "points-ledger", "points.credited", record.key, t + self.ms(10, 20), consumer,
            {"type": "PointsCredited", "customerId": record.key,
             "entryId": f"LE-{self.hex(40)}", "points": record.payload["points"]})
        t2 = t + self.ms(300, 900)
        grant = self.consume("rewards", credited, pub, t2, self.ms(20, 50))
        granted, pub2 = self.produce("rewards", "rewards.granted", record.key,
                                     t2 + self.ms(5, 15), grant,
                                     {"type": "RewardGranted", "customerId": record.key,
                                      "grantId": f"RG-{self.hex(40)}"})
        self.consume("reward-mailer", granted, pub2, t2 + self.ms(200, 700), self.ms(40, 90))
        return t2

    def loyalty(self) -> None:
        t = self.t0
        earned: list[tuple[KafkaRecord, Span]] = []
        for i in range(1, self.customers + 1):
            t += self.ms(2000, 9000)
            record, producer = self.earn(f"CUST-{i:04d}", t)
            self.credit(record, producer, t + self.ms(80, 400))
            earned.append((record, producer))
        # a reordered key: two records of one customer, 40 ms apart, handled the other way
        t += self.ms(5000, 8000)
        first = self.earn("CUST-0777", t, partition=1)
        second = self.earn("CUST-0777", t + 40 * MS, partition=1)
        self.credit(*second, t + 300 * MS)
        self.credit(*first, t + 600 * MS)
        # a dead letter: points-ledger fails and publishes the record to the DLT
        t += self.ms(5000, 8000)
        record, producer = self.earn("CUST-0913", t, partition=2)
        error = "DataIntegrityViolationException: duplicate key value violates unique constraint"
        consumer = self.consume("points-ledger", record, producer, t + 200 * MS,
                                self.ms(20, 40), error=error)
        dead, _ = self.produce("points-ledger", "loyalty.earned.DLT", record.key,
                               t + 220 * MS, consumer, record.payload, (
                                   ("kafka_dlt-original-topic", record.topic),
                                   ("kafka_dlt-original-partition", str(record.partition)),
                                   ("kafka_dlt-original-offset", str(record.offset)),
                                   ("kafka_dlt-exception-message", error)), partition=0)
        # the replay: partition 0's offsets reset, every record processed again
        t += self.ms(60_000, 90_000)
        replayed = [(r, p) for r, p in earned if r.partition == 0]
        for r, p in replayed:
            t += self.ms(50, 200)
            self.credit(r, p, t)
        a = self.out.answers
        a.append({"hazard": "duplicate_delivery", "component": L.service("points-ledger"),
                  "messages": sorted(r.uid for r, _ in replayed)})
        a.append({"hazard": "duplicate_effect", "component": L.service("points-ledger"),
                  "effects_on": [L.topic("points.credited")]})
        a.append({"hazard": "out_of_order", "component": L.service("points-ledger"),
                  "message": first[0].uid, "overtaken_by": second[0].uid})
        a.append({"hazard": "dead_letter", "component": L.topic("loyalty.earned.DLT"),
                  "message": dead.uid, "origin": "loyalty.earned"})
        route = [L.service("loyalty-api"), L.topic("loyalty.earned"),
                 L.service("points-ledger"), L.topic("points.credited"), L.service("rewards"),
                 L.topic("rewards.granted"), L.service("reward-mailer")]
        a.append({"hazard": "choreography", "component": L.topic("loyalty.earned"),
                  "route": route})
        self.out.pathways.append({"components": route})

    # -- workflows -------------------------------------------------------------------------
    def workflow(self, wtype: str, queue: str, starter: str | None, worker: str, ws: int,
                 steps: list[tuple[str, int, Any]]) -> WorkflowRun:
        """One run: ``steps`` are (activity, attempts, body(run_span, start) -> end).

        ``starter`` is the service whose StartWorkflow span starts it; ``None`` for a Temporal
        Schedule, which starts runs without a client span (the RunWorkflow span is a root).
        """
        wid = f"{wtype[0].lower()}{wtype[1:]}-{self.hex(32)[:8]}"
        run_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        start = None if starter is None else self.span(
            starter, SCOPE_TEMPORAL["python"], f"StartWorkflow:{wtype}", CLIENT,
            ws - self.ms(5, 15), ws, {"temporalWorkflowID": wid}, None)
        run_span = self.span(worker, SCOPE_TEMPORAL["python"], f"RunWorkflow:{wtype}", SERVER,
                             ws + self.ms(3, 10), ws + self.ms(3, 10),
                             {"temporalWorkflowID": wid, "temporalRunID": run_id}, start)
        start = start or run_span
        attrs = {"temporalWorkflowID": wid, "temporalRunID": run_id}
        acts: list[ActivityRun] = []
        t = ws + self.ms(10, 25)
        failure = None
        for n, (name, attempts, body) in enumerate(steps, start=1):
            sched = self.span(worker, SCOPE_TEMPORAL["python"], f"StartActivity:{name}",
                              CLIENT, t, t, attrs, run_span)
            started = t + self.ms(3, 10)
            last: Failure | None = None
            for attempt in range(1, attempts + 1):
                run = self.span(worker, SCOPE_TEMPORAL["python"], f"RunActivity:{name}", SERVER,
                                started, started, {**attrs, "temporalActivityID": str(n)}, sched)
                end, error = body(run, started - L.SERVICES[worker].skew_ms * MS, attempt)
                run.end_us = end + L.SERVICES[worker].skew_ms * MS
                run.error = error.message if error else None
                if error and attempt == attempts:
                    failure = error
                elif error:
                    last = error
                    started = end + SEC * 2 ** (attempt - 1)
            acts.append(ActivityRun(str(n), name, queue, t, started, end + self.ms(1, 3),
                                    attempts, [{"workflowId": wid}], None if failure else {},
                                    traceparent(sched.trace_id, sched.span_id),
                                    DEFAULT_RETRY, "30s", last_failure=last,
                                    failure=failure))
            t = end + self.ms(8, 20)
            if failure:
                break
        run = WorkflowRun(L.TEMPORAL_NAMESPACE, wid, run_id, wtype, queue, ws, t, [{}],
                          traceparent(start.trace_id, start.span_id),
                          f"1@{starter or 'temporal-schedule'}",
                          f"1@{L.SERVICES[worker].pods[0]}", ((ws, L.SERVICES[worker].version),),
                          ("temporal-python", "1.8.0"), list(acts),
                          result=None if failure else {"ok": True}, failure=failure)
        self.out.workflows.append(run)
        return run

    def expiry(self) -> None:
        """PointsExpiryWorkflow every minute; runs started while the database is down retry."""
        def body(storm: bool) -> Any:
            def run(span: Span, start: int, attempt: int) -> tuple[int, Failure | None]:
                end = start + self.ms(40, 120)
                return end, DB_DOWN if storm and attempt < EXPIRY_ATTEMPTS else None
            return run

        for minute in range(EXPIRY_MINUTES):
            storm = minute in EXPIRY_STORM
            for shard in range(self.shards):
                ws = self.t0 + minute * 60 * SEC + shard * 40 * SEC // self.shards \
                    + self.ms(100, 400)
                self.workflow("PointsExpiryWorkflow", "loyalty", None, "loyalty-worker", ws,
                              [("ExpirePoints", EXPIRY_ATTEMPTS if storm else 1, body(storm))])
        self.out.answers.append({"hazard": "retry_storm",
                                 "component": L.activity("ExpirePoints")})

    def closure(self) -> None:
        """AccountClosureWorkflow: four activities, each a synchronous call to another system."""
        def call(service: str, path: str, fail: bool) -> Any:
            def run(span: Span, start: int, attempt: int) -> tuple[int, Failure | None]:
                dur = self.ms(60, 400)
                server = L.SERVICES[service]
                status = 503 if fail else 200
                client = self.span("account-worker", SCOPE_HTTP_CLIENT["python"], "POST",
                                   CLIENT, start + self.ms(1, 3), start + dur, {
                                       "http.request.method": "POST",
                                       "url.full": f"http://{service}:{server.port}{path}",
                                       "server.address": service, "server.port": server.port,
                                       "http.response.status_code": status}, span,
                                   error="503 Service Unavailable" if fail else None)
                self.span(service, SCOPE_HTTP_SERVER[server.language], f"POST {path}", SERVER,
                          start + self.ms(4, 8), start + dur - self.ms(1, 3), {
                              "http.request.method": "POST", "http.route": path,
                              "http.response.status_code": status}, client,
                          error="upstream directory unavailable" if fail else None)
                end = start + dur + self.ms(2, 5)
                if fail:
                    return end, Failure("HTTPStatusError: Server error '503 Service "
                                        f"Unavailable' for url 'http://{service}{path}'",
                                        "HTTPStatusError", "Traceback (most recent call last):")
                return end, None
            return run

        for i in range(self.closures):
            ws = self.t0 + 4 * 60 * SEC + i * 6 * 60 * SEC // self.closures
            failing = i == self.closures - 1
            self.workflow("AccountClosureWorkflow", "accounts", "account-api", "account-worker",
                          ws, [(name, 1, call(svc, path, failing and svc == "identity"))
                               for name, svc, path in CLOSURE_CALLS])
        self.out.answers.append({"hazard": "spanning_workflow",
                                 "component": L.workflow("AccountClosureWorkflow"),
                                 "systems": sorted(L.service(s) for _, s, _ in CLOSURE_CALLS)})


def plant(start: datetime, seed: int, scale: float = 1.0) -> Planted:
    """Every hazard of the module docstring, for the day that begins at ``start``; ``scale``
    multiplies the customers, expiry shards and account closures like the order traffic."""
    play = _Play(start, seed, scale)
    play.loyalty()
    play.expiry()
    play.closure()
    return play.out


def kcat_line(record: KafkaRecord) -> bytes:
    """A loyalty record as ``kcat -C -J`` prints it (its producers are Python services)."""
    headers: list[str] = [v for pair in record.headers for v in pair]
    return json.dumps({"topic": record.topic, "partition": record.partition,
                       "offset": record.offset, "tstype": "create", "ts": record.ts_ms,
                       "broker": record.partition % 3 + 1, "headers": headers,
                       "key": record.key, "payload": json.dumps(record.payload)},
                      separators=(",", ":")).encode()
