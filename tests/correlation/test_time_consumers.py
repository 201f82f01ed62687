"""Time order ties a message only to a consumer of its channel that no stated hop already
feeds: a duplicate chain (a client's retried POST runs ledger -> points.credited -> rewards ->
rewards.granted -> reward-mailer twice, 40 ms apart, every hop stated by traceparent and
parent span) must not make rewards, which only publishes rewards.granted, a consumer of the
other chain's rewards.granted record, nor give a mailer run its own record a second trigger
(issue 13; tests/fixtures/scenarios/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SCENARIOS
from tests.correlation.landscape import component_edges, correlate, rows

FOLDER = SCENARIOS / "duplicate_chain"
T1, T2 = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1", "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"


def test_a_publisher_is_not_a_consumer_of_its_channel_by_time(tmp_path: Path) -> None:
    tm = correlate(tmp_path, FOLDER)
    assert component_edges(tm) == {
        ("otel:service:ledger", "kafka:topic:points.credited", "emits"),
        ("kafka:topic:points.credited", "otel:service:rewards", "triggers"),
        ("otel:service:rewards", "kafka:topic:rewards.granted", "emits"),
        ("kafka:topic:rewards.granted", "otel:service:reward-mailer", "triggers")}
    # each record has exactly the consumer its trace states, and nothing was guessed by time
    # (the spans state each record's offset too: that stated link is the edge's rule)
    consumed = {(r["src"], r["dst"], r["rule"]) for r in rows(
        tm, "SELECT src, dst, rule FROM edges WHERE src LIKE 'kafka:msg:%'")}
    assert consumed == {
        ("kafka:msg:points.credited/0/40", f"otel:run:{T2}/c0000000000b0002", "link"),
        ("kafka:msg:points.credited/0/41", f"otel:run:{T1}/c0000000000b0001", "link"),
        ("kafka:msg:rewards.granted/0/60", f"otel:run:{T2}/3a0000000000c002", "link"),
        ("kafka:msg:rewards.granted/0/61", f"otel:run:{T1}/3a0000000000c001", "link")}
    assert not rows(tm, "SELECT src FROM edges WHERE rule = 'time_order'")
    assert rows(tm, "SELECT count(*) AS n FROM executions")[0]["n"] == 1


def test_a_consumer_fed_by_its_record_takes_no_other_by_time(tmp_path: Path) -> None:
    # risks_kafka: billing handles ord-3's records 2/21 then 2/20, each in the trace of its
    # record (and names its offset); neither run is also triggered by the other record
    tm = correlate(tmp_path, SCENARIOS / "risks_kafka")
    triggers = {(r["src"], r["dst"], r["rule"]) for r in rows(
        tm, "SELECT src, dst, rule FROM edges WHERE src LIKE 'kafka:msg:orders.placed/2/%'")}
    assert triggers == {
        ("kafka:msg:orders.placed/2/20",
         "otel:run:a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3/b3accccccccccccc", "link"),
        ("kafka:msg:orders.placed/2/21",
         "otel:run:a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4/b3bccccccccccccc", "link")}
    assert not rows(tm, "SELECT src FROM edges WHERE rule = 'time_order'")
