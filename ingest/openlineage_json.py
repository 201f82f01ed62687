"""OpenLineage run events (Spark, dbt, Flink, Airflow ...): JSON lines, one event, or an array.

Written by the OpenLineage ``file``/``console`` transports (one RunEvent per line), HTTP
collectors and proxies that log request bodies, Marquez's ``GET /api/v1/events/lineage``
(``{"events": [...]}``) and the OpenLineage compatibility tests (one event per file).
Spec 1.x and 2-0-x: RunEvent (eventType START/RUNNING/COMPLETE/ABORT/FAIL/OTHER, optional),
and the static JobEvent (job + datasets, no run: declared lineage) and DatasetEvent.

Mapping:

- Several events describe one run (``run.runId``): they are merged into one row. Start time
  from START, end time and status from the last COMPLETE/FAIL/ABORT; a run seen only through
  START/RUNNING is ``running``. Generic runs are ``openlineage:run:<runId>`` of the component
  ``openlineage:job:<job namespace>/<job name>``.
- The parent run facet (``parent.run.runId``) becomes ``parent_uid`` and a ``child`` link from
  the parent; the parent's and the root's (``parent.root``, spec 2-0-3+) run ids are
  ``job_run_id`` keys of the child, so runs in other files still join. A parent outside the file
  is linked as ``openlineage:run:<runId>``.
- Datasets are ``dataset:<namespace>/<name>``; an input is a ``reads`` link dataset -> run,
  an output a ``writes`` link run -> dataset. Schema fields, symlinks and the columnLineage
  facet are kept in the dataset's detail.
- Airflow (apache-airflow-providers-openlineage 1.x/2.x; facets ``airflowDagRun``, ``airflow``,
  ``airflowState``): a DAG run is ``airflow:run:<dag_id>/<run_id>`` and a task run its step
  ``airflow:step:<dag_id>/<run_id>/<task_id>`` (attempt = ``try_number``), the scheme
  ``airflow_rest`` uses, so both sources of one DAG run meet. Task dependencies from the
  ``airflow`` job facet (``tasks[*].downstream_task_ids``) and task facet are declared
  ``precedes`` edges; ``airflowState.tasksState`` gives the state of tasks that sent no event
  (skipped, upstream_failed). The legacy openlineage-airflow integration names no DAG run id
  and stays generic.
- dbt (openlineage-dbt): ``dbt_run.invocation_id`` is a ``job_run_id`` key, the key
  ``dbt_log`` gives the same invocation.

Quirks handled: eventTime with any fraction length or offset; ``downstream_task_ids`` as a
list or as its Python repr (``"['copy']"``, provider 1.x); Airflow DAG COMPLETE events that
only carry ``airflowState``; compatibility-test templates (``${json-unit.any-string}``,
``{{ any(result) }}``) in ids or times, which are rejected as test placeholders.
Runs are held in memory per file (far fewer than events); finished runs are written early when
a file holds more than ``MAX_OPEN_RUNS``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ingest._json import json_records, raw_text
from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    first_json_value,
    us_from_iso,
)
from tracemap.model import EdgeKind, KeyKind, Status, business_key, channel_component, component

NAME = "openlineage_json"

#: eventType -> the status it states (None: says nothing about the outcome).
EVENT_STATUS: dict[str, Status | None] = {
    "START": Status.RUNNING,
    "RUNNING": Status.RUNNING,
    "COMPLETE": Status.OK,
    "FAIL": Status.FAILED,
    "ABORT": Status.CANCELLED,
    "OTHER": None,
}
TERMINAL = frozenset({"COMPLETE", "FAIL", "ABORT"})
#: Compatibility-test templates: json-unit placeholders and Jinja-style expectations.
PLACEHOLDER = re.compile(r"\$\{json-unit\.[^}]*\}|\{\{.*?\}\}")
#: Fields checked for placeholders: an event whose identity or time is a template is not real.
PLACEHOLDER_FIELDS = ("eventTime", "run.runId", "job.namespace", "job.name")
#: Runs kept in memory before finished ones are written out early.
MAX_OPEN_RUNS = 100_000

#: Run facet fields kept in detail: facet -> {field: detail name}.
RUN_FACET_DETAIL: dict[str, dict[str, str]] = {
    "processing_engine": {"name": "engine", "version": "engine_version",
                          "openlineageAdapterVersion": "adapter_version"},
    "nominalTime": {"nominalStartTime": "nominal_start", "nominalEndTime": "nominal_end"},
    "spark_applicationDetails": {"applicationId": "spark_app_id", "appName": "spark_app_name",
                                 "master": "spark_master", "deployMode": "spark_deploy_mode",
                                 "driverHost": "spark_driver_host", "userName": "user"},
    "gcp_dataproc_spark": {"appId": "dataproc_app_id", "projectId": "gcp_project",
                           "clusterName": "dataproc_cluster", "jobId": "dataproc_job_id",
                           "batchId": "dataproc_batch_id"},
    "dbt_run": {"invocation_id": "dbt_invocation_id", "project_name": "dbt_project",
                "profile_name": "dbt_profile", "dbt_runtime": "dbt_runtime"},
    "dbt_version": {"version": "dbt_version"},
    "flink_job": {"jobId": "flink_job_id"},
    "externalQuery": {"externalQueryId": "external_query_id", "source": "external_query_source"},
    "errorMessage": {"programmingLanguage": "error_language"},
    "airflowState": {"dagRunState": "airflow_state"},
}
#: Job facet fields kept in detail.
JOB_FACET_DETAIL: dict[str, dict[str, str]] = {
    "jobType": {"integration": "integration", "jobType": "job_type",
                "processingType": "processing_type"},
    "sql": {"dialect": "sql_dialect"},
    "sourceCodeLocation": {"url": "source_url", "version": "source_version"},
}
#: Airflow facet paths kept in a DAG run's / task run's detail.
AIRFLOW_DAG_DETAIL = {"dagRun.run_type": "run_type", "dagRun.external_trigger": "external_trigger",
                      "dagRun.logical_date": "logical_date",
                      "dagRun.execution_date": "execution_date",
                      "dagRun.data_interval_start": "data_interval_start",
                      "dagRun.data_interval_end": "data_interval_end", "dag.fileloc": "fileloc",
                      "dag.owner": "owner"}
AIRFLOW_TASK_DETAIL = {"task.operator_class": "operator", "task.queue": "queue",
                       "task.retries": "retries", "task.trigger_rule": "trigger_rule",
                       "taskInstance.pool": "pool", "taskInstance.duration": "duration",
                       "taskInstance.queued_dttm": "queued_at", "taskInstance.hostname": "hostname",
                       "task.task_group.group_id": "task_group"}
#: Dataset namespace schemes that are message buses: the run gets a ``channel`` key for the
#: topic, so lineage of a streaming job meets the bus records of the same topic.
DATASET_BUSES = {"kafka": "kafka"}
#: Errors and stack traces are cut to this many characters.
ERROR_CAP = 2000


# --------------------------------------------------------------------------------------------
# The Airflow uid scheme and state spellings, shared with airflow_rest


#: Task instance states (``TaskInstanceState``; ``shutdown``/``sensing`` before Airflow 2.2).
#: ``upstream_failed`` is failed (detail says upstream); ``skipped`` (by a branch, a short
#: circuit or a trigger rule: the DAG's own decision) is skipped; ``removed`` (gone from the
#: DAG before it ran) and ``shutdown`` (stopped from outside) are cancelled.
TASK_STATES: dict[str | None, Status] = {
    "success": Status.OK,
    "failed": Status.FAILED,
    "upstream_failed": Status.FAILED,
    "up_for_retry": Status.RETRIED,
    "up_for_reschedule": Status.RUNNING,
    "running": Status.RUNNING,
    "restarting": Status.RUNNING,
    "deferred": Status.RUNNING,
    "queued": Status.RUNNING,
    "scheduled": Status.RUNNING,
    "sensing": Status.RUNNING,
    "skipped": Status.SKIPPED,
    "removed": Status.CANCELLED,
    "shutdown": Status.CANCELLED,
    "none": Status.UNKNOWN,
    None: Status.UNKNOWN,
}
#: DAG run states (``DagRunState``).
DAG_STATES: dict[str | None, Status] = {
    "success": Status.OK,
    "failed": Status.FAILED,
    "running": Status.RUNNING,
    "queued": Status.RUNNING,
    None: Status.UNKNOWN,
}
#: The key naming one DAG run across systems: ``<dag_id>/<run_id>``. The dag id is part of the
#: value because scheduled run ids (``scheduled__2024-01-01T00:00:00+00:00``) repeat across DAGs.
AIRFLOW_RUN_KEY = business_key("airflow_run")


def dag_component(dag_id: str) -> str:
    return component("airflow", "dag", dag_id)


def task_component(dag_id: str, task_id: str) -> str:
    return component("airflow", "task", f"{dag_id}.{task_id}")


def dag_run_uid(dag_id: str, run_id: str) -> str:
    """The uid of one DAG run: ``airflow:run:<dag_id>/<run_id>``."""
    return f"airflow:run:{dag_id}/{run_id}"


def task_uid(dag_id: str, run_id: str, task_id: str, map_index: Any = None) -> str:
    """The uid of a task instance's latest try; ``[<i>]`` marks one copy of a mapped task."""
    uid = f"airflow:step:{dag_id}/{run_id}/{task_id}"
    index = as_int(map_index)
    return f"{uid}[{index}]" if index is not None and index >= 0 else uid


def attempt_uids(tries: Iterable[tuple[str, int | None]]
                 ) -> tuple[dict[tuple[str, int | None], str], list[tuple[str, str]]]:
    """Uids for tries of task instances: ``(base uid, try number)`` -> uid, and retry pairs.

    The highest try of each base uid keeps the base uid (the try the REST API lists); earlier
    tries get ``#try<n>``. The pairs are ``(later try uid, earlier try uid)``.
    """
    by_base: dict[str, set[int | None]] = {}
    for base, number in tries:
        by_base.setdefault(base, set()).add(number)
    uids: dict[tuple[str, int | None], str] = {}
    retries: list[tuple[str, str]] = []
    for base, numbers in by_base.items():
        ordered = sorted(numbers, key=lambda n: -1 if n is None else n)
        chain = [base if i == len(ordered) - 1 else f"{base}#try{n}"
                 for i, n in enumerate(ordered)]
        uids.update({(base, n): uid for n, uid in zip(ordered, chain, strict=True)})
        retries.extend(zip(chain[1:], chain[:-1], strict=True))
    return uids, retries


def as_int(value: Any) -> int | None:
    """An int from an int or numeric string; None for anything else (bools included)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a float infinity
        return None


# --------------------------------------------------------------------------------------------
# Sniff and parse


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if text.startswith(b"["):
        text = text[1:].lstrip()
    if not text.startswith(b"{"):
        return False
    if b'"topic"' in text and b'"offset"' in text:
        return False  # a kcat dump of an OpenLineage Kafka topic is kafka_kcat's
    if b'"specversion"' in text or b'"detail-type"' in text or b'"dataVersion"' in text:
        return False  # an envelope (CloudEvents, EventBridge, Event Grid) around an event
    if b"openlineage.io/spec" in text and (b'"run"' in text or b'"job"' in text):
        return True
    return b'"eventTime"' in text and (b'"runId"' in text or b'"namespace"' in text)


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    lineage = _Lineage(src)
    limit = MAX_OPEN_RUNS
    add = partial(lineage.add, b)
    for where, ev in json_records(src, b, array_paths=("events",), item="events"):
        b.record(add, ev, where, raw=raw_text)
        if len(lineage.runs) > limit:
            lineage.flush(b, final=False)
            # runs still open stay: wait for them to double before scanning again
            limit = max(MAX_OPEN_RUNS, 2 * len(lineage.runs))
        if b.ready():
            yield b.take()
    lineage.flush(b, final=True)
    yield b.take()


@dataclass(slots=True)
class _Run:
    """What the events of one OpenLineage run said, merged."""

    run_id: str
    uid: str
    system: str
    component: str
    name: str
    location: str
    is_step: bool = False
    run_uid: str | None = None  # Airflow task: its DAG run
    airflow: tuple[str, ...] = ()  # (dag_id, run_id) or (dag_id, run_id, task_id)
    base_uid: str = ""  # Airflow task: uid before a try suffix
    attempt: int | None = None
    started_at: int | None = None
    ended_at: int | None = None
    terminal: Status | None = None
    terminal_at: int = -1
    live: bool = False
    error: str | None = None
    parent_run_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    keys: set[tuple[str, str]] = field(default_factory=set)
    io: dict[tuple[str, str], str] = field(default_factory=dict)  # (dataset uid, kind) -> where
    tasks_state: dict[str, str] = field(default_factory=dict)
    state_location: str = ""


class _Lineage:
    """Runs and datasets of one file, merged across events."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.runs: dict[str, _Run] = {}
        self.uid_of: dict[str, str] = {}  # OpenLineage runId -> uid (also of written runs)
        self.task_bases: set[str] = set()  # Airflow task uids written or held
        self.datasets: dict[str, dict[str, Any]] = {}
        self.declared: set[tuple[str, str, str]] = set()
        self.written_declared: set[tuple[str, str, str]] = set()

    # one event ------------------------------------------------------------------------------

    def add(self, b: BatchBuilder, ev: Any, where: str) -> str | None:
        """Merge one event; returns why it is unusable, or None."""
        if not isinstance(ev, dict):
            return f"expected an OpenLineage event object, got {type(ev).__name__}"
        for path in PLACEHOLDER_FIELDS:
            value = _at(ev, path)
            if isinstance(value, str) and PLACEHOLDER.search(value):
                return (f"field '{path}' is a test placeholder {value!r}: a compatibility-test "
                        "template, not a real event")
        run, job = ev.get("run"), ev.get("job")
        if run is None and job is None and isinstance(ev.get("dataset"), dict):
            return self._dataset_event(ev["dataset"])
        if not isinstance(job, dict):
            return ("field 'job': expected an object with namespace and name, got "
                    f"{raw_text(job, 120)}")
        ns, name = job.get("namespace"), job.get("name")
        if not isinstance(ns, str) or not ns or not isinstance(name, str) or not name:
            return f"fields 'job.namespace'/'job.name': expected strings, got {ns!r}/{name!r}"
        ios = self._ios(ev)
        if isinstance(ios, str):
            return ios
        if run is None:
            self._job_event(ns, name, ios)
            return None
        run_id = run.get("runId") if isinstance(run, dict) else None
        if not isinstance(run_id, str) or not run_id.strip():
            return f"field 'run.runId': expected a non-empty string, got {run_id!r}"
        try:
            at = us_from_iso(ev.get("eventTime"))
        except ValueError:
            at = None
        if at is None:
            return ("field 'eventTime': expected an ISO-8601 time, got "
                    f"{ev.get('eventTime')!r}")
        etype = str(ev.get("eventType") or "OTHER").upper()
        facets = run.get("facets") if isinstance(run.get("facets"), dict) else {}
        job_facets = job.get("facets") if isinstance(job.get("facets"), dict) else {}
        r = self._run(run_id.strip(), facets, ns, name, where)
        self._merge(r, ev, etype, at, facets, job_facets, where)
        self._merge_io(r, ios, where)
        self._declare_airflow(job_facets, facets, r)
        return None

    def _ios(self, ev: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]] | str:
        """The event's datasets ``(uid, kind, dataset, path)``, or why they are malformed."""
        out: list[tuple[str, str, dict[str, Any], str]] = []
        for name, kind in (("inputs", EdgeKind.READS), ("outputs", EdgeKind.WRITES)):
            items = ev.get(name)
            if items is None:
                continue
            if not isinstance(items, list):
                return f"field '{name}': expected a list of datasets, got {type(items).__name__}"
            for i, ds in enumerate(items):
                ns = ds.get("namespace") if isinstance(ds, dict) else None
                nm = ds.get("name") if isinstance(ds, dict) else None
                if not isinstance(ns, str) or not ns or not isinstance(nm, str) or not nm:
                    return (f"{name}[{i}]: expected a dataset with namespace and name strings, "
                            f"got {raw_text(ds, 120)}")
                out.append((self._dataset(ns, nm, ds), kind, ds, f"{name}[{i}]"))
        return out

    def _run(self, run_id: str, facets: dict[str, Any], ns: str, name: str, where: str) -> _Run:
        """The run this event belongs to: Airflow's scheme when its facets say so."""
        ident = _airflow_identity(facets)
        r = self.runs.get(run_id)
        if r is not None and (not ident or r.airflow):
            return r
        if ident and len(ident) == 2:
            dag_id, dag_run = ident
            new = _Run(run_id, dag_run_uid(dag_id, dag_run), "airflow", dag_component(dag_id),
                       dag_run, where, airflow=ident)
            new.keys.add((AIRFLOW_RUN_KEY, f"{dag_id}/{dag_run}"))
        elif ident:
            dag_id, dag_run, task_id = ident
            base = task_uid(dag_id, dag_run, task_id, _at(facets, "airflow.taskInstance.map_index"))
            new = _Run(run_id, base, "airflow", task_component(dag_id, task_id), task_id, where,
                       is_step=True, run_uid=dag_run_uid(dag_id, dag_run), airflow=ident,
                       base_uid=base)
            self.task_bases.add(base)
        else:
            new = _Run(run_id, f"openlineage:run:{run_id}", "openlineage",
                       component("openlineage", "job", f"{ns}/{name}"), run_id, where)
        if r is not None:  # an earlier event of this run lacked the Airflow facets
            for attr in ("started_at", "ended_at", "terminal", "terminal_at", "live", "error",
                         "parent_run_id", "detail", "keys", "io", "attempt"):
                value = getattr(r, attr)
                if attr == "keys":
                    new.keys |= value
                elif value is not None:
                    setattr(new, attr, value)
            new.location = r.location
        new.keys.add((KeyKind.JOB_RUN_ID, run_id))
        new.detail.setdefault("ol_run_id", run_id)
        self.runs[run_id] = new
        self.uid_of[run_id] = new.uid
        return new

    def _merge(self, r: _Run, ev: dict[str, Any], etype: str, at: int, facets: dict[str, Any],
               job_facets: dict[str, Any], where: str) -> None:
        job = ev["job"]
        r.detail.setdefault("namespace", job["namespace"])
        r.detail.setdefault("job", job["name"])
        if isinstance(ev.get("producer"), str):
            r.detail.setdefault("producer", ev["producer"])
        if etype == "START":
            r.started_at = at if r.started_at is None else min(r.started_at, at)
        if etype in TERMINAL and at >= r.terminal_at:
            r.terminal, r.terminal_at, r.ended_at = EVENT_STATUS[etype], at, at
        if etype in ("START", "RUNNING"):
            r.live = True
        if etype not in EVENT_STATUS:
            r.detail["unknown_event_type"] = etype
        _facet_detail(r.detail, facets, RUN_FACET_DETAIL)
        _facet_detail(r.detail, job_facets, JOB_FACET_DETAIL)
        error = facets.get("errorMessage")
        if isinstance(error, dict) and error.get("message"):
            r.error = str(error["message"])[:ERROR_CAP]
            if error.get("stackTrace"):
                r.detail["stack_trace"] = str(error["stackTrace"])[:ERROR_CAP]
        parent = facets.get("parent")
        if isinstance(parent, dict):
            parent_id = _at(parent, "run.runId")
            if isinstance(parent_id, str) and parent_id and parent_id != r.run_id:
                r.parent_run_id = parent_id
                r.keys.add((KeyKind.JOB_RUN_ID, parent_id))
                r.detail["parent_job"] = f"{_at(parent, 'job.namespace')}/{_at(parent, 'job.name')}"
            root_id = _at(parent, "root.run.runId")
            if isinstance(root_id, str) and root_id and root_id != r.run_id:
                r.keys.add((KeyKind.JOB_RUN_ID, root_id))
                r.detail["root_run_id"] = root_id
        invocation = _at(facets, "dbt_run.invocation_id")
        if isinstance(invocation, str) and invocation:
            r.keys.add((KeyKind.JOB_RUN_ID, invocation))
        if r.airflow:
            self._merge_airflow(r, facets, where)

    def _merge_airflow(self, r: _Run, facets: dict[str, Any], where: str) -> None:
        if r.is_step:
            dag_id, dag_run, task_id = r.airflow
            r.detail.update({"dag_id": dag_id, "run_id": dag_run, "task_id": task_id})
            af = facets.get("airflow")
            if isinstance(af, dict):
                number = as_int(_at(af, "taskInstance.try_number"))
                if number is not None:
                    r.attempt = number
                    r.detail["try_number"] = number
                index = as_int(_at(af, "taskInstance.map_index"))
                if index is not None and index >= 0:
                    r.detail["map_index"] = index
                _path_detail(r.detail, af, AIRFLOW_TASK_DETAIL)
            return
        dag_id, dag_run = r.airflow
        r.detail.update({"dag_id": dag_id, "run_id": dag_run})
        dr = facets.get("airflowDagRun")
        if isinstance(dr, dict):
            _path_detail(r.detail, dr, AIRFLOW_DAG_DETAIL)
            if r.started_at is None:
                r.started_at = _time(_at(dr, "dagRun.start_date"))
            conf = _at(dr, "dagRun.conf")
            r.keys.update(self.src.rules.payload(conf))
        state = facets.get("airflowState")
        if isinstance(state, dict) and isinstance(state.get("tasksState"), dict):
            r.tasks_state.update({str(k): str(v).lower() for k, v in state["tasksState"].items()
                                  if v is not None})
            r.state_location = where

    def _merge_io(self, r: _Run, ios: list[tuple[str, str, dict[str, Any], str]],
                  where: str) -> None:
        for uid, kind, ds, path in ios:
            r.io.setdefault((uid, kind), f"{where} {path}")
            bus = DATASET_BUSES.get(str(ds["namespace"]).partition("://")[0].lower())
            if bus:
                r.keys.add((KeyKind.CHANNEL, channel_component(bus, ds["name"])))
            change = _at(ds, "facets.lifecycleStateChange.lifecycleStateChange")
            if isinstance(change, str) and change:
                # what this run did to the dataset (DROP, TRUNCATE ...), not a dataset property
                known = r.detail.setdefault("lifecycle_changes", [])
                if f"{change} {uid}" not in known:
                    known.append(f"{change} {uid}")
            rows = _at(ds, "outputFacets.outputStatistics.rowCount")
            if isinstance(rows, int) and not isinstance(rows, bool):
                r.detail.setdefault("rows_written", {})[uid] = rows
            assertions = _at(ds, "inputFacets.dataQualityAssertions.assertions")
            if isinstance(assertions, list):
                failed = [f"{uid} {a.get('assertion')}"
                          + (f"({a['column']})" if a.get("column") else "")
                          for a in assertions if isinstance(a, dict) and a.get("success") is False]
                if failed:
                    known = r.detail.setdefault("failed_assertions", [])
                    known.extend(f for f in failed if f not in known)

    def _declare_airflow(self, job_facets: dict[str, Any], facets: dict[str, Any],
                         r: _Run) -> None:
        """Declared task dependencies: the DAG's task list (job facet) and one task's own."""
        if not r.airflow:
            return
        dag_id = r.airflow[0]
        tasks = _at(job_facets, "airflow.tasks")
        if isinstance(tasks, dict):
            for task_id, task in tasks.items():
                downstream = task.get("downstream_task_ids") if isinstance(task, dict) else None
                self._declare_task(dag_id, str(task_id), downstream)
        if r.is_step:
            downstream = _at(facets, "airflow.task.downstream_task_ids")
            self._declare_task(dag_id, r.airflow[2], downstream)

    def _declare_task(self, dag_id: str, task_id: str, downstream: Any) -> None:
        comp = task_component(dag_id, task_id)
        self.declared.add((dag_component(dag_id), comp, EdgeKind.CONTAINS))
        for other in _id_list(downstream):
            self.declared.add((comp, task_component(dag_id, other), EdgeKind.PRECEDES))

    # datasets -------------------------------------------------------------------------------

    def _dataset(self, ns: str, name: str, ds: dict[str, Any]) -> str:
        uid = dataset_uid(ns, name)
        info = self.datasets.get(uid)
        if info is None:
            info = self.datasets[uid] = {"namespace": ns, "name": name, "detail": {}}
        _dataset_detail(info["detail"], ds.get("facets"))
        return uid

    def _dataset_event(self, ds: dict[str, Any]) -> str | None:
        ns, name = ds.get("namespace"), ds.get("name")
        if not isinstance(ns, str) or not ns or not isinstance(name, str) or not name:
            return ("field 'dataset': expected namespace and name strings, got "
                    f"{raw_text(ds, 120)}")
        self._dataset(ns, name, ds)
        return None

    def _job_event(self, ns: str, name: str,
                   ios: list[tuple[str, str, dict[str, Any], str]]) -> None:
        """A static JobEvent: the job's datasets are declared, not observed."""
        job = component("openlineage", "job", f"{ns}/{name}")
        for uid, kind, _, _ in ios:
            pair = (uid, job) if kind == EdgeKind.READS else (job, uid)
            self.declared.add((*pair, kind))

    # output ---------------------------------------------------------------------------------

    def flush(self, b: BatchBuilder, *, final: bool) -> None:
        """Write merged runs: all of them at the end, finished ones when memory is tight."""
        if final:
            self._assign_tries(b)
            self._fill_tasks_state(b)
            done = list(self.runs.values())
        else:
            done = [r for r in self.runs.values()
                    if r.terminal is not None and not (r.airflow and not r.is_step)]
        for r in done:
            self._write_run(b, r)
            del self.runs[r.run_id]
        if final:  # datasets are few and merge facets from many events: written once, last
            for uid, info in self.datasets.items():
                b.dataset(uid=uid, component=uid, namespace=info["namespace"], name=info["name"],
                          detail=info["detail"] or None)
        evidence = {EdgeKind.CONTAINS: "airflow DAG task list", EdgeKind.PRECEDES:
                    "airflow downstream_task_ids", EdgeKind.READS: "OpenLineage JobEvent inputs",
                    EdgeKind.WRITES: "OpenLineage JobEvent outputs"}
        for src_comp, dst_comp, kind in sorted(self.declared - self.written_declared):
            b.declare(src_comp, dst_comp, kind, evidence.get(kind, "OpenLineage"))
        self.written_declared |= self.declared
        self.declared = set()

    def _assign_tries(self, b: BatchBuilder) -> None:
        tasks = [r for r in self.runs.values() if r.is_step]
        uids, retries = attempt_uids((r.base_uid, r.attempt) for r in tasks)
        for r in tasks:
            r.uid = uids[(r.base_uid, r.attempt)]
            self.uid_of[r.run_id] = r.uid
            if r.uid != r.base_uid and r.terminal in (Status.FAILED, None):
                r.terminal = Status.RETRIED  # a later try of this task instance follows
        where_of = {r.uid: r.location for r in tasks}
        for later, earlier in retries:
            b.link(later, earlier, EdgeKind.RETRY_OF, "airflow taskInstance.try_number",
                   where_of.get(later, ""))

    def _fill_tasks_state(self, b: BatchBuilder) -> None:
        """Apply a DAG run's final ``tasksState``: tasks that sent no event get a step; tasks
        whose run never ended (killed worker) get the state the DAG reports."""
        latest = {r.uid: r for r in self.runs.values() if r.is_step}
        for dag in [r for r in self.runs.values() if r.airflow and not r.is_step]:
            dag_id, dag_run = dag.airflow
            for task_id, state in sorted(dag.tasks_state.items()):
                base = task_uid(dag_id, dag_run, task_id)
                status = TASK_STATES.get(state, Status.UNKNOWN)
                held = latest.get(base)
                if held is not None:
                    if held.terminal is None and status not in (Status.RUNNING, Status.UNKNOWN):
                        held.terminal = status
                        held.detail["state"] = state
                    continue
                if base in self.task_bases:
                    continue  # written earlier in this file
                detail: dict[str, Any] = {"dag_id": dag_id, "run_id": dag_run,
                                          "task_id": task_id, "state": state,
                                          "from": "airflowState.tasksState"}
                if state == "upstream_failed":
                    detail["failed_upstream"] = True
                b.step(uid=base, run_uid=dag.uid, system="airflow",
                       component=task_component(dag_id, task_id), name=task_id, step_type="task",
                       status=status, started_at=None, ended_at=None, attempt=None,
                       parent_uid=None, error=None, location=dag.state_location, detail=detail)
                b.link(dag.uid, base, EdgeKind.CONTAINS, "airflowState.tasksState",
                       dag.state_location)
                self.task_bases.add(base)

    def _write_run(self, b: BatchBuilder, r: _Run) -> None:
        status = r.terminal or (Status.RUNNING if r.live else Status.UNKNOWN)
        if r.is_step and "state" not in r.detail and status is Status.FAILED:
            r.detail["state"] = "failed"
        parent = None
        if r.parent_run_id and not r.is_step:
            parent = self.uid_of.get(r.parent_run_id, f"openlineage:run:{r.parent_run_id}")
        row = {"uid": r.uid, "system": r.system, "component": r.component, "name": r.name,
               "status": status, "started_at": r.started_at, "ended_at": r.ended_at,
               "attempt": r.attempt, "parent_uid": parent, "error": r.error,
               "location": r.location, "detail": r.detail}
        if r.is_step:
            b.step(**row, run_uid=r.run_uid, step_type="task")
            b.link(r.run_uid or "", r.uid, EdgeKind.CONTAINS, "parent run facet (Airflow task)",
                   r.location)
        else:
            b.run(**row)
            if parent:
                b.link(parent, r.uid, EdgeKind.CHILD, "parent run facet", r.location)
        for kind, value in sorted(r.keys):
            b.key(r.uid, kind, value)
        for (ds, kind), where in sorted(r.io.items()):
            if kind == EdgeKind.READS:
                b.link(ds, r.uid, kind, "inputs", where)
            else:
                b.link(r.uid, ds, kind, "outputs", where)


# --------------------------------------------------------------------------------------------
# Facet helpers


def dataset_uid(namespace: str, name: str) -> str:
    """``dataset:<namespace>/<name>``; a name's leading ``/`` (file paths) is not doubled, so
    ``hdfs://nn:8020`` + ``/warehouse/t1`` is ``dataset:hdfs://nn:8020/warehouse/t1``."""
    return component("dataset", None, f"{namespace.rstrip('/')}/{name.lstrip('/')}")


def _at(doc: Any, path: str) -> Any:
    """The value at a dotted path of nested objects, or None."""
    for name in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(name)
    return doc


def _time(value: Any) -> int | None:
    try:
        return us_from_iso(value)
    except ValueError:
        return None


def _airflow_identity(facets: dict[str, Any]) -> tuple[str, ...] | None:
    """``(dag_id, run_id)`` of a DAG run event, ``(dag_id, run_id, task_id)`` of a task's."""
    dr = facets.get("airflowDagRun")
    if isinstance(dr, dict):
        dag_id = _at(dr, "dag.dag_id") or _at(dr, "dagRun.dag_id")
        run_id = _at(dr, "dagRun.run_id")
        if isinstance(dag_id, str) and dag_id and isinstance(run_id, str) and run_id:
            return (dag_id, run_id)
    af = facets.get("airflow")
    if isinstance(af, dict):
        dag_id = _at(af, "dag.dag_id") or _at(af, "dagRun.dag_id")
        run_id = _at(af, "dagRun.run_id")
        task_id = _at(af, "task.task_id") or _at(af, "taskInstance.task_id")
        if all(isinstance(v, str) and v for v in (dag_id, run_id, task_id)):
            return (dag_id, run_id, task_id)
    return None


def _facet_detail(detail: dict[str, Any], facets: dict[str, Any],
                  table: dict[str, dict[str, str]]) -> None:
    for facet, fields in table.items():
        values = facets.get(facet)
        if isinstance(values, dict):
            for name, out in fields.items():
                value = values.get(name)
                if value is not None and not isinstance(value, dict | list) and value != "":
                    detail[out] = value


def _path_detail(detail: dict[str, Any], doc: dict[str, Any], table: dict[str, str]) -> None:
    for path, out in table.items():
        value = _at(doc, path)
        if value is not None and not isinstance(value, dict | list) and value != "":
            detail[out] = value


def _id_list(value: Any) -> list[str]:
    """Task ids from a list, or from its Python repr (provider 1.x writes ``"['copy']"``)."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return []
    if isinstance(value, list | tuple | set | frozenset):
        return sorted(str(v) for v in value if isinstance(v, str) and v)
    return []


def _dataset_detail(detail: dict[str, Any], facets: Any) -> None:
    """Merge a dataset's facets into its detail: schema, symlinks, source, column lineage."""
    if not isinstance(facets, dict):
        return
    fields = _at(facets, "schema.fields")
    if isinstance(fields, list) and fields:
        detail["fields"] = [f"{f.get('name')}:{f['type']}" if f.get("type") else str(f.get("name"))
                            for f in fields if isinstance(f, dict) and f.get("name")]
    links = _at(facets, "symlinks.identifiers")
    if isinstance(links, list) and links:
        detail["symlinks"] = [f"{s.get('namespace')}/{s.get('name')}" for s in links
                              if isinstance(s, dict)]
    uri = _at(facets, "dataSource.uri") or _at(facets, "dataSource.name")
    if isinstance(uri, str) and uri:
        detail["data_source"] = uri
    version = _at(facets, "version.datasetVersion")
    if isinstance(version, str | int):
        detail["version"] = version
    lineage = _at(facets, "columnLineage.fields")
    if isinstance(lineage, dict) and lineage:
        detail["column_lineage"] = {str(col): _column_inputs(spec)
                                    for col, spec in lineage.items() if isinstance(spec, dict)}


def _column_inputs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """One output column's input fields, with the transformation that made it."""
    out = []
    for f in _list(spec.get("inputFields")):
        if not isinstance(f, dict):
            continue
        entry: dict[str, Any] = {
            "dataset": dataset_uid(str(f.get("namespace")), str(f.get("name"))),
            "field": f.get("field"),
        }
        kinds = [t.get("subtype") or t.get("type") for t in _list(f.get("transformations"))
                 if isinstance(t, dict)]
        kind = ",".join(str(k) for k in kinds if k) or spec.get("transformationType")
        if kind:
            entry["transformation"] = kind
        out.append(entry)
    return out


def _list(value: Any) -> list[Any]:
    """A facet's list, or none when an export wrote something else there."""
    return value if isinstance(value, list) else []
