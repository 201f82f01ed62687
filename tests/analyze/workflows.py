"""A Temporal landscape with a retrying activity, written as `temporal workflow show -o json`.

One OrderWorkflow run every 5 minutes for two hours from 10:00 UTC, each named
``<workflowId>__<runId>.json``: ReserveStock, then ChargePayment. From 11:00 to 11:30 the
payment provider is down: ChargePayment is retried up to 4 attempts and fails, and the
workflow fails with it. Answer by construction: the activity is the origin, the workflow only
suffers from it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
INCIDENT_START = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
INCIDENT_END = datetime(2026, 1, 1, 11, 30, tzinfo=UTC)
RUNS = 24
MAX_ATTEMPTS = 4


def _event(n: int, t: datetime, kind: str, **attrs: object) -> dict:
    name = kind[0].lower() + kind[1:] + "EventAttributes"
    return {"eventId": str(n), "eventTime": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "eventType": kind, name: attrs}


def _history(i: int, t: datetime, failing: bool) -> dict:
    queue = {"name": "orders"}
    ev = [_event(1, t, "WorkflowExecutionStarted", workflowType={"name": "OrderWorkflow"},
                 taskQueue=queue, identity="1@order-worker")]
    step = timedelta(milliseconds=100)
    ev.append(_event(2, t + step, "ActivityTaskScheduled", activityId="1",
                     activityType={"name": "ReserveStock"}, taskQueue=queue))
    ev.append(_event(3, t + 2 * step, "ActivityTaskStarted", scheduledEventId="2", attempt=1))
    ev.append(_event(4, t + 3 * step, "ActivityTaskCompleted", scheduledEventId="2",
                     startedEventId="3"))
    ev.append(_event(5, t + 4 * step, "ActivityTaskScheduled", activityId="2",
                     activityType={"name": "ChargePayment"}, taskQueue=queue))
    attempt = MAX_ATTEMPTS if failing else 1
    failure = {"message": "payment provider unavailable", "applicationFailureInfo": {
        "type": "ProviderUnavailable"}}
    started = {"scheduledEventId": "5", "attempt": attempt}
    if failing:
        started["lastFailure"] = failure
    ev.append(_event(6, t + 40 * step, "ActivityTaskStarted", **started))
    if failing:
        ev.append(_event(7, t + 41 * step, "ActivityTaskFailed", scheduledEventId="5",
                         startedEventId="6", failure=failure))
        ev.append(_event(8, t + 42 * step, "WorkflowExecutionFailed", failure={
            "message": "activity error", "cause": failure}))
    else:
        ev.append(_event(7, t + 41 * step, "ActivityTaskCompleted", scheduledEventId="5",
                         startedEventId="6"))
        ev.append(_event(8, t + 42 * step, "WorkflowExecutionCompleted"))
    return {"events": ev}


def write(out: Path) -> list[str]:
    """Write the histories; returns the workflow ids that fail."""
    out.mkdir(parents=True, exist_ok=True)
    failing = []
    for i in range(RUNS):
        t = START + timedelta(minutes=5 * i)
        fails = INCIDENT_START <= t < INCIDENT_END
        wf = f"order-{i}"
        if fails:
            failing.append(wf)
        run = f"{i:08d}-0000-4000-8000-000000000000"
        (out / f"{wf}__{run}.json").write_text(json.dumps(_history(i, t, fails), indent=2))
    return failing
