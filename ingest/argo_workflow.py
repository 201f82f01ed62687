"""Argo Workflows: Workflow objects with their status (argo get / kubectl get wf), JSON or YAML.

Written by ``argo get -o json|yaml``, ``argo list -o json`` (a JSON array),
``kubectl get wf NAME -o yaml|json`` and ``kubectl get wf -o yaml`` (``kind: List`` with
``items``), and by the controller's own test data (no ``apiVersion``/``kind`` at all). Multi-
document YAML (``---``) is read document by document. ``WorkflowTemplate``,
``ClusterWorkflowTemplate`` and ``CronWorkflow`` objects give declared structure only.

A workflow becomes a run of ``argo:workflow:<name>``: the ``workflowTemplateRef`` it was
submitted from, else its template or cron-workflow label, else its ``generateName`` stem, else
its own name (uid ``argo:run:<namespace>/<name>``). Each node of ``status.nodes`` (keyed by
node id: ``id, name, displayName, type, templateName|templateRef, phase, startedAt,
finishedAt, children, boundaryID, outboundNodes, message, outputs.exitCode, hostNodeName``)
becomes a step of ``argo:template:<workflow>.<templateName>`` (``templateRef`` nodes: of
``argo:template:<referenced template>.<template>``), uid ``argo:step:<namespace>/<workflow
name>/<node id>``. Structural nodes fold away: a ``Retry`` node's children are the attempts of
one step (attempt 1..n, earlier ones ``retried``, ``retry_of`` links); ``StepGroup`` and
``TaskGroup`` nodes only order their members. ``boundaryID`` gives ``contains`` (the DAG or
Steps node a node runs in); ``children`` that cross no boundary give ``precedes`` (an inner
node that leads out of a sub-DAG is lifted to that sub-DAG). Templates give declared
structure: DAG tasks (``dependencies`` and ``depends`` expressions) and the order of step
groups, as ``precedes`` between templates, and ``contains`` from template to the templates
its tasks/steps call.

Node phases (``docs/mappings.md`` has the table): ``Succeeded`` is ``ok``; ``Failed`` and
``Error`` are ``failed`` (a message saying the workflow was stopped/terminated: ``cancelled``,
a deadline: ``timed_out``); an attempt of a ``Retry`` node that a later attempt follows is
``retried`` and keeps its own message in ``error``; ``Skipped`` (a ``when`` that was false) and
``Omitted`` (3.0+, a DAG task whose ``depends`` was not met) are ``skipped``: they did not run,
did not fail and were not stopped; ``Running``/``Pending`` are ``running``.

Quirks: ``finishedAt: null`` while running; ``exitCode`` is a string.
Large workflows store ``status.compressedNodes`` (gzip + base64 JSON) instead of ``nodes``;
offloaded node status (``offloadNodeStatusVersion``) is not in the object and is noted.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import yaml

from ingest.base import (
    SHAPE_ERRORS,
    Batch,
    BatchBuilder,
    Source,
    dumps,
    first_json_value,
    loads,
    us_from_iso,
)
from tracemap.model import EdgeKind, KeyKind, Status, component

#: libyaml when installed: ten times faster, and it refuses nesting past 1000 levels
#: where the pure-Python loader recurses until RecursionError.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NAME = "argo_workflow"

#: Node and workflow phases.
PHASES: dict[str, Status] = {
    "Succeeded": Status.OK, "Failed": Status.FAILED, "Error": Status.FAILED,
    "Skipped": Status.SKIPPED, "Omitted": Status.SKIPPED,
    "Running": Status.RUNNING, "Pending": Status.RUNNING, "": Status.UNKNOWN,
}
#: A failed node's message that says more than its phase: (substring, status).
FAILURE_MESSAGES: tuple[tuple[str, Status], ...] = (
    ("Stopped with strategy", Status.CANCELLED),
    ("terminated", Status.CANCELLED),
    ("exceeded its deadline", Status.TIMED_OUT),
    ("longer than the specified deadline", Status.TIMED_OUT),
    ("Max duration limit exceeded", Status.TIMED_OUT),
    ("activeDeadlineSeconds", Status.TIMED_OUT),
)
#: Node types that are structure, not work: no step of their own.
GROUP_TYPES = frozenset({"StepGroup", "TaskGroup"})
RETRY_TYPE = "Retry"
#: Object kinds read as workflows, and kinds read for their templates only.
WORKFLOW_KINDS = frozenset({"Workflow"})
TEMPLATE_KINDS = frozenset({"WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"})
#: Labels naming the template or cron workflow a workflow came from, in order of preference.
ORIGIN_LABELS = ("workflows.argoproj.io/workflow-template",
                 "workflows.argoproj.io/cluster-workflow-template",
                 "workflows.argoproj.io/cron-workflow")
RESUBMITTED_LABEL = "workflows.argoproj.io/resubmitted-from-workflow"
#: Labels worth keeping in a run's detail.
KEPT_LABELS = (*ORIGIN_LABELS, RESUBMITTED_LABEL, "workflows.argoproj.io/creator",
               "workflows.argoproj.io/phase", "workflows.argoproj.io/completed")
#: Node fields kept in a step's detail.
NODE_DETAIL = ("phase", "type", "templateName", "templateScope", "hostNodeName", "message",
               "progress", "podIP")
#: Task-result names an Argo ``depends`` expression may qualify a task with.
_DEPENDS_RESULT = re.compile(
    r"\.(Succeeded|Failed|Errored|Skipped|Omitted|Daemoned|AnySucceeded|AllFailed)\b")
_DEPENDS_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_DEPENDS_WORDS = frozenset({"true", "false"})


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if b"argoproj.io" not in text and not (b"entrypoint" in text and b"templates" in text):
        return False
    kind = _top_level_kind(text)
    return kind is None or kind in WORKFLOW_KINDS | TEMPLATE_KINDS | {"List", "WorkflowList"}


def _top_level_kind(text: bytes) -> str | None:
    """The object's own ``kind`` (not one nested in ownerReferences or a resource manifest):
    a YAML key in column 0, or a JSON ``"kind"`` before ``"metadata"`` (kubectl's key order)."""
    if text.startswith((b"{", b"[")):
        found = re.search(rb'"kind"\s*:\s*"([A-Za-z]+)"', text)
        meta = text.find(b'"metadata"')
        return found.group(1).decode() if found and (meta < 0 or found.start() < meta) else None
    found = re.search(rb'^kind:\s*"?([A-Za-z]+)', text, re.M)
    return found.group(1).decode() if found else None


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    data = src.read_document()
    for where, doc in _documents(data, b):
        for item_where, obj in _objects(doc, where):
            b.read()
            reason = _object(b, src, obj, item_where)
            if reason:
                b.reject(item_where, reason, dumps(obj)[:300] if obj is not None else None)
            if b.ready():
                yield b.take()
    yield b.take()


def _documents(data: bytes, b: BatchBuilder) -> Iterator[tuple[str, Any]]:
    """JSON (one document) or YAML (one or more); an unreadable one is one reject."""
    if first_json_value(data[:4096]).startswith((b"{", b"[")):
        try:
            yield "document", loads(data)
            return
        except ValueError:
            pass  # YAML that starts like JSON (flow style), or broken JSON: YAML says which
    text = data.decode("utf-8", "replace")
    number = 0
    try:
        for number, doc in enumerate(yaml.load_all(text, Loader=YAML_LOADER), start=1):
            if doc is not None:
                yield f"document {number}", doc
    except (yaml.YAMLError, RecursionError) as exc:
        b.read()
        b.reject(f"document {number + 1}", f"expected a Workflow as JSON or YAML: {exc}",
                 text[:200])


def _objects(doc: Any, where: str) -> Iterator[tuple[str, Any]]:
    """The objects of a document: itself, or the items of a List / JSON array."""
    if isinstance(doc, dict) and isinstance(doc.get("items"), list) and (
            doc.get("kind") in ("List", "WorkflowList") or "metadata" not in doc
            or "spec" not in doc):
        for i, item in enumerate(doc["items"]):
            yield f"{where} items[{i}]", item
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield f"{where} [{i}]", item
    else:
        yield where, doc


def _object(b: BatchBuilder, src: Source, obj: Any, where: str) -> str | None:
    """Add one object (one record); returns why it is unusable, or None."""
    if not isinstance(obj, dict):
        return f"expected a Workflow object, got {type(obj).__name__}"
    kind = obj.get("kind") or "Workflow"
    if not isinstance(kind, str):
        return f"field 'kind': expected a string, got {dumps(kind)[:60]}"
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return "expected metadata.name (a Workflow object); found " + (
            "no metadata" if not isinstance(meta, dict) else f"name {meta.get('name')!r}")
    if kind in TEMPLATE_KINDS:
        spec = obj.get("spec") or {}
        if kind == "CronWorkflow":
            spec = spec.get("workflowSpec") or {}
        declare_templates(b, spec.get("templates"), meta["name"], spec)
        b.loaded()
        return None
    if kind not in WORKFLOW_KINDS:
        b.skip(f"{kind} object")
        return None
    mark = b.mark()
    try:
        _workflow(b, src, obj, meta, where)
    except SHAPE_ERRORS as exc:
        b.restore(mark)  # its node records and rows go with it
        return f"a field has the wrong type: {exc}"
    return None


def workflow_component_name(meta: dict[str, Any], spec: dict[str, Any]) -> str:
    """What a workflow is an instance of (see the module docstring)."""
    ref = spec.get("workflowTemplateRef")
    if isinstance(ref, dict) and isinstance(ref.get("name"), str):
        return ref["name"]
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    for label in ORIGIN_LABELS:
        if isinstance(labels.get(label), str) and labels[label]:
            return labels[label]
    stem = meta.get("generateName")
    if isinstance(stem, str) and stem.rstrip("-."):
        return stem.rstrip("-.")
    return meta["name"]


def _workflow(b: BatchBuilder, src: Source, wf: dict[str, Any], meta: dict[str, Any],
              where: str) -> None:
    spec = wf.get("spec") if isinstance(wf.get("spec"), dict) else {}
    status = wf.get("status") if isinstance(wf.get("status"), dict) else {}
    name, namespace = meta["name"], meta.get("namespace")
    flow = workflow_component_name(meta, spec)
    run = run_uid(namespace, name)
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    phase = status.get("phase") or ""
    parent = _parent_workflow(meta)
    b.run(uid=run, system="argo", component=component("argo", "workflow", flow), name=name,
          status=_status(phase, status.get("message")), started_at=_time(status.get("startedAt")),
          ended_at=_time(status.get("finishedAt")), attempt=None,
          parent_uid=run_uid(namespace, parent) if parent else None,
          error=_text(status.get("message")) if PHASES.get(phase) == Status.FAILED else None,
          location=where,
          detail=_compact({"namespace": namespace, "uid": meta.get("uid"), "phase": phase,
                           "message": status.get("message"), "progress": status.get("progress"),
                           "entrypoint": spec.get("entrypoint"),
                           "service_account": spec.get("serviceAccountName"),
                           "generate_name": meta.get("generateName"),
                           **{k: labels[k] for k in KEPT_LABELS if k in labels}}))
    b.key(run, KeyKind.WORKFLOW_ID, name)
    b.key(run, KeyKind.RUN_ID, meta.get("uid"))
    b.keys(run, src.rules.payload(parameters(spec.get("arguments"))))
    if parent:
        b.link(run_uid(namespace, parent), run, EdgeKind.CHILD, "metadata.ownerReferences",
               where)
    if isinstance(labels.get(RESUBMITTED_LABEL), str):
        b.link(run, run_uid(namespace, labels[RESUBMITTED_LABEL]), EdgeKind.RETRY_OF,
               RESUBMITTED_LABEL, where)
    b.loaded()
    # Submitted from a WorkflowTemplate, the spec holds only the reference; the controller
    # keeps a copy of the template's spec in the status.
    source = spec if spec.get("templates") else status.get("storedWorkflowTemplateSpec") or {}
    declare_templates(b, source.get("templates"), flow, source)
    nodes = _nodes(b, status)
    _add_nodes(b, src, nodes, run, namespace, name, flow, where)


def run_uid(namespace: Any, name: str) -> str:
    return f"argo:run:{namespace}/{name}" if namespace else f"argo:run:{name}"


def _parent_workflow(meta: dict[str, Any]) -> str | None:
    """The workflow that created this one (a resource template), from ownerReferences."""
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") == "Workflow" and isinstance(
                ref.get("name"), str):
            return ref["name"]
    return None


def _nodes(b: BatchBuilder, status: dict[str, Any]) -> dict[str, Any]:
    nodes = status.get("nodes")
    if isinstance(nodes, dict):
        return nodes
    packed = status.get("compressedNodes")
    if isinstance(packed, str) and packed:
        try:
            decoded = loads(gzip.decompress(base64.b64decode(packed)))
        except (binascii.Error, OSError, EOFError, zlib.error, ValueError):
            b.note("compressed_nodes_unreadable", True)
            return {}
        return decoded if isinstance(decoded, dict) else {}
    if status.get("offloadNodeStatusVersion"):
        b.note("offloaded_node_status", status["offloadNodeStatusVersion"])
    return {}


def _add_nodes(b: BatchBuilder, src: Source, nodes: dict[str, Any], run: str, namespace: Any,
               name: str, flow: str, where: str) -> None:
    """One record per node; rows for the nodes that are work, links for the structure."""
    good: dict[str, dict[str, Any]] = {}
    for node_id, node in nodes.items():
        b.read()
        here = f"{where} status.nodes.{node_id}"
        if not isinstance(node, dict):
            b.reject(here, f"expected a node status object, got {type(node).__name__}")
            continue
        good[str(node.get("id") or node_id)] = node
    prefix = f"argo:step:{namespace}/{name}/" if namespace else f"argo:step:{name}/"

    def uid(node_id: str) -> str:
        return prefix + node_id

    attempts: dict[str, tuple[int, str, bool]] = {}  # attempt id -> (n, retry id, last)
    for node_id, node in good.items():
        if node.get("type") == RETRY_TYPE:
            kids = [c for c in _children(node) if c in good]
            for n, kid in enumerate(kids, start=1):
                attempts[kid] = (n, node_id, n == len(kids))

    def entries(node_id: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """The steps a transition into ``node_id`` reaches (through folded nodes)."""
        node = good.get(node_id)
        if node is None or node_id in seen:
            return []
        kind = node.get("type")
        if kind in GROUP_TYPES:
            return [e for c in _children(node) for e in entries(c, seen | {node_id})]
        if kind == RETRY_TYPE:
            kids = [c for c in _children(node) if c in good]
            return entries(kids[0], seen | {node_id}) if kids else []
        return [node_id]

    def add_node(node_id: str, node: dict[str, Any], here: str) -> None:
        kind = node.get("type") or ""
        for name, value in (("type", kind), ("phase", node.get("phase"))):
            if value is not None and not isinstance(value, str):
                b.reject(here, f"field '{name}': expected a string, got {dumps(value)[:60]}",
                         dumps(node)[:300])
                return
        if kind in GROUP_TYPES or kind == RETRY_TYPE:
            b.loaded()  # structure only: folded into the links of its members
            return
        n, retry_id, last = attempts.get(node_id, (1, None, True))
        retry = good.get(retry_id) if retry_id else None
        phase = node.get("phase") or ""
        own = state = _status(phase, node.get("message"))
        if retry is not None and not last and state in (Status.FAILED, Status.TIMED_OUT):
            state = Status.RETRIED  # its error stays: each attempt failed for its own reason
        boundary = node.get("boundaryID")
        container = uid(boundary) if boundary in good else run
        template = _template_component(node, retry, flow)
        outputs = node.get("outputs") if isinstance(node.get("outputs"), dict) else {}
        name = node.get("displayName") or node.get("name")
        b.step(uid=uid(node_id), run_uid=run, system="argo", component=template,
               name=name if isinstance(name, str) else None, step_type=kind.lower() or None,
               status=state, started_at=_time(node.get("startedAt")),
               ended_at=_time(node.get("finishedAt")), attempt=n,
               parent_uid=container if container != run else None,
               error=_text(node.get("message")) if own in (Status.FAILED, Status.TIMED_OUT)
               else None, location=here,
               detail=_compact({**{k: node.get(k) for k in NODE_DETAIL},
                                "node_name": node.get("name"),
                                "exit_code": outputs.get("exitCode"),
                                "retry_node": retry_id,
                                "retry_message": retry.get("message") if retry and last else None,
                                "resources_duration": node.get("resourcesDuration")}))
        b.link(container, uid(node_id), EdgeKind.CONTAINS,
               "boundaryID" if container != run else "workflow", here)
        if retry is not None and n > 1:
            previous = [c for c in _children(retry) if c in good][n - 2]
            b.link(uid(node_id), uid(previous), EdgeKind.RETRY_OF, "Retry node children", here)
        for child in _children(node):
            target = good.get(child)
            if target is None or target.get("boundaryID") == node_id:
                continue  # a node's first inner nodes: contained, not preceded
            source = _lift(node_id, target.get("boundaryID"), good)
            for entry in entries(child):
                if entry != source:
                    b.link(uid(source), uid(entry), EdgeKind.PRECEDES, "children", here)
        inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
        b.keys(uid(node_id), src.rules.payload(parameters(inputs)))
        b.loaded()

    for node_id, node in good.items():
        here = f"{where} status.nodes.{node_id}"
        mark = b.mark()
        try:
            add_node(node_id, node, here)
        except SHAPE_ERRORS as exc:
            b.restore(mark)  # one node of an odd shape costs that node, not the workflow
            b.reject(here, f"a field has the wrong type: {exc}", dumps(node)[:300])


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _children(node: dict[str, Any]) -> list[str]:
    children = node.get("children")
    return [c for c in children if isinstance(c, str)] if isinstance(children, list) else []


def _lift(node_id: str, boundary: Any, good: dict[str, dict[str, Any]]) -> str:
    """The node, or the sub-DAG/Steps node enclosing it, that sits in ``boundary``."""
    current, hops = node_id, 0
    while good[current].get("boundaryID") != boundary and hops < 64:
        outer = good[current].get("boundaryID")
        if outer not in good:
            return node_id
        current, hops = outer, hops + 1
    return current


def _template_component(node: dict[str, Any], retry: dict[str, Any] | None, flow: str) -> str:
    for source in (node, retry or {}):
        ref = source.get("templateRef")
        if isinstance(ref, dict) and ref.get("name") and ref.get("template"):
            return template_component(str(ref["name"]), str(ref["template"]))
        if isinstance(source.get("templateName"), str) and source["templateName"]:
            return template_component(flow, source["templateName"])
    label = re.sub(r"(\(\d+\)|\[\d+\])$", "", str(node.get("displayName") or "unknown"))
    return template_component(flow, label)


def template_component(flow: str, template: str) -> str:
    return component("argo", "template", f"{flow}.{template}")


def parameters(holder: Any) -> dict[str, Any]:
    """``{parameters: [{name, value}]}`` as a dict, values decoded when they are JSON."""
    out: dict[str, Any] = {}
    params = holder.get("parameters") if isinstance(holder, dict) else None
    for p in params or []:
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            value = p.get("value")
            if isinstance(value, str) and value[:1] in ("{", "["):
                try:
                    value = loads(value)
                except ValueError:
                    pass
            out[p["name"]] = value
    return out


def declare_templates(b: BatchBuilder, templates: Any, flow: str, spec: dict[str, Any]) -> None:
    """Declared structure of a workflow's templates (see the module docstring)."""
    if not isinstance(templates, list):
        return
    seen: set[tuple[str, str, str]] = set()

    def declare(src: str, dst: str, kind: EdgeKind, evidence: str) -> None:
        if src != dst and (src, dst, kind) not in seen:
            seen.add((src, dst, kind))
            b.declare(src, dst, kind, evidence)

    whole = component("argo", "workflow", flow)
    for field in ("entrypoint", "onExit"):
        if isinstance(spec.get(field), str):
            declare(whole, template_component(flow, spec[field]), EdgeKind.CONTAINS,
                    f"spec.{field}")
    for template in templates:
        if not isinstance(template, dict) or not isinstance(template.get("name"), str):
            continue
        me = template_component(flow, template["name"])
        dag = template.get("dag") if isinstance(template.get("dag"), dict) else {}
        tasks = [t for t in dag.get("tasks") or [] if isinstance(t, dict)]
        by_name = {t["name"]: t for t in tasks if isinstance(t.get("name"), str)}
        for task in tasks:
            target = _call_target(task, flow)
            if target is None:
                continue
            declare(me, target, EdgeKind.CONTAINS, f"templates.{template['name']}.dag.tasks")
            for dep in task_dependencies(task):
                upstream = _call_target(by_name[dep], flow) if dep in by_name else None
                if upstream:
                    declare(upstream, target, EdgeKind.PRECEDES,
                            f"dag task {task.get('name')} depends on {dep}")
        groups = [_step_group(g) for g in template.get("steps") or []]
        previous: list[str] = []
        for i, group in enumerate(groups):
            current = [t for t in (_call_target(s, flow) for s in group) if t]
            for target in current:
                declare(me, target, EdgeKind.CONTAINS, f"templates.{template['name']}.steps")
                for before in previous:
                    declare(before, target, EdgeKind.PRECEDES,
                            f"templates.{template['name']}.steps[{i - 1}] -> steps[{i}]")
            previous = current or previous


def _step_group(group: Any) -> list[dict[str, Any]]:
    """One group of parallel steps: a list, or (older JSON) ``{"steps": [...]}``."""
    if isinstance(group, dict):
        group = group.get("steps") or []
    return [s for s in group if isinstance(s, dict)] if isinstance(group, list) else []


def _call_target(call: dict[str, Any], flow: str) -> str | None:
    """The template a DAG task or a step runs."""
    ref = call.get("templateRef")
    if isinstance(ref, dict) and ref.get("name") and ref.get("template"):
        return template_component(str(ref["name"]), str(ref["template"]))
    if isinstance(call.get("template"), str) and call["template"]:
        return template_component(flow, call["template"])
    return None


def task_dependencies(task: dict[str, Any]) -> list[str]:
    """Task names a DAG task waits for: ``dependencies`` plus the names in ``depends``
    (``A && (B.Succeeded || C.Failed)`` -> A, B, C)."""
    out = [d for d in task.get("dependencies") or [] if isinstance(d, str)]
    depends = task.get("depends")
    if isinstance(depends, str):
        text = _DEPENDS_RESULT.sub("", depends)
        for name in _DEPENDS_NAME.findall(text):
            if name not in out and name.lower() not in _DEPENDS_WORDS:
                out.append(name)
    return out


def _status(phase: str, message: Any) -> Status:
    status = PHASES.get(phase, Status.UNKNOWN)
    if status == Status.FAILED and isinstance(message, str):
        for text, refined in FAILURE_MESSAGES:
            if text in message:
                return refined
    return status


def _time(value: Any) -> int | None:
    """Epoch µs from an RFC 3339 time (or the datetime YAML makes of an unquoted one)."""
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        delta = value - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not isinstance(value, str) or not value:
        return None
    try:
        return us_from_iso(value)
    except ValueError:
        return None


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != ""}
