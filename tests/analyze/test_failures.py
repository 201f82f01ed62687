"""Root cause, propagation and silent failures on scenarios whose answers are known."""

from __future__ import annotations

from tests.analyze.scenario import INCIDENT_END, INCIDENT_START

WINDOW = {"since": INCIDENT_START, "until": INCIDENT_END}


def test_leaf_outage_blames_the_leaf_not_its_callers(scenario) -> None:
    tm, _ = scenario(tax_outage=True)
    result = tm.failures(**WINDOW)
    first = result.root_causes[0]
    assert first.component == "otel:service:tax"
    assert first.explains == ["otel:service:api"]
    assert {c.component for c in result.root_causes} == {"otel:service:tax"}
    assert {(p["from"], p["to"], p["via"]) for p in result.propagation} == {
        ("otel:service:tax", "otel:service:api", "calls")}
    assert result.silent == [] and result.partial == []


def test_leaf_outage_survives_one_second_of_clock_skew(scenario) -> None:
    tm, _ = scenario(tax_outage=True, skew_ms=1000)
    assert tm.failures(**WINDOW).root_causes[0].component == "otel:service:tax"


def test_upstream_deployment_points_at_the_producer(scenario) -> None:
    tm, _ = scenario(api_deploy=True)
    result = tm.failures(**WINDOW)
    first, second = result.root_causes[:2]
    assert first.component == "otel:service:api"
    assert "otel:service:billing" in first.explains
    assert ("service.version", "2.0") in {(a.name, a.value) for a in first.attributes}
    assert all(a.healthy_share == 0 and a.failed_share == 1 for a in first.attributes)
    assert second.component == "otel:service:billing"
    assert second.explained_by == "otel:service:api"
    # Billing failed on every message of the window while audit and notifier were fine.
    assert len(result.partial) == 60
    assert {tuple(p["failed"]) for p in result.partial} == {("otel:service:billing",)}


def test_silent_consumer_lists_exactly_the_unconsumed_messages(scenario) -> None:
    tm, answers = scenario(notifier_stops=True)
    result = tm.failures(**WINDOW)
    in_window = [u for u in answers["silent"] if int(u.rsplit("/", 1)[1]) < 180]
    assert sorted(s["message"] for s in result.silent) == sorted(in_window)
    assert {(s["channel"], s["expected_consumer"]) for s in result.silent} == {
        ("kafka:topic:orders", "otel:service:notifier")}
    (cause,) = result.root_causes
    assert cause.component == "otel:service:notifier"
    assert cause.evidence == ["stopped consuming: 60 messages of the window never reached it"]


def test_healthy_landscape_has_nothing_to_report(scenario) -> None:
    tm, _ = scenario()
    result = tm.failures(**WINDOW)
    assert (result.failed_entities, result.root_causes, result.silent) == (0, [], [])


def test_retrying_activity_that_fails_its_workflow(tmp_path) -> None:
    import tracemap
    from tests.analyze import workflows

    failing = workflows.write(tmp_path / "histories")
    tm = tracemap.open(tmp_path / "s.duckdb")
    assert tm.ingest([str(tmp_path / "histories")]).totals["rejected"] == 0
    result = tm.failures(since=workflows.INCIDENT_START, until=workflows.INCIDENT_END)
    first = result.root_causes[0]
    assert first.component == "temporal:activity:ChargePayment"
    assert first.explains == ["temporal:workflow:OrderWorkflow"]
    assert any("retried attempts" in e for e in first.evidence)
    assert result.failed_executions == len(failing) == 6
    assert {(p["from"], p["to"], p["via"]) for p in result.propagation} == {
        ("temporal:activity:ChargePayment", "temporal:workflow:OrderWorkflow", "contains")}
