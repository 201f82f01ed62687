"""Step Functions ASL definitions: the declared structure, exactly."""

from __future__ import annotations

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
