"""AWS Step Functions state machines: ASL definitions (JSON, JSON5), SAM/CloudFormation templates.

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

- a CloudFormation or AWS SAM template (YAML with ``!Ref``/``!GetAtt``/``!Sub`` tags, or
  JSON) declaring ``AWS::Serverless::StateMachine`` or ``AWS::StepFunctions::StateMachine``
  resources: the definition inline (``Definition``), in a local file (``DefinitionUri``, the
  ``statemachine/*.asl.json|yaml`` of ``sam init`` projects, read relative to the template) or
  as a string (``DefinitionString``). ``${Name}`` placeholders are replaced from
  ``DefinitionSubstitutions``; intrinsics naming a resource of the same template resolve to
  that resource's name (its ``FunctionName``/``TopicName``/``QueueName``/``TableName``/``Name``
  property, else its logical id), so ``!GetAtt StockCheckerFunction.Arn`` declares
  ``lambda:function:StockCheckerFunction``. What cannot be resolved (parameters without a
  default, ``{{resolve:...}}``, imports) stays a ``${Name}`` string: a target that is one is
  listed in ``dynamic_targets``, not declared. A definition in S3 (``DefinitionUri`` as
  ``Bucket``/``Key``, ``DefinitionS3Location``) is one reject saying so. The state machine is
  named by its ``Name``/``StateMachineName`` property, else its logical id.

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
import yaml

from ingest.base import (
    MAX_DOCUMENT_BYTES,
    SHAPE_ERRORS,
    Batch,
    BatchBuilder,
    Source,
    dumps,
    first_json_value,
    loads,
)
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
#: A template resource of a state-machine type (``Type:`` as a key, not ``resourceType``).
_TEMPLATE_MACHINE = re.compile(
    rb'(?<![A-Za-z])Type"?\s*:\s*"?AWS::(Serverless|StepFunctions)::StateMachine\b')
#: Any template resource, and a template's first top-level key (JSON or YAML).
_TEMPLATE_RESOURCE = re.compile(rb'(?<![A-Za-z])Type"?\s*:\s*"?AWS::[A-Za-z0-9]+::[A-Za-z0-9]')
_TEMPLATE_START = re.compile(
    rb'^(\{\s*")?(AWSTemplateFormatVersion|Transform|Description|Metadata|Parameters|Mappings|'
    rb'Conditions|Rules|Resources)"?\s*:')
#: A redacted part of an id, as snapshot tools and people sharing exports write them.
_REDACTED = re.compile(r"<[^<>]*>")


def sniff(head: bytes, path: str) -> bool:
    text = first_json_value(head)
    if b"Resources" in text and (_TEMPLATE_MACHINE.search(text) or (
            _TEMPLATE_START.search(text) and _TEMPLATE_RESOURCE.search(text))):
        # A CloudFormation / SAM template: with its state machine in the head, or (CDK output
        # puts roles and functions first) any template, whose lack of one parse says.
        return True
    if not text.startswith((b"{", b"[")) or b"previousEventId" in text:
        return False
    return b"StartAt" in text and b"States" in text


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    data = src.read_document()
    try:
        doc = load_json_or_json5(data)
    except ValueError as exc:
        try:
            doc = load_template_yaml(data)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            b.read()
            b.reject("file", "expected an ASL definition as JSON or JSON5, or a template as "
                     f"YAML (truncated?): {exc}", data[:200])
            yield b.take()
            return
    fallback = src.options.get("state_machine") or file_stem(src.path)
    if is_template(doc):
        found = template_definitions(b, doc, Path(src.path).parent)
    elif isinstance(doc, dict) and isinstance(doc.get("Resources"), dict) and not (
            found := definitions(doc, str(fallback))):
        b.read()
        b.reject("document", "a CloudFormation template without a state machine (no "
                 "AWS::StepFunctions::StateMachine or AWS::Serverless::StateMachine resource)",
                 data[:200])
    else:
        found = definitions(doc, str(fallback))
    if not found and not b.batch.records:
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


# --------------------------------------------------------------------------------------------
# CloudFormation / SAM templates

#: Resource types that are state machines.
MACHINE_TYPES = frozenset({"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"})
#: Properties that name a resource, in the order they are tried (else its logical id).
NAME_PROPERTIES = ("FunctionName", "TopicName", "QueueName", "TableName", "StateMachineName",
                   "Name")
#: The ARN of a resource of each type, as the task-target rules read it (region and account
#: left empty: the template does not know them).
ARN_FORMS = {
    "AWS::Serverless::Function": "arn:aws:lambda:::function:{}",
    "AWS::Lambda::Function": "arn:aws:lambda:::function:{}",
    "AWS::SNS::Topic": "arn:aws:sns:::{}",
    "AWS::SQS::Queue": "arn:aws:sqs:::{}",
    "AWS::Serverless::StateMachine": "arn:aws:states:::stateMachine:{}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:::stateMachine:{}",
    "AWS::Events::EventBus": "arn:aws:events:::event-bus/{}",
}
#: Types whose ``Ref`` is the ARN (CloudFormation's return values); others return the name
#: (a Lambda function, a table, a bus) or something that ends in it (an SQS queue URL).
REF_IS_ARN = frozenset({"AWS::SNS::Topic", "AWS::Serverless::StateMachine",
                        "AWS::StepFunctions::StateMachine"})
#: Pseudo parameters: what an ARN built from them needs (region and account unknown).
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "", "AWS::AccountId": "",
          "AWS::URLSuffix": "amazonaws.com"}
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
_TEMPLATE_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TemplateLoader(_TEMPLATE_YAML):  # type: ignore[misc,valid-type]
    """YAML with CloudFormation's short-form intrinsics (``!Ref X`` -> ``{"Ref": "X"}``)."""


def _intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template_yaml(data: bytes | str) -> Any:
    """A YAML document with CloudFormation tags; ValueError when it is not YAML."""
    try:
        return yaml.load(data, Loader=_TemplateLoader)  # noqa: S506 - a safe loader subclass
    except (yaml.YAMLError, RecursionError) as exc:
        raise ValueError(f"not YAML: {exc}") from None


def is_template(doc: Any) -> bool:
    resources = doc.get("Resources") if isinstance(doc, dict) else None
    return isinstance(resources, dict) and any(_is_machine(r) for r in resources.values())


def _is_machine(resource: Any) -> bool:
    kind = resource.get("Type") if isinstance(resource, dict) else None
    return isinstance(kind, str) and kind in MACHINE_TYPES


def template_definitions(b: BatchBuilder, doc: dict[str, Any], base: Path
                         ) -> list[tuple[str, dict[str, Any], str]]:
    """The state machines of a template: ``(location, definition, name)``, placeholders and
    intrinsics resolved as far as the template allows; one reject for each it cannot read."""
    resources: dict[str, Any] = doc["Resources"]
    params = {k: v["Default"] for k, v in (doc.get("Parameters") or {}).items()
              if isinstance(v, dict) and "Default" in v} if isinstance(
        doc.get("Parameters"), dict) else {}
    out: list[tuple[str, dict[str, Any], str]] = []
    for logical, res in resources.items():
        if not _is_machine(res):
            continue
        props = res.get("Properties") if isinstance(res.get("Properties"), dict) else {}
        where = f"Resources.{logical}"
        try:
            definition, problem = _template_definition(props, base, resources, params)
            if definition is not None:
                subs = props.get("DefinitionSubstitutions")
                values = {k: _resolve(v, resources, params) for k, v in subs.items()
                          } if isinstance(subs, dict) else {}
                definition = _substitute(definition, {
                    str(k): v for k, v in values.items() if isinstance(v, str | int | float)})
                if not is_definition(definition):
                    definition, problem = None, "the definition has no StartAt and States"
        except SHAPE_ERRORS as exc:  # a field of an odd type: this resource, not the file
            definition, problem = None, f"a field has an unexpected type or value: {exc}"
        if definition is None:
            b.read()
            b.reject(where, str(problem), dumps(props)[:300])
            continue
        out.append((where, definition, _name_property(props) or str(logical)))
    return out


def _template_definition(props: dict[str, Any], base: Path, resources: dict[str, Any],
                         params: dict[str, Any]) -> tuple[Any, str | None]:
    """A state machine resource's definition with its intrinsics resolved, or why not."""
    inline = props.get("Definition")
    if isinstance(inline, dict):
        return _resolve(inline, resources, params), None
    text = props.get("DefinitionString")
    if text is not None:
        resolved = _resolve(text, resources, params)
        try:
            return load_json_or_json5(resolved) if isinstance(resolved, str) else None, None
        except ValueError as exc:
            return None, f"DefinitionString is not an ASL document: {exc}"
    uri = props.get("DefinitionUri")
    s3 = props.get("DefinitionS3Location")
    if isinstance(uri, dict) or s3 is not None or (isinstance(uri, str)
                                                   and uri.startswith("s3://")):
        where = dumps(uri if uri is not None else s3)
        return None, (f"the definition is in S3 ({where}); download it next to the template "
                      "or ingest it on its own")
    if not isinstance(uri, str) or not uri:
        return None, "a state machine without Definition, DefinitionString or DefinitionUri"
    path = base / uri
    try:
        if not path.is_file() or path.stat().st_size > MAX_DOCUMENT_BYTES:
            return None, (f"DefinitionUri {uri}: no such file next to the template ({path}); "
                          "ingest the definition on its own")
        data = path.read_bytes()
    except OSError as exc:
        return None, f"DefinitionUri {uri}: cannot be read ({exc})"
    try:
        loaded = (load_template_yaml(data) if path.suffix in (".yaml", ".yml")
                  else load_json_or_json5(data))
    except ValueError as exc:
        return None, f"DefinitionUri {uri}: not an ASL document ({exc})"
    return _resolve(loaded, resources, params), None


def _name_property(props: dict[str, Any]) -> str | None:
    for key in NAME_PROPERTIES:
        if isinstance(props.get(key), str) and props[key]:
            return props[key]
    return None


def _resolve(node: Any, resources: dict[str, Any], params: dict[str, Any]) -> Any:
    """Intrinsic functions replaced by what the template says they are; the rest as is."""
    if isinstance(node, list):
        return [_resolve(v, resources, params) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref" and isinstance(value, str):
            return _ref(value, resources, params)
        if key == "Fn::GetAtt":
            parts = value.split(".", 1) if isinstance(value, str) else value
            if isinstance(parts, list) and len(parts) == 2 and all(
                    isinstance(p, str) for p in parts):
                return _get_att(parts[0], parts[1], resources)
        if key == "Fn::Sub":
            return _sub(value, resources, params)
        if key == "Fn::Join" and isinstance(value, list) and len(value) == 2:
            items = _resolve(value[1], resources, params)
            if isinstance(value[0], str) and isinstance(items, list) and all(
                    isinstance(i, str) for i in items):
                return value[0].join(items)
        if key.startswith("Fn::") or key == "Ref":
            return "${" + key + "}"  # known only at deploy time
    return {k: _resolve(v, resources, params) for k, v in node.items()}


def _ref(name: str, resources: dict[str, Any], params: dict[str, Any]) -> str:
    if name in PSEUDO:
        return PSEUDO[name]
    if name in params and isinstance(params[name], str | int | float):
        return str(params[name])
    res = resources.get(name)
    if isinstance(res, dict):
        kind = res.get("Type")
        return _get_att(name, "Arn", resources) if kind in REF_IS_ARN else _resource_name(
            name, res)
    return "${" + name + "}"


def _get_att(name: str, attribute: str, resources: dict[str, Any]) -> str:
    res = resources.get(name)
    if not isinstance(res, dict):
        return "${" + f"{name}.{attribute}" + "}"
    own = _resource_name(name, res)
    form = ARN_FORMS.get(str(res.get("Type")))
    if attribute == "Arn" and form:
        return form.format(own)
    if attribute in ("TopicName", "QueueName", "Name", "QueueUrl"):
        return own
    return "${" + f"{name}.{attribute}" + "}"


def _resource_name(name: str, res: dict[str, Any]) -> str:
    props = res.get("Properties") if isinstance(res.get("Properties"), dict) else {}
    return _name_property(props) or name


def _sub(value: Any, resources: dict[str, Any], params: dict[str, Any]) -> str:
    """``Fn::Sub``: ``${Param}``, ``${Resource}``, ``${Resource.Attr}`` and its own variables;
    ``${!Literal}`` is the text ``${Literal}``."""
    text, variables = (value[0], value[1]) if isinstance(value, list) and len(value) == 2 \
        else (value, {})
    if not isinstance(text, str):
        return "${Fn::Sub}"
    own = {k: _resolve(v, resources, params) for k, v in variables.items()} if isinstance(
        variables, dict) else {}

    def one(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref.startswith("!"):
            return "${" + ref[1:] + "}"
        if isinstance(own.get(ref), str):
            return own[ref]
        if "." in ref and ref.split(".", 1)[0] in resources:
            return _get_att(*ref.split(".", 1), resources)
        return _ref(ref, resources, params)

    return _PLACEHOLDER.sub(one, text)


def _substitute(node: Any, values: dict[str, Any]) -> Any:
    """``DefinitionSubstitutions``: ``${key}`` in the definition's strings replaced."""
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values
                                else m.group(0), node)
    if isinstance(node, list):
        return [_substitute(v, values) for v in node]
    if isinstance(node, dict):
        return {k: _substitute(v, values) for k, v in node.items()}
    return node


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
    if isinstance(resource, str) and _PLACEHOLDER.fullmatch(resource.strip()):
        return [], [f"Resource = {resource}"]  # a template placeholder nothing substituted
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
    """A JSONata ``{% %}`` expression, an intrinsic, or a ``${...}`` placeholder of a
    template: known only at run (or deploy) time."""
    text = value.strip()
    return text.startswith(("{%", "States.")) or _PLACEHOLDER.fullmatch(text) is not None


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
