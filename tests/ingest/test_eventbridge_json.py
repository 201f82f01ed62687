"""EventBridge: execution ARNs as keys and links, PutEvents requests, buses, bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ingest import eventbridge_json
from ingest.base import BatchBuilder, Source
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "eventbridge_json"
SFN = HERE / "eventbridge_sfn_status_change.jsonl"
PUT = HERE / "eventbridge_putevents_entries.json"
CODEPIPELINE = HERE / "eventbridge_codepipeline_action_state_change.json"
ARN = "arn:aws:states:us-east-1:123456789012:execution:state-machine-name:execution-name"


def _keys(rows: dict[str, Any], kind: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for k in rows.get("keys", []):
        if k["kind"] == kind:
            out.setdefault(k["entity_uid"], set()).add(k["value"])
    return out


def test_status_change_events_are_emitted_by_their_execution() -> None:
    rows = normalized_rows(SFN)
    status_changes = {"eventbridge:msg:315c1398-40ff-a850-213b-158f73e60175",
                      "eventbridge:msg:a7f4c8f2-1e2b-7e6d-4a31-2c9d6e0b8a11"}
    assert _keys(rows, "execution_arn") == {uid: {ARN} for uid in status_changes}
    assert {(x["src_uid"], x["kind"], x["dst_uid"]) for x in rows["links"]} == {
        (f"stepfunctions:run:{ARN}", "emits", uid) for uid in status_changes}
    by_uid = {m["uid"]: m for m in rows["messages"]}
    failed = by_uid["eventbridge:msg:a7f4c8f2-1e2b-7e6d-4a31-2c9d6e0b8a11"]
    assert failed["event_type"] == "Step Functions Execution Status Change"
    assert failed["detail"]["status"] == "FAILED"
    assert failed["component"] == "eventbridge:bus:default"
    glue = "eventbridge:msg:0d1c2b3a-4e5f-6789-abcd-ef0123456789"
    assert _keys(rows, "job_run_id")[glue] == {
        "jr_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}


def test_putevents_entries_name_their_bus_and_execution_without_a_link() -> None:
    rows = normalized_rows(PUT)
    assert rows["source"]["loaded"] == 4
    first = next(m for m in rows["messages"] if m["location"] == "Entries[0]")
    assert first["channel"] == "orders-bus"  # from the EventBusName ARN
    assert first["component"] == "eventbridge:bus:orders-bus"
    assert first["payload"] == {"orderId": "1042",
                                "correlationId": "c7d9e1f2-5a4b-4c3d-8e2f-1a2b3c4d5e6f"}
    assert first["produced_at"] == "2024-05-14T10:15:02.117000+00:00"
    uid = first["uid"]
    assert _keys(rows, "execution_arn")[uid] == {
        "arn:aws:states:us-east-1:123456789012:execution:OrderFlow:order-1042"}
    assert _keys(rows, "trace_id")[uid] == {"5759e988bd862e3fe1be46a994272793"}
    assert _keys(rows, "correlation_id")[uid] == {"c7d9e1f2-5a4b-4c3d-8e2f-1a2b3c4d5e6f"}
    assert "links" not in rows  # not a status change: the key joins, no emits link
    twins = sorted(m["uid"] for m in rows["messages"] if m["location"] in ("Entries[1]",
                                                                             "Entries[2]"))
    assert twins[0].endswith("/0") and twins[1].endswith("/1")
    assert twins[0].rsplit("/", 1)[0] == twins[1].rsplit("/", 1)[0]
    malformed = next(m for m in rows["messages"] if m["location"] == "Entries[3]")
    assert malformed["detail"]["detail_malformed"] is True


def test_codepipeline_execution_id_is_kept() -> None:
    rows = normalized_rows(CODEPIPELINE)
    (msg,) = rows["messages"]
    assert msg["detail"]["execution-id"] == "01234567-0123-0123-0123-012345678901"
    assert _keys(rows, "business:pipeline_execution_id")[msg["uid"]] == {
        "01234567-0123-0123-0123-012345678901"}
    assert _keys(rows, "message_id")[msg["uid"]] == {"CWE-event-id"}


def test_bus_option_names_the_bus_of_delivered_events() -> None:
    rows = normalized_rows(CODEPIPELINE, bus="ops")
    assert rows["messages"][0]["component"] == "eventbridge:bus:ops"


#: The shape of LocalStack's Step Functions snapshot (corpus
#: stepfunctions/localstack_putevents_history.snapshot.json): PutEvents entries in the
#: execution history come first, the events captured on the bus later.
_SFN_EXEC = ("arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:"
             "<ExecArnPart_0idx>")
LOCALSTACK_SNAPSHOT = {
    "tests/aws/services/stepfunctions/v2/services/test_events_task_service.py::"
    "TestTaskServiceEvents::test_put_events_base": {
        "recorded-date": "06-11-2025, 13:30:27",
        "recorded-content": {
            "get_execution_history": {"events": [{
                "executionStartedEventDetails": {"input": {"Entries": [
                    {"Detail": '{"Message": "HelloWorld0"}', "DetailType": "<detail-type>",
                     "Source": "some.source"}]}},
                "id": 1, "previousEventId": 0, "timestamp": "timestamp",
                "type": "ExecutionStarted"}]},
            "stepfunctions_events": [
                {"version": "0", "id": f"<uuid:{i}>", "detail-type": "<detail-type>",
                 "source": "some.source", "account": "111111111111", "time": "date",
                 "region": "<region>",
                 "resources": ["arn:<partition>:states:<region>:111111111111:stateMachine:"
                               "<ArnPart_0idx>", _SFN_EXEC],
                 "detail": {"Message": f"HelloWorld{i}"}} for i in (1, 2)],
        },
    },
}


def test_localstack_snapshot_is_not_claimed_and_its_events_load_through_add_event(
        tmp_path: Path) -> None:
    path = tmp_path / "localstack_putevents_history.snapshot.json"
    path.write_text(json.dumps(LOCALSTACK_SNAPSHOT, indent=2))
    src = Source(path)
    assert not eventbridge_json.sniff(src.head(), str(path))
    content = next(iter(LOCALSTACK_SNAPSHOT.values()))["recorded-content"]
    events = content["stepfunctions_events"]
    b = BatchBuilder()
    seen: Counter[str] = Counter()
    reasons = [eventbridge_json.add_event(b, src, e, f"stepfunctions_events[{i}]", seen=seen)
               for i, e in enumerate(events)]
    assert reasons == [None, None]
    batch = b.take()
    msgs = batch.tables["messages"].to_dicts()
    assert [m["uid"] for m in msgs] == ["eventbridge:msg:<uuid:1>", "eventbridge:msg:<uuid:2>"]
    assert all(m["produced_at"] is None for m in msgs)  # "time": "date" placeholders
    assert {json.loads(m["detail"])["time_raw"] for m in msgs} == {"date"}
    keys = batch.tables["keys"].to_dicts()
    assert {k["value"] for k in keys if k["kind"] == "execution_arn"} == {_SFN_EXEC}
    assert "links" not in batch.tables  # a PutEvents task's events: key only


def test_event_without_detail_type_is_rejected(tmp_path: Path) -> None:
    lines = SFN.read_text().splitlines()
    event = json.loads(lines[1])
    del event["detail-type"]
    lines[1] = json.dumps(event)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rows = normalized_rows(path)
    assert rows["source"]["loaded"] == 2
    assert rows["rejects"][0]["location"] == "line 2"
    assert rows["rejects"][0]["reason"].startswith(
        "expected an EventBridge event with 'detail-type' and 'source', got an object with "
        "keys version, id, source")


def test_resources_that_are_no_list_are_left_out(tmp_path: Path) -> None:
    event = json.loads(CODEPIPELINE.read_text())
    event["resources"] = 5
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(event))
    rows = normalized_rows(path)
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (1, 1)
    assert "resources" not in rows["messages"][0]["detail"]
