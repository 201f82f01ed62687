"""OpenLineage events as the Airflow provider emits them, one per line (file transport).

``apache-airflow-providers-openlineage`` 1.14 with ``transport: {type: file, append: true}``:
a DAG run's START carries the ``airflowDagRun`` facet and, as a job facet, ``airflow.tasks``
with each task's ``downstream_task_ids`` (the declared task order); each task instance emits
START and COMPLETE with the ``airflow`` run facet (dag, dagRun, task, taskInstance) and the
``parent`` facet pointing at the DAG run; datasets (with ``schema`` facets, and
``outputStatistics`` on outputs) ride on the task COMPLETE; the DAG run's COMPLETE carries
``airflowState``. Job names are ``<dag_id>`` and ``<dag_id>.<task_id>`` in namespace
``airflow``. Compare the corpus file ``airflow/ol_airflow_dagrun_bq_gcs_events.jsonl``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tracemap.samples import landscape as L
from tracemap.samples.records import DagRun, TaskRun
from tracemap.samples.writers import Sink

FORMAT = "openlineage_json"
PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
RUN_FACET = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet"
NAMESPACE = "airflow"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Columns of each dataset, for the schema facet.
COLUMNS: dict[str, list[tuple[str, str]]] = {
    L.ORDERS_TABLE.name: [("id", "varchar"), ("customer_id", "varchar"), ("amount", "numeric"),
                          ("currency", "varchar"), ("status", "varchar"),
                          ("created_at", "timestamptz")],
    L.ORDERS_TOPIC.name: [("orderId", "string"), ("customerId", "string"), ("amount", "double"),
                          ("currency", "string")],
    L.RAW_ORDERS.name: [("id", "string"), ("customer_id", "string"), ("amount", "double"),
                        ("currency", "string"), ("created_at", "timestamp")],
    L.SALES.name: [("order_date", "DATE"), ("orders", "INTEGER"), ("revenue", "NUMERIC"),
                   ("currency", "STRING")],
    L.REVENUE.name: [("day", "DATE"), ("net_revenue", "NUMERIC"), ("tax", "NUMERIC"),
                     ("gross_revenue", "NUMERIC")],
    L.REPORT_FILE.name: [("day", "STRING"), ("net_revenue", "STRING"), ("tax", "STRING"),
                         ("gross_revenue", "STRING")],
}


def iso(us: int) -> str:
    return (EPOCH + timedelta(microseconds=us)).isoformat()


def facet(schema: str, **fields: Any) -> dict[str, Any]:
    url = schema if schema.startswith("https://") else (
        f"https://openlineage.io/spec/facets/{schema}")
    return {"_producer": PRODUCER, "_schemaURL": url, **fields}


def dag_facet(dag: L.Dag) -> dict[str, Any]:
    return {"dag_id": dag.dag_id, "fileloc": dag.fileloc, "owner": "data-platform",
            "schedule_interval": dag.schedule, "start_date": "2025-01-01T00:00:00+00:00",
            "tags": "['acme']", "timetable": {"expression": dag.schedule, "timezone": "UTC"}}


def dag_run_facet(dag: L.Dag, run: DagRun) -> dict[str, Any]:
    return {"conf": {}, "dag_id": dag.dag_id, "data_interval_end": iso(run.interval_end_us),
            "data_interval_start": iso(run.logical_us), "external_trigger": False,
            "run_id": run.run_id, "run_type": "scheduled", "start_date": iso(run.start_us)}


def nominal(run: DagRun) -> dict[str, Any]:
    return facet("1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
                 nominalEndTime=iso(run.interval_end_us), nominalStartTime=iso(run.logical_us))


def engine() -> dict[str, Any]:
    return facet("1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
                 name="Airflow", openlineageAdapterVersion="1.14.0", version="2.10.3")


def job_type(kind: str) -> dict[str, Any]:
    return facet("2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet", integration="AIRFLOW",
                 jobType=kind, processingType="BATCH")


def event(etype: str, us: int, job: str, job_facets: dict[str, Any], run_id: str,
          run_facets: dict[str, Any], inputs: list[Any] | None = None,
          outputs: list[Any] | None = None) -> dict[str, Any]:
    return {"eventTime": iso(us), "eventType": etype, "inputs": inputs or [],
            "job": {"facets": job_facets, "name": job, "namespace": NAMESPACE},
            "outputs": outputs or [], "producer": PRODUCER,
            "run": {"facets": run_facets, "runId": run_id}, "schemaURL": SCHEMA}


def dataset(namespace: str, name: str, *, rows: int | None = None) -> dict[str, Any]:
    facets: dict[str, Any] = {"schema": facet(
        "1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
        fields=[{"fields": [], "name": n, "type": t} for n, t in COLUMNS[name]])}
    out: dict[str, Any] = {"facets": facets, "name": name, "namespace": namespace}
    if rows is not None:
        out["outputFacets"] = {"outputStatistics": facet(
            "1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/"
            "OutputStatisticsOutputDatasetFacet", rowCount=rows, size=rows * 212)}
    return out


def task_facet(dag: L.Dag, run: DagRun, task: L.Task, ti: TaskRun) -> dict[str, Any]:
    upstream = [t.task_id for t in dag.tasks if task.task_id in t.downstream]
    return {
        "_producer": PRODUCER, "_schemaURL": RUN_FACET,
        "dag": dag_facet(dag), "dagRun": dag_run_facet(dag, run),
        "task": {"depends_on_past": False, "downstream_task_ids": str(list(task.downstream)),
                 "executor_config": {}, "mapped": False,
                 "operator_class": task.operator.rsplit(".", 1)[1],
                 "operator_class_path": task.operator, "owner": "data-platform",
                 "queue": "default", "retries": 2, "task_id": task.task_id,
                 "trigger_rule": "all_success", "upstream_task_ids": str(upstream)},
        "taskInstance": {"log_url": f"https://airflow.acme.internal/dags/{dag.dag_id}/grid?"
                                    f"dag_run_id={run.run_id}&task_id={task.task_id}",
                         "pool": "default_pool", "queued_dttm": iso(ti.queued_us),
                         "try_number": 1},
        "taskUuid": ti.ol_run_id,
    }


def events(run: DagRun) -> list[dict[str, Any]]:
    dag = L.DAGS[run.dag_id]
    tasks = {t.task_id: t for t in dag.tasks}
    out = [event("START", run.start_us, dag.dag_id, {
        "airflow": {"_producer": PRODUCER, "_schemaURL": RUN_FACET.replace("RunFacet", "JobFacet"),
                    "taskGroups": {}, "taskTree": {}, "tasks": {
                        t.task_id: {"downstream_task_ids": list(t.downstream),
                                    "emits_ol_events": True, "is_setup": False,
                                    "is_teardown": False, "operator": t.operator,
                                    "ui_color": "#fff", "ui_fgcolor": "#000",
                                    "ui_label": t.task_id} for t in dag.tasks}},
        "jobType": job_type("DAG")}, run.ol_run_id, {
        "airflowDagRun": {"_producer": PRODUCER, "_schemaURL": RUN_FACET, "dag": dag_facet(dag),
                          "dagRun": dag_run_facet(dag, run)},
        "nominalTime": nominal(run), "processing_engine": engine()})]
    parent = facet("1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet",
                   job={"name": dag.dag_id, "namespace": NAMESPACE},
                   run={"runId": run.ol_run_id})
    for ti in run.tasks:
        task = tasks[ti.task_id]
        job = f"{dag.dag_id}.{ti.task_id}"
        airflow = task_facet(dag, run, task, ti)
        out.append(event("START", ti.start_us, job, {"jobType": job_type("TASK")}, ti.ol_run_id,
                         {"airflow": airflow, "nominalTime": nominal(run), "parent": parent,
                          "processing_engine": engine()}))
        out.append(event("COMPLETE", ti.end_us, job, {"jobType": job_type("TASK")},
                         ti.ol_run_id, {"airflow": airflow, "parent": parent},
                         [dataset(ns, name) for ns, name in ti.inputs],
                         [dataset(ns, name, rows=ti.row_count) for ns, name in ti.outputs]))
    out.append(event("COMPLETE", run.end_us, dag.dag_id, {"jobType": job_type("DAG")},
                     run.ol_run_id, {"airflowState": {
                         "_producer": PRODUCER, "_schemaURL": RUN_FACET,
                         "dagRunState": run.state,
                         "tasksState": {ti.task_id: ti.state for ti in run.tasks}}}))
    return out


def write(sink: Sink, run: DagRun, rel: str) -> None:
    for ev in events(run):
        sink.append(FORMAT, rel, orjson.dumps(ev))
