"""Argo Workflows: attempts of Retry nodes, phases, observed and declared DAG structure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.argo_workflow import sniff, task_dependencies
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "argo_workflow"
STEPS = HERE / "argo_wf_steps_failed_retries.status.yaml"
FAIL_FAST = HERE / "argo_wf_dag_disable_fail_fast.status.yaml"
NESTED = HERE / "argo_wf_dag_nested_retries.status.yaml"
ARGO_GET = HERE / "argo_get_o_json_dag_depends_running_exit_handler.json"


def _rows(path: Path) -> dict[str, Any]:
    return normalized_rows(path, fmt="argo_workflow")


def _attempts(rows: dict[str, Any]) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for s in sorted(rows["steps"], key=lambda s: (s["component"], s["attempt"], s["uid"])):
        out.setdefault(s["component"].rsplit(".", 1)[-1], []).append((s["attempt"], s["status"]))
    return out


def test_retry_node_children_are_attempts_of_one_step() -> None:
    rows = _rows(STEPS)
    assert _attempts(rows) == {
        "failed-retries": [(1, "running")],
        "fail": [(1, "retried"), (2, "failed")],
        "delayed-fail": [(1, "retried"), (2, "failed")],
    }
    # the Retry and StepGroup nodes are records, but not steps
    assert (rows["source"]["records"], rows["source"]["loaded"], len(rows["steps"])) == (9, 9, 5)
    uid = "argo:step:default/failed-retries-tjjsc/failed-retries-tjjsc-"
    assert {(lk["src_uid"], lk["dst_uid"]) for lk in rows["links"] if lk["kind"] == "retry_of"} \
        == {(uid + "759866442", uid + "1229492679"), (uid + "2113289837", uid + "1375221696")}
    (last,) = [s for s in rows["steps"] if s["name"] == "fail(1)"]
    assert last["detail"]["retry_message"] == "No more retries left"
    assert last["error"] == "failed with exit code 1"
    # an earlier attempt is retried, and says why it failed as the last one does
    (first,) = [s for s in rows["steps"] if s["name"] == "fail(0)"]
    assert (first["status"], first["error"]) == ("retried", "failed with exit code 1")


def test_null_finished_at_leaves_a_running_node_without_an_end() -> None:
    rows = _rows(STEPS)
    (run,) = rows["runs"]
    assert (run["status"], run.get("ended_at")) == ("running", None)
    (root,) = [s for s in rows["steps"] if s["step_type"] == "steps"]
    assert (root["status"], root.get("ended_at")) == ("running", None)
    assert run["component"] == "argo:workflow:failed-retries"  # generateName stem


def test_failed_workflow_and_its_exhausted_retries() -> None:
    rows = _rows(FAIL_FAST)
    (run,) = rows["runs"]
    assert (run["status"], run["detail"]["phase"]) == ("failed", "Failed")
    attempts = _attempts(rows)
    assert attempts["c"] == [(1, "retried"), (2, "failed")]
    assert attempts["b"] == [(1, "ok")]
    assert attempts["d"] == [(1, "ok"), (1, "ok")]  # tasks D and E both run template d


def test_declared_dag_dependencies_exact() -> None:
    t = "argo:template:retry-with-dags"
    assert {(d["src"], d["dst"]) for d in _rows(NESTED)["declared"]
            if d["kind"] == "precedes"} == {(f"{t}.success", f"{t}.sub-dag"),
                                            (f"{t}.sub-dag", f"{t}.success")}
    t = "argo:template:order-pipeline"
    ref = "argo:template:inventory-templates.reserve-stock"
    assert {(d["src"], d["dst"]) for d in _rows(ARGO_GET)["declared"]
            if d["kind"] == "precedes"} == {(f"{t}.fetch-order", f"{t}.price-order"),
                                            (f"{t}.fetch-order", ref),
                                            (f"{t}.price-order", f"{t}.make-invoice"),
                                            (ref, f"{t}.make-invoice")}


def test_depends_expressions_name_their_tasks() -> None:
    assert task_dependencies({"depends": "price && (stock.Succeeded || stock.Skipped)"}) == [
        "price", "stock"]
    assert task_dependencies({"dependencies": ["a"], "depends": "!b.Failed && a-2.AnySucceeded"}
                             ) == ["a", "b", "a-2"]


def test_observed_order_leaves_a_sub_dag_through_its_node() -> None:
    rows = _rows(NESTED)
    uid = "argo:step:retry-with-dags/retry-with-dags"
    assert {(lk["src_uid"], lk["dst_uid"]) for lk in rows["links"] if lk["kind"] == "precedes"} \
        == {(uid + "-731586981", uid + "-1757961662"),  # success1(0) -> sub-dag1
            (uid + "-1757961662", uid + "-2924926995")}  # sub-dag1 -> success2 (not fail(1))
    (omitted,) = [s for s in rows["steps"] if s["name"] == "success2"]
    assert (omitted["status"], omitted["detail"]["phase"]) == ("skipped", "Omitted")


def test_argo_get_json_keys_components_and_exit_handler() -> None:
    rows = _rows(ARGO_GET)
    (run,) = rows["runs"]
    assert run["component"] == "argo:workflow:order-pipeline"  # workflowTemplateRef
    assert {(k["kind"], k["value"]) for k in rows["keys"] if k["entity_uid"] == run["uid"]} == {
        ("workflow_id", "order-pipeline-x7k2p"),
        ("run_id", "b4c7e2f1-0a9d-4c8b-9e7f-6d5c4b3a2918"),
        ("correlation_id", "7d6c5b4a-3928-4170-8e9d-0c1b2a394857")}
    by_name = {s["name"]: s for s in rows["steps"]}
    assert by_name["stock"]["component"] == "argo:template:inventory-templates.reserve-stock"
    assert [by_name["price(0)"]["status"], by_name["price(1)"]["status"]] == ["retried", "failed"]
    assert by_name["price(1)"]["detail"]["exit_code"] == "3"
    exit_handler = by_name["order-pipeline-x7k2p.onExit"]
    assert (exit_handler["status"], exit_handler.get("ended_at")) == ("running", None)


def test_kubectl_list_and_multi_document_yaml(tmp_path: Path) -> None:
    docs = [yaml.safe_load(p.read_text()) for p in (STEPS, FAIL_FAST)]
    listing = tmp_path / "wfs.yaml"
    listing.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": docs,
                                       "metadata": {"resourceVersion": ""}}))
    rows = normalized_rows(listing)
    assert rows["source"]["format"] == "argo_workflow"
    assert sorted(r["name"] for r in rows["runs"]) == ["dag-disable-fail-fast-r6xdc",
                                                       "failed-retries-tjjsc"]
    multi = tmp_path / "multi.yaml"
    multi.write_text(NESTED.read_text() + "\n---\nmetadata: {name: [unclosed\n")
    rows = _rows(multi)
    assert [r["name"] for r in rows["runs"]] == ["retry-with-dags"]
    (reject,) = rows["rejects"]
    assert reject["location"] == "document 2"
    assert reject["reason"].startswith("expected a Workflow as JSON or YAML: while parsing")


def test_argo_list_json_array_and_a_non_workflow_object(tmp_path: Path) -> None:
    wf = json.loads(ARGO_GET.read_text())
    path = tmp_path / "list.json"
    path.write_text(json.dumps([wf, {"apiVersion": "argoproj.io/v1alpha1", "kind": "Sensor",
                                     "metadata": {"name": "webhook"}}, "junk"]))
    rows = _rows(path)
    assert [r["name"] for r in rows["runs"]] == ["order-pipeline-x7k2p"]
    assert rows["source"]["skipped"] == 1
    assert rows["rejects"] == [{"location": "document [2]",
                                "reason": "expected a Workflow object, got str"}]


def test_sniff_reads_the_objects_own_kind() -> None:
    manifest = (b"metadata:\n  name: wf\n  labels:\n    workflows.argoproj.io/phase: Running\n"
                b"spec:\n  templates:\n  - name: make-cm\n    resource:\n      manifest: |\n"
                b"        apiVersion: v1\n        kind: ConfigMap\n")
    assert sniff(manifest, "wf.yaml")  # a resource template's kind is not the object's
    assert not sniff(b"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {}\n",
                     "app.yaml")  # Argo CD shares the API group
    assert sniff(b'{"metadata": {"name": "wf", "ownerReferences": [{"kind": "CronWorkflow"}], '
                 b'"labels": {"workflows.argoproj.io/phase": "Running"}}}', "wf.json")


def test_a_node_of_the_wrong_shape_costs_that_node_only(tmp_path: Path) -> None:
    doc = json.loads((HERE / "argo_get_o_json_dag_depends_running_exit_handler.json").read_text())
    nodes = doc["status"]["nodes"]
    nodes["order-pipeline-x7k2p-2897436105"]["type"] = 7
    nodes["order-pipeline-x7k2p-4264553871"]["outputs"] = {"exitCode": {"x": 1}}
    nodes["order-pipeline-x7k2p-1082951270"]["children"] = [["not", "a", "name"]]
    bad = tmp_path / "wf.json"
    bad.write_text(json.dumps(doc))
    rows = normalized_rows(bad)
    assert {k: rows["source"][k] for k in ("records", "loaded", "rejected")} == {
        "records": 9, "loaded": 8, "rejected": 1}
    assert rows["rejects"] == [{
        "location": "document status.nodes.order-pipeline-x7k2p-2897436105",
        "reason": "field 'type': expected a string, got 7"}]
    assert "argo:step:pipelines/order-pipeline-x7k2p/order-pipeline-x7k2p-4264553871" in {
        s["uid"] for s in rows["steps"]}


def test_a_kind_that_is_no_string_is_rejected(tmp_path: Path) -> None:
    doc = json.loads((HERE / "argo_get_o_json_dag_depends_running_exit_handler.json").read_text())
    doc["kind"] = ["Workflow"]
    bad = tmp_path / "wf.json"
    bad.write_text(json.dumps(doc))
    rows = normalized_rows(bad, fmt="argo_workflow")
    assert rows["rejects"] == [{"location": "document",
                                "reason": "field 'kind': expected a string, got [\"Workflow\"]"}]


SKIPPED = HERE / "argo_wf_dag_when_false_skipped.status.yaml"
OMITTED = HERE / "kfp_resubmit_dag_omitted.status.yaml"


@pytest.mark.parametrize(("path", "name", "phase", "message"), [
    (SKIPPED, "condition", "Skipped", "when 'false' evaluated false"),
    (OMITTED, "C", "Omitted", "omitted: depends condition not met"),
])
def test_skipped_and_omitted_nodes_are_skipped_not_cancelled(path: Path, name: str, phase: str,
                                                             message: str) -> None:
    """A ``when`` that was false and a ``depends`` not met are the flow's own choice: the node
    is ``skipped``, with no error, and its message stays in ``detail``."""
    (node,) = [s for s in _rows(path)["steps"] if s["name"] == name]
    assert (node["status"], node.get("error"), node["detail"]["phase"],
            node["detail"]["message"]) == ("skipped", None, phase, message)


def test_a_failed_node_before_an_omitted_one_keeps_its_error() -> None:
    rows = _rows(OMITTED)
    assert {s["name"]: (s["status"], s.get("error")) for s in rows["steps"]} == {
        "resubmit-hl9ft": ("failed", None), "A": ("ok", None),
        "B": ("failed", "failed with exit code 1"), "C": ("skipped", None)}
