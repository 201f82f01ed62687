"""The workflow -> topic hop when the worker's spans were not exported: the record's
traceparent names a span not in the store; the Temporal activity carrying that trace (its
``_tracer-data`` header, as @temporalio/interceptors-opentelemetry writes it) and running when
the record was produced sent it (tests/fixtures/scenarios/PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SCENARIOS
from tests.correlation.landscape import component_edges, correlate, rows, score

FOLDER = SCENARIOS / "unexported_producer"
TRACE = "51d4a6a214d533a51344e770208c6112"
RUN = "6305f34a-ee33-4c95-8b8d-db6a1ac88ebd/24c39852-41f1-45b4-af74-eb75e1a2719c"
FAKE_PROGRESS = f"temporal:step:{RUN}/5"


def test_activity_emits_the_record_with_trace_interval_and_channel_evidence(
        tmp_path: Path) -> None:
    tm = correlate(tmp_path, FOLDER)
    # The history alone gives the workflow's structure; the record and its consumer add
    # exactly the activity -> topic -> consumer hops.
    structure = component_edges(correlate(tmp_path / "alone", FOLDER / "history.json"))
    expected = {*structure,
                ("temporal:activity:fakeProgress", "kafka:topic:progress", "emits"),
                ("kafka:topic:progress", "otel:service:tracker", "triggers")}
    assert score(tm, expected, "unexported_producer") == (1.0, 1.0)
    emits = rows(tm, "SELECT src, dst, rule, confidence, evidence FROM edges "
                     "WHERE kind = 'emits' ORDER BY dst")
    assert [(e["src"], e["dst"], e["rule"]) for e in emits] == [
        (FAKE_PROGRESS, "kafka:msg:progress/0/0", "trace_context"),
        (FAKE_PROGRESS, "kafka:msg:progress/0/1", "trace_context")]
    first = json.loads(emits[0]["evidence"])
    assert first["key"] == {"kind": "trace_id", "value": TRACE}
    assert first["context"]["span_id"] == "9c1d2e3f4a5b6c7d"
    assert first["context"]["interval"] == ["2026-06-26T14:44:21.819332Z",
                                            "2026-06-26T14:44:22.834337Z"]
    assert first["context"]["channel"] == "kafka:topic:progress"
    # queryOwnWf ran at the same moment under the same trace: the name decided
    assert first["context"]["channel_named_by"] == "name or input"
    assert emits[0]["confidence"] == 0.9
    assert rows(tm, "SELECT count(*) AS n FROM executions")[0]["n"] == 1


def test_explain_shows_the_trace_context(tmp_path: Path) -> None:
    tm = correlate(tmp_path, FOLDER)
    result = tm.explain(FAKE_PROGRESS, "kafka:msg:progress/0/0")
    basis = [p["basis"] for p in result.evidence if p["rule"] == "trace_context"]
    assert basis == [f"key trace_id={TRACE}; sender running 2026-06-26T14:44:21.819332Z .. "
                     "2026-06-26T14:44:22.834337Z, message at 2026-06-26T14:44:21.830000Z; "
                     "channel kafka:topic:progress named by its name or input"]


def test_impact_of_the_activity_reaches_behind_the_topic(tmp_path: Path) -> None:
    tm = correlate(tmp_path, FOLDER)
    reached = {i.component: i.path for i in tm.impact("fakeProgress").impacted}
    assert reached["otel:service:tracker"] == [
        "temporal:activity:fakeProgress", "kafka:topic:progress", "otel:service:tracker"]
