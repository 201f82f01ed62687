"""Issue 14's held-out check: a Temporal worker deployment changes the payload its activity
publishes to Kafka (the worker's spans not exported), and a service three hops behind the
topic fails or slows; ``failures`` names the producer first, with the build id as evidence
(tests/analyze/temporal_deploy.py writes the landscape)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracemap
from tests.analyze.temporal_deploy import DEPLOY, END, NEW_BUILD, write

PRODUCER = {"temporal:activity:publishOrder", "temporal:workflow:PlaceOrder"}


@pytest.mark.parametrize("effect", ["fails", "slows"])
def test_worker_deployment_across_a_topic_is_the_first_cause(tmp_path: Path, effect: str) -> None:
    write(tmp_path / "landscape", effect)
    tm = tracemap.open(tmp_path / "s.duckdb")
    assert tm.ingest([str(tmp_path / "landscape")]).totals == {
        "records": 1800, "loaded": 1800, "rejected": 0, "skipped": 0}
    result = tm.failures(since=DEPLOY, until=END)
    assert result.failed_entities == (150 if effect == "fails" else 0)
    first = result.root_causes[0]
    assert first.component in PRODUCER
    assert f"build_id={NEW_BUILD}" in {s["subject"] for s in first.signals}
    assert "otel:service:inventory" in first.explains
    inventory = next(c for c in result.root_causes if c.component == "otel:service:inventory")
    assert inventory.explained_by in PRODUCER
    if effect == "fails":
        assert [(a.name, a.value) for a in first.attributes][0] == ("build_id", NEW_BUILD)
