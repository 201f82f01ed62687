"""Impact sets on the scenario landscape, derived from its wiring."""

from __future__ import annotations

API, TAX, TOPIC = "otel:service:api", "otel:service:tax", "kafka:topic:orders"
CONSUMERS = {"otel:service:billing", "otel:service:notifier", "otel:service:audit"}


def _set(result) -> set[str]:
    return {i.component for i in result.impacted}


def test_downstream_of_topic_is_its_consumers(scenario) -> None:
    tm, _ = scenario()
    result = tm.impact(TOPIC)
    assert _set(result) == CONSUMERS
    assert {(i.hops, i.risk) for i in result.impacted} == {(1, "high")}


def test_a_callee_change_reaches_its_caller_and_everything_after(scenario) -> None:
    tm, _ = scenario(tax_outage=True)
    result = tm.impact(TAX)
    assert _set(result) == {API, TOPIC} | CONSUMERS
    by = {i.component: i for i in result.impacted}
    assert by[API].risk == "high" and by[API].failure_coupling == 1.0
    assert by["otel:service:billing"].path == [TAX, API, TOPIC, "otel:service:billing"]
    assert by["otel:service:billing"].risk == "medium"


def test_upstream_walks_dependencies_backwards(scenario) -> None:
    tm, _ = scenario()
    assert _set(tm.impact("otel:service:billing", upstream=True)) == {TOPIC, API, TAX}


def test_depth_limits_hops(scenario) -> None:
    tm, _ = scenario()
    assert _set(tm.impact(API, depth=1)) == {TOPIC}
