"""The correlation commands through typer's CliRunner: correlate, trace, graph, explain,
coverage (exit codes, --json contracts, what a terminal sees, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import SCENARIOS
from tracemap.cli import app

runner = CliRunner()
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _run(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("cli") / "s.duckdb")
    code, output = _run("ingest", str(SCENARIOS / "skew_traceparent"),
                        str(SCENARIOS / "no_shared_key"), "--db", path)
    assert code == 0, output
    return path


def test_correlate_json_and_flags(db: str) -> None:
    code, output = _run("correlate", "--db", db, "--skew", "0.5", "--min-confidence", "0.6",
                        "--max-key-fanout", "50", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["params"] == {"skew_seconds": 0.5, "min_confidence": 0.6, "max_key_fanout": 50,
                              "time_cap": 10000}
    assert data["executions"] == 3 and data["edges_by_rule"]["traceparent"] == 1
    code, output = _run("correlate", "--db", db)
    assert code == 0, output
    assert "executions" in output and "traceparent" in output


def test_trace_tree_and_json(db: str) -> None:
    code, output = _run("trace", "ord-1001", "--db", db)
    assert code == 0, output
    assert "kafka:topic:orders.placed" in output and "otel:service:billing" in output
    assert "▶ critical path: otel:service:checkout" in output
    assert "card declined" in output  # the failed span's error, under billing
    code, output = _run("trace", "ord-1001", "--db", db, "--json")
    data = json.loads(output)
    # from the request through the record to billing's charge (what the chain leads to)
    assert data["critical_path"][-1] == ("otel:span:4bf92f3577b34da6a3ce929d0e0e4736/"
                                         "c1d2e3f4a5b6c7d8")
    assert "kafka:msg:orders.placed/0/42" in data["critical_path"]
    assert {e["kind"] for e in data["edges"]} >= {"emits", "triggers", "contains"}


def test_trace_unknown_id_exits_1_with_a_hint(db: str) -> None:
    code, output = _run("trace", "no-such-id", "--db", db)
    assert code == 1
    assert output.startswith("error: no execution, entity uid or key value 'no-such-id'")


@pytest.mark.parametrize("fmt, start", [("dot", 'digraph "tracemap components" {'),
                                        ("mermaid", "flowchart LR"),
                                        ("graphml", '<?xml version="1.0" encoding="UTF-8"?>'),
                                        ("json", "{")])
def test_graph_formats(db: str, fmt: str, start: str) -> None:
    code, output = _run("graph", "--db", db, "--format", fmt)
    assert code == 0, output
    assert output.startswith(start) and "orders.placed" in output


def test_graph_to_file_and_instance_level(db: str, tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    code, output = _run("graph", "--db", db, "--level", "instance", "--execution", TRACE,
                        "--format", "json", "-o", str(out))
    assert code == 0, output
    assert "written to" in output
    data = json.loads(out.read_text())
    assert data["level"] == "instance"
    assert {n["uid"] for n in data["nodes"]} >= {"kafka:msg:orders.placed/0/42"}


def test_graph_bad_format_is_a_usage_error(db: str) -> None:
    code, output = _run("graph", "--db", db, "--format", "png")
    assert code == 2 and "expected one of dot, mermaid, graphml, json" in output
    code, output = _run("graph", "--db", db, "--level", "instance")
    assert code == 1 and "--level instance needs --execution" in output


def test_explain_table_and_json(db: str) -> None:
    code, output = _run("explain", "checkout", "orders.placed", "--db", db)
    assert code == 0, output
    assert "why otel:service:checkout → kafka:topic:orders.placed" in output
    assert "traceparent" in output and "key span_id=00f067aa0ba902b7" in output
    code, output = _run("explain", "checkout", "orders.placed", "--db", db, "--json")
    data = json.loads(output)
    assert data["level"] == "component" and data["edges"][0]["kind"] == "emits"


def test_explain_ambiguous_component(db: str) -> None:
    code, output = _run("explain", "service:nowhere", "checkout", "--db", db)
    assert code == 1 and "no component named 'service:nowhere'" in output


def test_coverage_table_and_json(db: str) -> None:
    code, output = _run("coverage", "--db", db)
    assert code == 0, output
    assert "stitched:" in output and "message without producer" in output
    code, output = _run("coverage", "--db", db, "--json")
    data = json.loads(output)
    assert set(data) == {"summary", "methods", "findings"}
    where = {(f["issue"], f["where"]) for f in data["findings"]}
    assert ("message_without_producer", "kafka:topic:stock.changed") in where
