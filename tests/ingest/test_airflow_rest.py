"""Airflow REST API: declared task edges, the run uid shared with OpenLineage, tries, states,
and rejects for responses that cannot be tied to a DAG run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from tests.golden import normalized_rows
from tracemap.load import ingest_paths
from tracemap.store import Store

HERE = FIXTURES / "airflow_rest"
RUNS = HERE / "BQ.dagRuns.json"
INSTANCES = HERE / "BQ.taskInstances.json"
TRIES = HERE / "BQ.copy.tries.json"
TASKS = HERE / "BQ.tasks.json"
OL_AIRFLOW = FIXTURES / "openlineage_json" / "ol_airflow_dagrun_bq_gcs_events.jsonl"
FAILED_RUN = "airflow:run:BQ/scheduled__2024-11-27T00:00:00+00:00"


def _steps(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["uid"]: r for r in rows["steps"]}


def test_task_list_declares_exactly_the_dag_edges() -> None:
    rows = normalized_rows(TASKS)
    assert {(d["src"], d["kind"], d["dst"]) for d in rows["declared"]} == {
        ("airflow:dag:BQ", "contains", "airflow:task:BQ.upload"),
        ("airflow:dag:BQ", "contains", "airflow:task:BQ.copy"),
        ("airflow:dag:BQ", "contains", "airflow:task:BQ.download"),
        ("airflow:task:BQ.upload", "precedes", "airflow:task:BQ.copy"),
        ("airflow:task:BQ.copy", "precedes", "airflow:task:BQ.download"),
    }
    # the same edges the OpenLineage DAG facet declares
    ol = {(d["src"], d["kind"], d["dst"]) for d in normalized_rows(OL_AIRFLOW)["declared"]}
    assert {(d["src"], d["kind"], d["dst"]) for d in rows["declared"]} <= ol


def test_rest_and_openlineage_land_on_the_same_run(tmp_path: Path) -> None:
    uid = "airflow:run:BQ/manual__2024-11-26T13:05:23.281750+00:00"
    with Store(str(tmp_path / "s.duckdb")) as store:
        result = ingest_paths(store, [str(RUNS), str(OL_AIRFLOW)])
        assert [s.format for s in result.sources] == ["airflow_rest", "openlineage_json"]
        rows = store.rows("SELECT s.format, r.status, r.component FROM runs r JOIN sources s "
                          "ON s.id = r.source_id WHERE r.uid = ? ORDER BY s.format", [uid])
        keys = store.rows("SELECT DISTINCT kind, value FROM keys WHERE entity_uid = ? "
                          "AND kind = 'business:airflow_run'", [uid])
    assert rows == [
        {"format": "airflow_rest", "status": "ok", "component": "airflow:dag:BQ"},
        {"format": "openlineage_json", "status": "ok", "component": "airflow:dag:BQ"}]
    assert keys == [{"kind": "business:airflow_run",
                     "value": "BQ/manual__2024-11-26T13:05:23.281750+00:00"}]


def test_dag_run_states_and_conf_keys() -> None:
    rows = normalized_rows(RUNS)
    runs = {r["uid"]: r for r in rows["runs"]}
    assert {uid.rsplit("/", 1)[1]: r["status"] for uid, r in runs.items()} == {
        "manual__2024-11-26T13:05:23.281750+00:00": "ok",
        "scheduled__2024-11-27T00:00:00+00:00": "failed",
        "scheduled__2024-11-28T00:00:00+00:00": "running"}
    assert ("correlation_id", "nightly-load-2024-11-27") in {
        (k["kind"], k["value"]) for k in rows["keys"] if k["entity_uid"] == FAILED_RUN}
    assert "started_at" not in runs["airflow:run:BQ/scheduled__2024-11-28T00:00:00+00:00"]


def test_task_instance_states_upstream_failed_and_attempts() -> None:
    steps = {s["name"]: s for s in normalized_rows(INSTANCES)["steps"]}
    assert {n: (s["status"], s["attempt"]) for n, s in steps.items()} == {
        "upload": ("ok", 1), "copy": ("failed", 2), "download": ("failed", 0)}
    assert steps["download"]["detail"]["failed_upstream"] is True
    assert "failed_upstream" not in steps["copy"]["detail"]
    assert steps["copy"]["run_uid"] == FAILED_RUN
    assert steps["copy"]["detail"]["hostname"].startswith("airflow-worker-1")


def test_tries_chain_with_retry_of_links() -> None:
    rows = normalized_rows(TRIES)
    base = f"{FAILED_RUN.replace('airflow:run:', 'airflow:step:')}/copy"
    steps = _steps(rows)
    assert {uid: (s["status"], s["attempt"]) for uid, s in steps.items()} == {
        base: ("failed", 2), f"{base}#try1": ("retried", 1)}
    retry = [x for x in rows["links"] if x["kind"] == "retry_of"]
    assert retry == [{"src_uid": base, "dst_uid": f"{base}#try1", "kind": "retry_of",
                      "evidence": "try_number", "location": "task_instances[1]"}]


def test_unusable_records_are_rejected_with_locations(tmp_path: Path) -> None:
    doc = json.loads(INSTANCES.read_text())
    old = dict(doc["task_instances"][0])
    del old["dag_run_id"]  # Airflow < 2.3 named only the execution_date
    doc["task_instances"].append(old)
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(doc, indent=2))
    rows = normalized_rows(path, fmt="airflow_rest")
    assert rows["rejects"] == [{
        "location": "task_instances[3]",
        "reason": "expected non-empty 'dag_id' and 'dag_run_id' strings (task instances carry "
                  "dag_run_id since Airflow 2.3), got 'BQ'/None"}]
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (4, 3)


def test_task_list_without_a_dag_id_is_rejected_unless_named(tmp_path: Path) -> None:
    anonymous = tmp_path / "tasks.json"
    anonymous.write_text(TASKS.read_text())
    rows = normalized_rows(anonymous, fmt="airflow_rest")
    assert [r["location"] for r in rows["rejects"]] == ["tasks[0]", "tasks[1]", "tasks[2]"]
    assert rows["rejects"][0]["reason"].startswith("a task list does not name its DAG: pass the "
                                                   "dag_id option")
    named = normalized_rows(anonymous, fmt="airflow_rest", dag_id="BQ")
    assert len(named["declared"]) == 5


def test_try_number_past_integer_is_an_unknown_attempt() -> None:
    from ingest.airflow_rest import _attempt

    assert [_attempt(v) for v in (0, 3, "2", 2**40, -1, "x")] == [0, 3, 2, None, None, None]


def test_skipped_task_instance_is_skipped_and_removed_is_cancelled(tmp_path: Path) -> None:
    # TaskInstanceState (Airflow REST API): `skipped` = skipped by branching, a short circuit
    # or a trigger rule, the DAG's own decision; `removed` = the task left the DAG before it ran.
    doc = json.loads(INSTANCES.read_text())
    states = {"download": "skipped", "copy": "removed"}
    for ti in doc["task_instances"]:
        ti["state"] = states.get(ti["task_id"], ti["state"])
    path = tmp_path / "BQ.taskInstances.json"
    path.write_text(json.dumps(doc))
    steps = {s["name"]: s for s in normalized_rows(path)["steps"]}
    assert {n: s["status"] for n, s in steps.items()} == {
        "upload": "ok", "copy": "cancelled", "download": "skipped"}
    assert "failed_upstream" not in steps["download"]["detail"]
