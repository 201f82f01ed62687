"""OpenLineage: Airflow DAG runs and task steps, Spark parent/child runs, dataset lineage,
placeholder and broken-line rejects, the array/Marquez/gzip forms, Airflow tries and tasksState."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from ingest import openlineage_json
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "openlineage_json"
AIRFLOW = HERE / "ol_airflow_dagrun_bq_gcs_events.jsonl"
SPARK = HERE / "ol_spark_dataproc_app_events.jsonl"
DBT = HERE / "ol_dbt_postgres_run_events.jsonl"
FLINK = HERE / "ol_flink_kafka_expected_start.json"

BQ_RUN = "airflow:run:BQ/manual__2024-11-26T13:05:23.281750+00:00"
SPARK_APP = "openlineage:run:019299c5-12f5-7946-b5b2-c6abab662e20"


def _by_uid(rows: dict[str, Any], table: str) -> dict[str, dict[str, Any]]:
    return {r["uid"]: r for r in rows.get(table, [])}


def _links(rows: dict[str, Any], kind: str | None = None) -> set[tuple[str, str, str]]:
    return {(x["src_uid"], x["kind"], x["dst_uid"]) for x in rows.get("links", [])
            if kind is None or x["kind"] == kind}


def _keys(rows: dict[str, Any], uid: str) -> set[tuple[str, str]]:
    return {(k["kind"], k["value"]) for k in rows["keys"] if k["entity_uid"] == uid}


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_lines(path: Path, events: list[Any]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_airflow_dag_runs_hold_their_task_steps_with_try_numbers() -> None:
    rows = normalized_rows(AIRFLOW)
    runs, steps = _by_uid(rows, "runs"), _by_uid(rows, "steps")
    # the compatibility scenario holds three DAG runs (BQ, dag, gcs_hook), all successful
    assert {(r["component"], r["status"]) for r in runs.values()} == {
        ("airflow:dag:BQ", "ok"), ("airflow:dag:dag", "ok"), ("airflow:dag:gcs_hook", "ok")}
    bq = runs[BQ_RUN]
    assert (bq["name"], bq["started_at"], bq["ended_at"]) == (
        "manual__2024-11-26T13:05:23.281750+00:00", "2024-11-26T13:05:23.809955+00:00",
        "2024-11-26T13:05:39.809127+00:00")
    bq_steps = {s["name"]: s for s in steps.values() if s["run_uid"] == BQ_RUN}
    assert set(bq_steps) == {"upload", "copy", "download"}
    upload = bq_steps["upload"]
    assert upload["uid"] == f"airflow:step:BQ/{bq['name']}/upload"
    assert (upload["component"], upload["status"], upload["attempt"]) == (
        "airflow:task:BQ.upload", "ok", 1)
    assert (upload["started_at"], upload["ended_at"]) == (
        "2024-11-26T13:05:25.547948+00:00", "2024-11-26T13:05:29.606867+00:00")
    assert upload["detail"]["operator"] == "GCSToBigQueryOperator"
    assert len([s for s in steps.values() if s["run_uid"].startswith("airflow:run:gcs_hook/")]) == 9
    assert {s["attempt"] for s in steps.values()} == {1}
    assert (BQ_RUN, "contains", upload["uid"]) in _links(rows)
    # the DAG run is keyed by dag_id/run_id and by its OpenLineage run id; tasks by theirs
    assert _keys(rows, BQ_RUN) == {
        ("business:airflow_run", "BQ/manual__2024-11-26T13:05:23.281750+00:00"),
        ("job_run_id", "01936893-9751-7a91-a2a0-a51101a3970c")}
    assert ("job_run_id", "01936893-9751-7b3c-8f76-8ac6d0e5f8a3") in _keys(rows, upload["uid"])


def test_airflow_task_dependencies_are_declared() -> None:
    rows = normalized_rows(AIRFLOW)
    declared = {(d["src"], d["kind"], d["dst"]) for d in rows["declared"]}
    assert {d for d in declared if d[0].startswith("airflow:task:BQ.")} == {
        ("airflow:task:BQ.upload", "precedes", "airflow:task:BQ.copy"),
        ("airflow:task:BQ.copy", "precedes", "airflow:task:BQ.download")}
    assert ("airflow:dag:BQ", "contains", "airflow:task:BQ.upload") in declared


def test_spark_child_runs_link_to_the_application_run() -> None:
    rows = normalized_rows(SPARK)
    runs = _by_uid(rows, "runs")
    assert len(runs) == 7
    app = runs[SPARK_APP]
    assert (app["component"], app["status"]) == ("openlineage:job:default/cl_i_test_application",
                                                 "ok")
    assert "parent_uid" not in app
    assert app["detail"]["spark_app_id"] == "local-1729156674719"
    children = {uid for uid, r in runs.items() if r.get("parent_uid") == SPARK_APP}
    assert len(children) == 6
    assert _links(rows, "child") == {(SPARK_APP, "child", uid) for uid in children}
    for uid in children:  # the parent's run id joins the child even across files
        assert ("job_run_id", "019299c5-12f5-7946-b5b2-c6abab662e20") in _keys(rows, uid)
    # START, two RUNNINGs and COMPLETE merge into one run
    insert = runs["openlineage:run:019299c5-5488-7db5-a64e-11439fc53117"]
    assert (insert["started_at"], insert["ended_at"], insert["status"]) == (
        "2024-10-17T09:18:19.239000+00:00", "2024-10-17T09:18:25.647000+00:00", "ok")
    # a run seen only through COMPLETE has no start time
    assert "started_at" not in runs["openlineage:run:019299c5-4630-75cc-a27a-33e6e55ec50d"]


def test_dbt_model_reads_and_writes_exact_datasets_and_keeps_column_lineage() -> None:
    rows = normalized_rows(DBT)
    model = "openlineage:run:019a977e-cd5e-71fb-a982-ec11b80e5b01"  # customer_analytics
    pg = "dataset:postgres://localhost:5432/dbt_test.main"
    io = {x for x in _links(rows) if model in (x[0], x[2]) and x[1] in ("reads", "writes")}
    assert io == {(f"{pg}.stg_customers", "reads", model), (f"{pg}.stg_orders", "reads", model),
                  (model, "writes", f"{pg}.customer_analytics")}
    datasets = _by_uid(rows, "datasets")
    out = datasets[f"{pg}.customer_analytics"]
    assert (out["namespace"], out["name"]) == ("postgres://localhost:5432",
                                               "dbt_test.main.customer_analytics")
    assert out["detail"]["column_lineage"]["customer_name"] == [
        {"dataset": f"{pg}.stg_customers", "field": "customer_name"}]
    # openlineage-dbt's invocation id is a job_run_id key, the one dbt_log gives its run
    assert ("job_run_id", "e49bb33a-4b62-417d-a378-0d218608b125") in _keys(rows, model)


def test_test_placeholder_and_broken_line_are_rejected_with_their_lines(tmp_path: Path) -> None:
    events = _events(SPARK)[:3]
    flink = json.loads(FLINK.read_text())
    path = _write_lines(tmp_path / "mixed.jsonl", [*events, flink])
    with path.open("a") as fh:
        fh.write(json.dumps(events[0])[:150] + "\n")  # a line cut short
    rows = normalized_rows(path, fmt="openlineage_json")
    src = rows["source"]
    assert (src["records"], src["loaded"], src["rejected"]) == (5, 3, 2)
    (placeholder, broken) = rows["rejects"]
    assert placeholder == {
        "location": "line 4",
        "reason": "field 'eventTime' is a test placeholder '${json-unit.any-string}': a "
                  "compatibility-test template, not a real event"}
    assert broken["location"] == "line 5"
    assert broken["reason"].startswith("expected a JSON document per line: ")
    assert len(rows["runs"]) == 2


def test_jinja_placeholder_in_run_id_is_rejected(tmp_path: Path) -> None:
    event = _events(SPARK)[0]
    event["run"]["runId"] = "{{ any(result) }}"
    rows = normalized_rows(_write_lines(tmp_path / "t.jsonl", [event]), fmt="openlineage_json")
    assert rows["rejects"] == [{
        "location": "line 1",
        "reason": "field 'run.runId' is a test placeholder '{{ any(result) }}': a "
                  "compatibility-test template, not a real event"}]


def test_array_marquez_and_gzip_forms_give_the_same_rows(tmp_path: Path) -> None:
    events = _events(SPARK)
    plain = normalized_rows(SPARK)
    array = tmp_path / "events.json"
    array.write_text(json.dumps(events, indent=2))
    marquez = tmp_path / "lineage.json"
    marquez.write_text(json.dumps({"events": events, "totalCount": len(events)}))
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(SPARK.read_bytes()))
    for path, where in ((array, "events[0]"), (marquez, "line 1 events[0]"), (packed, "line 1")):
        rows = normalized_rows(path)
        assert rows["source"]["format"] == "openlineage_json"
        assert rows["source"]["loaded"] == 16
        assert _by_uid(rows, "runs").keys() == _by_uid(plain, "runs").keys()
        assert rows["runs"][0]["location"] == where
        assert _links(rows) == _links(plain)


def test_airflow_retry_gets_its_own_step_and_a_retry_link(tmp_path: Path) -> None:
    events = _events(AIRFLOW)[:8]  # the BQ DAG run
    first_try = [e for e in events if e["job"]["name"] == "BQ.copy"]
    retry = json.loads(json.dumps(first_try))
    for e in first_try:  # try 1 failed; try 2 (a new OpenLineage run) succeeded
        e["run"]["runId"] = "01936893-9751-7b10-a4a7-000000000001"
        e["run"]["facets"]["airflow"]["taskInstance"]["try_number"] = 1
    first_try[1]["eventType"] = "FAIL"
    first_try[1]["run"]["facets"]["errorMessage"] = {"message": "quota exceeded",
                                                    "programmingLanguage": "python"}
    for e in retry:
        e["run"]["facets"]["airflow"]["taskInstance"]["try_number"] = 2
    rows = normalized_rows(_write_lines(tmp_path / "retry.jsonl", [*events, *retry]),
                           fmt="openlineage_json")
    steps = _by_uid(rows, "steps")
    base = "airflow:step:BQ/manual__2024-11-26T13:05:23.281750+00:00/copy"
    assert (steps[base]["attempt"], steps[base]["status"]) == (2, "ok")
    earlier = steps[f"{base}#try1"]
    assert (earlier["attempt"], earlier["status"], earlier["error"]) == (
        1, "retried", "quota exceeded")
    assert (base, "retry_of", f"{base}#try1") in _links(rows)


def test_tasks_state_fills_tasks_without_events_and_ends_killed_ones(tmp_path: Path) -> None:
    events = _events(AIRFLOW)[:8]
    kept = [e for e in events if e["job"]["name"] != "BQ.download"
            and not (e["job"]["name"] == "BQ.copy" and e["eventType"] == "COMPLETE")]
    dag_complete = kept[-1]
    dag_complete["eventType"] = "FAIL"
    dag_complete["run"]["facets"]["airflowState"]["dagRunState"] = "failed"
    dag_complete["run"]["facets"]["airflowState"]["tasksState"].update(
        {"copy": "failed", "download": "upstream_failed"})
    rows = normalized_rows(_write_lines(tmp_path / "killed.jsonl", kept), fmt="openlineage_json")
    steps = {s["name"]: s for s in rows["steps"]}
    assert rows["runs"][0]["status"] == "failed"
    assert (steps["copy"]["status"], steps["copy"]["detail"]["state"]) == ("failed", "failed")
    download = steps["download"]
    assert (download["uid"], download["status"], download["location"]) == (
        f"{BQ_RUN.replace('airflow:run:', 'airflow:step:')}/download", "failed", "line 5")
    assert download["detail"]["failed_upstream"] is True
    assert "started_at" not in download


def test_kafka_datasets_give_the_run_channel_keys(tmp_path: Path) -> None:
    event = json.loads(FLINK.read_text())
    event["eventTime"] = "2024-05-02T10:00:00.123Z"
    event["run"]["runId"] = "018f3c4e-0000-7000-8000-000000000001"
    rows = normalized_rows(_write_lines(tmp_path / "flink.jsonl", [event]), fmt="openlineage_json")
    uid = "openlineage:run:018f3c4e-0000-7000-8000-000000000001"
    assert {k for k in _keys(rows, uid) if k[0] == "channel"} == {
        ("channel", "kafka:topic:io.openlineage.flink.kafka.input1"),
        ("channel", "kafka:topic:io.openlineage.flink.kafka.input2"),
        ("channel", "kafka:topic:io.openlineage.flink.kafka.output")}
    assert rows["runs"][0]["status"] == "running"


def test_event_lines_longer_than_a_sniff_head_are_read_as_lines(tmp_path: Path) -> None:
    events = _events(SPARK)[:2]
    events[0]["job"]["facets"]["sql"] = {"query": "SELECT " + ", ".join(
        f"col_{i}" for i in range(20_000)) + " FROM t"}  # ~200 KiB on one line
    rows = normalized_rows(_write_lines(tmp_path / "long.jsonl", events), fmt="openlineage_json")
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (2, 2)
    assert {r["location"] for r in rows["runs"]} == {"line 1", "line 2"}


def test_runs_written_early_when_memory_is_tight_keep_every_row(
        monkeypatch: pytest.MonkeyPatch) -> None:
    plain = normalized_rows(SPARK)
    monkeypatch.setattr(openlineage_json, "MAX_OPEN_RUNS", 1)
    tight = normalized_rows(SPARK)
    assert tight["source"] == plain["source"]
    for table in ("runs", "datasets", "keys", "declared"):
        assert tight.get(table) == plain.get(table), table
    assert _links(tight) == _links(plain)


def test_static_job_event_declares_lineage_and_dataset_event_names_a_dataset(
        tmp_path: Path) -> None:
    job_event = {
        "eventTime": "2024-05-02T10:00:00Z", "producer": "https://example.com/etl",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
        "job": {"namespace": "etl", "name": "orders_daily"},
        "inputs": [{"namespace": "postgres://db:5432", "name": "shop.public.orders"}],
        "outputs": [{"namespace": "s3://lake", "name": "/orders/daily"}]}
    dataset_event = {
        "eventTime": "2024-05-02T10:00:00Z", "producer": "https://example.com/catalog",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": {"namespace": "s3://lake", "name": "/orders/archive", "facets": {
            "schema": {"fields": [{"name": "id", "type": "BIGINT"}]}}}}
    rows = normalized_rows(_write_lines(tmp_path / "static.jsonl", [job_event, dataset_event]),
                           fmt="openlineage_json")
    assert "runs" not in rows and rows["source"]["loaded"] == 2
    job = "openlineage:job:etl/orders_daily"
    assert {(d["src"], d["kind"], d["dst"]) for d in rows["declared"]} == {
        ("dataset:postgres://db:5432/shop.public.orders", "reads", job),
        (job, "writes", "dataset:s3://lake/orders/daily")}
    archive = _by_uid(rows, "datasets")["dataset:s3://lake/orders/archive"]
    assert archive["detail"] == {"fields": ["id:BIGINT"]}


def test_as_int_refuses_what_is_no_integer() -> None:
    from ingest.openlineage_json import as_int

    assert [as_int(v) for v in (7, "7", float("inf"), "x", True, None, [1])] == [
        7, 7, None, None, None, None, None]


def test_column_lineage_of_the_wrong_shape_is_left_out_not_a_crash(tmp_path: Path) -> None:
    # Found by scripts/fuzz_long.py (openlineage_json:2917, :5822): a number where the facet
    # has lists of input fields and transformations.
    events = _events(DBT)
    for event in events:
        for ds in event.get("outputs") or []:
            for spec in ((ds.get("facets") or {}).get("columnLineage") or {}).get(
                    "fields", {}).values():
                spec["inputFields"][0]["transformations"] = 1.5
                spec["inputFields"].append({"namespace": "x", "name": "y",
                                            "transformations": 7})
    broken = normalized_rows(_write_lines(tmp_path / "odd.jsonl", events))
    fine = normalized_rows(DBT)
    assert broken["source"]["loaded"] == fine["source"]["loaded"]
    assert "rejects" not in broken
    out = _by_uid(broken, "datasets")[
        "dataset:postgres://localhost:5432/dbt_test.main.customer_analytics"]
    assert out["detail"]["column_lineage"]["customer_name"][0] == {
        "dataset": "dataset:postgres://localhost:5432/dbt_test.main.stg_customers",
        "field": "customer_name"}
    events[0].setdefault("outputs", [{}])
    for ds in events[0]["outputs"]:
        ds.setdefault("facets", {})["columnLineage"] = {"fields": {"c": {"inputFields": 2.5}}}
    assert "rejects" not in normalized_rows(_write_lines(tmp_path / "odd2.jsonl", events))


def test_a_task_the_dag_skipped_is_skipped_not_cancelled(tmp_path: Path) -> None:
    # Airflow's TaskInstanceState: `skipped` is the DAG's own decision (a branch, a short
    # circuit, a trigger rule); `removed` (gone from the DAG before it ran) is not.
    events = _events(AIRFLOW)[:8]
    kept = [e for e in events if e["job"]["name"] != "BQ.download"]
    kept[-1]["run"]["facets"]["airflowState"]["tasksState"].update(
        {"download": "skipped", "cleanup": "removed"})
    rows = normalized_rows(_write_lines(tmp_path / "skipped.jsonl", kept), fmt="openlineage_json")
    steps = {s["name"]: s for s in rows["steps"]}
    assert (steps["download"]["status"], steps["download"]["detail"]["state"]) == (
        "skipped", "skipped")
    assert steps["cleanup"]["status"] == "cancelled"
