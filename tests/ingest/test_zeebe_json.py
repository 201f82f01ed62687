"""Zeebe records: message keys, -1 and string int64 keys, incidents, jobs, message correlation,
call activities, Elasticsearch exporter forms, rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingest import zeebe_json
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "zeebe_json"
GOLDEN = HERE / "zeebe_records_message_publish_golden.json"
ORDERS = HERE / "zeebe_8_5_order_shipping_records.jsonl"

K = 2251799813685249
ORDER_RUN, TASK, JOB = f"zeebe:run:{K + 2}", f"zeebe:step:{K + 9}", f"zeebe:job:{K + 10}"
SHIP_RUN, WAIT, CALL = f"zeebe:run:{K + 14}", f"zeebe:step:{K + 16}", f"zeebe:step:{K + 20}"
CHILD_RUN, MESSAGE = f"zeebe:run:{K + 21}", f"zeebe:msg:{K + 19}"


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_lines(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _by_uid(rows: dict[str, Any], table: str) -> dict[str, dict[str, Any]]:
    return {r["uid"]: r for r in rows.get(table, [])}


def _keys(rows: dict[str, Any], uid: str) -> set[tuple[str, str]]:
    return {(k["kind"], k["value"]) for k in rows.get("keys", []) if k["entity_uid"] == uid}


def _links(rows: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(x["src_uid"], x["kind"], x["dst_uid"]) for x in rows.get("links", [])}


def test_published_message_is_keyed_by_correlation_key_and_message_id() -> None:
    rows = normalized_rows(GOLDEN)
    (message,) = rows["messages"]
    uid = "zeebe:msg:2251799813685249"
    assert (message["uid"], message["component"], message["msg_key"], message["channel"]) == (
        uid, "zeebe:message:message", "key", "message")
    assert message["produced_at"] == "2021-04-05T18:51:35.574000+00:00"
    assert message["payload"] == {"foo": "bar"}
    assert _keys(rows, uid) == {("correlation_id", "key"), ("message_id", "id")}
    # the PUBLISH command (key -1) is skipped, its DELETED event merged into the message
    assert rows["source"]["skipped"] == 1
    assert message["detail"]["deleted_at"] == "2021-04-05T18:51:35.574000+00:00"


def test_minus_one_keys_are_none_and_string_keys_read_alike(tmp_path: Path) -> None:
    rows = normalized_rows(ORDERS)
    runs = _by_uid(rows, "runs")
    assert "parent_uid" not in runs[ORDER_RUN] and "parent_uid" not in runs[SHIP_RUN]
    assert not any(uid.endswith(":-1") for uid in (*runs, *_by_uid(rows, "steps")))
    as_text = []
    for rec in _records(ORDERS):  # Kafka/Hazelcast exporters may write int64 as strings
        rec["key"] = str(rec["key"])
        for name in ("processInstanceKey", "flowScopeKey", "parentElementInstanceKey",
                     "parentProcessInstanceKey", "elementInstanceKey", "jobKey", "messageKey"):
            if name in rec["value"]:
                rec["value"][name] = str(rec["value"][name])
        as_text.append(rec)
    text_rows = normalized_rows(_write_lines(tmp_path / "text.jsonl", as_text), fmt="zeebe_json")
    for table in ("runs", "steps", "messages", "links", "keys"):
        assert text_rows[table] == rows[table], table


def test_incident_fails_the_element_and_the_process_instance() -> None:
    rows = normalized_rows(ORDERS)
    runs, steps = _by_uid(rows, "runs"), _by_uid(rows, "steps")
    order = runs[ORDER_RUN]
    assert (order["component"], order["status"], order["error"]) == (
        "zeebe:process:order-process", "failed", "PSP returned 503 Service Unavailable")
    assert "ended_at" not in order and order["detail"]["open_incident"] is True
    task = steps[TASK]
    assert (task["component"], task["step_type"], task["status"]) == (
        "zeebe:element:order-process.charge-payment", "service_task", "failed")
    job = steps[JOB]
    assert (job["component"], job["status"], job["attempt"], job["parent_uid"]) == (
        "zeebe:job:payment-service", "failed", 2, TASK)
    assert (job["detail"]["worker"], job["detail"]["failures"], job["detail"]["retries"]) == (
        "payment-worker-2c1e", 2, 0)
    assert job["started_at"] == "2024-11-27T09:33:20.151000+00:00"  # first activation
    assert {(ORDER_RUN, "contains", TASK), (TASK, "contains", JOB)} <= _links(rows)
    # the creation variables and the correlationId variable give the instance its key
    assert _keys(rows, ORDER_RUN) == {("correlation_id", "corr-7f3a")}


def test_resolved_incident_and_completed_job_end_ok(tmp_path: Path) -> None:
    records = _records(ORDERS)
    incident = next(r for r in records if r["valueType"] == "INCIDENT")
    job_failed = [r for r in records if r["valueType"] == "JOB" and r["intent"] == "FAILED"][-1]
    task_done = next(r for r in records if r["key"] == K + 9)
    process = next(r for r in records if r["key"] == K + 2 and r["valueType"] == "PROCESS_INSTANCE")
    later = []
    for n, (rec, intent) in enumerate([(incident, "RESOLVED"), (job_failed, "COMPLETED"),
                                       (task_done, "ELEMENT_COMPLETED"),
                                       (process, "ELEMENT_COMPLETED")]):
        later.append({**rec, "intent": intent, "position": 1000 + n,
                      "timestamp": 1732700100000 + n})
    rows = normalized_rows(_write_lines(tmp_path / "fixed.jsonl", records + later),
                           fmt="zeebe_json")
    runs, steps = _by_uid(rows, "runs"), _by_uid(rows, "steps")
    assert (runs[ORDER_RUN]["status"], runs[ORDER_RUN]["ended_at"]) == (
        "ok", "2024-11-27T09:35:00.003000+00:00")
    assert (steps[TASK]["status"], steps[JOB]["status"]) == ("ok", "ok")
    assert "open_incident" not in runs[ORDER_RUN]["detail"]


def test_message_correlation_and_call_activity_are_links() -> None:
    rows = normalized_rows(ORDERS)
    links = _links(rows)
    assert (MESSAGE, "triggers", WAIT) in links
    assert (CALL, "child", CHILD_RUN) in links
    assert _by_uid(rows, "runs")[CHILD_RUN]["parent_uid"] == CALL
    # the waiting element and the message share the correlation key
    assert ("correlation_id", "o-1002") in _keys(rows, WAIT) & _keys(rows, MESSAGE)
    message = _by_uid(rows, "messages")[MESSAGE]
    assert message["detail"]["expired_at"] == "2024-11-27T10:34:20.010000+00:00"
    assert rows["source"]["skipped"] == 10
    assert _by_uid(rows, "runs")[SHIP_RUN]["status"] == "ok"


def test_elasticsearch_hits_and_elasticdump_lines(tmp_path: Path) -> None:
    records = _records(ORDERS)
    plain = normalized_rows(ORDERS)
    hits = tmp_path / "search.json"
    hits.write_text(json.dumps({"took": 3, "hits": {"total": {"value": len(records)}, "hits": [
        {"_index": "zeebe-record_x_8.5.0_2024-11-27", "_id": f"1-{r['position']}",
         "_source": r} for r in records]}}, indent=1))
    dump = _write_lines(tmp_path / "dump.jsonl", [
        {"_index": "zeebe-record_x_8.5.0_2024-11-27", "_id": f"1-{r['position']}", "_source": r}
        for r in records])
    for path, first in ((hits, "hits.hits[2]"), (dump, "line 3")):
        rows = normalized_rows(path)
        assert rows["source"]["format"] == "zeebe_json"
        assert _by_uid(rows, "runs").keys() == _by_uid(plain, "runs").keys()
        assert _by_uid(rows, "runs")[ORDER_RUN]["location"] == first
        assert _links(rows) == _links(plain)


def test_malformed_records_are_rejected_with_their_lines(tmp_path: Path) -> None:
    records = json.loads(GOLDEN.read_text())
    broken = dict(records[1])
    del broken["valueType"]
    bad_key = {**records[1], "key": "not-a-key"}
    path = _write_lines(tmp_path / "bad.jsonl", [records[0], broken, bad_key, records[2]])
    rows = normalized_rows(path, fmt="zeebe_json")
    assert rows["rejects"] == [
        {"location": "line 2",
         "reason": "expected a Zeebe record with valueType, intent and a value object, got keys "
                   "['brokerVersion', 'intent', 'key', 'partitionId', 'position', "
                   "'recordType', 'rejectionReason', 'rejectionType', 'sourceRecordPosition', "
                   "'timestamp']"},
        {"location": "line 3",
         "reason": "field 'key': expected the message's int64 key, got 'not-a-key'"}]


def test_finished_instances_written_early_keep_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = normalized_rows(ORDERS)
    monkeypatch.setattr(zeebe_json, "MAX_OPEN", 1)
    tight = normalized_rows(ORDERS)
    assert tight["source"] == plain["source"]
    for table in ("runs", "steps", "messages", "keys"):
        assert tight[table] == plain[table], table
    assert _links(tight) == _links(plain)
