"""Step Functions execution histories: attempts, statuses, child executions, exact times, keys."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest import stepfunctions_json
from ingest.base import Source
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "stepfunctions_json"
CUMULUS = HERE / "cumulus_execution_status_lambda_retries_failed.json"
CALLBACK = HERE / "localstack_callback_history.snapshot.json"
CWLOGS = HERE / "localstack_cwlogs_execution_events.snapshot.json"
PUTEVENTS = HERE / "localstack_putevents_history.snapshot.json"
CLI_V1 = HERE / "get_execution_history_cli_v1_epoch.json"
DESCRIBE = HERE / "describe_execution_with_history.json"
EXPRESS = HERE / "cloudwatch_logs_express_executions.jsonl"
CUMULUS_ARN = ("arn:aws:states:us-east-1:123456789012:execution:"
               "TestSourceIntegrationIngestGranuleStateMachine-MOyI0myKEXzf:"
               "7a71f849-57a0-40e7-8fca-5cf796602a07")


def _rows(path: Path) -> dict[str, Any]:
    return normalized_rows(path, fmt="stepfunctions_json")


def _us(iso: str) -> int:
    dt = datetime.fromisoformat(iso)
    return int((dt - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000 + (
        dt.microsecond)


def test_cumulus_lambda_retries_are_four_attempts_of_one_state_and_the_run_failed() -> None:
    rows = _rows(CUMULUS)
    (run,) = rows["runs"]
    assert run["uid"] == f"stepfunctions:run:{CUMULUS_ARN}"
    assert run["component"] == "stepfunctions:statemachine:test-stack-IngestGranule"
    assert (run["status"], run["detail"]["status"]) == ("failed", "FAILED")
    assert run["error"] == "Workflow failed"  # ExecutionFailed gives only a cause
    sync = sorted((s for s in rows["steps"] if s["name"] == "SyncGranule"),
                  key=lambda s: s["attempt"])
    assert [(s["attempt"], s["status"]) for s in sync] == [
        (1, "retried"), (2, "retried"), (3, "retried"), (4, "failed")]
    assert {s["component"] for s in sync} == {
        "stepfunctions:state:test-stack-IngestGranule.SyncGranule"}
    assert {s["error"] for s in sync} == {"CumulusMessageAdapterExecutionError"}
    assert {s["detail"]["target"] for s in sync} == {"lambda:function:test-stack-SyncGranule"}
    base = f"stepfunctions:step:{CUMULUS_ARN}/2"
    retries = {(lk["src_uid"], lk["dst_uid"]) for lk in rows["links"] if lk["kind"] == "retry_of"}
    assert retries == {(f"{base}#2", base), (f"{base}#3", f"{base}#2"), (f"{base}#4", f"{base}#3")}
    # the Catch took the last attempt to the Fail state
    assert {(lk["src_uid"], lk["dst_uid"]) for lk in rows["links"] if lk["kind"] == "precedes"} \
        == {(f"{base}#4", f"stepfunctions:step:{CUMULUS_ARN}/16")}
    (fail,) = [s for s in rows["steps"] if s["name"] == "WorkflowFailed"]
    assert (fail["status"], fail["ended_at"]) == ("failed", run["ended_at"])


def test_cumulus_state_machine_definition_is_declared_too() -> None:
    declared = {(d["src"], d["dst"], d["kind"]) for d in _rows(CUMULUS)["declared"]}
    sm = "stepfunctions:state:test-stack-IngestGranule"
    assert (f"{sm}.SyncGranule", "lambda:function:test-stack-SyncGranule", "calls") in declared
    assert (f"{sm}.SyncGranule", f"{sm}.WorkflowFailed", "precedes") in declared
    assert (f"{sm}.ChooseProcess", f"{sm}.ProcessingStep", "precedes") in declared
    assert len(declared) == 24


def test_start_execution_sync_links_the_parent_run_to_the_child_run() -> None:
    rows = _rows(CALLBACK)
    (parent,) = [r for r in rows["runs"] if r["location"].endswith(
        "test_start_execution_sync.recorded-content.get_execution_history.events")]
    child = ("stepfunctions:run:arn:<partition>:states:<region>:111111111111:execution:"
             "<ArnPart_0idx>:TestStartTarget")
    assert {"src_uid": parent["uid"], "dst_uid": child, "kind": "child",
            "evidence": "TaskScheduled states:startExecution.sync",
            "location": parent["location"] + "[2]"} in rows["links"]
    (step,) = [s for s in rows["steps"] if s["run_uid"] == parent["uid"]]
    assert step["detail"]["target"] == "stepfunctions:statemachine:<ArnPart_0idx>"
    # a redacted ARN is no key: the snapshot reuses it for every child execution
    assert not [k for k in rows.get("keys", []) if k["kind"] == "execution_arn"]


def test_child_execution_arn_is_a_key_of_the_task_that_started_it() -> None:
    rows = _rows(CLI_V1)
    child = "arn:aws:states:us-east-1:123456789012:execution:ShippingWorkflow:order-1234-shipping"
    (ship,) = [s for s in rows["steps"] if s["name"] == "ShipOrder"]
    assert {"entity_uid": ship["uid"], "kind": "execution_arn", "value": child} in rows["keys"]
    assert {(lk["src_uid"], lk["dst_uid"]) for lk in rows["links"] if lk["kind"] == "child"} == {
        (ship["run_uid"], f"stepfunctions:run:{child}")}


def test_epoch_float_timestamps_are_read_exactly(tmp_path: Path) -> None:
    rows = _rows(CLI_V1)
    (run,) = rows["runs"]
    assert _us(run["started_at"]) == 1709719230118000
    assert _us(run["ended_at"]) == 1709719325399000
    # More digits than a float holds: 1551297436.0649999999 is ...064999 µs, not ...065000.
    history = {"events": [
        {"timestamp": 1551297436.0649999999, "type": "ExecutionStarted", "id": 1,
         "previousEventId": 0, "executionStartedEventDetails": {"input": "{}"}},
        {"timestamp": 1551297437.5, "type": "ExecutionSucceeded", "id": 2, "previousEventId": 1,
         "executionSucceededEventDetails": {"output": "{}"}}]}
    path = tmp_path / "h.json"
    path.write_text(json.dumps(history).replace("1551297436.065", "1551297436.0649999999"))
    assert "1551297436.0649999999" in path.read_text()
    (run,) = _rows(path)["runs"]
    assert _us(run["started_at"]) == 1551297436064999
    assert _us(run["ended_at"]) == 1551297437500000


def test_map_iterations_and_parallel_branches_nest_under_their_state() -> None:
    rows = _rows(CLI_V1)
    (reserve,) = [s for s in rows["steps"] if s["name"] == "ReserveItems"]
    inner = [s for s in rows["steps"] if s["name"] == "ReserveItem"]
    assert len(inner) == 2 and {s["parent_uid"] for s in inner} == {reserve["uid"]}
    rows = _rows(DESCRIBE)
    by_name = {s["name"]: s for s in rows["steps"]}
    assert by_name["RenderPdf"]["status"] == "timed_out"
    assert by_name["RenderPdf"]["parent_uid"] == by_name["DeliverInvoice"]["uid"]
    assert by_name["NotifyCustomer"]["status"] == "ok"
    assert (by_name["DeliverInvoice"]["status"], rows["runs"][0]["status"]) == ("failed",
                                                                                "failed")


def test_describe_execution_fields_give_keys_and_the_xray_trace() -> None:
    rows = _rows(DESCRIBE)
    (run,) = rows["runs"]
    arn = "arn:aws:states:eu-west-1:123456789012:execution:InvoiceFlow:inv-2024-0306-0042"
    assert (run["uid"], run["name"], run["component"]) == (
        f"stepfunctions:run:{arn}", "inv-2024-0306-0042", "stepfunctions:statemachine:InvoiceFlow")
    run_keys = {(k["kind"], k["value"]) for k in rows["keys"] if k["entity_uid"] == run["uid"]}
    assert run_keys == {
        ("execution_arn", arn),
        ("trace_id", "65e850764f2a8c1d9b3e7a6f5c4d2b1a"),  # Root=1-65e85076-4f2a8c1d9b3e...
        ("span_id", "53995c3f42cd8ad8"),
        ("correlation_id", "3f1e2d4c-5b6a-4789-8abc-def012345678"),
    }
    by_name = {s["name"]: s for s in rows["steps"]}
    announce = by_name["AnnounceInvoice"]
    assert announce["detail"]["detail_types"] == ["InvoiceCreated"]
    keys = {(k["entity_uid"], k["kind"], k["value"]) for k in rows["keys"]}
    assert (announce["uid"], "channel", "eventbridge:bus:billing") in keys
    assert (announce["uid"], "message_id", "6f7c1a2b-3d4e-5f60-7a8b-9c0d1e2f3a4b") in keys
    notify = by_name["NotifyCustomer"]["uid"]
    assert (notify, "channel", "sns:topic:invoice-notifications") in keys
    assert (notify, "message_id", "a9b8c7d6-e5f4-5a3b-8c2d-1e0f9a8b7c6d") in keys


def test_task_token_and_queue_of_a_callback_task_are_keys() -> None:
    rows = _rows(CLI_V1)
    (notify,) = [s for s in rows["steps"] if s["name"] == "NotifyWarehouse"]
    keys = {(k["kind"], k["value"]) for k in rows["keys"] if k["entity_uid"] == notify["uid"]}
    assert ("channel", "sqs:queue:warehouse-requests") in keys
    assert ("message_id", "d1a8b3c4-5e6f-4a7b-8c9d-0e1f2a3b4c5d") in keys
    assert ("correlation_id", notify["detail"]["task_token"]) in keys
    assert notify["detail"]["task_token"].startswith("AQCEAAAAKgAAAAMAAAAA")


def _steps_view(rows: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {(s["uid"], s["component"], s["name"], s["step_type"], s["status"], s["attempt"],
             s.get("error")) for s in rows["steps"]}


def test_cloudwatch_logs_form_gives_the_same_steps_as_the_history(tmp_path: Path) -> None:
    snapshot = json.loads(CWLOGS.read_text())
    compared = 0
    for name, case in snapshot.items():
        content = case["recorded-content"]
        logged = content.get("logged_execution_events")
        if not logged or logged[0]["type"] != "ExecutionStarted" or "_ALL_" not in name:
            continue  # below level ALL, CloudWatch gets only some events
        arn = logged[0]["execution_arn"]
        history = tmp_path / f"h{compared}.json"
        history.write_text(json.dumps({"executionArn": arn, **content["get_execution_history"]}))
        lines = tmp_path / f"l{compared}.jsonl"
        lines.write_text("\n".join(json.dumps(e) for e in logged) + "\n")
        from_history, from_logs = _rows(history), _rows(lines)
        assert _steps_view(from_history) == _steps_view(from_logs), name
        assert [r["status"] for r in from_history["runs"]] == [
            r["status"] for r in from_logs["runs"]]
        compared += 1
    assert compared == 6


def test_cloudwatch_json_lines_interleave_executions() -> None:
    rows = _rows(EXPRESS)
    runs = {r["name"]: r for r in rows["runs"]}
    # express ARNs are ...:express:<machine>:<execution name>:<execution id>
    assert {n: r["status"] for n, r in runs.items()} == {
        "8d2f5c1e-3b4a-4f6e-9a7b-1c2d3e4f5a6b": "ok",
        "2b7e1d4c-9f8a-4e3b-a6c5-d4e3f2a1b0c9": "failed"}
    assert {r["detail"]["execution_type"] for r in runs.values()} == {"EXPRESS"}
    name_of = {r["uid"]: r["name"] for r in rows["runs"]}
    enrich = sorted((name_of[s["run_uid"]][:8], s["attempt"], s["status"]) for s in rows["steps"]
                    if s["name"] == "Enrich")
    assert enrich == [("2b7e1d4c", 1, "retried"), ("2b7e1d4c", 2, "failed"),
                      ("8d2f5c1e", 1, "retried"), ("8d2f5c1e", 2, "ok")]


def test_eventbridge_events_in_a_snapshot_are_skipped_and_counted() -> None:
    batches = list(stepfunctions_json.parse(Source(PUTEVENTS)))
    skipped: dict[str, int] = {}
    for batch in batches:
        for what, n in batch.skipped_types.items():
            skipped[what] = skipped.get(what, 0) + n
    assert skipped == {"EventBridge event (read with eventbridge_json)": 6}
    assert sum(b.records for b in batches) == 31


def test_broken_events_are_rejected_where_they_are(tmp_path: Path) -> None:
    doc = json.loads(CUMULUS.read_text())
    events = doc["data"]["executionHistory"]["events"]
    del events[3]["type"]
    events[6] = "not an event"
    events.append({"timestamp": "2021-02-26T15:24:30Z", "type": "SomethingNewHappened",
                   "id": 18, "previousEventId": 17})
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    rows = _rows(path)
    assert rows["source"]["records"] == 26
    assert rows["source"]["skipped"] == 1  # the unknown event type
    assert rows["rejects"] == [
        {"location": "data.executionHistory.events[3]",
         "reason": "expected 'id' (integer) and 'type' (string), got 4/None"},
        {"location": "data.executionHistory.events[6]",
         "reason": "expected a history event object, got str"},
    ]
    # events whose previousEventId is gone are still filed under their state: 4 attempts
    assert sorted(s["attempt"] for s in rows["steps"] if s["name"] == "SyncGranule") == [
        1, 2, 3, 4]


def test_truncated_document_keeps_the_complete_events_and_names_the_byte(
        tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(CLI_V1.read_bytes()[:5000])  # inside the 10th history event
    rows = _rows(path)
    source = rows["source"]
    assert (source["records"], source["loaded"], source["rejected"]) == (10, 9, 1)
    (reject,) = rows["rejects"]
    assert reject["location"] == "byte 5000"
    assert reject["reason"].startswith(
        "expected one JSON document (truncated?): the document ends at byte 5000, inside an "
        "unfinished string; the 9 complete records before byte")
    assert [r["status"] for r in rows["runs"]] == ["running"]


def test_gzipped_history_gives_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "history.json.gz"
    path.write_bytes(gzip.compress(CLI_V1.read_bytes()))
    plain, packed = normalized_rows(CLI_V1), normalized_rows(path)
    assert packed["source"]["format"] == "stepfunctions_json"
    assert {k: v for k, v in packed.items() if k != "source"} == {
        k: v for k, v in plain.items() if k != "source"}


def test_filter_log_events_output_is_read_through_its_messages(tmp_path: Path) -> None:
    lines = EXPRESS.read_text().splitlines()
    events = [{"logStreamName": "states/OrderIntake/2024-03-06-11-00/0f1e2d3c",
               "timestamp": int(json.loads(line)["event_timestamp"]), "message": line,
               "ingestionTime": int(json.loads(line)["event_timestamp"]) + 300,
               "eventId": str(37_000_000 + i)} for i, line in enumerate(lines)]
    events.append({"logStreamName": "other", "timestamp": 1709722801000,
                   "message": "START RequestId: 42", "eventId": "1"})
    path = tmp_path / "filter-log-events.json"
    path.write_text(json.dumps({"events": events, "searchedLogStreams": []}, indent=2))
    rows = normalized_rows(path)  # detected: the messages hold previous_event_id
    assert rows["source"]["format"] == "stepfunctions_json"
    assert (rows["source"]["loaded"], rows["source"]["skipped"]) == (21, 1)
    plain = _rows(EXPRESS)
    assert _steps_view(rows) == _steps_view(plain)


def test_an_event_id_out_of_order_does_not_lose_the_history(tmp_path: Path) -> None:
    # Found by scripts/fuzz_long.py (stepfunctions_json:6477): with event 7's id written as
    # "0", a state's predecessor entry came after it in the history and had no steps yet.
    doc = json.loads(DESCRIBE.read_text())
    doc["events"][6]["id"] = "0"
    path = tmp_path / "retyped.json"
    path.write_text(json.dumps(doc, indent=1))
    rows = normalized_rows(path)
    assert (rows["source"]["records"], rows["source"]["rejected"]) == (19, 0)
    assert len(rows["steps"]) == len(normalized_rows(DESCRIBE)["steps"])


def test_sam_logs_output_is_read_behind_its_stream_and_time_prefix() -> None:
    import ingest

    path = HERE / "sam_logs_express_execution_events.txt"
    module, rule = ingest.detection(Source(path))
    assert (module.NAME, rule) == ("stepfunctions_json", "first record, line 1; log prefix cut")
    rows = normalized_rows(path)
    src = rows["source"]
    assert (src["records"], src["loaded"], src["rejected"], src["skipped"]) == (4, 4, 0, 0)
    arn = ("arn:aws:states:eu-central-1:123456789012:express:LoggingAndMaskingWorkflow:"
           "cli-test-run:4135929f-8d60-4ea5-b3c3-b243bec43271")
    assert [(r["uid"], r["status"], r["started_at"], r["ended_at"]) for r in rows["runs"]] == [
        (f"stepfunctions:run:{arn}", "ok", "2024-04-24T11:54:30.672000+00:00",
         "2024-04-24T11:54:30.680000+00:00")]
    assert [(s["component"], s["status"], s["location"]) for s in rows["steps"]] == [
        ("stepfunctions:state:LoggingAndMaskingWorkflow.LogInput", "ok", "line 16")]


def test_cumulus_wrapper_with_long_input_is_detected_by_its_first_record() -> None:
    import ingest

    path = HERE / "cumulus_execution_status_presigned_long_input.json"
    head = Source(path).head()
    assert b"executionHistory" not in head and b"previousEventId" not in head
    module, rule = ingest.detection(Source(path))
    assert (module.NAME, rule) == ("stepfunctions_json",
                                   "first record, line 1; long strings shortened")
    rows = normalized_rows(path)
    assert [(r["status"], r["started_at"], r["ended_at"]) for r in rows["runs"]] == [
        ("ok", "2019-12-13T15:16:46.753000+00:00", "2019-12-13T15:16:52.582000+00:00")]
    assert [(s["component"], s["status"]) for s in rows["steps"]] == [
        ("stepfunctions:state:test-stack-HelloWorldWorkflow.HelloWorld", "ok")]


def test_aws_logs_tail_output_skips_the_log_groups_text_messages(tmp_path: Path) -> None:
    # `aws logs tail` prints `<time> <log stream> <message>`. A vended log group's first stream
    # is CloudWatch's delivery check, whose message is text: it must not hide the events after
    # it, nor be glued to the event before it. (Written by us: time, stream and event fields
    # as `aws logs tail` and the Step Functions log level ALL print them; values ours.)
    arn = "arn:aws:states:eu-west-1:123456789012:execution:orders:run-1"
    events = [
        ("03:25:42.883", '{"details":{"roleArn":"arn:aws:iam::123456789012:role/sfn"},'
         '"id":"1","type":"ExecutionStarted","previous_event_id":"0",'
         '"event_timestamp":"1787541942883"'),
        ("03:25:42.901", '{"details":{"name":"Intake"},"id":"2","type":"PassStateEntered",'
         '"previous_event_id":"0","event_timestamp":"1787541942901"'),
        ("03:25:42.905", '{"details":{"name":"Intake","output":"{}"},"id":"3",'
         '"type":"PassStateExited","previous_event_id":"2","event_timestamp":"1787541942905"'),
        ("03:25:42.910", '{"details":{"output":"{}"},"id":"4","type":"ExecutionSucceeded",'
         '"previous_event_id":"3","event_timestamp":"1787541942910"'),
    ]
    stream = "states/orders/2026-08-24-03/00000000"
    check = ("2026-08-24T03:25:39.858000+00:00 log_stream_created_by_aws_to_validate_log_delivery"
             "_subscriptions Permissions are set correctly to allow AWS CloudWatch Logs to write"
             " into your logs while creating a subscription.\n")
    lines = [f'2026-08-24T{t}000+00:00 {stream} {e},"execution_arn":"{arn}"}}\n'
             for t, e in events]
    path = tmp_path / "tail.txt"
    path.write_text(check + "".join(lines[:2]) + check + "".join(lines[2:]))
    import ingest

    module, rule = ingest.detection(Source(path))
    assert (module.NAME, rule) == (
        "stepfunctions_json",
        "first record, line 2; after 1 log message that is not JSON; log prefix cut")
    rows = normalized_rows(path)
    src = rows["source"]
    assert (src["records"], src["loaded"], src["rejected"], src["skipped"]) == (6, 4, 0, 2)
    assert [(r["uid"], r["status"], r["started_at"], r["ended_at"]) for r in rows["runs"]] == [
        (f"stepfunctions:run:{arn}", "ok", "2026-08-24T03:25:42.883000+00:00",
         "2026-08-24T03:25:42.910000+00:00")]
    assert [(s["component"], s["status"], s["location"]) for s in rows["steps"]] == [
        ("stepfunctions:state:orders.Intake", "ok", "line 3")]
