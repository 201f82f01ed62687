"""Temporal JSON histories: child and signal links, retries, trace keys, workflow ids, bad input."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ingest import temporal_json
from tests.conftest import FIXTURES
from tests.golden import normalized_rows
from tracemap.load import ingest_paths
from tracemap.store import Store

HERE = FIXTURES / "temporal_json"
GO_PARENT = HERE / "sdkgo_parent_child_signal.json"
JAVA_RETRY = HERE / "sdkjava_activity_retry_failed.json"
JAVA_CHILD = HERE / "sdkjava_child_failure_propagation.json"
TS_CANCEL = HERE / "sdkts_cancel_activity_history.json"
TS_OTEL = HERE / "sdkts_otel_smorgasbord_traceparent.json"
DOTNET_UPDATE = HERE / "sdkdotnet_update_after_complete_local_activity.json"
UI_RETRY = HERE / "ui_raw_events_descending_retry_failed.json"

OTEL_RUN = ("temporal:run:6305f34a-ee33-4c95-8b8d-db6a1ac88ebd/"
            "24c39852-41f1-45b4-af74-eb75e1a2719c")


def _events(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["events"]


def _write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"events": events}, indent=2))
    return path


def _links(rows: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(x["src_uid"], x["kind"], x["dst_uid"]) for x in rows.get("links", [])}


def _keys(rows: dict[str, Any], uid: str) -> set[tuple[str, str]]:
    return {(k["kind"], k["value"]) for k in rows.get("keys", []) if k["entity_uid"] == uid}


def _step(rows: dict[str, Any], component: str) -> dict[str, Any]:
    (step,) = [s for s in rows["steps"] if s["component"] == component]
    return step


def _rows_without_source(rows: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rows.items() if k != "source"}


def _child_history(child_wf: str, child_run: str, parent_wf: str, parent_run: str) -> list[Any]:
    """The child's own history as the server writes it: its started event names the parent."""
    return [
        {"eventId": "1", "eventTime": "2020-07-30T00:30:03Z",
         "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
         "workflowExecutionStartedEventAttributes": {
             "workflowType": {"name": "Child"}, "taskQueue": {"name": "q"},
             "parentWorkflowNamespace": "default",
             "parentWorkflowExecution": {"workflowId": parent_wf, "runId": parent_run},
             "parentInitiatedEventId": "5", "originalExecutionRunId": child_run,
             "firstExecutionRunId": child_run, "attempt": 1, "workflowId": child_wf}},
        {"eventId": "2", "eventTime": "2020-07-30T00:30:04Z",
         "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
         "workflowExecutionCompletedEventAttributes": {}},
    ]


@pytest.mark.parametrize("parent", [GO_PARENT, JAVA_CHILD], ids=lambda p: p.stem)
def test_child_link_is_the_same_from_the_parent_and_the_child(parent: Path,
                                                              tmp_path: Path) -> None:
    parent_rows = normalized_rows(parent, workflow_id="parent-wf")
    (run,) = parent_rows["runs"]
    parent_run = run["uid"].rsplit("/", 1)[1]
    assert run["uid"] == f"temporal:run:parent-wf/{parent_run}"
    assert run["detail"]["workflow_id_from"] == "option"
    child_links = {x for x in _links(parent_rows) if x[1] == "child"}
    run_links = {dst for src, _, dst in child_links if src == run["uid"]}
    # The child-workflow step links to the same child runs: it is that child, seen from the
    # parent (`trace` folds the two into one entity).
    steps = {s["uid"] for s in parent_rows["steps"] if s["step_type"] == "child_workflow"}
    assert run_links and {(src, dst) for src, _, dst in child_links if src != run["uid"]} == {
        (step, dst) for step in steps for dst in run_links}
    for child_uid in run_links:
        child_wf, child_run = child_uid.removeprefix("temporal:run:").rsplit("/", 1)
        child_file = _write(tmp_path / f"{child_run}.json",
                            _child_history(child_wf, child_run, "parent-wf", parent_run))
        child_rows = normalized_rows(child_file)
        (child,) = child_rows["runs"]
        assert child["uid"] == child_uid and child["parent_uid"] == run["uid"]
        assert _links(child_rows) == {(run["uid"], "child", child_uid)}
        assert ("workflow_id", "parent-wf") in _keys(child_rows, child_uid)


def test_child_workflow_step_links_to_the_run_its_started_event_names() -> None:
    rows = normalized_rows(GO_PARENT, workflow_id="parent-wf")
    (run,) = rows["runs"]
    step = _step(rows, "temporal:workflow:testReplayWorkflowFromFile")
    child = ("temporal:run:child_workflow:0ea65eda-a0db-4a59-bef3-dce48e8484f8/"
             "105dcb3a-c813-43ea-9d8e-da8731a9110c")
    assert step["uid"] == f"{run['uid'].replace(':run:', ':step:')}/5"
    assert (step["uid"], "child", child) in _links(rows)
    (link,) = [x for x in rows["links"] if x["src_uid"] == step["uid"] and x["dst_uid"] == child]
    assert link["evidence"] == "childWorkflowExecutionStarted.workflowExecution"


def test_child_that_never_started_links_nothing(tmp_path: Path) -> None:
    """A parent exported while its child start is only initiated: no run id, so no link."""
    events = json.loads(GO_PARENT.read_text())["events"][:5]
    rows = normalized_rows(_write(tmp_path / "running.json", events), workflow_id="parent-wf")
    step = _step(rows, "temporal:workflow:testReplayWorkflowFromFile")
    assert step["status"] == "running"
    assert not [x for x in _links(rows) if x[1] == "child"]


def test_child_that_retried_is_linked_to_each_of_its_runs() -> None:
    rows = normalized_rows(JAVA_CHILD)
    step = _step(rows, "temporal:workflow:ITestChild")
    assert step["status"] == "failed"
    assert step["detail"]["child_run_ids"] == ["978856c7-c962-431f-ad20-4f0f281c457d",
                                              "7fd59b3e-6eae-4a4d-944b-49cde9f2187e"]
    assert {dst for _, kind, dst in _links(rows) if kind == "child"} == {
        "temporal:run:ea4b69ed-f9cf-379f-8e16-b101c4aa288c/978856c7-c962-431f-ad20-4f0f281c457d",
        "temporal:run:ea4b69ed-f9cf-379f-8e16-b101c4aa288c/7fd59b3e-6eae-4a4d-944b-49cde9f2187e"}
    # the child's failure is the parent's, through the failure cause chain
    (run,) = rows["runs"]
    assert run["status"] == "failed"
    assert run["error"] == ("child workflow ITestChild failed: "
                            "java.lang.UnsupportedOperationException: simulated failure")
    assert rows["declared"] == [{"src": "temporal:workflow:TestWorkflow1",
                                 "dst": "temporal:workflow:ITestChild", "kind": "child",
                                 "evidence": "startChildWorkflowExecutionInitiated.workflowType"}]


def test_signal_to_own_child_links_to_its_run() -> None:
    rows = normalized_rows(TS_OTEL)
    child = ("temporal:run:b7afb977-1dec-4709-91ed-99bb77bbce10/"
             "019f0463-90bc-72b7-b966-02c2598981fa")
    assert (OTEL_RUN, "signals", child) in _links(rows)
    assert (OTEL_RUN, "child", child) in _links(rows)
    signal = _step(rows, "temporal:signal:unblock")
    assert (signal["step_type"], signal["status"]) == ("signal_sent", "ok")
    assert ("workflow_id", "b7afb977-1dec-4709-91ed-99bb77bbce10") in _keys(rows, signal["uid"])


def test_signal_whose_target_run_is_not_knowable_gives_a_key_and_no_link() -> None:
    # The Go child continued-as-new (two run ids in the parent's history): the signal, sent by
    # workflow id only, cannot be pinned to one run.
    rows = normalized_rows(GO_PARENT)
    signal = _step(rows, "temporal:signal:test-signal")
    assert ("workflow_id", "child_workflow:0ea65eda-a0db-4a59-bef3-dce48e8484f8") in _keys(
        rows, signal["uid"])
    assert not [x for x in _links(rows) if x[1] == "signals"]
    assert "target_run_id" not in signal["detail"]


def test_retried_activity_has_its_attempts_and_final_failure() -> None:
    rows = normalized_rows(JAVA_RETRY)
    step = _step(rows, "temporal:activity:HeartbeatAndThrowIO")
    assert (step["status"], step["attempt"]) == ("failed", 2)
    assert step["error"] == "java.io.IOException: simulated IO problem"
    assert step["detail"]["last_failure"] == "java.io.IOException: simulated IO problem"
    assert step["detail"]["retry_state"] == "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"
    assert step["detail"]["max_attempts"] == 3
    (run,) = rows["runs"]
    assert run["status"] == "failed"
    assert run["error"] == ("activity HeartbeatAndThrowIO failed: "
                            "java.io.IOException: simulated IO problem")


def test_traceparent_in_tracer_data_header_gives_trace_keys() -> None:
    rows = normalized_rows(TS_OTEL)
    # header.fields._tracer-data of the started event: base64 {"traceparent": "00-51d4...-01"}
    assert {("trace_id", "51d4a6a214d533a51344e770208c6112"),
            ("span_id", "0382d2ff192544ae")} <= _keys(rows, OTEL_RUN)
    activity = _step(rows, "temporal:activity:fakeProgress")
    assert {("trace_id", "51d4a6a214d533a51344e770208c6112"),
            ("span_id", "787d6116924ddf14")} <= _keys(rows, activity["uid"])


def test_workflow_id_comes_from_the_started_event_then_the_file_name(tmp_path: Path) -> None:
    assert normalized_rows(TS_OTEL)["runs"][0]["detail"]["workflow_id_from"] == "started_event"
    run_id = "abdb8767-2b5c-4b1d-bda5-c40581f9eeb5"
    named = tmp_path / f"order-42__{run_id}.json"
    named.write_bytes(JAVA_RETRY.read_bytes())
    (run,) = normalized_rows(named)["runs"]
    assert run["uid"] == f"temporal:run:order-42/{run_id}"
    assert (run["name"], run["detail"]["workflow_id_from"]) == ("order-42", "file_name")
    # <workflowId>_<runId> only counts when the history confirms the run id
    confirmed = tmp_path / f"order_43_{run_id}_event_history.json.gz"
    confirmed.write_bytes(gzip.compress(JAVA_RETRY.read_bytes()))
    assert normalized_rows(confirmed)["runs"][0]["uid"] == f"temporal:run:order_43/{run_id}"
    # the name the Temporal docs use: `temporal workflow show ... > <workflowId>_event_history.json`
    documented = tmp_path / "backgroundcheck_workflow_event_history.json"
    documented.write_bytes(JAVA_RETRY.read_bytes())
    assert normalized_rows(documented)["runs"][0]["uid"] == (
        f"temporal:run:backgroundcheck_workflow/{run_id}")
    unconfirmed = tmp_path / "order_44_00000000-1111-2222-3333-444444444444.json"
    unconfirmed.write_bytes(JAVA_RETRY.read_bytes())
    (run,) = normalized_rows(unconfirmed)["runs"]
    assert run["detail"]["workflow_id_from"] == "generated"
    assert re.fullmatch(rf"temporal:run:unknown-[0-9a-f]{{12}}/{run_id}", run["uid"])
    # the generated id is stable: it depends on the content, not on the file name
    assert run["uid"] == normalized_rows(JAVA_RETRY)["runs"][0]["uid"]


def _source_detail(path: Path) -> dict[str, Any]:
    """The source row's notes after ingesting ``path`` (where the ids came from)."""
    store = Store(":memory:")
    try:
        ingest_paths(store, [str(path)])
        (detail,) = store.sql("SELECT detail FROM sources").fetchone()
        return json.loads(detail)
    finally:
        store.close()


def test_ids_the_history_states_win_over_the_file_name(tmp_path: Path) -> None:
    # Named <something>__<something>, but the started event states both ids.
    named = tmp_path / "temporalio-sdk-dotnet__update-after-complete.post-core-flag.json"
    named.write_bytes(DOTNET_UPDATE.read_bytes())
    (run,) = normalized_rows(named)["runs"]
    assert run["uid"] == ("temporal:run:workflow-5a320621-de67-46bd-9a4b-d642d54d72ca/"
                          "5089cc53-3890-4c77-9d97-d022167615e6")
    assert (run["detail"]["workflow_id_from"], run["detail"]["run_id_from"]) == (
        "started_event", "started_event")
    assert _source_detail(named) == {"workflow_id_from": "started_event",
                                     "run_id_from": "started_event"}
    # <workflowId>__<runId> with a UUID names the run the file holds: after a reset the
    # started event's originalExecutionRunId still names the run before it, so the file name
    # wins, and the original run id stays a key that joins the two.
    other = "00000000-1111-2222-3333-444444444444"
    renamed = tmp_path / f"order-45__{other}.json"
    renamed.write_bytes(JAVA_RETRY.read_bytes())
    rows = normalized_rows(renamed)
    (run,) = rows["runs"]
    assert run["uid"] == f"temporal:run:order-45/{other}"
    assert _source_detail(renamed) == {"workflow_id_from": "file_name",
                                       "run_id_from": "file_name"}
    assert {"kind": "run_id", "value": "abdb8767-2b5c-4b1d-bda5-c40581f9eeb5"} in [
        {"kind": k["kind"], "value": k["value"]} for k in rows["keys"]
        if k["entity_uid"] == run["uid"]]


def test_a_file_name_tail_that_is_no_run_id_gives_no_ids(tmp_path: Path) -> None:
    events = _events(JAVA_RETRY)
    del events[0]["workflowExecutionStartedEventAttributes"]["originalExecutionRunId"]
    # The history states no run id: only a UUID after "__" would be one.
    stated = _write(tmp_path / "order-46__6ba7b810-9dad-11d1-80b4-00c04fd430c8.json", events)
    (run,) = normalized_rows(stated)["runs"]
    assert run["uid"] == "temporal:run:order-46/6ba7b810-9dad-11d1-80b4-00c04fd430c8"
    assert _source_detail(stated) == {"workflow_id_from": "file_name",
                                      "run_id_from": "file_name"}
    # "__" before something that is no run id: not <workflowId>__<runId>, so neither id.
    unstated = _write(tmp_path / "samples__activity-retry.json", events)
    (run,) = normalized_rows(unstated)["runs"]
    assert re.fullmatch(r"temporal:run:(unknown-[0-9a-f]{12})/\1", run["uid"]), run["uid"]
    assert (run["detail"]["workflow_id_from"], run["detail"]["run_id_from"]) == (
        "generated", "generated")
    assert _source_detail(unstated) == {"workflow_id_from": "generated",
                                        "run_id_from": "generated"}
    # the --workflow-id / --run-id options still fill what neither states
    (run,) = normalized_rows(unstated, workflow_id="wf-9", run_id="run-9")["runs"]
    assert run["uid"] == "temporal:run:wf-9/run-9"


def test_a_local_activity_marker_fails_only_through_its_failure_field(tmp_path: Path) -> None:
    rows = normalized_rows(DOTNET_UPDATE)
    marker = _step(rows, "temporal:marker:core_local_activity")
    # details.data names the activity; details.result is its result, not an error
    assert (marker["status"], marker.get("error"), marker["detail"]["local_activity_type"]) == (
        "ok", None, "SomeActivity")
    events = _events(DOTNET_UPDATE)
    (event,) = [e for e in events if "markerRecordedEventAttributes" in e]
    event["markerRecordedEventAttributes"]["failure"] = {
        "message": "card declined", "applicationFailureInfo": {"type": "PaymentError"}}
    marker = _step(normalized_rows(_write(tmp_path / "la.json", events)),
                   "temporal:marker:core_local_activity")
    assert (marker["status"], marker["error"], marker["detail"]["failure_type"]) == (
        "failed", "PaymentError: card declined", "PaymentError")


@pytest.mark.parametrize(("name", "activity", "status", "error"), [
    ("sdkjava_local_activity_completed.json", "Activity2", "ok", None),
    ("sdkjava_local_activity_retries_and_fails.json", "ThrowIO", "failed",
     "Local Activity task failed: java.io.IOException: simulated IO problem: "
     "java.lang.Throwable: test throwable wrapping"),
])
def test_a_java_local_activity_marker_names_its_activity(name: str, activity: str, status: str,
                                                        error: str | None) -> None:
    """The Java SDK keeps the activity type in the marker's ``details.type`` payload (and its
    id in ``details.activityId``), not in one ``data`` object as the core SDKs do."""
    marker = _step(normalized_rows(HERE / name), "temporal:marker:LocalActivity")
    assert (marker["detail"]["local_activity_type"], marker["status"], marker.get("error")) == (
        activity, status, error)
    assert len(marker["detail"]["local_activity_id"]) == 36  # a UUID, as the SDK makes them


def test_workflow_id_from_a_wrapper_document(tmp_path: Path) -> None:
    doc = {"execution": {"workflowId": "wrapped-wf", "runId": "wrapped-run"},
           "history": {"events": _events(TS_CANCEL)}}
    path = tmp_path / "response.json"
    path.write_text(json.dumps(doc))
    (run,) = normalized_rows(path)["runs"]
    assert run["uid"] == "temporal:run:wrapped-wf/wrapped-run"
    assert run["detail"]["workflow_id_from"] == "wrapper"


def test_unknown_event_type_is_skipped_and_the_rest_unchanged(tmp_path: Path) -> None:
    events = _events(TS_OTEL)
    events.insert(20, {"eventId": "99", "eventTime": "2026-06-26T14:44:21.9Z",
                       "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_TELEPORTED",
                       "workflowExecutionTeleportedEventAttributes": {"where": "mars"}})
    rows = normalized_rows(_write(tmp_path / TS_OTEL.name, events))
    assert (rows["source"]["records"], rows["source"]["loaded"],
            rows["source"]["skipped"]) == (39, 38, 1)
    assert _rows_without_source(rows) == _rows_without_source(normalized_rows(TS_OTEL))


def test_history_cut_mid_event_keeps_the_events_before_and_names_the_byte(
        tmp_path: Path) -> None:
    data = TS_OTEL.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(data[: len(data) // 2])  # inside the 15th event
    rows = normalized_rows(cut, fmt="temporal_json")
    source = rows["source"]
    assert (source["records"], source["loaded"], source["rejected"]) == (15, 14, 1)
    ((location, reason),) = [(r["location"], r["reason"]) for r in rows["rejects"]]
    assert location == f"byte {len(data) // 2}"
    assert reason.startswith("expected one JSON document holding a workflow history "
                             f"(truncated?): the document ends at byte {len(data) // 2}")
    assert "the 14 complete records before byte" in reason
    assert [r["status"] for r in rows["runs"]] == ["running"]  # its end was never read


def test_document_broken_inside_is_rejected_whole_at_its_byte(tmp_path: Path) -> None:
    data = TS_OTEL.read_bytes()
    broken = tmp_path / "broken.json"
    at = data.index(b'"eventId"', len(data) // 2)
    broken.write_bytes(data[:at] + b"}}" + data[at:])
    rows = normalized_rows(broken, fmt="temporal_json")
    assert (rows["source"]["records"], rows["source"]["rejected"]) == (1, 1)
    ((location, reason),) = [(r["location"], r["reason"]) for r in rows["rejects"]]
    assert location == f"byte {at + 1}"
    assert reason.startswith("expected one JSON document holding a workflow history "
                             "(truncated?)")
    assert "runs" not in rows


def test_bad_events_are_rejected_where_they_are(tmp_path: Path) -> None:
    events = _events(JAVA_RETRY)
    events[7]["eventId"] = "eight"  # WorkflowTaskScheduled
    events[8] = "not an event"
    events[5]["activityTaskStartedEventAttributes"]["scheduledEventId"] = "77"
    rows = normalized_rows(_write(tmp_path / "bad.json", events))
    assert (rows["source"]["records"], rows["source"]["loaded"],
            rows["source"]["rejected"]) == (11, 8, 3)
    assert [(r["location"], r["reason"]) for r in rows["rejects"]] == [
        ("event 6", "ActivityTaskStarted: a field has the wrong shape: field 'scheduledEventId': "
                    "no opening event '77' in this history"),
        ("events[7]", "field 'eventId': expected an integer, got 'eight'"),
        ("events[8]", "expected a history event object, got str"),
    ]


def test_same_history_in_both_enum_spellings_gives_the_same_rows(tmp_path: Path) -> None:
    for path in (TS_OTEL, JAVA_RETRY, GO_PARENT):
        converted = tmp_path / path.name
        _write(converted, respell(_events(path)))
        assert converted.read_text() != path.read_text()
        assert _rows_without_source(normalized_rows(converted)) == _rows_without_source(
            normalized_rows(path)), path.name


def respell(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The other spelling of every enum (``EVENT_TYPE_X`` <-> ``X`` in PascalCase), and int64
    fields as the other of number/string, as the CLI before/after 0.10 would write them."""
    def pascal(text: str, prefix: str) -> str:
        return "".join(p.capitalize() for p in text.removeprefix(prefix).split("_"))

    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if key == "eventType":
            return (pascal(node, "EVENT_TYPE_") if node.startswith("EVENT_TYPE_")
                    else "EVENT_TYPE_" + temporal_json._snake_upper(node))
        if key in temporal_json.ENUMS and isinstance(node, str):
            prefix = temporal_json.ENUMS[key][0]
            return (pascal(node, prefix) if node.startswith(prefix)
                    else prefix + temporal_json._snake_upper(node))
        if key in ("eventId", "taskId", "version", "scheduledEventId", "startedEventId",
                   "initiatedEventId") and node is not None:
            return str(node) if isinstance(node, int) else int(node)
        return node

    return walk(copy.deepcopy(events))


def test_json_lines_of_histories_and_a_gzip_file(tmp_path: Path) -> None:
    lines = tmp_path / "histories.jsonl.gz"
    with gzip.open(lines, "wt") as fh:
        for path in (TS_OTEL, JAVA_RETRY):
            fh.write(json.dumps({"events": _events(path)}) + "\n")
    rows = normalized_rows(lines)
    assert rows["source"]["format"] == "temporal_json"
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (38 + 11, 38 + 11)
    assert {r["component"] for r in rows["runs"]} == {"temporal:workflow:smorgasbord",
                                                      "temporal:workflow:TestWorkflow1"}


def test_search_attributes_and_memo_give_business_keys(tmp_path: Path) -> None:
    def payload(value: Any) -> dict[str, Any]:
        return {"metadata": {"encoding": base64.b64encode(b"json/plain").decode(),
                             "type": base64.b64encode(b"Keyword").decode()},
                "data": base64.b64encode(json.dumps(value).encode()).decode()}

    events = _events(TS_CANCEL)
    attrs = events[0]["workflowExecutionStartedEventAttributes"]
    attrs["searchAttributes"] = {"indexedFields": {
        "OrderId": payload("ord-1001"), "Env": payload("prod"),
        "TemporalChangeVersion": payload(["v-1"])}}
    attrs["memo"] = {"fields": {"customer": payload({"correlationId": "c-77", "tier": 3})}}
    rows = normalized_rows(_write(tmp_path / "sa.json", events))
    (run,) = rows["runs"]
    keys = _keys(rows, run["uid"])
    assert ("business:OrderId", "ord-1001") in keys
    assert ("correlation_id", "c-77") in keys  # the payload rules apply to memo values
    assert not {k for k in keys if k[0] in ("business:Env", "business:TemporalChangeVersion")}
    assert run["detail"]["search.OrderId"] == "ord-1001"


def _two_event_history(close_type: str, close_attrs: dict[str, Any],
                       started: dict[str, Any] | None = None) -> dict[str, Any]:
    """A started event and a close event, as temporal.api.history.v1 defines them."""
    attrs = {"workflowType": {"name": "Billing"}, "taskQueue": {"name": "q"},
             "workflowId": "bill-7", "originalExecutionRunId": "run-1", "attempt": 1,
             **(started or {})}
    key = close_type[0].lower() + close_type[1:] + "EventAttributes"
    return {"events": [
        {"eventId": 1, "eventTime": "2024-05-01T10:00:00Z", "eventType": "WorkflowExecutionStarted",
         "workflowExecutionStartedEventAttributes": attrs},
        {"eventId": 2, "eventTime": "2024-05-01T10:00:05Z", "eventType": close_type,
         key: close_attrs}]}


@pytest.mark.parametrize(("close_type", "attrs", "status", "error", "link"), [
    ("WorkflowExecutionContinuedAsNew", {"newExecutionRunId": "run-2",
                                         "initiator": "CONTINUE_AS_NEW_INITIATOR_WORKFLOW"},
     "ok", None, ("temporal:run:bill-7/run-1", "precedes", "temporal:run:bill-7/run-2")),
    ("WorkflowExecutionTerminated", {"reason": "stuck", "identity": "ops@laptop"},
     "failed", "terminated: stuck", None),
    ("WorkflowExecutionFailed", {"failure": {"message": "boom"}, "retryState": "InProgress",
                                 "newExecutionRunId": "run-2"},
     "failed", "boom", ("temporal:run:bill-7/run-2", "retry_of", "temporal:run:bill-7/run-1")),
    ("WorkflowExecutionTimedOut", {"retryState": "RETRY_STATE_TIMEOUT"},
     "timed_out", "workflow timed out", None),
    ("WorkflowExecutionCanceled", {}, "cancelled", None, None),
    # A failed run continued by its retry policy (servers before WorkflowExecutionFailed got
    # newExecutionRunId) or cron schedule: failed or timed out, the next run still linked.
    ("WorkflowExecutionContinuedAsNew", {"newExecutionRunId": "run-2", "initiator": "Retry",
                                         "failure": {"message": "boom"}},
     "failed", "boom", ("temporal:run:bill-7/run-2", "retry_of", "temporal:run:bill-7/run-1")),
    ("WorkflowExecutionContinuedAsNew", {
        "newExecutionRunId": "run-2", "initiator": "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE",
        "failure": {"timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"}}},
     "timed_out", "timeout TIMEOUT_TYPE_START_TO_CLOSE",
     ("temporal:run:bill-7/run-1", "precedes", "temporal:run:bill-7/run-2")),
    # an activity's timeout that failed the run: the run failed, it did not time out
    ("WorkflowExecutionContinuedAsNew", {
        "newExecutionRunId": "run-2", "initiator": "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE",
        "failure": {"message": "activity error", "activityFailureInfo": {}, "cause": {
            "message": "activity StartToClose timeout",
            "timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"}}}},
     "failed", "activity error: activity StartToClose timeout",
     ("temporal:run:bill-7/run-1", "precedes", "temporal:run:bill-7/run-2")),
])
def test_run_close_events(close_type: str, attrs: dict[str, Any], status: str,
                          error: str | None, link: tuple[str, str, str] | None,
                          tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps(_two_event_history(close_type, attrs)))
    rows = normalized_rows(path)
    (run,) = rows["runs"]
    assert (run["uid"], run["status"], run.get("error")) == (
        "temporal:run:bill-7/run-1", status, error)
    assert _links(rows) == ({link} if link else set())
    if close_type == "WorkflowExecutionTerminated":
        assert run["detail"]["terminated"] is True
        assert run["detail"]["terminated_by"] == "ops@laptop"


@pytest.mark.parametrize(("initiator", "kind"), [
    ("CONTINUE_AS_NEW_INITIATOR_WORKFLOW", "precedes"), ("CronSchedule", "precedes"),
    ("CONTINUE_AS_NEW_INITIATOR_RETRY", "retry_of"),
    ("RetryPolicy", "retry_of")])  # Cadence's name for a retry
def test_next_run_states_the_same_link_as_the_previous(initiator: str, kind: str,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    history = _two_event_history("WorkflowExecutionCompleted", {}, started={
        "originalExecutionRunId": "run-2", "continuedExecutionRunId": "run-1",
        "initiator": initiator})
    path.write_text(json.dumps(history))
    previous, this = "temporal:run:bill-7/run-1", "temporal:run:bill-7/run-2"
    expected = (previous, kind, this) if kind == "precedes" else (this, kind, previous)
    assert _links(normalized_rows(path)) == {expected}


def test_history_without_a_close_event_is_running(tmp_path: Path) -> None:
    events = _events(JAVA_RETRY)[:6]  # up to ActivityTaskStarted
    rows = normalized_rows(_write(tmp_path / "open.json", events))
    (run,) = rows["runs"]
    step = _step(rows, "temporal:activity:HeartbeatAndThrowIO")
    assert (run["status"], run.get("ended_at")) == ("running", None)
    assert (step["status"], step["attempt"]) == ("running", 2)
