"""A held-out landscape: a Temporal worker deployment breaks a service three hops away.

Written as the systems export it, event for event in the shape of the real history
``tests/fixtures/temporal_json/sdkts_otel_smorgasbord_traceparent.json`` (EVENT_TYPE_* enums,
``workerVersion.buildId`` on workflow/activity task events, ``_tracer-data`` headers as
@temporalio/interceptors-opentelemetry writes them), ``kcat -C -J`` records and OTLP/JSON
spans (the consumer links to the record's context, as current Kafka instrumentation does)::

    PlaceOrder workflow ─▶ publishOrder activity ─emits▶ kafka topic orders.placed
        ─triggers▶ fulfillment (consumer span) ─calls▶ inventory (server span)

One workflow a minute for two hours from 10:00 UTC. The worker's own spans are not exported:
the record's ``traceparent`` carries the workflow's trace id and a span id found nowhere.
From ``DEPLOY`` (11:00) the worker runs build ``orders-worker@2.0.0`` (before: ``1.9.3``),
whose activity writes ``total`` where it wrote ``amount``; fulfillment passes the record on
and inventory, two hops behind the topic, fails on it (``fails``) or takes 40x longer
(``slows``, no status anywhere). Answer: the workflow's deployment is the first cause.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DEPLOY = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
END = datetime(2026, 3, 2, 11, 30, tzinfo=UTC)
RUNS = 120
TOPIC = "orders.placed"
TASK_QUEUE = "orders"
OLD_BUILD = "orders-worker@1.9.3"
NEW_BUILD = "orders-worker@2.0.0"
JSON_PLAIN = base64.b64encode(b"json/plain").decode()


def _id(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[: n * 2]


def _uuid(text: str) -> str:
    h = _id(text, 16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ns(t: datetime) -> str:
    return str(int(t.timestamp() * 1_000_000) * 1000)


def _payload(value: object) -> dict:
    return {"metadata": {"encoding": JSON_PLAIN},
            "data": base64.b64encode(json.dumps(value).encode()).decode()}


def _tracer(trace: str, span: str) -> dict:
    return {"fields": {"_tracer-data": _payload({"traceparent": f"00-{trace}-{span}-01"})}}


def _history(i: int, t: datetime, build: str, trace: str) -> dict:
    """One run's history as ``temporal workflow show -o json`` writes it."""
    identity = f"{1000 + i % 3}@orders-worker-{'b' if build == NEW_BUILD else 'a'}"
    version = {"buildId": build}
    queue = {"name": TASK_QUEUE, "kind": "TASK_QUEUE_KIND_NORMAL"}
    events: list[tuple[int, str, dict]] = [
        (0, "WORKFLOW_EXECUTION_STARTED", {
            "workflowType": {"name": "PlaceOrder"}, "taskQueue": queue,
            "input": {"payloads": [_payload({"orderId": f"o-{i}"})]},
            "workflowRunTimeout": "0s", "workflowTaskTimeout": "10s",
            "originalExecutionRunId": _uuid(f"run{i}"), "firstExecutionRunId": _uuid(f"run{i}"),
            "attempt": 1, "header": _tracer(trace, _id(f"{i}start", 8)),
            "workflowId": f"order-{i}"}),
        (1, "WORKFLOW_TASK_SCHEDULED", {"taskQueue": queue, "startToCloseTimeout": "10s",
                                        "attempt": 1}),
        (3, "WORKFLOW_TASK_STARTED", {"scheduledEventId": "2", "identity": identity,
                                      "requestId": _uuid(f"{i}wft1"), "historySizeBytes": "700",
                                      "workerVersion": version}),
        (9, "WORKFLOW_TASK_COMPLETED", {
            "scheduledEventId": "2", "startedEventId": "3", "identity": identity,
            "workerVersion": version, "binaryChecksum": build,
            "sdkMetadata": {"sdkName": "temporal-typescript", "sdkVersion": "1.11.7"},
            "meteringMetadata": {}}),
        (10, "ACTIVITY_TASK_SCHEDULED", {
            "activityId": "1", "activityType": {"name": "publishOrder"}, "taskQueue": queue,
            "header": _tracer(trace, _id(f"{i}act", 8)),
            "input": {"payloads": [_payload({"topic": TOPIC, "orderId": f"o-{i}"})]},
            "scheduleToCloseTimeout": "0s", "scheduleToStartTimeout": "0s",
            "startToCloseTimeout": "60s", "heartbeatTimeout": "0s",
            "workflowTaskCompletedEventId": "4", "useWorkflowBuildId": True}),
        (12, "ACTIVITY_TASK_STARTED", {"scheduledEventId": "5", "identity": identity,
                                       "requestId": _uuid(f"{i}act"), "attempt": 1,
                                       "workerVersion": version}),
        (60, "ACTIVITY_TASK_COMPLETED", {"result": {"payloads": [_payload("ok")]},
                                         "scheduledEventId": "5", "startedEventId": "6",
                                         "identity": identity}),
        (61, "WORKFLOW_TASK_SCHEDULED", {"taskQueue": queue, "startToCloseTimeout": "10s",
                                         "attempt": 1}),
        (63, "WORKFLOW_TASK_STARTED", {"scheduledEventId": "8", "identity": identity,
                                       "requestId": _uuid(f"{i}wft2"),
                                       "historySizeBytes": "1400", "workerVersion": version}),
        (66, "WORKFLOW_TASK_COMPLETED", {
            "scheduledEventId": "8", "startedEventId": "9", "identity": identity,
            "workerVersion": version, "binaryChecksum": build,
            "sdkMetadata": {"sdkName": "temporal-typescript", "sdkVersion": "1.11.7"},
            "meteringMetadata": {}}),
        (67, "WORKFLOW_EXECUTION_COMPLETED", {"result": {"payloads": [_payload("ok")]},
                                              "workflowTaskCompletedEventId": "10"}),
    ]
    out = []
    for n, (ms, kind, attrs) in enumerate(events, start=1):
        name = kind.lower().title().replace("_", "")
        name = name[0].lower() + name[1:] + "EventAttributes"
        out.append({"eventId": str(n), "eventTime": _ts(t + timedelta(milliseconds=ms)),
                    "eventType": f"EVENT_TYPE_{kind}", "taskId": str(1048576 + 20 * i + n),
                    name: attrs})
    return {"events": out}


def _span(trace: str, sid: str, parent: str | None, name: str, kind: int, start: datetime,
          ms: int, attrs: dict[str, str | int], error: bool = False) -> dict:
    span = {"traceId": trace, "spanId": sid, "name": name, "kind": kind,
            "startTimeUnixNano": _ns(start),
            "endTimeUnixNano": _ns(start + timedelta(milliseconds=ms)),
            "attributes": [{"key": k, "value": ({"intValue": str(v)} if isinstance(v, int)
                                                else {"stringValue": v})}
                           for k, v in attrs.items()],
            "status": {"code": 2, "message": "HTTP 500"} if error else {}}
    if parent:
        span["parentSpanId"] = parent
    return span


def _resource(service: str, spans: list[dict]) -> dict:
    return {"resource": {"attributes": [{"key": "service.name",
                                         "value": {"stringValue": service}}]},
            "scopeSpans": [{"scope": {"name": "io.opentelemetry"}, "spans": spans}]}


def write(out: Path, effect: str) -> None:
    """Write the landscape into ``out``; ``effect`` is ``fails`` or ``slows``."""
    assert effect in ("fails", "slows")
    (out / "temporal").mkdir(parents=True, exist_ok=True)
    records: list[str] = []
    fulfillment: list[dict] = []
    inventory: list[dict] = []
    for i in range(RUNS):
        t = START + timedelta(seconds=60 * i)
        deployed = t >= DEPLOY
        build = NEW_BUILD if deployed else OLD_BUILD
        trace = _id(f"trace{i}", 16)
        history = _history(i, t, build, trace)
        (out / "temporal" / f"order-{i}.json").write_text(json.dumps(history, indent=1))
        # The worker's producer span (not exported) is the record's traceparent.
        producer = _id(f"{i}producer", 8)
        sent = t + timedelta(milliseconds=30)
        body = {"orderId": f"o-{i}", "currency": "EUR"}
        body["total" if deployed else "amount"] = 10 + i
        records.append(json.dumps({
            "topic": TOPIC, "partition": i % 2, "offset": i // 2, "tstype": "create",
            "ts": int(sent.timestamp() * 1000), "broker": 1,
            "headers": ["traceparent", f"00-{trace}-{producer}-01"],
            "key": f"o-{i}", "payload": json.dumps(body)}))
        # fulfillment consumes the record in a trace of its own that links to it.
        ctrace = _id(f"ctrace{i}", 16)
        process, client, server = (_id(f"{i}{n}", 8) for n in ("process", "client", "server"))
        bad = deployed and t < END
        slow_ms = 2000 if bad and effect == "slows" else 45
        failing = bad and effect == "fails"
        got = sent + timedelta(milliseconds=15)
        span = _span(ctrace, process, None, f"{TOPIC} process", 5, got, slow_ms + 20, {
            "messaging.system": "kafka", "messaging.destination.name": TOPIC,
            "messaging.operation.type": "process"}, error=failing)
        span["links"] = [{"traceId": trace, "spanId": producer}]
        fulfillment.append(span)
        fulfillment.append(_span(ctrace, client, process, "POST", 3,
                                 got + timedelta(milliseconds=5), slow_ms + 5, {
                                     "http.request.method": "POST",
                                     "server.address": "inventory", "server.port": 8080,
                                     "url.full": "http://inventory:8080/reservations",
                                     "http.response.status_code": 500 if failing else 201},
                                 error=failing))
        inventory.append(_span(ctrace, server, client, "POST /reservations", 2,
                               got + timedelta(milliseconds=7), slow_ms, {
                                   "http.request.method": "POST", "http.route": "/reservations",
                                   "http.response.status_code": 500 if failing else 201},
                               error=failing))
    (out / "orders.kcat.jsonl").write_text("\n".join(records) + "\n")
    (out / "services.otlp.json").write_text(json.dumps({"resourceSpans": [
        _resource("fulfillment", fulfillment), _resource("inventory", inventory)]}))
