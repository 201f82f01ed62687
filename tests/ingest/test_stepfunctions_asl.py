"""Step Functions ASL definitions: the declared structure, exactly."""

from __future__ import annotations

import json
from pathlib import Path

from ingest import stepfunctions_asl
from ingest.base import Source
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "stepfunctions_asl"
JSON5 = HERE / "asl_sqs_wait_for_task_token_call_chain.json5"
DESCRIBE = HERE / "describe_state_machine_order_fulfilment.json"


def _declared(path: Path) -> set[tuple[str, str, str]]:
    return {(d["src"], d["dst"], d["kind"])
            for d in normalized_rows(path, fmt="stepfunctions_asl").get("declared", [])}


def test_json5_definition_declares_exactly_its_states_and_transition() -> None:
    sm = "asl_sqs_wait_for_task_token_call_chain"
    assert _declared(JSON5) == {
        (f"stepfunctions:statemachine:{sm}", f"stepfunctions:state:{sm}.State1", "contains"),
        (f"stepfunctions:statemachine:{sm}", f"stepfunctions:state:{sm}.State2", "contains"),
        (f"stepfunctions:state:{sm}.State1", f"stepfunctions:state:{sm}.State2", "precedes"),
    }


def test_queue_given_by_a_path_is_noted_not_declared() -> None:
    notes: dict[str, object] = {}
    for batch in stepfunctions_asl.parse(Source(JSON5)):
        notes.update(batch.notes)
    assert notes["dynamic_targets"] == [
        "asl_sqs_wait_for_task_token_call_chain.State1: sqs:sendmessage QueueUrl = $.QueueUrl",
        "asl_sqs_wait_for_task_token_call_chain.State2: sqs:sendmessage QueueUrl = $.QueueUrl",
    ]


def test_state_machine_option_names_a_bare_definition() -> None:
    rows = normalized_rows(JSON5, fmt="stepfunctions_asl", state_machine="CallChain")
    assert {d["src"] for d in rows["declared"]} == {
        "stepfunctions:statemachine:CallChain", "stepfunctions:state:CallChain.State1"}


def test_describe_state_machine_declares_what_each_task_invokes() -> None:
    s = "stepfunctions:state:OrderFulfilment"
    resources = {d for d in _declared(DESCRIBE) if d[2] in ("calls", "emits", "child")}
    assert resources == {
        (f"{s}.Validate", "lambda:function:validate-order", "calls"),
        (f"{s}.ReserveItem", "dynamodb:table:inventory", "calls"),
        (f"{s}.Announce", "eventbridge:bus:orders", "emits"),
        (f"{s}.Ship", "stepfunctions:statemachine:ShippingWorkflow", "child"),
        (f"{s}.WaitForWarehouse", "sqs:queue:warehouse-requests", "emits"),
    }  # Notify's topic is a JSONata expression: known only at run time


def test_branches_and_item_processors_are_contained_by_their_state() -> None:
    s = "stepfunctions:state:OrderFulfilment"
    contains = {(src, dst) for src, dst, kind in _declared(DESCRIBE) if kind == "contains"}
    assert {(src, dst) for src, dst in contains if src != "stepfunctions:statemachine:"
            "OrderFulfilment"} == {
        (f"{s}.Fulfil", f"{s}.ReserveItems"), (f"{s}.Fulfil", f"{s}.Announce"),
        (f"{s}.Fulfil", f"{s}.Ship"), (f"{s}.ReserveItems", f"{s}.ReserveItem")}
    precedes = {(src, dst) for src, dst, kind in _declared(DESCRIBE) if kind == "precedes"}
    assert (f"{s}.IsValid", f"{s}.Rejected") in precedes  # Default
    assert (f"{s}.Fulfil", f"{s}.Rejected") in precedes  # Catch


def test_a_state_without_type_is_rejected_and_the_rest_declared(tmp_path: Path) -> None:
    path = tmp_path / "broken.asl.json"
    path.write_text(JSON5.read_text().replace('"Type": "Task",', "", 1))
    rows = normalized_rows(path, fmt="stepfunctions_asl")
    assert (rows["source"]["records"], rows["source"]["rejected"]) == (2, 1)
    assert rows["rejects"] == [{"location": "document.States.State1",
                                "reason": "expected a state object with a string Type, "
                                          "got no Type"}]
    assert {d["dst"] for d in rows["declared"]} == {"stepfunctions:state:broken.State2"}


def test_unreadable_definition_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "cut.json5"
    path.write_text(JSON5.read_text()[:300])
    rows = normalized_rows(path, fmt="stepfunctions_asl")
    (reject,) = rows["rejects"]
    assert reject["location"] == "file"
    assert reject["reason"].startswith("expected an ASL definition as JSON or JSON5")


SAM_INLINE = HERE / "sam_state_machine_with_definition_substitutions.yaml"
SAM_TEMPLATE = HERE / "sam_request_response" / "template.yaml"
SAM_ASL = HERE / "sam_request_response" / "statemachine" / "statemachine.asl.json"
SAM_S3 = HERE / "sam_emit_and_wait_definition_in_s3.yaml"


def _notes(path: Path) -> dict[str, object]:
    notes: dict[str, object] = {}
    for batch in stepfunctions_asl.parse(Source(path)):
        notes.update(batch.notes)
    return notes


def test_sam_inline_definition_with_substitutions_and_intrinsics() -> None:
    """SAM's own translator test: ``${my_state_var_N}`` placeholders are the state types and
    ``!GetAtt MyFunction.Arn`` the task's resource: the function of the same template."""
    sm = "stepfunctions:state:StateMachine"
    assert _declared(SAM_INLINE) == {
        ("stepfunctions:statemachine:StateMachine", f"{sm}.Hello", "contains"),
        ("stepfunctions:statemachine:StateMachine", f"{sm}.World", "contains"),
        (f"{sm}.Hello", f"{sm}.World", "precedes"),
        (f"{sm}.World", "lambda:function:MyFunction", "calls"),
    }


def test_sam_definition_uri_is_read_next_to_the_template() -> None:
    """``DefinitionUri`` names the ASL file; ``${topicArn}`` is ``!Ref SNSTopic``."""
    sm = "stepfunctions:state:statemachineRequestResponse"
    assert _declared(SAM_TEMPLATE) == {
        ("stepfunctions:statemachine:statemachineRequestResponse", f"{sm}.Wait for timestamp",
         "contains"),
        ("stepfunctions:statemachine:statemachineRequestResponse", f"{sm}.Send message to SNS",
         "contains"),
        (f"{sm}.Wait for timestamp", f"{sm}.Send message to SNS", "precedes"),
        (f"{sm}.Send message to SNS", "sns:topic:SNSTopic", "emits"),
    }


def test_a_placeholder_left_in_a_definition_is_kept_as_text_not_a_target() -> None:
    """The same ASL file alone: nothing substitutes ``${topicArn}``, so no topic is declared
    and the placeholder is listed as a target known only at deploy time."""
    assert not {d for d in _declared(SAM_ASL) if d[2] == "emits"}
    assert _notes(SAM_ASL)["dynamic_targets"] == [
        "statemachine.Send message to SNS: sns:publish TopicArn = ${topicArn}"]


def test_a_definition_in_s3_is_one_reject_saying_so() -> None:
    rows = normalized_rows(SAM_S3)
    assert (rows["source"]["records"], rows["source"]["rejected"]) == (1, 1)
    assert rows["rejects"] == [{"location": "Resources.StateMachineArn", "reason": (
        'the definition is in S3 ({"Bucket":"da-public-assets","Key":"workflows/'
        'a62dc885ef785bd544e7a614a6d9fceb"}); download it next to the template or ingest it '
        "on its own")}]


def test_unresolvable_intrinsics_and_sub_stay_placeholders(tmp_path: Path) -> None:
    """A parameter without a default, an import and a ``Fn::Sub`` of pseudo parameters: the
    resource ARN built by Sub is read; what the template cannot know stays ``${...}``."""
    (tmp_path / "template.yaml").write_text(
        "Parameters:\n  QueueUrl: {Type: String}\nResources:\n  Machine:\n"
        "    Type: AWS::StepFunctions::StateMachine\n    Properties:\n"
        "      StateMachineName: orders\n      Definition:\n        StartAt: A\n"
        "        States:\n          A:\n            Type: Task\n"
        "            Resource: !Sub arn:${AWS::Partition}:states:::sqs:sendMessage\n"
        "            Parameters: {QueueUrl: !Ref QueueUrl}\n            Next: B\n"
        "          B:\n            Type: Task\n"
        "            Resource: !ImportValue shared-function-arn\n            End: true\n")
    assert not {d for d in _declared(tmp_path / "template.yaml") if d[2] != "contains"} - {
        ("stepfunctions:state:orders.A", "stepfunctions:state:orders.B", "precedes")}
    assert _notes(tmp_path / "template.yaml")["dynamic_targets"] == [
        "orders.A: sqs:sendmessage QueueUrl = ${QueueUrl}",
        "orders.B: Resource = ${Fn::ImportValue}"]


def test_sniff_claims_templates_not_events_that_name_resource_types() -> None:
    """Templates are claimed (one without a state machine is then one reject that says so);
    an AWS Config event naming a state machine's resource type is not a template."""
    assert stepfunctions_asl.sniff(SAM_TEMPLATE.read_bytes()[:4096], "template.yaml")
    assert stepfunctions_asl.sniff(b"Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n",
                                   "template.yaml")
    config_event = (b'{"detail-type": "Config Configuration Item Change", "detail": '
                    b'{"configurationItem": {"resourceType": '
                    b'"AWS::StepFunctions::StateMachine"}}, "Resources": []}')
    assert not stepfunctions_asl.sniff(config_event, "event.json")


def test_odd_template_fields_do_not_stop_the_template(tmp_path: Path) -> None:
    """fuzz_long stepfunctions_asl:778: a resource Type retyped to a mapping crashed the
    template check. Such a resource is no state machine; a substitution or name of an odd
    type is left out (the logical id names the machine); the other machines load."""
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Odd:\n    Type: {a: 1}\n  Broken:\n    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n      Definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}\n"
        "      DefinitionSubstitutions: {1: [x]}\n      Name: {Fn::Join: [1, 2]}\n"
        "  Good:\n    Type: AWS::StepFunctions::StateMachine\n"
        "    Properties:\n      Definition: {StartAt: B, States: {B: {Type: Pass, End: true}}}\n")
    rows = normalized_rows(tmp_path / "template.yaml")
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (2, 2)
    assert {d["dst"] for d in rows["declared"]} == {"stepfunctions:state:Broken.A",
                                                    "stepfunctions:state:Good.B"}


CDK = HERE / "cdk_integ_invoke_function.template.json"


def test_cdk_synth_output_definition_string_of_joined_intrinsics() -> None:
    """``cdk synth`` writes ``DefinitionString`` as ``Fn::Join`` of JSON text, partitions and
    ``Fn::GetAtt`` of its functions, after the roles, past the sniff head."""
    sm = "stepfunctions:state:StateMachine2E01A3A5"
    assert {d for d in _declared(CDK) if d[2] == "calls"} == {
        (f"{sm}.Invoke Handler", "lambda:function:Handler886CB40B", "calls"),
        (f"{sm}.Invoke Handler with task token", "lambda:function:CallbackHandler4434C38D",
         "calls")}


def test_a_template_without_a_state_machine_is_one_reject_saying_so(tmp_path: Path) -> None:
    doc = json.loads(CDK.read_text())
    del doc["Resources"]["StateMachine2E01A3A5"]
    path = tmp_path / "functions.template.json"
    path.write_text(json.dumps(doc, indent=1))
    rows = normalized_rows(path)
    assert rows["source"]["format"] == "stepfunctions_asl"
    assert rows["rejects"] == [{"location": "document", "reason": (
        "a CloudFormation template without a state machine (no AWS::StepFunctions::StateMachine "
        "or AWS::Serverless::StateMachine resource)")}]
