"""AsyncAPI 3.0 documents: what each service's team declares it sends and receives.

One document per service that owns one (``info.title`` is the service's OpenTelemetry
``service.name``), with a Kafka server, one channel per topic (``address`` = topic name), one
operation per direction (``action: send`` / ``receive``; receivers name their consumer group in
the Kafka operation binding) and the message schema they rely on. Not an export: these are the
declarations ``tracemap hidden --declared`` compares the observed edges with.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tracemap.samples import landscape as L
from tracemap.samples.writers import Sink

FORMAT = "asyncapi"

#: The payload schema each event type was declared with (schema version 1).
SCHEMAS: dict[str, dict[str, Any]] = {
    "OrderPlaced": {"type": "object",
                    "required": ["type", "orderId", "correlationId", "amount", "currency"],
                    "properties": {"type": {"const": "OrderPlaced"},
                                   "orderId": {"type": "string"},
                                   "correlationId": {"type": "string"},
                                   "customerId": {"type": "string"},
                                   "placedAt": {"type": "string", "format": "date-time"},
                                   "amount": {"type": "number"},
                                   "currency": {"type": "string"},
                                   "items": {"type": "array"}}},
    "OrderShipped": {"type": "object",
                     "required": ["type", "orderId", "shipmentId", "trackingNumber"],
                     "properties": {"type": {"const": "OrderShipped"},
                                    "orderId": {"type": "string"},
                                    "correlationId": {"type": "string"},
                                    "shipmentId": {"type": "string"},
                                    "carrier": {"type": "string"},
                                    "trackingNumber": {"type": "string"},
                                    "shippedAt": {"type": "string", "format": "date-time"}}},
    "InvoiceCreated": {"type": "object",
                       "required": ["type", "invoiceId", "orderId", "net", "tax", "currency"],
                       "properties": {"type": {"const": "InvoiceCreated"},
                                      "invoiceId": {"type": "string"},
                                      "orderId": {"type": "string"},
                                      "correlationId": {"type": "string"},
                                      "customerId": {"type": "string"},
                                      "net": {"type": "number"}, "tax": {"type": "number"},
                                      "currency": {"type": "string"}}},
}

HEADERS = {"type": "object", "properties": {
    "correlation-id": {"type": "string", "description": "The order id."},
    "traceparent": {"type": "string", "description": "W3C trace context of the producer."}}}


def _camel(topic: str) -> str:
    first, *rest = topic.split(".")
    return first + "".join(p.capitalize() for p in rest)


def document(service: str) -> dict[str, Any]:
    svc = L.SERVICES[service]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for action, topic in L.ASYNCAPI[service]:
        event_type = L.TOPICS[topic].event_type
        cid = _camel(topic)
        msg_id = event_type[0].lower() + event_type[1:]
        channels[cid] = {"address": topic, "messages": {
            msg_id: {"$ref": f"#/components/messages/{event_type}"}}}
        # copies: a shared object would be dumped as a YAML anchor, which no one writes by hand
        messages[event_type] = {"name": event_type, "contentType": "application/json",
                                "headers": copy.deepcopy(HEADERS),
                                "payload": copy.deepcopy(SCHEMAS[event_type])}
        op: dict[str, Any] = {"action": action, "channel": {"$ref": f"#/channels/{cid}"},
                              "messages": [{"$ref": f"#/channels/{cid}/messages/{msg_id}"}]}
        if action == "receive":
            op["bindings"] = {"kafka": {"groupId": {"type": "string", "enum": [service]}}}
        verb = "publish" if action == "send" else "consume"
        operations[f"{verb}{event_type}"] = op
    return {
        "asyncapi": "3.0.0",
        "info": {"title": service, "version": svc.version,
                 "description": f"Events {service} sends and receives (owned by its team)."},
        "defaultContentType": "application/json",
        "servers": {"production": {"host": L.KAFKA_BOOTSTRAP, "protocol": "kafka",
                                   "description": "Acme Shop production Kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def write(sink: Sink, folder: str) -> None:
    for service in L.ASYNCAPI:
        text = yaml.safe_dump(document(service), sort_keys=False, width=100)
        sink.write(FORMAT, f"{folder}/{service}.yaml", text.encode())
