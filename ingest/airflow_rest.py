"""Airflow stable REST API responses: DAG runs, task instances, and task lists (declared edges).

What ``curl`` or a client saves from the Airflow 2.x stable API (``/api/v1``, Airflow 2.0-2.10;
Airflow 3's ``/api/v2`` keeps these shapes), one response per file or one per line:

- ``GET /dags/{dag_id}/dagRuns`` (and ``POST /dags/~/dagRuns/list``):
  ``{"dag_runs": [{dag_id, dag_run_id, state, start_date, end_date, logical_date, conf ...}],
  "total_entries": N}``; ``GET /dags/{dag_id}/dagRuns/{dag_run_id}`` is one such object.
- ``GET /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances`` (and ``.../taskInstances/{task_id}/
  tries``, 2.10+): ``{"task_instances": [{task_id, dag_id, dag_run_id, state, try_number,
  map_index, start_date, end_date, duration, hostname, operator, pool, queue ...}]}``.
- ``GET /dags/{dag_id}/tasks``: ``{"tasks": [{task_id, downstream_task_ids, operator_name ...}]}``,
  the DAG's declared structure. Tasks do not name their DAG: it comes from a top-level
  ``dag_id`` next to ``tasks``, the ``dag_id`` ingest option, or a file named
  ``<dag_id>.tasks.json``.

Dated quirks: ``dag_run_id`` on task instances only since 2.3 (older ones carry only
``execution_date`` and are rejected: they cannot be tied to a run); ``logical_date`` since 2.2
(``execution_date`` before, ``run_after`` in 3.0); ``state`` may be ``null`` (never scheduled);
``try_number`` counts from 1 and the list endpoint shows only the latest try.

The uid scheme is shared with ``openlineage_json`` (which defines it, with the state tables)
so that both sources of one DAG run land on the same rows: a DAG run is
``airflow:run:<dag_id>/<run_id>`` (component ``airflow:dag:<dag_id>``), a task instance
``airflow:step:<dag_id>/<run_id>/<task_id>`` (``[<map_index>]`` appended for mapped tasks;
component ``airflow:task:<dag_id>.<task_id>``). The latest try of a task instance has that
uid; earlier tries in the same document get ``#try<n>`` appended, status ``retried``, and a
``retry_of`` link from the next try. A DAG run also gets the key ``business:airflow_run`` =
``<dag_id>/<run_id>``, the id other systems use to trigger or reference it.

Status choices: ``upstream_failed`` is ``failed`` with ``failed_upstream: true`` in detail (it
did not fail itself); ``skipped`` is ``skipped`` (a branch, short circuit or trigger rule
decided it should not run); ``removed`` is ``cancelled`` (the task left the DAG before it
ran); ``queued``/``scheduled``/``deferred``/``up_for_reschedule`` are ``running`` (in flight,
possibly not started); a ``null`` state is ``unknown``. docs/mappings.md has the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest._json import json_records, raw_text
from ingest.base import Batch, BatchBuilder, Source, first_json_value, us_from_iso
from ingest.openlineage_json import (
    AIRFLOW_RUN_KEY,
    DAG_STATES,
    TASK_STATES,
    as_int,
    attempt_uids,
    dag_component,
    dag_run_uid,
    task_component,
    task_uid,
)
from tracemap.model import EdgeKind, Status

NAME = "airflow_rest"

#: DAG run fields kept in ``detail``.
DAG_RUN_DETAIL = ("run_type", "external_trigger", "logical_date", "execution_date", "run_after",
                  "data_interval_start", "data_interval_end", "last_scheduling_decision",
                  "triggered_by", "note")
#: Task instance fields kept in ``detail`` (host, pool, queue, executor discriminate failures).
TASK_DETAIL = ("operator", "hostname", "unixname", "pid", "pool", "pool_slots", "queue",
               "executor", "max_tries", "duration", "queued_when", "priority_weight",
               "rendered_map_index", "note", "execution_date", "logical_date")
#: A DAG run's ``conf`` is kept in detail up to this many characters of JSON.
CONF_CAP = 2048

_TASKS_LIST = re.compile(rb'"tasks"\s*:\s*\[\s*[{\]]')


def _time(value: Any) -> int | None:
    """Epoch µs from an API date; ``None`` for missing or unparsable dates."""
    try:
        return us_from_iso(value)
    except ValueError:
        return None


def _state(value: Any) -> str | None:
    return str(value).lower() if value is not None else None


# --------------------------------------------------------------------------------------------
# Sniff and parse


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if not text.startswith((b"{", b"[")):
        return False
    if b'"eventTime"' in text or b'"valueType"' in text or b'"resourceSpans"' in text:
        return False  # OpenLineage events carry Airflow ids too; Zeebe/OTLP never do
    return (b'"dag_runs"' in text or b'"task_instances"' in text
            or (_TASKS_LIST.search(text) is not None
                and (b'"downstream_task_ids"' in text or b'"task_id"' in text
                     or b'"class_ref"' in text))
            or (b'"dag_run_id"' in text and b'"dag_id"' in text and b'"state"' in text))


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    for where, doc in json_records(src, b):
        prefix = "" if where == "document" else f"{where} "
        _document(b, src, doc, prefix)
        if b.ready():
            yield b.take()
    yield b.take()


def _document(b: BatchBuilder, src: Source, doc: Any, prefix: str) -> None:
    """Dispatch one response by its shape: collection, single object, or a bare array."""
    if isinstance(doc, list):
        _mixed(b, src, [(f"{prefix}[{i}]", item) for i, item in enumerate(doc)])
        return
    if not isinstance(doc, dict):
        b.read()
        b.reject(prefix.strip() or "document",
                 f"expected an Airflow API response object, got {type(doc).__name__}")
        return
    for name in ("dag_runs", "task_instances", "tasks"):
        items = doc.get(name)
        if isinstance(items, list):
            entries = [(f"{prefix}{name}[{i}]", item) for i, item in enumerate(items)]
            if name == "tasks":
                _tasks(b, src, entries, doc.get("dag_id"))
            else:
                _mixed(b, src, entries)
            return
    _mixed(b, src, [(prefix.strip() or "document", doc)])


def _kind(obj: dict[str, Any]) -> str | None:
    if "task_id" in obj and "downstream_task_ids" in obj and "state" not in obj:
        return "task"
    if "task_id" in obj and ("try_number" in obj or "state" in obj):
        return "task_instance"
    if "dag_id" in obj and ("dag_run_id" in obj or "run_id" in obj):
        return "dag_run"
    return None


def _mixed(b: BatchBuilder, src: Source, entries: list[tuple[str, Any]]) -> None:
    """DAG runs and task instances (tries of one task instance are resolved together)."""
    instances: list[tuple[str, dict[str, Any], str, str, str]] = []
    tasks: list[tuple[str, Any]] = []
    for where, obj in entries:
        kind = _kind(obj) if isinstance(obj, dict) else None
        if kind == "task":
            tasks.append((where, obj))
            continue
        b.read()
        if not isinstance(obj, dict) or kind is None:
            got = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
            b.reject(where, "expected a DAG run (dag_id, dag_run_id) or task instance "
                     f"(task_id, dag_run_id, state), got {got}", raw_text(obj))
            continue
        dag_id, run_id = obj.get("dag_id"), obj.get("dag_run_id", obj.get("run_id"))
        if not isinstance(dag_id, str) or not dag_id or not isinstance(run_id, str) or not run_id:
            b.reject(where, "expected non-empty 'dag_id' and 'dag_run_id' strings (task "
                     "instances carry dag_run_id since Airflow 2.3), got "
                     f"{dag_id!r}/{run_id!r}", raw_text(obj))
            continue
        if kind == "dag_run":
            _dag_run(b, src, where, obj, dag_id, run_id)
            b.loaded()
            continue
        task_id = obj.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            b.reject(where, f"field 'task_id': expected a non-empty string, got {task_id!r}",
                     raw_text(obj))
            continue
        instances.append((where, obj, dag_id, run_id, task_id))
    if tasks:
        _tasks(b, src, tasks, None)
    tries = [(task_uid(d, r, t, o.get("map_index")), as_int(o.get("try_number")))
             for _, o, d, r, t in instances]
    uids, retries = attempt_uids(tries)
    where_of: dict[str, str] = {}
    for (where, obj, dag_id, run_id, task_id), key in zip(instances, tries, strict=True):
        _task_instance(b, where, obj, dag_id, run_id, task_id, uids[key],
                       retried=uids[key] != key[0])
        where_of[uids[key]] = where
        b.loaded()
    for later, earlier in retries:
        b.link(later, earlier, EdgeKind.RETRY_OF, "try_number", where_of.get(later, ""))


def _dag_run(b: BatchBuilder, src: Source, where: str, obj: dict[str, Any], dag_id: str,
             run_id: str) -> None:
    uid = dag_run_uid(dag_id, run_id)
    state = _state(obj.get("state"))
    detail: dict[str, Any] = {"dag_id": dag_id, "run_id": run_id, "state": state}
    detail.update({k: obj[k] for k in DAG_RUN_DETAIL if obj.get(k) is not None})
    conf = obj.get("conf")
    if isinstance(conf, dict) and conf:
        text = str(conf)
        detail["conf"] = conf if len(text) <= CONF_CAP else {"truncated": True, "size": len(text)}
    b.run(uid=uid, system="airflow", component=dag_component(dag_id), name=run_id,
          status=DAG_STATES.get(state, Status.UNKNOWN), started_at=_time(obj.get("start_date")),
          ended_at=_time(obj.get("end_date")), attempt=None, parent_uid=None, error=None,
          location=where, detail=detail)
    b.key(uid, AIRFLOW_RUN_KEY, f"{dag_id}/{run_id}")
    b.keys(uid, src.rules.payload(conf))


def _task_instance(b: BatchBuilder, where: str, obj: dict[str, Any], dag_id: str, run_id: str,
                   task_id: str, uid: str, *, retried: bool) -> None:
    state = _state(obj.get("state"))
    status = TASK_STATES.get(state, Status.UNKNOWN)
    if retried and status in (Status.FAILED, Status.RETRIED):
        status = Status.RETRIED  # a later try of the same task instance follows
    detail: dict[str, Any] = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id,
                              "state": state}
    index = as_int(obj.get("map_index"))
    if index is not None and index >= 0:
        detail["map_index"] = index
    if state == "upstream_failed":
        detail["failed_upstream"] = True
    detail.update({k: obj[k] for k in TASK_DETAIL if obj.get(k) not in (None, "")})
    run = dag_run_uid(dag_id, run_id)
    b.step(uid=uid, run_uid=run, system="airflow", component=task_component(dag_id, task_id),
           name=task_id, step_type="task", status=status, started_at=_time(obj.get("start_date")),
           ended_at=_time(obj.get("end_date")), attempt=_attempt(obj.get("try_number")),
           parent_uid=None, error=None, location=where, detail=detail)
    b.link(run, uid, EdgeKind.CONTAINS, "task instance dag_run_id", where)


def _tasks(b: BatchBuilder, src: Source, entries: list[tuple[str, Any]],
           dag_id: Any) -> None:
    """``GET /dags/{dag_id}/tasks``: the DAG contains each task; each precedes its downstream."""
    dag = dag_id if isinstance(dag_id, str) and dag_id else _dag_of_tasks(src)
    for where, task in entries:
        b.read()
        if dag is None:
            b.reject(where, "a task list does not name its DAG: pass the dag_id option, add "
                     "\"dag_id\" next to \"tasks\", or name the file <dag_id>.tasks.json",
                     raw_text(task))
            continue
        task_id = task.get("task_id") if isinstance(task, dict) else None
        downstream = task.get("downstream_task_ids", []) if isinstance(task, dict) else None
        if not isinstance(task_id, str) or not task_id or not isinstance(downstream, list):
            b.reject(where, "expected a task with a 'task_id' string and a "
                     f"'downstream_task_ids' list, got {raw_text(task, 120)}", raw_text(task))
            continue
        src_comp = task_component(dag, task_id)
        b.declare(dag_component(dag), src_comp, EdgeKind.CONTAINS, "GET /dags/{dag_id}/tasks")
        for other in downstream:
            if isinstance(other, str) and other:
                b.declare(src_comp, task_component(dag, other), EdgeKind.PRECEDES,
                          "downstream_task_ids")
        b.loaded()


def _dag_of_tasks(src: Source) -> str | None:
    option = src.options.get("dag_id")
    if isinstance(option, str) and option:
        return option
    name = Path(src.path).name
    for suffix in (".gz", ".json", ".tasks"):
        name = name.removesuffix(suffix)
    full = Path(src.path).name.removesuffix(".gz").removesuffix(".json")
    return name if full.endswith(".tasks") and name else None


def _attempt(value: Any) -> int | None:
    """``try_number`` as an attempt (0: not run yet) that fits an INTEGER, else unknown."""
    n = as_int(value)
    return n if n is not None and 0 <= n < 2**31 else None
