"""Exports that keep only span names (Zipkin without tags, tabular span tables): messaging spans
are recognised by the OTel span-name convention, ``{destination} {operation}`` (older) and
``{operation} {destination}`` (newer), giving service -> channel -> service instead of a plain
call (tests/fixtures/scenarios/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SCENARIOS
from tests.correlation.landscape import correlate, score


def test_span_names_give_service_channel_service(tmp_path: Path) -> None:
    tm = correlate(tmp_path, SCENARIOS / "span_names")
    expected = {
        # Zipkin, no tags: `<default> send` -> `food_delivery process` (RabbitMQ's default
        # exchange delivers to the queue; the consumer is a child of the send)
        ("otel:service:order-service", "rabbitmq:exchange:amq.default", "emits"),
        ("rabbitmq:exchange:amq.default", "otel:service:kitchen", "triggers"),
        # a span table: `send orders` -> `process orders`, bus unnamed
        ("otel:service:checkout", "messaging:destination:orders", "emits"),
        ("messaging:destination:orders", "otel:service:billing", "triggers"),
        # an HTTP call stays a call
        ("otel:service:checkout", "otel:service:users", "calls")}
    assert score(tm, expected, "span_names") == (1.0, 1.0)
