"""Cadence JSON histories: nanosecond timestamps, decision failures, parent/child, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "cadence_json"
TIMEOUT = HERE / "cadence_history_activity_cancel_decision_failed_timeout.json"
PARENT = HERE / "cadence_history_parent_child_signal.json"


def _step(rows: dict[str, Any], location: str) -> dict[str, Any]:
    (step,) = [s for s in rows["steps"] if s["location"] == location]
    return step


def test_nanosecond_timestamps_keep_their_exact_microseconds() -> None:
    rows = normalized_rows(PARENT)
    child = _step(rows, "event 5")  # StartChildWorkflowExecutionInitiated
    ns = 1561506524134580000
    # Through a float this time lands one microsecond early; read as an int it does not.
    assert int(float(ns)) // 1000 == 1561506524134579
    assert child["started_at"] == "2019-06-25T23:48:44.134580+00:00"
    assert child["detail"]["started_ns"] == str(ns)
    (run,) = normalized_rows(TIMEOUT)["runs"]
    assert run["ended_at"] == "2019-07-23T01:10:27.061245+00:00"
    assert run["detail"]["ended_ns"] == "1563844227061245000"


def test_decision_failure_then_timeout() -> None:
    rows = normalized_rows(TIMEOUT)
    (run,) = rows["runs"]
    assert run["component"] == (
        "cadence:workflow:go.uber.org/cadence/test.(*Workflows).ActivityCancelRepro-fm")
    assert run["status"] == "timed_out"
    assert run["error"].startswith(
        "workflow timed out (TIMEOUT_TYPE_START_TO_CLOSE); last decision task failure: "
        "WORKFLOW_WORKER_UNHANDLED_FAILURE: invalid state transition: attempt to cancel")
    assert run["detail"]["decision_task_failures"] == 1
    # the one activity that ran completed (attempt 0 in Cadence is the first); the two on a
    # task list nobody polled never started, and the run is over: their outcome is unknown
    done = _step(rows, "event 6")
    assert (done["component"], done["status"], done["attempt"]) == (
        "cadence:activity:Prefix_ToUpperWithDelay", "ok", 1)
    for location in ("event 7", "event 8"):
        stuck = _step(rows, location)
        assert (stuck["status"], stuck.get("attempt"), stuck["detail"]["task_queue"]) == (
            "unknown", None, "bad_tl")
    assert _step(rows, "event 5")["status"] == "unknown"  # the timer never fired


def test_parent_child_and_signal() -> None:
    rows = normalized_rows(PARENT, workflow_id="parent")
    (run,) = rows["runs"]
    assert run["uid"] == "cadence:run:parent/0ea65eda-a0db-4a59-bef3-dce48e8484f8"
    child_wf = "child_workflow:0ea65eda-a0db-4a59-bef3-dce48e8484f8"
    assert {(x["kind"], x["dst_uid"]) for x in rows["links"]} == {
        ("child", f"cadence:run:{child_wf}/105dcb3a-c813-43ea-9d8e-da8731a9110c"),
        ("child", f"cadence:run:{child_wf}/1c4e88cc-37fa-4cd1-82b5-997c4c746678")}
    signal = _step(rows, "event 10")
    assert (signal["component"], signal["status"]) == ("cadence:signal:test-signal", "ok")
    assert {"entity_uid": signal["uid"], "kind": "workflow_id", "value": child_wf} in rows["keys"]
    assert _step(rows, "event 5")["detail"]["namespace"] == "samples-domain"


def test_a_bad_event_is_rejected_and_the_rest_loaded(tmp_path: Path) -> None:
    events = json.loads(TIMEOUT.read_text())
    events[9]["timestamp"] = "yesterday"  # ActivityTaskCompleted
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(events))
    rows = normalized_rows(path)
    assert (rows["source"]["records"], rows["source"]["loaded"],
            rows["source"]["rejected"]) == (14, 13, 1)
    ((location, reason),) = [(r["location"], r["reason"]) for r in rows["rejects"]]
    assert location == "event 10"
    assert reason.startswith("event time: expected RFC 3339 text or epoch nanoseconds")
    assert _step(rows, "event 6")["status"] == "unknown"


def test_an_infinite_timestamp_is_that_events_reject(tmp_path: Path) -> None:
    text = PARENT.read_text().replace('"timestamp": 1561506494525296000', '"timestamp": 1e999', 1)
    path = tmp_path / "inf.json"
    path.write_text(text)
    rows = normalized_rows(path)
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (19, 18)
    assert rows["rejects"] == [{"location": "event 1", "reason": "event time: expected RFC 3339 "
                                "text or epoch nanoseconds: field 'timestamp': expected int64 "
                                "nanoseconds, got inf"}]


def test_attempts_past_int32_are_unknown() -> None:
    from ingest.cadence_json import CADENCE
    from ingest.temporal_json import TEMPORAL

    assert [CADENCE.attempt(v) for v in (None, 0, "2", 2**40)] == [1, 1, 3, None]
    assert [TEMPORAL.attempt(v) for v in (None, 1, "3", 2**40)] == [1, 1, 3, None]
