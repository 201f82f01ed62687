"""AWS Step Functions state-machine definitions (Amazon States Language, JSON or JSON5).

What a state machine declares, not what it did: ``state -> next state`` (``Next``, ``Choices``,
``Default``, ``Catch``), the states of ``Parallel`` branches and ``Map`` item processors, and the
resource each ``Task`` invokes (Lambda function, SQS queue, SNS topic, EventBridge bus, a
nested state machine, Glue/Batch/ECS/DynamoDB/CodeBuild targets). Read from:

- an ASL document as written by hand, CDK/SAM build output or Workflow Studio export
  (``{"Comment", "StartAt", "States"}``), JSON or JSON5 (unquoted keys, trailing commas,
  comments: LocalStack and many repositories keep definitions as ``.json5``);
- ``aws stepfunctions describe-state-machine`` output (``definition`` is a JSON *string*, next
  to ``name``/``stateMachineArn``), and any other JSON that holds such objects (a CloudFormation
  template's ``Definition``, the Cumulus API's ``stateMachine``).

The state machine's name comes from the enclosing object (``name``, ``StateMachineName``, the
``stateMachineArn``), else the ``state_machine`` ingest option, else the file name without its
extensions. Records are states (nested ones included); rows are ``declared`` only.

Quirks: ``Iterator`` (Map, before 2022-12) and ``ItemProcessor`` (after) both hold a Map's
states; JSONata definitions (2024-11) use ``Arguments`` instead of ``Parameters`` and ``{% %}``
expressions. A target given by a path (``QueueUrl.$``) or an expression is known only at run
time: it is not declared, and is listed in the source's ``dynamic_targets`` note instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import json5

from ingest.base import Batch, BatchBuilder, Source, first_json_value, loads
from tracemap.model import EdgeKind, channel_component, component

NAME = "stepfunctions_asl"

#: Where a Map/Parallel state keeps its inner states.
NESTED_STATES = ("ItemProcessor", "Iterator")

#: Task integrations with a target named by a parameter: (service, action) ->
#: (parameter, system, kind, edge kind). Actions are compared lower-cased, without the
#: ``.sync``/``.waitForTaskToken`` integration pattern. Channel targets (sqs, sns, eventbridge)
#: are named by ``channel_component``; everything else by ``component``.
TARGETS: dict[tuple[str, str], tuple[str, str, str, EdgeKind]] = {
    ("lambda", "invoke"): ("FunctionName", "lambda", "function", EdgeKind.CALLS),
    ("sqs", "sendmessage"): ("QueueUrl", "sqs", "queue", EdgeKind.EMITS),
    ("sqs", "sendmessagebatch"): ("QueueUrl", "sqs", "queue", EdgeKind.EMITS),
    ("sns", "publish"): ("TopicArn", "sns", "topic", EdgeKind.EMITS),
    ("sns", "publishbatch"): ("TopicArn", "sns", "topic", EdgeKind.EMITS),
    ("states", "startexecution"): ("StateMachineArn", "stepfunctions", "statemachine",
                                   EdgeKind.CHILD),
    ("glue", "startjobrun"): ("JobName", "glue", "job", EdgeKind.CALLS),
    ("batch", "submitjob"): ("JobDefinition", "batch", "jobdefinition", EdgeKind.CALLS),
    ("ecs", "runtask"): ("TaskDefinition", "ecs", "taskdefinition", EdgeKind.CALLS),
    ("codebuild", "startbuild"): ("ProjectName", "codebuild", "project", EdgeKind.CALLS),
    ("dynamodb", "getitem"): ("TableName", "dynamodb", "table", EdgeKind.CALLS),
    ("dynamodb", "putitem"): ("TableName", "dynamodb", "table", EdgeKind.CALLS),
    ("dynamodb", "updateitem"): ("TableName", "dynamodb", "table", EdgeKind.CALLS),
    ("dynamodb", "deleteitem"): ("TableName", "dynamodb", "table", EdgeKind.CALLS),
    ("dynamodb", "query"): ("TableName", "dynamodb", "table", EdgeKind.CALLS),
}
#: The channel systems among TARGETS (named with channel_component).
CHANNEL_SYSTEMS = frozenset({"sqs", "sns", "eventbridge"})
#: Fields that name a state machine in an object that holds a definition.
NAME_FIELDS = ("name", "StateMachineName", "stateMachineName")
#: Fields that hold a definition (object or JSON string).
DEFINITION_FIELDS = ("definition", "Definition", "DefinitionString")

_PATTERN = re.compile(r"\.(sync(:\d+)?|waitForTaskToken)$")
#: A redacted part of an id, as snapshot tools and people sharing exports write them.
_REDACTED = re.compile(r"<[^<>]*>")


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if not text.startswith((b"{", b"[")) or b"previousEventId" in text:
        return False
    return b"StartAt" in text and b"States" in text


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    data = src.read_document()
    try:
        doc = load_json_or_json5(data)
    except ValueError as exc:
        b.read()
        b.reject("file", f"expected an ASL definition as JSON or JSON5 (truncated?): {exc}",
                 data[:200])
        yield b.take()
        return
    fallback = src.options.get("state_machine") or file_stem(src.path)
    found = definitions(doc, str(fallback))
    if not found:
        b.read()
        b.reject("document", "expected an ASL definition: an object with StartAt and States, "
                 "or a 'definition' holding one; found neither", data[:200])
    dynamic: list[str] = []
    for where, definition, machine in found:
        dynamic.extend(declare_definition(b, definition, machine, where))
        if b.ready():
            yield b.take()
    if dynamic:
        b.note("dynamic_targets", dynamic)
    yield b.take()


def load_json_or_json5(data: bytes | str) -> Any:
    """JSON (fast), else JSON5; ValueError when it is neither (deep nesting included)."""
    try:
        return loads(data)
    except ValueError:
        pass
    try:
        return json5.loads(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)
    except RecursionError:
        raise ValueError("JSON5 nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not JSON or JSON5: {exc}") from None


def file_stem(path: Path | str) -> str:
    """A file's name without its data extensions: ``invoice.asl.json.gz`` -> ``invoice``."""
    name = Path(path).name
    for ext in (".gz", ".json5", ".json", ".asl", ".yaml", ".yml"):
        name = name.removesuffix(ext)
    return name or "unknown"


def is_definition(obj: Any) -> bool:
    return (isinstance(obj, dict) and isinstance(obj.get("StartAt"), str)
            and isinstance(obj.get("States"), dict))


def definitions(doc: Any, fallback: str) -> list[tuple[str, dict[str, Any], str]]:
    """Every ASL definition in a document: ``(location, definition, state machine name)``.

    Walks iteratively (documents can be deep); a definition's own states are not searched
    for further definitions (Parallel/Map branches belong to their definition).
    """
    out: list[tuple[str, dict[str, Any], str]] = []
    stack: list[tuple[Any, str, str]] = [(doc, "", fallback)]
    while stack:
        node, where, name = stack.pop()
        if is_definition(node):
            out.append((where or "document", node, name))
            continue
        if isinstance(node, dict):
            own = machine_name(node) or name
            for key in DEFINITION_FIELDS:
                text = node.get(key)
                if isinstance(text, str) and "StartAt" in text:
                    try:
                        parsed = load_json_or_json5(text)
                    except ValueError:
                        continue
                    if is_definition(parsed):
                        out.append((_join(where, key), parsed, own))
            for key, value in reversed(node.items()):
                if isinstance(value, dict | list):
                    stack.append((value, _join(where, key), own))
        elif isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                if isinstance(node[i], dict | list):
                    stack.append((node[i], f"{where}[{i}]", name))
    return out


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def machine_name(obj: dict[str, Any]) -> str | None:
    """The state machine an object names (``name``, ``StateMachineName``, its ARN)."""
    for key in NAME_FIELDS:
        if isinstance(obj.get(key), str) and obj[key]:
            return obj[key]
    arn = obj.get("stateMachineArn")
    return state_machine_from_arn(arn) if isinstance(arn, str) else None


def arn_parts(arn: str) -> list[str]:
    """An ARN split at ``:``, keeping redacted parts such as ``<resource:1>`` whole."""
    if "<" not in arn:
        return arn.split(":")
    masked = _REDACTED.sub(lambda m: m.group(0).replace(":", "\0"), arn)
    return [part.replace("\0", ":") for part in masked.split(":")]


def state_machine_from_arn(arn: str) -> str | None:
    """``arn:aws:states:r:a:stateMachine:Name[:version|alias]`` -> ``Name``; also execution,
    express and Map-run ARNs (``execution:<machine>[/<map label>]:<name>``)."""
    parts = arn_parts(arn)
    if len(parts) < 7 or parts[0] != "arn":
        return None
    if parts[5] in ("stateMachine", "execution", "express", "mapRun"):
        return parts[6].split("/", 1)[0] or None
    return None


def state_component(machine: str, state: str) -> str:
    return component("stepfunctions", "state", f"{machine}.{state}")


def declare_definition(b: BatchBuilder, definition: dict[str, Any], machine: str,
                       where: str) -> list[str]:
    """Declare a definition's structure; one record per state. Returns dynamic targets."""
    dynamic: list[str] = []
    parent = component("stepfunctions", "statemachine", machine)
    _declare_states(b, definition.get("States"), machine, parent, "States", where, dynamic)
    return dynamic


def _declare_states(b: BatchBuilder, states: Any, machine: str, parent: str, evidence: str,
                    where: str, dynamic: list[str]) -> None:
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        b.read()
        here = f"{where}.States.{name}"
        if not isinstance(state, dict) or not isinstance(state.get("Type"), str):
            got = type(state).__name__ if not isinstance(state, dict) else "no Type"
            b.reject(here, f"expected a state object with a string Type, got {got}",
                     str(state)[:300])
            continue
        me = state_component(machine, name)
        b.declare(parent, me, EdgeKind.CONTAINS, f"ASL {evidence}")
        for field, target in transitions(state):
            b.declare(me, state_component(machine, target), EdgeKind.PRECEDES, f"ASL {field}")
        if state["Type"] == "Task":
            targets, unknown = task_targets(state.get("Resource"), _parameters(state))
            for comp, kind, why in targets:
                b.declare(me, comp, kind, f"ASL Resource {state.get('Resource')} {why}".strip())
            dynamic.extend(f"{machine}.{name}: {u}" for u in unknown)
        for i, branch in enumerate(state.get("Branches") or []):
            if isinstance(branch, dict):
                _declare_states(b, branch.get("States"), machine, me, f"Branches[{i}].States",
                                f"{here}.Branches[{i}]", dynamic)
        for field in NESTED_STATES:
            inner = state.get(field)
            if isinstance(inner, dict):
                _declare_states(b, inner.get("States"), machine, me, f"{field}.States",
                                f"{here}.{field}", dynamic)
        b.loaded()


def transitions(state: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, next state)`` for every transition a state declares."""
    out: list[tuple[str, str]] = []
    if isinstance(state.get("Next"), str):
        out.append(("Next", state["Next"]))
    for i, rule in enumerate(state.get("Choices") or []):
        if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
            out.append((f"Choices[{i}].Next", rule["Next"]))
    if isinstance(state.get("Default"), str):
        out.append(("Default", state["Default"]))
    for i, catch in enumerate(state.get("Catch") or []):
        if isinstance(catch, dict) and isinstance(catch.get("Next"), str):
            out.append((f"Catch[{i}].Next", catch["Next"]))
    return out


def _parameters(state: dict[str, Any]) -> dict[str, Any]:
    for field in ("Parameters", "Arguments"):
        if isinstance(state.get(field), dict):
            return state[field]
    return {}


def split_resource(resource: str | None, resource_type: str | None = None
                   ) -> tuple[str, str, str | None]:
    """A task resource as ``(service, action, implicit target)``, actions lower-cased.

    ``arn:aws:states:::sqs:sendMessage.waitForTaskToken`` -> ``("sqs", "sendmessage", None)``;
    ``arn:aws:states:::aws-sdk:sns:publish`` -> ``("sns", "publish", None)``;
    ``arn:aws:lambda:r:a:function:F:prod`` -> ``("lambda", "invoke", "F")``;
    ``arn:aws:states:r:a:activity:A`` -> ``("activity", "", "A")``. History events split the
    same thing into ``resourceType`` (``sqs``) and ``resource`` (``sendMessage.waitForTaskToken``).
    """
    if resource_type:
        service = resource_type.removeprefix("aws-sdk:").lower()
        return service, _PATTERN.sub("", resource or "").lower(), None
    if not resource:
        return "", "", None
    parts = resource.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return "lambda", "invoke", parts[6]
    if len(parts) >= 7 and parts[2] == "states" and parts[5] == "activity":
        return "activity", "", parts[6]
    if len(parts) >= 7 and parts[2] == "states":
        rest = parts[5:]
        if rest[0] == "aws-sdk":
            rest = rest[1:]
        if len(rest) >= 2:
            return rest[0].lower(), _PATTERN.sub("", rest[1]).lower(), None
    return "", "", None


def task_targets(resource: Any, params: dict[str, Any], resource_type: Any = None
                 ) -> tuple[list[tuple[str, EdgeKind, str]], list[str]]:
    """What a task invokes: ``([(component, edge kind, evidence)], [dynamic targets])``."""
    service, action, implicit = split_resource(
        resource if isinstance(resource, str) else None,
        resource_type if isinstance(resource_type, str) else None)
    if implicit and service == "lambda":
        return [(component("lambda", "function", implicit), EdgeKind.CALLS, "")], []
    if implicit and service == "activity":
        return [(component("stepfunctions", "activity", implicit), EdgeKind.CALLS, "")], []
    if service == "events" and action == "putevents":
        return _bus_targets(params)
    spec = TARGETS.get((service, action))
    if spec is None:
        return [], []
    field, system, kind, edge = spec
    value = params.get(field)
    if not isinstance(value, str) or is_expression(value):
        if f"{field}.$" in params or isinstance(value, str):
            shown = params.get(f"{field}.$", value)
            return [], [f"{service}:{action} {field} = {shown}"]
        return [], []
    name = target_name(system, value)
    comp = (channel_component(system, name) if system in CHANNEL_SYSTEMS
            else component(system, kind, name))
    return [(comp, edge, f"Parameters.{field}")], []


def _bus_targets(params: dict[str, Any]) -> tuple[list[tuple[str, EdgeKind, str]], list[str]]:
    entries = params.get("Entries")
    if not isinstance(entries, list):
        return [], ["events:putevents Entries = " + str(params.get("Entries.$", "?"))]
    out: list[tuple[str, EdgeKind, str]] = []
    dynamic: list[str] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        bus = entry.get("EventBusName", "default")
        if "EventBusName.$" in entry or not isinstance(bus, str) or is_expression(bus):
            dynamic.append(f"events:putevents Entries[{i}].EventBusName")
            continue
        comp = channel_component("eventbridge", target_name("eventbridge", bus))
        if all(c != comp for c, _, _ in out):
            out.append((comp, EdgeKind.EMITS, f"Parameters.Entries[{i}].EventBusName"))
    return out, dynamic


def is_expression(value: str) -> bool:
    """A JSONata ``{% %}`` expression or an intrinsic: known only at run time."""
    text = value.strip()
    return text.startswith("{%") or text.startswith("States.")


def target_name(system: str, value: str) -> str:
    """The short name of a target from a URL, ARN or name.

    SQS queue URLs end in ``/<account>/<queue>``; ARNs end in ``:<name>`` (Lambda may add a
    qualifier, EventBridge writes ``event-bus/<name>``, Batch/ECS ``job-definition/<name>:<rev>``).
    """
    value = value.strip()
    if system == "sqs" and "/" in value and not value.startswith("arn:"):
        return value.rstrip("/").rsplit("/", 1)[-1]
    if value.startswith("arn:"):
        parts = arn_parts(value)
        if system == "lambda" and len(parts) >= 7 and parts[5] == "function":
            return parts[6]
        if system == "stepfunctions":
            return state_machine_from_arn(value) or parts[-1]
        if system in ("sqs", "sns"):
            return parts[5] if len(parts) > 5 else parts[-1]
        tail = ":".join(parts[5:]) if len(parts) > 5 else parts[-1]
        if "/" in tail:
            tail = tail.split("/", 1)[1]
        return tail.split(":", 1)[0] if system in ("batch", "ecs") else tail
    if system == "lambda":
        # name, name:alias, or account:function:name (partial ARN)
        parts = value.split(":")
        return parts[2] if len(parts) >= 3 and parts[1] == "function" else parts[0]
    if system in ("batch", "ecs"):
        return value.split(":", 1)[0]
    return value
