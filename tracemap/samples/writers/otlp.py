"""OTLP traces as the OpenTelemetry Collector ``file`` exporter writes them (JSON lines).

One ``ExportTraceServiceRequest`` per line (collector-contrib ``fileexporter``, format json):
pdata's JSON marshaler writes ids as lowercase hex, ``kind`` and ``status.code`` as integers,
``*UnixNano`` and ``intValue`` as strings, and ``flags`` with the W3C sampled bit plus the
has-is-remote / is-remote bits (collector 0.100+). Each line holds one batch (the spans of a
few orders' traces), grouped by resource (service, version, pod) and by instrumentation scope.
"""

from __future__ import annotations

from typing import Any

import orjson

from tracemap.samples import landscape as L
from tracemap.samples.records import Span
from tracemap.samples.writers import Sink

FORMAT = "otlp_json"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"
#: Span flags: sampled (0x01) | context has is_remote (0x100) | is_remote (0x200).
LOCAL_PARENT, REMOTE_PARENT = 0x101, 0x301

SCOPE_VERSIONS = {
    "opentelemetry.instrumentation.fastapi": "0.48b0",
    "opentelemetry.instrumentation.httpx": "0.48b0",
    "opentelemetry.instrumentation.asyncpg": "0.48b0",
    "opentelemetry.instrumentation.confluent_kafka": "0.48b0",
    "opentelemetry.instrumentation.botocore": "0.48b0",
    "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp": "0.56.0",
    "go.opentelemetry.io/contrib/instrumentation/github.com/IBM/sarama/otelsarama": "0.56.0",
    "io.opentelemetry.spring-webmvc-6.0": "2.9.0-alpha",
    "@opentelemetry/instrumentation-undici": "0.6.0",
    "@opentelemetry/instrumentation-kafkajs": "0.4.0",
}


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def attributes(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attrs.items()]


def resource(service: str, version: str, pod: str) -> dict[str, Any]:
    svc = L.SERVICES[service]
    return {"attributes": attributes({
        "service.name": service, "service.namespace": "acme-shop", "service.version": version,
        "deployment.environment.name": "prod", "k8s.pod.name": pod,
        "telemetry.sdk.language": svc.language, "telemetry.sdk.version": svc.sdk_version})}


def span_json(s: Span) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": s.trace_id, "spanId": s.span_id}
    if s.parent_id:
        out["parentSpanId"] = s.parent_id
    out["flags"] = REMOTE_PARENT if s.remote_parent else LOCAL_PARENT
    out.update({"name": s.name, "kind": s.kind, "startTimeUnixNano": str(s.start_us * 1000),
                "endTimeUnixNano": str(s.end_us * 1000), "attributes": attributes(s.attrs)})
    if s.links:
        out["links"] = [{"traceId": t, "spanId": sid} for t, sid in s.links]
    if s.events:
        out["events"] = [{"timeUnixNano": str(e.time_us * 1000), "name": e.name,
                          "attributes": attributes(e.attrs)} for e in s.events]
    out["status"] = {"message": s.error, "code": 2} if s.error else {}
    return out


def request(spans: list[Span]) -> dict[str, Any]:
    """One ExportTraceServiceRequest: spans grouped by resource, then by scope."""
    by_resource: dict[tuple[str, str, str], dict[str, list[Span]]] = {}
    for s in sorted(spans, key=lambda s: s.start_us):
        by_resource.setdefault((s.service, s.version, s.pod), {}).setdefault(s.scope, []).append(s)
    return {"resourceSpans": [
        {"resource": resource(*key), "scopeSpans": [
            {"scope": {"name": scope, **({"version": SCOPE_VERSIONS[scope]}
                                         if scope in SCOPE_VERSIONS else {})},
             "spans": [span_json(s) for s in group], "schemaUrl": SCHEMA_URL}
            for scope, group in scopes.items()], "schemaUrl": SCHEMA_URL}
        for key, scopes in by_resource.items()]}


class Batcher:
    """Collects the spans of a few orders per line, as the Collector's batch processor does.

    Holding at most ``orders`` stories keeps memory flat; resources shared by the orders of a
    batch are written once, as in a real export.
    """

    def __init__(self, sink: Sink, rel: str, orders: int = 4) -> None:
        self.sink, self.rel, self.orders = sink, rel, orders
        self.spans: list[Span] = []
        self.count = 0

    def add(self, spans: list[Span]) -> None:
        self.spans.extend(spans)
        self.count += 1
        if self.count >= self.orders:
            self.flush()

    def flush(self) -> None:
        if self.spans:
            self.sink.append(FORMAT, self.rel, orjson.dumps(request(self.spans)),
                             records=len(self.spans))
        self.spans, self.count = [], 0
