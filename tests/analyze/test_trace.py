"""trace: one stitched execution found by any id, with its critical path (scenario inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tracemap
from tests.conftest import SCENARIOS
from tracemap.errors import AnalysisError

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT_RUN = f"otel:run:{TRACE}/a3ce929d0e0e4736"
PRODUCER = f"otel:span:{TRACE}/00f067aa0ba902b7"
RECORD = "kafka:msg:orders.placed/0/42"
BILLING_RUN = f"otel:run:{TRACE}/b7ad6b7169203331"
CHARGE = f"otel:span:{TRACE}/c1d2e3f4a5b6c7d8"


@pytest.fixture(scope="module")
def tm(tmp_path_factory: pytest.TempPathFactory) -> tracemap.Tracemap:
    tm = tracemap.open(tmp_path_factory.mktemp("trace") / "store.duckdb")
    tm.ingest([str(SCENARIOS / "skew_traceparent"), str(SCENARIOS / "skew_time")])
    return tm


@pytest.mark.parametrize("ident", [
    "ord-1001",  # the record's correlation-id header
    TRACE,  # trace id
    RECORD,  # entity uid
    "00F067AA0BA902B7",  # a span id, typed in capitals
])
def test_any_id_finds_the_execution(tm: tracemap.Tracemap, ident: str) -> None:
    result = tm.trace(ident)
    assert {e["uid"] for e in result.entities} >= {ROOT_RUN, PRODUCER, RECORD, BILLING_RUN}
    assert result.summary["systems"] == ["kafka", "otel"]
    assert tm.trace(result.execution).execution == result.execution


def test_json_contract(tm: tracemap.Tracemap) -> None:
    data = tm.trace("ord-1001").to_dict()
    assert set(data) >= {"execution", "entities", "edges", "critical_path"}
    for e in data["entities"]:
        assert set(e) >= {"uid", "component", "system", "kind", "status", "started_at",
                          "ended_at"}
        assert e["kind"] in ("run", "step", "message", "dataset")
    for e in data["edges"]:
        assert set(e) >= {"src", "dst", "kind", "evidence", "confidence"}
        assert e["evidence"]["rule"] and 0 <= e["confidence"] <= 1
    assert isinstance(data["execution"], str) and data["critical_path"]


def test_critical_path_crosses_the_message_hop(tm: tracemap.Tracemap) -> None:
    result = tm.trace("ord-1001")
    # The record's timestamp ends last (the broker's clock runs 1 s ahead), but billing's
    # charge is what the chain leads to: the path runs from the request that started it
    # through the hop to the charge. The request's root span is its service run (shown once).
    assert result.root == ROOT_RUN
    assert result.folded[f"otel:span:{TRACE}/a3ce929d0e0e4736"] == ROOT_RUN
    assert result.critical_path == [ROOT_RUN, PRODUCER, RECORD, BILLING_RUN, CHARGE]
    critical = {e["uid"] for e in result.entities if e["critical"]}
    assert critical == set(result.critical_path)


def test_display_tree_hangs_the_consumer_under_the_message(tm: tracemap.Tracemap) -> None:
    result = tm.trace("ord-1001")
    assert result.parents[RECORD] == PRODUCER
    assert result.parents[BILLING_RUN] == RECORD
    assert result.parents[CHARGE] == BILLING_RUN  # its parent span is the billing run, folded
    assert result.children()[None] == [ROOT_RUN]


def test_unknown_id_says_what_to_do(tm: tracemap.Tracemap) -> None:
    with pytest.raises(AnalysisError, match="no execution, entity uid or key value 'nope'.*"
                       "tracemap coverage"):
        tm.trace("nope")


def test_id_in_several_executions_lists_them(tmp_path: Path) -> None:
    dump = tmp_path / "audit.kcat.jsonl"
    dump.write_text("".join(json.dumps({
        "topic": "audit", "partition": 0, "offset": i, "tstype": "create",
        "ts": 1714557600000 + i, "headers": ["correlation-id", "same-for-all"],
        "key": None, "payload": None}) + "\n" for i in range(3)))
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(dump)])
    tm.correlate(max_key_fanout=2)  # the shared value is ignored: three executions
    with pytest.raises(AnalysisError, match=r"'same-for-all' is in 3 executions: x[0-9a-f]{16} "
                       r"\(correlation_id key, 1 entities, kafka, .*Pass one execution id"):
        tm.trace("same-for-all")


def test_child_workflow_is_shown_once(tmp_path: Path) -> None:
    """The parent's child-workflow step and the child's own run are one child workflow: the
    step folds into the run, which hangs under the parent by its `child` edge alone."""
    folder = SCENARIOS / "temporal_parent_child"
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(folder / "parent.json")], options={"workflow_id": "parentWF"})
    tm.ingest([str(folder / "child.json")])
    parent = "temporal:run:parentWF/0ea65eda-a0db-4a59-bef3-dce48e8484f8"
    child = ("temporal:run:child_workflow:0ea65eda-a0db-4a59-bef3-dce48e8484f8/"
             "105dcb3a-c813-43ea-9d8e-da8731a9110c")
    result = tm.trace(id=parent)
    assert result.folded == {f"{parent.replace(':run:', ':step:')}/5": child}
    shown = [e["uid"] for e in result.entities
             if e["component"] == "temporal:workflow:main.SampleChildWorkflow"]
    assert shown == [child]
    assert sorted(e["kind"] for e in result.edges if (e["src"], e["dst"]) == (parent, child)) == [
        "child", "signals"]
    assert result.parents[child] == parent
