"""OTel messaging conventions: which way a hop points comes from span kind and messaging
operation (old ``messaging.operation`` and new ``messaging.operation.type``), whether the
consumer span is a child of the producer context, a new trace linking to it, or a batch span
linking to many messages; never from time (tests/fixtures/scenarios/PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SCENARIOS
from tests.correlation.landscape import correlate, rows, score

FOLDER = SCENARIOS / "otel_messaging"
T1, T3 = "6e0c63257de34c92bf9efcd03927272e", "b7ad6b7169203331a3ce929d0e0e4736"
REC1, REC2 = "kafka:msg:orders/0/7", "kafka:msg:orders/0/8"
BILLING = "otel:run:0af7651916cd43dd8448eb211c80319c/e457b5a2e4d86bd1"
SHIPPING = "otel:run:5b8efff798038103d269b633813fc60c/b9c7c989f97918e1"
AUDIT_RECEIVE = f"otel:run:{T1}/a2fb4a1d1a96d312"
AUDIT_PROCESS = f"otel:run:{T1}/c5e1a7f2b3d49e60"
CONSUMERS = {("kafka:topic:orders", f"otel:service:{s}", "triggers")
             for s in ("billing", "shipping", "audit")}


def _hops(tm) -> set[tuple[str, str, str, str]]:
    return {(r["src"], r["dst"], r["kind"], r["rule"]) for r in rows(
        tm, "SELECT src, dst, kind, rule FROM edges WHERE src LIKE 'kafka:msg:%' "
            "OR dst LIKE 'kafka:msg:%' OR dst LIKE 'inferred:msg:%'")}


def test_every_consumer_convention_gives_message_to_consumer(tmp_path: Path) -> None:
    tm = correlate(tmp_path, FOLDER)
    expected = {("otel:service:checkout", "kafka:topic:orders", "emits"), *CONSUMERS}
    assert score(tm, expected, "otel_messaging") == (1.0, 1.0)
    assert _hops(tm) == {
        (f"otel:span:{T1}/00f067aa0ba902b7", REC1, "emits", "traceparent"),
        (f"otel:span:{T3}/53995c3f42cd8ad8", REC2, "emits", "traceparent"),
        # a new trace with a span link; it starts 8 ms before the record's CreateTime
        (REC1, BILLING, "triggers", "span_link"),
        # one batch span linking both records
        (REC1, SHIPPING, "triggers", "span_link"), (REC2, SHIPPING, "triggers", "span_link"),
        # children of the producer context: a CLIENT `receive` (current conventions) and
        # a CONSUMER `process`, old attribute spelling: neither publishes anything
        (REC1, AUDIT_RECEIVE, "triggers", "span_link"),
        (REC1, AUDIT_PROCESS, "triggers", "span_link")}
    assert rows(tm, "SELECT count(*) AS n FROM executions")[0]["n"] == 1


def test_consumers_are_never_producers_when_the_producer_is_not_exported(
        tmp_path: Path) -> None:
    # The same records without checkout's spans: the record names a span nobody exported, the
    # consumers still link to it; time must not make a consumer (billing starts before the
    # record's CreateTime) its producer.
    files = [FOLDER / f for f in ("orders.kcat.jsonl", "billing.otlp.json",
                                  "shipping.otlp.json", "audit.otlp.json")]
    tm = correlate(tmp_path, *files)
    assert score(tm, CONSUMERS, "otel_messaging, producer unexported") == (1.0, 1.0)
    assert not rows(tm, "SELECT src FROM edges WHERE kind = 'emits'")


@pytest.mark.parametrize("skew", [0.5, 2.0])
def test_direction_holds_whatever_the_skew_tolerance(tmp_path: Path, skew: float) -> None:
    tm = correlate(tmp_path, FOLDER, skew_seconds=skew)
    assert {e for e in _hops(tm) if e[0] == REC1 and e[1] == BILLING} == {
        (REC1, BILLING, "triggers", "span_link")}
    latency = rows(tm, "SELECT latency_ms FROM edges WHERE src = ? AND dst = ?",
                   [REC1, BILLING])[0]["latency_ms"]
    assert latency == pytest.approx(-8.0)  # as measured: the consumer's clock runs behind


def _span(trace: str, span: str, kind: int, service: str, name: str, at_ms: int,
          attrs: dict[str, object]) -> dict[str, object]:
    values = [{"key": k, "value": {"intValue": str(v)} if isinstance(v, int)
               else {"stringValue": v}} for k, v in attrs.items()]
    return {"resource": {"attributes": [{"key": "service.name",
                                         "value": {"stringValue": service}}]},
            "scopeSpans": [{"spans": [{
                "traceId": trace, "spanId": span, "name": name, "kind": kind,
                "startTimeUnixNano": str(at_ms * 1_000_000),
                "endTimeUnixNano": str((at_ms + 5) * 1_000_000), "attributes": values}]}]}


def test_spans_name_their_records_by_offset_when_no_context_travels(tmp_path: Path) -> None:
    # The records carry no trace context (a producer that does not propagate it); the spans
    # state topic, partition and offset, as OTel's Kafka instrumentations record them: the
    # producer in the 1.17-1.23 spelling, the consumers in the current one. Offset 8 is
    # delivered twice (a rebalance), to two traces of its own.
    at = 1714557600000
    (tmp_path / "orders.kcat.jsonl").write_text("".join(json.dumps(
        {"topic": "orders", "partition": 0, "offset": off, "tstype": "create",
         "ts": at + 50 * i, "broker": 1, "key": f"ord-{off}", "payload": "{}"}) + "\n"
        for i, off in enumerate((7, 8))))
    produce = {"messaging.system": "kafka", "messaging.destination.name": "orders",
               "messaging.kafka.destination.partition": 0, "messaging.kafka.message.offset": 7}
    consume = {"messaging.system": "kafka", "messaging.destination.name": "orders",
               "messaging.destination.partition.id": "0", "messaging.operation.type": "process"}
    t = ["1" * 32, "2" * 32, "3" * 32, "4" * 32]
    spans = [_span(t[0], "a" * 16, 4, "checkout", "publish orders", at - 5, produce),
             _span(t[1], "b" * 16, 5, "billing", "process orders", at + 900,
                   {**consume, "messaging.kafka.offset": 8}),
             _span(t[2], "c" * 16, 5, "billing", "process orders", at + 4000,
                   {**consume, "messaging.kafka.offset": 8}),
             _span(t[3], "d" * 16, 5, "billing", "process orders", at + 20,
                   {**consume, "messaging.kafka.offset": 7})]
    (tmp_path / "spans.otlp.jsonl").write_text(
        "".join(json.dumps({"resourceSpans": [s]}) + "\n" for s in spans))
    tm = correlate(tmp_path / "store", tmp_path / "orders.kcat.jsonl",
                   tmp_path / "spans.otlp.jsonl")
    rec7, rec8 = "kafka:msg:orders/0/7", "kafka:msg:orders/0/8"
    assert _hops(tm) == {
        (f"otel:span:{t[0]}/{'a' * 16}", rec7, "emits", "link"),
        (rec8, f"otel:run:{t[1]}/{'b' * 16}", "triggers", "link"),
        (rec8, f"otel:run:{t[2]}/{'c' * 16}", "triggers", "link"),
        (rec7, f"otel:run:{t[3]}/{'d' * 16}", "triggers", "link")}
    assert score(tm, {("otel:service:checkout", "kafka:topic:orders", "emits"),
                      ("kafka:topic:orders", "otel:service:billing", "triggers")},
                 "kafka offsets") == (1.0, 1.0)
