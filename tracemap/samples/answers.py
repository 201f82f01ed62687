"""The planted answers, derived from the landscape definition and the simulated outcomes.

Nothing here runs tracemap: the incidents, their windows and root causes come from
``landscape.INCIDENTS``; the dependency lists from ``landscape.OBSERVED`` / ``ASYNCAPI`` /
``SOURCE_DECLARED``; the per-order lists (which runs failed, which records nobody consumed)
from each story's ``Outcome`` as the simulation decided it. Analyzers are tested against this.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any

from tracemap.samples import landscape as L
from tracemap.samples.records import DagRun, Outcome, Story

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The component whose downstream impact set is planted.
IMPACT_TARGET = L.topic("orders.placed")


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def run_uid(workflow_id: str, run_id: str) -> str:
    """tracemap's uid of a Temporal run (``temporal:run:<workflow id>/<run id>``)."""
    return f"temporal:run:{workflow_id}/{run_id}"


class Answers:
    """Collects outcomes story by story; ``result()`` is the answers document."""

    def __init__(self, *, seed: int, scale: float, start: datetime) -> None:
        self.seed, self.scale, self.start = seed, scale, start
        self.orders = 0
        self.failed_workflows = 0
        self.retried_charges = 0
        self.nights: list[str] = []
        self.by_incident: dict[str, list[Outcome]] = {i.id: [] for i in L.INCIDENTS}
        self.risks: list[dict[str, Any]] = []
        self.pathways: list[dict[str, Any]] = []

    def observe(self, story: Story) -> None:
        o = story.outcome
        self.orders += 1
        self.failed_workflows += not o.workflow_ok
        self.retried_charges += o.charge_attempts > 1
        for incident in o.incidents:
            self.by_incident[incident].append(o)

    def observe_night(self, run: DagRun) -> None:
        self.nights.append(f"{run.dag_id} {run.run_id}")

    def observe_hazards(self, risks: list[dict[str, Any]],
                        pathways: list[dict[str, Any]]) -> None:
        """The planted hazards (``samples/hazards.py``): what ``risks`` and ``paths`` find."""
        self.risks, self.pathways = risks, pathways

    # -- the document ------------------------------------------------------------------------

    def result(self) -> dict[str, Any]:
        return {
            "landscape": "Acme Shop",
            "generator": {"seed": self.seed, "scale": self.scale, "start": iso(self.start)},
            "totals": {"orders": self.orders, "failed_order_workflows": self.failed_workflows,
                       "orders_with_charge_retries": self.retried_charges,
                       "airflow_dag_runs": len(self.nights)},
            "incidents": [self.incident(i) for i in L.INCIDENTS],
            "hidden_dependencies": hidden_dependencies(),
            "undeclared_calls": undeclared_calls(),
            "declared_dependencies": declared_dependencies(),
            "dataset_dependencies": dataset_dependencies(),
            "impact": impact(IMPACT_TARGET),
            "conventions": conventions(),
            "risks": self.risks,
            "pathways": self.pathways,
        }

    def incident(self, incident: L.Incident) -> dict[str, Any]:
        since, until = L.window(incident, self.start)
        outcomes = self.by_incident[incident.id]
        out: dict[str, Any] = {
            "id": incident.id, "title": incident.title,
            "window": {"since": iso(since), "until": iso(until)},
            "root_cause": list(incident.root_cause),
            "discriminating_attribute": (
                {"name": incident.discriminators[0][0], "value": incident.discriminators[0][1]}
                if incident.discriminators else None),
            "discriminating_attributes": [{"name": n, "value": v, "where": w}
                                          for n, v, w in incident.discriminators],
            "affected": list(incident.affected),
            "orders": [o.order_id for o in outcomes],
        }
        billing_failed = [o for o in outcomes if o.billing == "failed"]
        if incident in (L.TAX_OUTAGE, L.BAD_DEPLOY):
            out["failed_messages"] = [
                {"message": o.placed_msg, "consumer": L.service("billing"),
                 "error": o.billing_error} for o in billing_failed]
            out["false_completions"] = [L.workflow("OrderWorkflow")] if billing_failed else []
            out["false_completion_runs"] = [run_uid(o.workflow_id, o.run_id)
                                            for o in billing_failed if o.workflow_ok]
        if incident is L.RETRY_STORM:
            out["failed_runs"] = [run_uid(o.workflow_id, o.run_id)
                                  for o in outcomes if not o.workflow_ok]
            out["recovered_runs"] = [
                {"run": run_uid(o.workflow_id, o.run_id), "charge_attempts": o.charge_attempts}
                for o in outcomes if o.workflow_ok]
            out["false_completions"] = []
        if incident is L.NOTIFIER_STALLED:
            out["silent"] = [{"message": o.shipped_msg, "channel": L.topic("orders.shipped"),
                              "expected_consumer": L.service("notifier")}
                             for o in outcomes if o.shipped_msg and not o.notified]
            out["false_completions"] = []
        out["story"] = L.told(incident.teaser, incident, self.start)
        out["answer"] = L.told(incident.answer, incident, self.start)
        return out


def _edge(e: L.Edge) -> dict[str, Any]:
    return {"source": e.src, "target": e.dst, "kind": e.kind, "via": e.via}


def hidden_dependencies() -> list[dict[str, Any]]:
    """Asynchronous and data dependencies that no declaration explains."""
    out = [_edge(e) for e in L.OBSERVED
           if e.declared_by is None and e.kind in ("consumes", "triggers")]
    for dep in dataset_dependencies():
        if not dep["declared"]:
            out.append({"source": L.dag(dep["writer_dag"]), "target": L.dag(dep["reader_dag"]),
                        "kind": "dataset", "via": dep["dataset"]})
    return out


def conventions() -> list[dict[str, Any]]:
    """Component edges the planted export conventions must give (or must not give)."""
    return [{"convention": c.name, "source": c.src, "target": c.dst, "present": c.present,
             "why": c.why} for c in L.CONVENTIONS]


def undeclared_calls() -> list[dict[str, Any]]:
    """Synchronous edges (HTTP calls, workflow starts, PutEvents) no declaration format covers."""
    return [_edge(e) for e in L.OBSERVED
            if e.declared_by is None and e.kind in ("calls", "starts", "emits")]


def declared_dependencies() -> list[dict[str, Any]]:
    out = [{**_edge(e), "declared_by": e.declared_by} for e in L.OBSERVED if e.declared_by]
    seen = {(d["source"], d["target"]) for d in out}
    out += [{**_edge(e), "declared_by": e.declared_by} for e in L.SOURCE_DECLARED
            if (e.src, e.dst) not in seen]
    # declared at the service, observed elsewhere (an unexported service's activity)
    for svc, ops in L.ASYNCAPI.items():
        for action, name in ops:
            src, dst = ((L.service(svc), L.topic(name)) if action == "send"
                        else (L.topic(name), L.service(svc)))
            if (src, dst) not in seen:
                out.append({"source": src, "target": dst,
                            "kind": "emits" if action == "send" else "consumes",
                            "via": f"AsyncAPI {action} operation", "declared_by": "asyncapi"})
    return out


def dataset_dependencies() -> list[dict[str, Any]]:
    """Task pairs where one task writes a dataset another task reads."""
    out: list[dict[str, Any]] = []
    for wdag in L.DAGS.values():
        for writer in wdag.tasks:
            for ds in writer.outputs:
                for rdag in L.DAGS.values():
                    for reader in rdag.tasks:
                        if ds in reader.inputs:
                            out.append({
                                "writer": L.task(wdag.dag_id, writer.task_id),
                                "reader": L.task(rdag.dag_id, reader.task_id),
                                "dataset": ds.component,
                                "writer_dag": wdag.dag_id, "reader_dag": rdag.dag_id,
                                # inside one DAG the task order declares it; across DAGs nothing
                                "declared": wdag is rdag})
    return out


def impact(target: str) -> dict[str, Any]:
    """Everything that depends on ``target`` over the observed edges, by hop (BFS).

    The rule tracemap documents for ``impact``: a change flows to whoever depends on the
    changed component, so along data flow (emits, triggers, consumes, starts, child, reads,
    writes) but from callee to caller for ``calls``: a callee's change reaches its callers,
    a caller's change does not reach what it calls; likewise a task's change reaches the DAG
    that contains it.
    """
    graph: dict[str, list[str]] = {}
    for e in L.OBSERVED:
        src, dst = (e.dst, e.src) if e.kind == "calls" else (e.src, e.dst)
        graph.setdefault(src, []).append(dst)
    for d in L.DAGS.values():
        for t in d.tasks:
            graph.setdefault(L.task(d.dag_id, t.task_id), []).append(L.dag(d.dag_id))
    hops: dict[str, int] = {target: 0}
    queue = deque([target])
    while queue:
        node = queue.popleft()
        for nxt in graph.get(node, []):
            if nxt not in hops:
                hops[nxt] = hops[node] + 1
                queue.append(nxt)
    by_hop: dict[str, list[str]] = {}
    for node, hop in hops.items():
        if hop:
            by_hop.setdefault(str(hop), []).append(node)
    return {"target": target, "direction": "downstream",
            "components": sorted(n for n, h in hops.items() if h),
            "by_hop": {k: sorted(v) for k, v in sorted(by_hop.items())}}


def window_text(incident: L.Incident, start: datetime) -> str:
    since, until = L.window(incident, start)
    return f"{since:%H:%M}-{until:%H:%M} UTC"

