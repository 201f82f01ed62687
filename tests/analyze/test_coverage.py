"""coverage: where chains break and why, with a fix hint each (scenario and corpus inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import tracemap
from tests.conftest import FIXTURES, SCENARIOS


def _issues(result) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in result.findings:
        out.setdefault(f["issue"], []).append(f)
    return out


def test_fully_stitched_scenario(tmp_path: Path) -> None:
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(SCENARIOS / "skew_traceparent")])
    result = tm.coverage()
    assert result.summary["entities"] == 7 and result.summary["stitched_share"] == 1.0
    assert result.summary["multi_system"] == 1
    assert {m["method"]: m["entities"] for m in result.methods} == {"link": 6, "traceparent": 1}
    # The record has a producer and a consumer; nothing breaks.
    assert result.findings == []


def test_breaks_are_found_and_explained(tmp_path: Path) -> None:
    dump = tmp_path / "audit.kcat.jsonl"
    dump.write_text("".join(json.dumps({
        "topic": "audit", "partition": 0, "offset": i, "tstype": "create",
        "ts": 1714557600000 + i, "headers": ["tenant", "acme", "schema", "v2"],
        "key": None, "payload": None}) + "\n" for i in range(3)))
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(SCENARIOS / "no_shared_key"), str(dump),
               str(FIXTURES / "temporal_json" / "sdkgo_parent_child_signal.json")])
    result = tm.coverage()
    issues = _issues(result)
    lonely = {f["where"]: f for f in issues["message_without_producer"]}
    assert lonely["kafka:topic:audit"]["count"] == 3
    assert lonely["kafka:topic:stock.changed"]["examples"] == ["kafka:msg:stock.changed/3/7"]
    assert "traceparent" in lonely["kafka:topic:audit"]["hint"]
    bare = {f["where"]: f for f in issues["headers_without_propagation"]}
    assert bare["kafka:topic:audit"]["detail"] == "headers seen: schema, tenant"
    assert "[correlation.headers]" in bare["kafka:topic:audit"]["hint"]
    # The Temporal parent's children were not exported: dangling child links.
    dangling = issues["dangling_link"]
    assert {f["where"] for f in dangling} >= {
        "child (childWorkflowExecutionStarted.workflowExecution)"}
    assert result.summary["singletons"] >= 4  # 3 audit records + the stock record
    assert {m["method"] for m in result.methods} >= {"alone", "link", "run_step"}


def test_ignored_keys_are_listed(tmp_path: Path) -> None:
    dump = tmp_path / "audit.kcat.jsonl"
    dump.write_text("".join(json.dumps({
        "topic": "audit", "partition": 0, "offset": i, "tstype": "create",
        "ts": 1714557600000 + i, "headers": ["correlation-id", "same"], "key": None,
        "payload": None}) + "\n" for i in range(5)))
    tm = tracemap.open(tmp_path / "store.duckdb")
    tm.ingest([str(dump)])
    tm.correlate(max_key_fanout=4)
    [ignored] = _issues(tm.coverage())["ignored_key"]
    assert (ignored["where"], ignored["count"]) == ("correlation_id=same", 5)
    assert "--max-key-fanout" in ignored["hint"]
