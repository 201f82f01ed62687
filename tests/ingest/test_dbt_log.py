"""dbt structured logs: the failed model step, the invocation run and its key, skipped lines,
the join with openlineage-dbt over the invocation id, the flat pre-1.5 form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from tests.golden import normalized_rows
from tracemap.load import ingest_paths
from tracemap.store import Store

LOG = FIXTURES / "dbt_log" / "dbt_structured_logs_failed_run.jsonl"
OL_DBT = FIXTURES / "openlineage_json" / "ol_dbt_postgres_run_events.jsonl"
INVOCATION = "b0ed168e-1926-42da-aa25-6b3eb826074b"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_failed_model_is_a_failed_step_with_the_database_error() -> None:
    rows = normalized_rows(LOG)
    (step,) = rows["steps"]
    assert step["uid"] == f"dbt:node:{INVOCATION}/model.jaffle_shop.orders"
    assert (step["component"], step["step_type"], step["status"], step["name"]) == (
        "dbt:model:model.jaffle_shop.orders", "model", "failed", "orders")
    assert (step["started_at"], step["ended_at"]) == (
        "2024-11-22T15:58:08.383825+00:00", "2024-11-22T15:58:08.958993+00:00")
    assert step["error"].startswith(
        'Database Error in model orders (models/orders.sql)\n  syntax error at or near "final"')
    assert (step["detail"]["node_status"], step["detail"]["thread"]) == (
        "error", "Thread-1 (worker)")


def test_invocation_is_one_failed_run_keyed_by_its_id() -> None:
    rows = normalized_rows(LOG)
    (run,) = rows["runs"]
    assert (run["uid"], run["component"], run["status"]) == (
        f"dbt:run:{INVOCATION}", "dbt:project:jaffle_shop", "failed")
    assert (run["started_at"], run["ended_at"]) == (
        "2024-11-22T15:58:03.518877+00:00", "2024-11-22T15:58:09.771069+00:00")
    assert run["detail"]["dbt_version"] == "1.8.2"
    assert rows["keys"] == [{"entity_uid": run["uid"], "kind": "job_run_id", "value": INVOCATION}]
    src = rows["source"]
    assert (src["records"], src["loaded"], src["skipped"]) == (85, 12, 73)


def test_invocation_joins_openlineage_dbt_over_the_invocation_id(tmp_path: Path) -> None:
    # the same dbt invocation logged as JSON and reported through openlineage-dbt
    ol_invocation = "e49bb33a-4b62-417d-a378-0d218608b125"
    log = tmp_path / "dbt.log.jsonl"
    log.write_text(LOG.read_text().replace(INVOCATION, ol_invocation))
    with Store(str(tmp_path / "s.duckdb")) as store:
        ingest_paths(store, [str(log), str(OL_DBT)])
        holders = store.rows("SELECT DISTINCT entity_uid FROM keys WHERE kind = 'job_run_id' "
                             "AND value = ? ORDER BY 1", [ol_invocation])
    uids = [h["entity_uid"] for h in holders]
    assert f"dbt:run:{ol_invocation}" in uids
    assert "openlineage:run:019a977e-6c3f-7b18-a638-05655c338077" in uids  # the dbt-run job


def test_pre_1_5_flat_lines_are_read_by_code(tmp_path: Path) -> None:
    flat = []
    for line in _lines(LOG):
        info, data = line["info"], line["data"]
        rec = {"code": info["code"], "data": data, "invocation_id": info["invocation_id"],
               "level": info["level"], "log_version": 2, "msg": info["msg"], "pid": info["pid"],
               "thread_name": info["thread"], "ts": info["ts"], "type": "log_line"}
        if "node_info" in data:
            rec["node_info"] = data["node_info"]
        flat.append(rec)
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in flat))
    rows = normalized_rows(path)
    assert rows["source"]["format"] == "dbt_log"
    (step,) = rows["steps"]
    assert (step["status"], step["component"]) == ("failed", "dbt:model:model.jaffle_shop.orders")
    assert rows["runs"][0]["status"] == "failed"


def test_event_without_invocation_id_is_rejected(tmp_path: Path) -> None:
    lines = _lines(LOG)[:3]
    del lines[1]["info"]["invocation_id"]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    rows = normalized_rows(path, fmt="dbt_log")
    assert rows["rejects"] == [{
        "location": "line 2",
        "reason": "expected a dbt structured log event with info.invocation_id, got keys "
                  "['data', 'info']"}]


def test_a_node_dbt_skipped_is_skipped(tmp_path: Path) -> None:
    # dbt's NodeStatus.Skipped (node_status "skipped"): a node not run because an upstream
    # node failed. The failed run's model, reported as skipped instead, is a skipped step.
    log = tmp_path / "dbt.log.jsonl"
    log.write_text(LOG.read_text().replace('"node_status": "error"', '"node_status": "skipped"'))
    (step,) = normalized_rows(log)["steps"]
    assert (step["status"], step["detail"]["node_status"]) == ("skipped", "skipped")
