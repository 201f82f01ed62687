"""Cadence JSON histories: nanosecond timestamps, decision failures, parent/child, bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "cadence_json"
TIMEOUT = HERE / "cadence_history_activity_cancel_decision_failed_timeout.json"
PARENT = HERE / "cadence_history_parent_child_signal.json"
LOCAL_ACTIVITIES = HERE / "cadence_local_activities.json"
CRON_TIMEOUT = HERE / "cadence_cron_timeout_continued_as_new.json"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


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


def test_local_activity_markers_of_a_successful_run_are_ok() -> None:
    rows = normalized_rows(LOCAL_ACTIVITIES)
    (run,) = rows["runs"]
    assert run["status"] == "ok"
    markers = [s for s in rows["steps"] if s["step_type"] == "marker"]
    assert len(markers) == 13
    # The marker details are the Go client's localActivityMarkerData, not a failure.
    assert {(m["component"], m["status"], m.get("error")) for m in markers} == {
        ("cadence:marker:LocalActivity", "ok", None)}
    assert _step(rows, "event 5")["detail"]["local_activity_type"] == (
        "go.uber.org/cadence/test.testActivityByteArgs")


def test_only_a_local_activity_marker_with_an_err_reason_fails(tmp_path: Path) -> None:
    events = json.loads(LOCAL_ACTIVITIES.read_text())
    failed = {"activityId": "3", "activityType": "main.chargeCard", "errReason":
              "cadenceInternal:Generic", "errJson": '"card declined"\n', "attempt": 2}
    events[7]["markerRecordedEventAttributes"]["details"] = _b64(json.dumps(failed))  # event 8
    # Other markers record values: a version (change id, version), a side effect's result.
    events[8]["markerRecordedEventAttributes"] = {  # event 9
        "markerName": "Version", "details": _b64('"new-billing"\n2\n')}
    events[9]["markerRecordedEventAttributes"] = {  # event 10
        "markerName": "SideEffect", "details": _b64('1\n"reason: not an error"\n')}
    # The Java client: the marker data in the LocalActivityHeader header, error details in
    # details; a marker without errReason there is a result.
    java_failed = {"activityId": "la-1", "activityType": "ActivityType(name=Activity::run)",
                   "errReason": "java.lang.IllegalStateException", "replayTimeMillis": 1234,
                   "attempt": 2, "isCancelled": False}
    events[10]["markerRecordedEventAttributes"] = {  # event 11
        "markerName": "LocalActivity", "details": _b64('{"message":"bad state"}'),
        "header": {"fields": {"LocalActivityHeader": _b64(json.dumps(java_failed))}}}
    java_ok = {k: v for k, v in java_failed.items() if k != "errReason"}
    events[11]["markerRecordedEventAttributes"] = {  # event 12
        "markerName": "LocalActivity", "details": _b64('"result"'),
        "header": {"fields": {"LocalActivityHeader": _b64(json.dumps(java_ok))}}}
    path = tmp_path / "la_failed.json"
    path.write_text(json.dumps(events))
    rows = normalized_rows(path)
    marker = _step(rows, "event 8")
    assert (marker["status"], marker["error"], marker["detail"]["failure_type"]) == (
        "failed", 'cadenceInternal:Generic: "card declined"', "cadenceInternal:Generic")
    assert marker["detail"]["local_activity_type"] == "main.chargeCard"
    java = _step(rows, "event 11")
    assert (java["status"], java["error"]) == (
        "failed", 'java.lang.IllegalStateException: {"message":"bad state"}')
    for location in ("event 9", "event 10", "event 12"):
        step = _step(rows, location)
        assert (step["status"], step.get("error")) == ("ok", None), step
    assert sum(s["status"] == "failed" for s in rows["steps"]) == 2


def test_a_cron_run_that_timed_out_and_continued_as_new_keeps_its_timeout() -> None:
    # What the Cadence server writes when a cron run times out: ContinuedAsNew with
    # initiator CronSchedule and failureReason "cadenceInternal:Timeout START_TO_CLOSE".
    rows = normalized_rows(CRON_TIMEOUT)
    (run,) = rows["runs"]
    assert (run["status"], run["error"]) == ("timed_out", "cadenceInternal:Timeout START_TO_CLOSE")
    assert (run["detail"]["timeout_type"], run["detail"]["new_execution_initiator"]) == (
        "TIMEOUT_TYPE_START_TO_CLOSE", "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE")
    this = run["uid"]
    nxt = this.rsplit("/", 1)[0] + "/06c2468c-2d2d-44f7-ac7a-ff3c383f6e90"
    assert {"src_uid": this, "dst_uid": nxt, "kind": "precedes", "evidence": "newExecutionRunId",
            "location": "event 5"} in rows["links"]


def _continued_as_new(tmp_path: Path, **attrs: Any) -> dict[str, Any]:
    events = json.loads(CRON_TIMEOUT.read_text())
    close = events[-1]["workflowExecutionContinuedAsNewEventAttributes"]
    for name in ("failureReason", "failureDetails"):
        close.pop(name, None)
    close.update(attrs)
    path = tmp_path / "can.json"
    path.write_text(json.dumps(events))
    return normalized_rows(path)


def test_continued_as_new_by_retry_policy_is_a_failed_run_and_its_retry(tmp_path: Path) -> None:
    rows = _continued_as_new(tmp_path, initiator="RetryPolicy",
                             failureReason="cadenceInternal:Generic",
                             failureDetails=_b64('"payment service down"'))
    (run,) = rows["runs"]
    assert (run["status"], run["error"], run["detail"]["failure_type"]) == (
        "failed", "cadenceInternal:Generic: payment service down", "cadenceInternal:Generic")
    nxt = run["uid"].rsplit("/", 1)[0] + "/06c2468c-2d2d-44f7-ac7a-ff3c383f6e90"
    # the next run is a retry of this one, as its own started event (initiator RetryPolicy) says
    assert [(x["kind"], x["dst_uid"]) for x in rows["links"] if x["src_uid"] == nxt] == [
        ("retry_of", run["uid"])]


def test_continued_as_new_without_a_failure_stays_ok(tmp_path: Path) -> None:
    rows = _continued_as_new(tmp_path, initiator="Decider")
    (run,) = rows["runs"]
    assert (run["status"], run.get("error")) == ("ok", None)
    nxt = run["uid"].rsplit("/", 1)[0] + "/06c2468c-2d2d-44f7-ac7a-ff3c383f6e90"
    assert (run["uid"], "precedes", nxt) in {
        (x["src_uid"], x["kind"], x["dst_uid"]) for x in rows["links"]}


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
