"""dbt structured logs: what ``dbt --log-format json run`` (build, test ...) prints, line by line.

dbt 1.5+ writes ``{"info": {name, code, invocation_id, level, msg, ts, thread ...}, "data":
{node_info: {unique_id, resource_type, node_status, node_started_at, node_finished_at ...}}}``;
dbt 1.0-1.4 wrote the same fields flat (``code``, ``invocation_id``, ``node_info`` at the top,
``log_version: 2``, no ``name``: it is looked up by ``code``). Also found in ``logs/dbt.log``
when ``--log-format-file json`` is set, several invocations appended to one file.

One run per invocation: ``dbt:run:<invocation_id>`` of ``dbt:project:<package>`` (the package
of the first node, ``dbt`` before any node is seen), keyed by the invocation id as
``job_run_id``: openlineage-dbt puts the same id in its ``dbt_run`` facet, so both sources of
one invocation meet. One step per node: ``dbt:node:<invocation_id>/<unique_id>`` of
``dbt:<resource_type>:<unique_id>`` (``dbt:model:model.shop.orders``). Status from
``node_status`` (success/pass ok, error/fail/runtime error failed, warn ok with the warning in
detail, skipped skipped: dbt skips a node whose upstream failed), the error from
``run_result.message`` or RunResultError;
the invocation's outcome from CommandCompleted (dbt 1.5+), else from its nodes.
Lines that are not node or invocation events (SQL, connections, formatting) are skipped,
counted by event name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ingest._json import json_records, raw_text
from ingest.base import Batch, BatchBuilder, Skipped, Source, first_json_value, us_from_iso
from tracemap.model import FAILURE_STATUSES, EdgeKind, KeyKind, Status, component

NAME = "dbt_log"

#: Events about one node (all carry ``node_info``) -> what they tell.
NODE_EVENTS = frozenset({
    "NodeStart", "NodeFinished", "LogStartLine", "NodeCompiling", "NodeExecuting",
    "LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult",
    "LogFreshnessResult", "LogNodeResult", "LogHookEndLine", "SkippingDetails",
    "RunResultError", "RunResultFailure", "RunResultWarning", "RunResultErrorNoMessage",
    "CatchableExceptionOnRun", "InternalErrorOnRun", "GenericExceptionOnRun",
})
#: Events about the invocation.
RUN_EVENTS = frozenset({"MainReportVersion", "MainReportArgs", "CommandCompleted",
                        "MainEncounteredError", "FinishedRunningStats"})
#: dbt 1.0-1.4 lines have a ``code`` but no ``name``.
CODE_NAMES = {
    "A001": "MainReportVersion", "A002": "MainReportArgs", "Q024": "NodeStart",
    "Q025": "NodeFinished", "Q011": "LogStartLine", "Q030": "NodeCompiling",
    "Q031": "NodeExecuting", "Q012": "LogModelResult", "Q007": "LogTestResult",
    "Q016": "LogSeedResult", "Q015": "LogSnapshotResult", "Q018": "LogFreshnessResult",
    "Q034": "SkippingDetails", "Z024": "RunResultError", "Z025": "RunResultErrorNoMessage",
    "Z028": "RunResultFailure", "Z021": "RunResultWarning", "Q039": "CommandCompleted",
    "E047": "FinishedRunningStats", "W002": "CatchableExceptionOnRun",
    "W003": "InternalErrorOnRun", "W004": "GenericExceptionOnRun",
    "Z002": "MainEncounteredError",
}
#: node_status / run_result.status -> status (None: says nothing new).
NODE_STATUS: dict[str, Status | None] = {
    "success": Status.OK,
    "pass": Status.OK,
    "warn": Status.OK,
    "error": Status.FAILED,
    "fail": Status.FAILED,
    "runtime error": Status.FAILED,
    "skipped": Status.SKIPPED,
    "started": Status.RUNNING,
    "compiling": Status.RUNNING,
    "executing": Status.RUNNING,
    "none": None,
    "": None,
}
ERROR_CAP = 2000


@dataclass(slots=True)
class _Node:
    uid: str
    component: str
    name: str
    location: str
    resource_type: str
    status: Status | None = None
    node_status: str | None = None
    started_at: int | None = None
    ended_at: int | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Invocation:
    uid: str
    invocation_id: str
    location: str
    project: str | None = None
    started_at: int | None = None
    ended_at: int | None = None
    success: bool | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, _Node] = field(default_factory=dict)


def sniff(head: bytes, path: str) -> bool:
    line = first_json_value(head).split(b"\n", 1)[0]
    if not line.startswith(b"{") or b'"eventTime"' in line:
        return False  # openlineage-dbt events carry an invocation_id too
    return (b'"invocation_id"' in line and b'"code"' in line
            and (b'"info"' in line or b'"log_version"' in line))


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    invocations: dict[str, _Invocation] = {}
    add = partial(_line, invocations)
    for where, rec in json_records(src, b, item="lines"):
        b.record(add, rec, where, raw=raw_text)
    for inv in invocations.values():
        _write(b, inv)
        if b.ready():
            yield b.take()
    yield b.take()


def _time(value: Any) -> int | None:
    try:
        return us_from_iso(value)
    except ValueError:
        return None


def _line(invocations: dict[str, _Invocation], rec: Any, where: str) -> str | Skipped | None:
    """Merge one log line: None when loaded, ``Skipped(name)``, or why it is rejected."""
    if not isinstance(rec, dict):
        return f"expected a dbt log event object, got {type(rec).__name__}"
    info = rec["info"] if isinstance(rec.get("info"), dict) else rec
    data = rec.get("data") if isinstance(rec.get("data"), dict) else {}
    invocation = info.get("invocation_id")
    if not isinstance(invocation, str) or not invocation:
        return ("expected a dbt structured log event with info.invocation_id, got "
                f"keys {sorted(rec)[:8]}")
    name = str(info.get("name") or CODE_NAMES.get(str(info.get("code")), info.get("code")))
    node_info = data.get("node_info") or rec.get("node_info")
    if name not in NODE_EVENTS and name not in RUN_EVENTS:
        return Skipped(name)
    at = _time(info.get("ts"))
    inv = invocations.get(invocation)
    if inv is None:
        inv = invocations[invocation] = _Invocation(f"dbt:run:{invocation}", invocation, where)
    if at is not None and (inv.started_at is None or at < inv.started_at):
        inv.started_at = at
    if name in RUN_EVENTS:
        _run_event(inv, name, data, at)
        return None
    if not isinstance(node_info, dict) or not node_info.get("unique_id"):
        return f"{name}: expected data.node_info with a unique_id"
    _node_event(inv, name, data, node_info, info, where)
    return None


def _run_event(inv: _Invocation, name: str, data: dict[str, Any], at: int | None) -> None:
    if name == "MainReportVersion" and data.get("version"):
        inv.detail["dbt_version"] = str(data["version"]).lstrip("=")
    elif name == "MainReportArgs" and isinstance(data.get("args"), dict):
        args = data["args"]
        for arg in ("invocation_command", "which", "target", "profiles_dir", "select"):
            if args.get(arg) not in (None, "", "None"):
                inv.detail[arg] = args[arg]
    elif name == "CommandCompleted":
        inv.success = bool(data.get("success"))
        inv.ended_at = _time(data.get("completed_at")) or at
        inv.detail["command"] = data.get("command")
        inv.detail["elapsed_s"] = data.get("elapsed")
    elif name == "MainEncounteredError":
        inv.error = str(data.get("exc") or "")[:ERROR_CAP] or inv.error
    elif name == "FinishedRunningStats":
        inv.detail["stats"] = data.get("stat_line")


def _node_event(inv: _Invocation, name: str, data: dict[str, Any], node_info: dict[str, Any],
                info: dict[str, Any], where: str) -> None:
    unique_id = str(node_info["unique_id"])
    node = inv.nodes.get(unique_id)
    if node is None:
        kind = str(node_info.get("resource_type") or unique_id.split(".", 1)[0] or "node")
        node = inv.nodes[unique_id] = _Node(
            f"dbt:node:{inv.invocation_id}/{unique_id}", component("dbt", kind, unique_id),
            str(node_info.get("node_name") or unique_id), where, kind)
        if inv.project is None and unique_id.count(".") >= 2:
            inv.project = unique_id.split(".")[1]
    raw_status = str(node_info.get("node_status") or "").lower()
    status = NODE_STATUS.get(raw_status)
    # RunResultError repeats the node with node_status "None" after the fact: keep the result
    if status is not None and not (node.status in FAILURE_STATUSES and status is Status.RUNNING):
        node.status, node.node_status = status, raw_status
    started = _time(node_info.get("node_started_at"))
    finished = _time(node_info.get("node_finished_at"))
    node.started_at = started or node.started_at
    node.ended_at = finished or node.ended_at
    result = data.get("run_result") if isinstance(data.get("run_result"), dict) else {}
    message = result.get("message") or (data.get("msg") if name.startswith("RunResult") else None)
    if message and (node.status in FAILURE_STATUSES or name.startswith("RunResult")):
        node.error = str(message)[:ERROR_CAP]
    for key in ("materialized", "node_path"):
        if node_info.get(key):
            node.detail[key] = node_info[key]
    relation = node_info.get("node_relation")
    if isinstance(relation, dict) and relation.get("relation_name"):
        node.detail["relation"] = relation["relation_name"]
    if result.get("execution_time") is not None:
        node.detail["execution_time_s"] = result["execution_time"]
    if result.get("num_failures"):
        node.detail["num_failures"] = result["num_failures"]
    if info.get("thread") and info["thread"] != "MainThread":
        node.detail.setdefault("thread", info["thread"])  # the worker that ran the node


def _write(b: BatchBuilder, inv: _Invocation) -> None:
    failed = [n for n in inv.nodes.values() if n.status in FAILURE_STATUSES]
    if inv.success is not None:
        status = Status.OK if inv.success else Status.FAILED
    else:  # no CommandCompleted (dbt < 1.5, or the log was cut): judge by the nodes
        status = Status.FAILED if failed else Status.RUNNING
    error = inv.error or (f"{len(failed)} node(s) failed: "
                          + ", ".join(sorted(n.name for n in failed)) if failed else None)
    b.run(uid=inv.uid, system="dbt", component=component("dbt", "project", inv.project or "dbt"),
          name=inv.invocation_id, status=status, started_at=inv.started_at,
          ended_at=inv.ended_at, attempt=None, parent_uid=None, error=error,
          location=inv.location, detail={k: v for k, v in inv.detail.items() if v is not None})
    b.key(inv.uid, KeyKind.JOB_RUN_ID, inv.invocation_id)
    for unique_id, node in inv.nodes.items():
        detail = {"unique_id": unique_id, "resource_type": node.resource_type,
                  "node_status": node.node_status, **node.detail}
        b.step(uid=node.uid, run_uid=inv.uid, system="dbt", component=node.component,
               name=node.name, step_type=node.resource_type,
               status=node.status or Status.UNKNOWN, started_at=node.started_at,
               ended_at=node.ended_at, attempt=None, parent_uid=None, error=node.error,
               location=node.location, detail=detail)
        b.link(inv.uid, node.uid, EdgeKind.CONTAINS, "info.invocation_id", node.location)
