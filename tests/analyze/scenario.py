"""Small landscapes with known answers, written as real export files (OTLP/JSON, kcat -J).

One request every 30 s for two hours from 10:00 UTC. Each request is one trace:

    api (server) ──calls──▶ tax (server)
        └─ producer span ──▶ kafka topic "orders" ──▶ billing (consumer)
                                                 ├─▶ notifier (consumer)
                                                 └─▶ audit (consumer)

The incident flags change what happens from ``INCIDENT_START`` (11:00) to ``INCIDENT_END``
(11:30); everything before 11:00 is the healthy baseline. The answers follow from the
construction: e.g. with ``tax_outage`` the tax server spans fail, so api fails only because
of tax.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
INCIDENT_START = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
INCIDENT_END = datetime(2026, 1, 1, 11, 30, tzinfo=UTC)
REQUESTS = 240  # every 30 s for two hours
CONSUMERS = ("billing", "notifier", "audit")


@dataclass(frozen=True)
class Incidents:
    tax_outage: bool = False  # tax returns errors in the incident window
    api_deploy: bool = False  # api 2.0 from 11:00 sends messages billing cannot read
    notifier_stops: bool = False  # notifier consumes nothing from 11:00 on
    api_deploy_slows_billing: bool = False  # api 2.0 from 11:00; billing 30x slower, no error
    skew_ms: int = 0  # consumers' clocks run this far behind the producer's


def _id(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[: n * 2]


def _ns(t: datetime) -> str:
    return str(int(t.timestamp() * 1_000_000) * 1000)


def _span(trace: str, sid: str, parent: str | None, name: str, kind: int, start: datetime,
          ms: int, error: bool = False, attrs: dict[str, str] | None = None) -> dict:
    span = {"traceId": trace, "spanId": sid, "name": name, "kind": kind,
            "startTimeUnixNano": _ns(start),
            "endTimeUnixNano": _ns(start + timedelta(milliseconds=ms)),
            "attributes": [{"key": k, "value": {"stringValue": v}}
                           for k, v in (attrs or {}).items()],
            "status": {"code": 2, "message": "boom"} if error else {}}
    if parent:
        span["parentSpanId"] = parent
    return span


def write(out: Path, incidents: Incidents) -> dict[str, list[str]]:
    """Write the landscape into ``out``; returns the uids an answer needs (e.g. silent ones)."""
    out.mkdir(parents=True, exist_ok=True)
    spans: dict[tuple[str, str], list[dict]] = {}
    records: list[str] = []
    silent: list[str] = []
    for i in range(REQUESTS):
        t = START + timedelta(seconds=30 * i)
        incident = INCIDENT_START <= t < INCIDENT_END
        after = t >= INCIDENT_START
        trace = _id(f"trace{i}", 16)
        deployed = incidents.api_deploy or incidents.api_deploy_slows_billing
        api_version = "2.0" if deployed and after else "1.0"
        tax_fails = incidents.tax_outage and incident
        root, client, tax, prod = (_id(f"{i}{n}", 8) for n in ("root", "client", "tax", "prod"))
        api = spans.setdefault(("api", api_version), [])
        api.append(_span(trace, root, None, "POST /orders", 2, t, 200, error=tax_fails))
        api.append(_span(trace, client, root, "POST /tax", 3, t + timedelta(milliseconds=10), 50,
                         error=tax_fails))
        spans.setdefault(("tax", "1.0"), []).append(
            _span(trace, tax, client, "POST /tax", 2, t + timedelta(milliseconds=15), 40,
                  error=tax_fails))
        channel = {"messaging.system": "kafka", "messaging.destination.name": "orders"}
        api.append(_span(trace, prod, root, "orders publish", 4, t + timedelta(milliseconds=70),
                         10, attrs=channel))
        produced = t + timedelta(milliseconds=75)
        records.append(json.dumps({
            "topic": "orders", "partition": 0, "offset": i, "tstype": "create",
            "ts": int(produced.timestamp() * 1000),
            "headers": ["traceparent", f"00-{trace}-{prod}-01", "correlation-id", f"order-{i}",
                        "schema-version", "2" if api_version == "2.0" else "1"],
            "key": f"order-{i}", "payload": json.dumps({"orderId": i, "amount": 10 + i})}))
        for n, consumer in enumerate(CONSUMERS):
            if consumer == "notifier" and incidents.notifier_stops and after:
                silent.append(f"kafka:msg:orders/0/{i}")
                continue
            hit = consumer == "billing" and api_version == "2.0"
            fails = hit and incidents.api_deploy
            ms = 900 if hit and incidents.api_deploy_slows_billing else 30
            start = produced + timedelta(milliseconds=200 + 50 * n - incidents.skew_ms)
            spans.setdefault((consumer, "1.0"), []).append(
                _span(trace, _id(f"{i}{consumer}", 8), prod, "orders process", 5, start, ms,
                      error=fails, attrs=channel))
    with open(out / "traces.jsonl", "w") as fh:
        for (service, version), items in sorted(spans.items()):
            resource = {"attributes": [
                {"key": "service.name", "value": {"stringValue": service}},
                {"key": "service.version", "value": {"stringValue": version}}]}
            request = {"resourceSpans": [{"resource": resource, "scopeSpans": [
                {"scope": {"name": "scenario"}, "spans": items}]}]}
            fh.write(json.dumps(request) + "\n")
    (out / "orders.jsonl").write_text("\n".join(records) + "\n")
    return {"silent": silent}
