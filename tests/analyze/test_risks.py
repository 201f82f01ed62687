"""risks over stores built from files: each planted hazard found exactly, a clean landscape
reports none (tests/fixtures/scenarios/PROVENANCE.md states each answer)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tracemap
from tests.conftest import FIXTURES, SCENARIOS
from tracemap.analyze import risks
from tracemap.analyze.risks import HAZARDS, RisksResult
from tracemap.cli import app


def _risks(tmp_path: Path, *paths: Path) -> RisksResult:
    tm = tracemap.open(tmp_path / "store.duckdb")
    result = tm.ingest([str(p) for p in paths])
    assert result.totals["rejected"] == 0, [s.message for s in result.sources]
    return tm.risks()


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> RisksResult:
    return _risks(tmp_path_factory.mktemp("risks"), SCENARIOS / "risks_kafka")


def _one(result: RisksResult, hazard: str) -> dict:
    found = result.of(hazard)
    assert len(found) == 1, [f.to_dict() for f in result.findings]
    return found[0].to_dict()


def test_the_kafka_scenario_has_exactly_its_planted_hazards(kafka: RisksResult) -> None:
    assert [(f.hazard, f.component) for f in kafka.findings] == [
        ("duplicate_delivery", "otel:service:billing"),
        ("duplicate_effect", "otel:service:billing"),
        ("out_of_order", "otel:service:billing"),
        ("dead_letter", "kafka:topic:orders.placed.DLT"),
        ("choreography", "kafka:topic:orders.placed"),
    ]
    assert all(f.hazard in HAZARDS and f.what_to_do for f in kafka.findings)


def test_a_replayed_record_is_a_duplicate_delivery(kafka: RisksResult) -> None:
    dup = _one(kafka, "duplicate_delivery")
    assert (dup["count"], dup["total"], dup["group"], dup["messages"]) == (1, 5, "billing", 1)
    [extra] = dup["examples"]
    assert extra["message"] == "kafka:msg:orders.placed/0/10"
    # the second processing, five minutes later, is the extra one
    assert extra["uid"].endswith("/b11ccccccccccccc")
    assert extra["path"].endswith("risks_kafka/billing.otlp.json")
    assert extra["location"].startswith("document resourceSpans[0]")


def test_the_duplicate_had_two_effects(kafka: RisksResult) -> None:
    effect = _one(kafka, "duplicate_effect")
    assert effect["effects_on"] == ["kafka:topic:invoices.created"]
    assert [(e["uid"], e["location"]) for e in effect["examples"]] == [
        ("kafka:msg:invoices.created/0/100", "line 6"),
        ("kafka:msg:invoices.created/0/101", "line 7"),
    ]
    assert {e["message"] for e in effect["examples"]} == {"kafka:msg:orders.placed/0/10"}
    assert "not idempotent" in effect["detail"]


def test_the_reordered_key(kafka: RisksResult) -> None:
    late = _one(kafka, "out_of_order")
    assert (late["count"], late["total"], late["keys"], late["max_gap_ms"]) == (
        1, 4, ["ord-3"], 100.0)
    [example] = late["examples"]
    assert (example["message"], example["overtaken_by"], example["offset_gap"]) == (
        "kafka:msg:orders.placed/2/20", "kafka:msg:orders.placed/2/21", 1)


def test_the_dlq_route(kafka: RisksResult) -> None:
    dead = _one(kafka, "dead_letter")
    assert (dead["count"], dead["origins"], dead["redriven"]) == (1, ["orders.placed"], 0)
    assert [(e["uid"], e["location"]) for e in dead["examples"]] == [
        ("kafka:msg:orders.placed.DLT/0/0", "line 5")]


def test_an_event_chain_without_owner(kafka: RisksResult) -> None:
    chain = _one(kafka, "choreography")
    assert chain["route"] == [
        "otel:service:checkout", "kafka:topic:orders.placed", "otel:service:billing",
        "kafka:topic:invoices.created", "otel:service:ledger", "kafka:topic:ledger.posted",
        "otel:service:notifier"]
    # ord-1 completed; ord-2 failed in billing; both ord-3 records stopped at billing
    assert (chain["hops"], chain["completed"], chain["count"], chain["total"]) == (3, 1, 3, 4)


def test_a_saga_compensation_and_its_exhausted_retries(tmp_path: Path) -> None:
    result = _risks(tmp_path, SCENARIOS / "risks_saga")
    assert [(f.hazard, f.component) for f in result.findings] == [
        ("retry_exhausted", "temporal:activity:BookHotel"),
        ("compensation", "temporal:activity:CancelFlight")]
    retry = _one(result, "retry_exhausted")
    assert retry["examples"][0]["attempts"] == 3
    assert retry["errors"] == ["HotelUnavailable: hotel API returned 503"]
    comp = _one(result, "compensation")
    assert comp["triggered_by"] == ["temporal:activity:BookHotel"]
    assert comp["examples"][0]["location"] == "event 17"


def test_a_bpmn_compensation_handler_is_found_by_its_event_type_not_its_name(
        tmp_path: Path) -> None:
    result = _risks(tmp_path, SCENARIOS / "risks_bpmn_compensation")
    # the handler is named like any task; the end and boundary events that start it, though
    # one is named "flight-compensation", are not compensations that ran
    assert [(f.hazard, f.component) for f in result.findings] == [
        ("compensation", "zeebe:element:trip-booking.issue-credit-note")]
    comp = _one(result, "compensation")
    assert (comp["count"], comp["triggered_by"]) == (1, [])
    [example] = comp["examples"]
    assert (example["uid"], example["location"]) == ("zeebe:step:2251799813685308", "line 25")


@pytest.mark.parametrize("paths", [
    ["scenarios/skew_traceparent"],
    ["scenarios/temporal_parent_child"],
    ["scenarios/temporal_traceparent"],
    ["rabbitmq_json"],
    # a workflow named cancel... that cancels an activity is no saga compensation
    ["temporal_json/sdkts_cancel_activity_history.json"],
    # attempt 2 failed with retryState InProgress: Temporal starts attempt 3, nothing exhausted
    ["temporal_json/ui_raw_events_descending_retry_failed.json"],
    # equal key and payload at two offsets; one key on two partitions
    ["scenarios/risks_clean_kafka"],
    # a failed INSERT, then the JDBC ROLLBACK span and a release...(): no saga
    ["scenarios/risks_db_rollback"],
    # a Debezium initial snapshot: 60 reads in a minute, then one change a minute
    ["scenarios/risks_cdc_snapshot"],
])
def test_a_clean_landscape_reports_none(tmp_path: Path, paths: list[str]) -> None:
    result = _risks(tmp_path, *(FIXTURES / p for p in paths))
    assert result.findings == [], [f.to_dict() for f in result.findings]


def test_every_real_fixture_in_one_store_has_only_its_true_findings(tmp_path: Path) -> None:
    # every folder of real exports (and TrainTicket's traces and logs) in one store: the
    # only hazards are retries that ran out, each checked against its file (Argo "No more
    # retries left", Zeebe JOB_NO_RETRIES, Temporal RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED,
    # Step Functions' and Airflow's last attempt failed)
    folders = [p for p in sorted(FIXTURES.iterdir()) if p.is_dir() and p.name != "scenarios"]
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(p) for p in folders] + [str(SCENARIOS / "rca")])
    result = tm.risks()
    assert [(f.hazard, f.component, f.count, f.total) for f in result.findings] == [
        ("retry_exhausted", "airflow:task:BQ.copy", 1, 1),
        ("retry_exhausted", "argo:template:dag-disable-fail-fast.c", 1, 1),
        ("retry_exhausted", "argo:template:failed-retries.delayed-fail", 1, 1),
        ("retry_exhausted", "argo:template:failed-retries.fail", 1, 1),
        ("retry_exhausted", "argo:template:order-pipeline.price-order", 1, 1),
        ("retry_exhausted", "argo:template:retry-with-dags.fail", 1, 1),
        # two express executions retried Enrich: one succeeded on attempt 2
        ("retry_exhausted", "stepfunctions:state:OrderIntake.Enrich", 1, 2),
        ("retry_exhausted", "stepfunctions:state:test-stack-IngestGranule.SyncGranule", 1, 1),
        ("retry_exhausted", "temporal:activity:HeartbeatAndThrowIO", 1, 1),
        ("retry_exhausted", "zeebe:job:payment-service", 1, 1)]


@pytest.mark.parametrize("name", [
    "orders.placed.DLT", "orders-dlt", "orders-dlq", "orders_dlq", "orders_dead_letter",
    "orders-dead-letter-queue", "orders.dlx", "orders/$deadletterqueue", "MyQueue-DLQ",
    "dlq-payments-sink", "payments.deadletters"])
def test_dead_letter_channel_names(name: str) -> None:
    assert re.search(risks.DLQ_NAME, name.lower())


@pytest.mark.parametrize("name", [
    "orders.placed", "orders.retry-0", "download", "idle.events", "handle_tx", "model.dltv"])
def test_channel_names_that_are_not_dead_letters(name: str) -> None:
    assert not re.search(risks.DLQ_NAME, name.lower())


def test_step_functions_retries_one_record_per_attempt_are_one_chain(tmp_path: Path) -> None:
    result = _risks(tmp_path, FIXTURES / "stepfunctions_json" /
                    "cumulus_execution_status_lambda_retries_failed.json")
    retry = _one(result, "retry_exhausted")
    assert (retry["component"], retry["count"], retry["total"]) == (
        "stepfunctions:state:test-stack-IngestGranule.SyncGranule", 1, 1)
    assert retry["examples"][0]["attempts"] == 4


def test_argo_retry_nodes_are_one_chain_each(tmp_path: Path) -> None:
    # each Retry node's pods fail(0), fail(1) are one chain (retryStrategy limit 1: two
    # attempts), not two retried steps; all four Retry nodes ran out ("No more retries left")
    result = _risks(tmp_path, FIXTURES / "argo_workflow")
    assert [(f.component, f.count, f.total) for f in result.findings] == [
        ("argo:template:dag-disable-fail-fast.c", 1, 1),
        ("argo:template:failed-retries.delayed-fail", 1, 1),
        ("argo:template:failed-retries.fail", 1, 1),
        ("argo:template:order-pipeline.price-order", 1, 1),
        ("argo:template:retry-with-dags.fail", 1, 1)]
    assert {f.hazard for f in result.findings} == {"retry_exhausted"}
    assert all(f.examples[0]["attempts"] == 2 for f in result.findings)


def test_window_excludes_what_started_outside(tmp_path: Path) -> None:
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(SCENARIOS / "risks_kafka")])
    before = tm.risks(until=datetime(2024, 5, 1, 10, 0, tzinfo=UTC))
    assert before.findings == [] and before.window["entities"] == 0


def test_cli_json_contract(tmp_path: Path) -> None:
    db = str(tmp_path / "store.duckdb")
    runner = CliRunner()
    r = runner.invoke(app, ["ingest", "--db", db, str(SCENARIOS / "risks_kafka")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["risks", "--db", db, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert set(doc) == {"window", "findings"}
    for f in doc["findings"]:
        assert {"hazard", "component", "count", "total", "examples", "detail",
                "what_to_do"} <= set(f)
        assert all(set(e) >= {"uid", "path", "location"} for e in f["examples"])
    r = runner.invoke(app, ["risks", "--db", db, "--format", "md"])
    assert r.exit_code == 0, r.output
    assert "| duplicate effect | otel:service:billing |" in r.output


def test_a_cascade_over_the_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ord-1's record led to 23 entities (two billings, two invoices, ledger, notifier): a
    # cascade once the threshold is below that; the other records stayed small
    monkeypatch.setattr(risks, "CASCADE_ENTITIES", 10)
    result = _risks(tmp_path, SCENARIOS / "risks_kafka")
    cascade = _one(result, "cascade")
    assert (cascade["component"], cascade["count"], cascade["total"]) == (
        "kafka:topic:orders.placed", 1, 4)
    [example] = cascade["examples"]
    assert (example["uid"], example["entities"], example["systems"], example["depth"],
            example["fan_out"]) == ("kafka:msg:orders.placed/0/10", 23, 2, 3, 2)
    # only ord-1's record reached two billings (the replay): each ord-3 record went to one
    assert cascade["distribution"] == {"fan_out_p50": 1, "fan_out_max": 2, "depth_p50": 1,
                                       "depth_max": 3}


def test_an_event_storm_against_the_channel_baseline(tmp_path: Path) -> None:
    result = _risks(tmp_path, SCENARIOS / "risks_storm")
    assert [(f.hazard, f.component) for f in result.findings] == [
        ("event_storm", "kafka:topic:page.viewed")]
    storm = _one(result, "event_storm")
    assert (storm["count"], storm["total"], storm["baseline_per_minute"]) == (60, 71, 1.0)
    assert [m.isoformat() for m in storm["minutes"]] == ["2024-05-01T10:08:00+00:00"]
    assert storm["examples"][0]["location"] == "line 9"


def test_spring_retry_topics_are_retries_and_only_the_dlt_is_a_dead_letter(
        tmp_path: Path) -> None:
    result = _risks(tmp_path, SCENARIOS / "risks_retry_topics")
    dead = _one(result, "dead_letter")
    assert (dead["component"], dead["count"], dead["origins"]) == (
        "kafka:topic:orders-dlt", 1, ["orders"])
    assert [e["uid"] for e in dead["examples"]] == ["kafka:msg:orders-dlt/0/0"]


def test_a_kafka_connect_dead_letter_and_its_redrive(tmp_path: Path) -> None:
    result = _risks(tmp_path, SCENARIOS / "risks_redrive")
    assert [(f.hazard, f.component) for f in result.findings] == [
        ("dead_letter", "kafka:topic:dlq-payments-sink")]
    dead = _one(result, "dead_letter")
    assert (dead["count"], dead["origins"], dead["redriven"]) == (1, ["payments.requested"], 1)
    assert "dead-letter channel" in dead["detail"] and "1 redriven" in dead["detail"]
    assert [(e["uid"], e["location"]) for e in dead["examples"]] == [
        ("kafka:msg:dlq-payments-sink/0/0", "line 3")]
