"""Hidden dependencies against AsyncAPI and manifest declarations of the scenario."""

from __future__ import annotations

from pathlib import Path

import yaml

ASYNCAPI_API = {"asyncapi": "2.6.0", "info": {"title": "api", "version": "1"},
                "servers": {"prod": {"url": "kafka:9092", "protocol": "kafka"}},
                "channels": {"orders": {"subscribe": {"message": {"name": "OrderPlaced"}}}}}
ASYNCAPI_BILLING = {"asyncapi": "3.0.0", "info": {"title": "billing", "version": "1"},
                    "channels": {"ordersChannel": {"address": "orders"}},
                    "operations": {"onOrder": {"action": "receive",
                                               "channel": {"$ref": "#/channels/ordersChannel"}}}}
MANIFEST = [{"producer": "api", "channel": "orders", "consumers": ["notifier"]},
            "api -> tax", "notifier -> tax"]


def _declare(tmp_path: Path) -> list[str]:
    paths = []
    for name, doc in (("api.yaml", ASYNCAPI_API), ("billing.yaml", ASYNCAPI_BILLING),
                      ("manifest.yaml", MANIFEST)):
        (tmp_path / name).write_text(yaml.safe_dump(doc))
        paths.append(str(tmp_path / name))
    return paths


def test_only_the_undeclared_consumer_is_hidden(scenario, tmp_path: Path) -> None:
    tm, _ = scenario()
    result = tm.hidden(_declare(tmp_path))
    assert [(h.source, h.target, h.kind) for h in result.hidden] == [
        ("kafka:topic:orders", "otel:service:audit", "triggers")]
    assert result.hidden[0].count == 240
    assert "neither side appears in any declaration" not in result.hidden[0].why
    assert [(d["source"], d["target"]) for d in result.declared_unobserved] == [
        ("otel:service:notifier", "otel:service:tax")]
    assert result.fan_out[0]["consumers"] == [
        "otel:service:audit", "otel:service:billing", "otel:service:notifier"]


def test_without_declarations_every_dependency_is_hidden(scenario) -> None:
    tm, _ = scenario()
    result = tm.hidden()
    assert {(h.source, h.target) for h in result.hidden} == {
        ("otel:service:api", "kafka:topic:orders"), ("otel:service:api", "otel:service:tax"),
        ("kafka:topic:orders", "otel:service:audit"),
        ("kafka:topic:orders", "otel:service:billing"),
        ("kafka:topic:orders", "otel:service:notifier")}


def test_a_producer_run_that_succeeds_while_its_consumer_fails(scenario) -> None:
    tm, _ = scenario(api_deploy=True)
    # The api's server span run succeeds while billing fails downstream: that is a false
    # completion of the api run (it reported success, something it triggered failed).
    found = tm.hidden().false_completions
    assert {f["component"] for f in found} == {"otel:service:api"}
    assert all({d["component"] for d in f["downstream_failures"]} == {"otel:service:billing"}
               for f in found)
