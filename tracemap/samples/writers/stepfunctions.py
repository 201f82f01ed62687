"""Step Functions executions: ``describe-execution`` fields merged with ``get-execution-history``.

What a team's export script saves per execution (AWS CLI v2, default ISO-8601 timestamps)::

    aws stepfunctions describe-execution --execution-arn ARN > d.json
    aws stepfunctions get-execution-history --execution-arn ARN > h.json
    jq -s '.[0] + .[1]' d.json h.json > stepfunctions/NAME.json

The API returns ``input``/``output``/``parameters`` as JSON *text*, event ids as numbers,
``previousEventId`` 0 on the first state, and an X-Ray ``traceHeader`` when EventBridge started
the execution from a traced PutEvents. Indented two spaces, as jq prints.

The state machine's definition is saved once, as ``describe-state-machine`` prints it
(``definition`` is ASL as JSON text): ``stepfunctions/InvoiceStateMachine.definition.json``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tracemap.samples import landscape as L
from tracemap.samples.records import Execution
from tracemap.samples.writers import Sink

FORMAT = "stepfunctions_json"
ASL_FORMAT = "stepfunctions_asl"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(us: int) -> str:
    """AWS CLI v2 rendering of an API timestamp (millisecond precision)."""
    return (EPOCH + timedelta(microseconds=us - us % 1000)).isoformat(timespec="microseconds")


def text(value: Any) -> str:
    """The JSON text the API returns for input/output/parameters."""
    return json.dumps(value, separators=(",", ":"))


class _Events:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, us: int, etype: str, previous: int, details_name: str,
            details: dict[str, Any]) -> int:
        event_id = len(self.events) + 1
        self.events.append({"timestamp": timestamp(us), "type": etype, "id": event_id,
                            "previousEventId": previous, details_name: details})
        return event_id


def document(ex: Execution) -> dict[str, Any]:
    ev = _Events()
    previous = ev.add(ex.start_us, "ExecutionStarted", 0, "executionStartedEventDetails", {
        "input": text(ex.input), "inputDetails": {"truncated": False}, "roleArn": ex.role_arn})
    previous = 0  # AWS writes 0 as the first state's previous event
    for state in ex.states:
        resource = {"resourceType": state.resource_type, "resource": state.resource}
        entered = ev.add(state.entered_us, "TaskStateEntered", previous,
                         "stateEnteredEventDetails", {
                             "name": state.name, "input": text(state.input),
                             "inputDetails": {"truncated": False}})
        scheduled = ev.add(state.scheduled_us, "TaskScheduled", entered,
                           "taskScheduledEventDetails", {
                               **resource, "region": L.REGION,
                               "parameters": text(state.parameters)})
        started = ev.add(state.started_us, "TaskStarted", scheduled, "taskStartedEventDetails",
                         resource)
        succeeded = ev.add(state.succeeded_us, "TaskSucceeded", started,
                           "taskSucceededEventDetails", {
                               **resource, "output": text(state.task_output),
                               "outputDetails": {"truncated": False}})
        previous = ev.add(state.exited_us, "TaskStateExited", succeeded,
                          "stateExitedEventDetails", {
                              "name": state.name, "output": text(state.output),
                              "outputDetails": {"truncated": False}})
    ev.add(ex.stop_us, "ExecutionSucceeded", previous, "executionSucceededEventDetails",
           {"output": text(ex.output), "outputDetails": {"truncated": False}})
    return {
        "executionArn": ex.arn, "stateMachineArn": ex.state_machine_arn, "name": ex.name,
        "status": ex.status, "startDate": timestamp(ex.start_us),
        "stopDate": timestamp(ex.stop_us), "input": text(ex.input),
        "inputDetails": {"included": True}, "output": text(ex.output),
        "outputDetails": {"included": True}, "traceHeader": ex.trace_header,
        "redriveCount": 0, "redriveStatus": "NOT_REDRIVABLE",
        "redriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
        "events": ev.events,
    }


#: The Retry block Workflow Studio adds to every Lambda invoke state.
LAMBDA_RETRY = [{"ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                                 "Lambda.SdkClientException", "Lambda.TooManyRequestsException"],
                 "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2,
                 "JitterStrategy": "FULL"}]
#: What each Lambda state keeps of its function's result (``ResultSelector``).
SELECTORS = {"ValidateInvoice": ("valid", "invoiceId"),
             "SendInvoice": ("sent", "channel", "messageId")}


def definition() -> dict[str, Any]:
    """The Amazon States Language definition of InvoiceStateMachine (Workflow Studio style)."""
    states: dict[str, Any] = {}
    for i, (name, rtype, resource, target) in enumerate(L.STATES):
        state: dict[str, Any] = {"Type": "Task"}
        fn = f"arn:aws:lambda:{L.REGION}:{L.ACCOUNT}:function:{target}:$LATEST"
        state.update({"Resource": f"arn:aws:states:::{rtype}:{resource}",
                      "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                      "ResultSelector": {f"{k}.$": f"$.Payload.{k}" for k in SELECTORS[name]},
                      "ResultPath": f"$.{name[0].lower()}{name[1:]}",
                      "Retry": LAMBDA_RETRY})
        if i + 1 < len(L.STATES):
            state["Next"] = L.STATES[i + 1][0]
        else:
            state["End"] = True
        states[name] = state
    return {"Comment": "Validate and send an invoice billing announced on EventBridge",
            "StartAt": L.STATES[0][0], "States": states, "QueryLanguage": "JSONPath"}


def write_definition(sink: Sink, folder: str) -> None:
    """``aws stepfunctions describe-state-machine`` output for the state machine."""
    doc = {"stateMachineArn": L.STATE_MACHINE_ARN, "name": L.STATE_MACHINE, "status": "ACTIVE",
           "definition": json.dumps(definition(), indent=2),
           "roleArn": f"arn:aws:iam::{L.ACCOUNT}:role/service-role/StepFunctions-"
                      f"{L.STATE_MACHINE}-role",
           "type": "STANDARD", "creationDate": "2025-03-11T14:02:51.412000+00:00",
           "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
           "tracingConfiguration": {"enabled": True}}
    sink.write(ASL_FORMAT, f"{folder}/{L.STATE_MACHINE}.definition.json",
               json.dumps(doc, indent=2).encode() + b"\n", records=len(L.STATES))


def write(sink: Sink, executions: list[Execution], folder: str) -> None:
    for ex in executions:
        doc = document(ex)
        data = json.dumps(doc, indent=2).encode() + b"\n"
        sink.write(FORMAT, f"{folder}/{ex.name}.json", data, records=len(doc["events"]))
