"""The report's data: timeline order, what large stores leave out, and what links to what.

Stores are built from real exports: the skew_traceparent scenario (OTLP checkout publishing to
Kafka, the kcat dump, the billing consumer) and the OTLP fixtures with failed spans.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tracemap
from tests.conftest import FIXTURES
from tracemap.cli import app
from tracemap.render import html, timeline

MESSAGE = "kafka:msg:orders.placed/0/42"


@pytest.fixture(scope="module")
def tm(tmp_path_factory: pytest.TempPathFactory) -> tracemap.Tracemap:
    tm = tracemap.open(tmp_path_factory.mktemp("report") / "s.duckdb")
    tm.ingest([str(FIXTURES / "scenarios" / "skew_traceparent")])
    return tm


def test_timeline_rows_group_by_system_and_nest_by_strongest_edge(tm: tracemap.Tracemap) -> None:
    result = tm.trace(MESSAGE)
    rows = timeline.rows(result)
    assert sorted(r["uid"] for r in rows) == sorted(e["uid"] for e in result.entities)
    assert not {r["uid"] for r in rows} & set(result.folded)  # a run and its root span: one bar
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    checkout, billing = (f"otel:run:{trace_id}/a3ce929d0e0e4736",
                         f"otel:run:{trace_id}/b7ad6b7169203331")
    publish, charge = (f"otel:span:{trace_id}/00f067aa0ba902b7",
                       f"otel:span:{trace_id}/c1d2e3f4a5b6c7d8")
    # the root (checkout's request) leads though billing's clock runs behind; the consumer sits
    # under its producer's spans, the record stays in its bus's lane
    assert result.root == checkout
    assert [(r["uid"], r["lane"], r["depth"], r["parent"]) for r in rows] == [
        (checkout, "otel", 0, None), (publish, "otel", 1, checkout), (billing, "otel", 2, MESSAGE),
        (charge, "otel", 3, billing), (MESSAGE, "kafka", 0, publish)]
    bars = {b["uid"]: b for b in timeline.data(result)["bars"]}
    assert bars[checkout]["folded"] == [f"otel:span:{trace_id}/a3ce929d0e0e4736"]
    assert bars[publish]["folded"] == []


def test_timeline_cap_keeps_the_critical_path_and_says_so(tmp_path: Path) -> None:
    tm = tracemap.open(tmp_path / "s.duckdb")
    tm.ingest([str(FIXTURES / "scenarios" / "otel_messaging")])
    result = tm.trace("kafka:msg:orders/0/7")
    assert len(result.entities) == 10
    assert result.critical_path == [
        "otel:run:6e0c63257de34c92bf9efcd03927272e/f067aa0ba902b7a1",  # checkout's request
        "otel:span:6e0c63257de34c92bf9efcd03927272e/00f067aa0ba902b7",  # its publish span
        "kafka:msg:orders/0/7",  # the hop
        "otel:run:5b8efff798038103d269b633813fc60c/b9c7c989f97918e1"]  # the last consumer
    data = timeline.data(result, max_bars=2)
    drawn = {b["uid"] for b in data["bars"]}
    assert drawn == set(result.critical_path)
    assert data["critical_path"] == result.critical_path
    assert data["summary"]["root_uid"] == result.root == result.critical_path[0]
    assert data["notes"] == ["4 of 10 entities drawn (the critical path and the first ones in "
                             "display order); `tracemap trace --json` lists all."]
    assert all(a["src"] in drawn and a["dst"] in drawn for a in data["arrows"])
    assert {(a["src"], a["dst"], a["kind"]) for a in data["arrows"]} == {
        (result.critical_path[0], result.critical_path[1], "contains"),
        (result.critical_path[1], result.critical_path[2], "emits"),
        (result.critical_path[2], result.critical_path[3], "triggers")}
    full = timeline.data(result)
    assert len(full["bars"]) == 10 and full["notes"] == []


def test_timeline_draws_the_message_hops(tm: tracemap.Tracemap) -> None:
    full = timeline.data(tm.trace(MESSAGE))
    assert len(full["bars"]) == 5 and full["notes"] == []
    hops = {(a["src"], a["dst"], a["kind"]) for a in full["arrows"] if MESSAGE in (a["src"],
                                                                                 a["dst"])}
    assert {k for _, _, k in hops} == {"emits", "triggers"}
    assert full["critical_path"][0] == full["summary"]["root_uid"]
    assert MESSAGE in full["critical_path"]


def test_graph_cap_keeps_failing_then_busiest_and_hidden_edges_first() -> None:
    nodes = [{"component": f"otel:service:s{i}", "system": "otel", "kind": "service",
              "count": 10 * i, "failures": 1 if i == 0 else 0} for i in range(5)]
    edges = [{"source": "otel:service:s0", "target": f"otel:service:s{i}", "kind": "calls",
              "count": i} for i in range(1, 5)]
    out = html.graph_data(nodes, edges, hidden=[("otel:service:s0", "otel:service:s3")],
                          max_nodes=3, max_edges=1)
    assert [n["id"] for n in out["nodes"]] == ["otel:service:s0", "otel:service:s3",
                                               "otel:service:s4"]
    assert out["edges"] == [{"source": "otel:service:s0", "target": "otel:service:s3",
                             "kind": "calls", "count": 3, "hidden": True}]
    assert out["notes"] == ["3 of 5 components and 1 of 4 dependencies drawn (failing "
                            "components and hidden dependencies first, then the busiest); "
                            "`tracemap graph --format json` has them all."]
    nodes[4]["virtual"] = True
    assert html.graph_data(nodes, edges)["nodes"][4]["virtual"] is True
    assert html.graph_data(nodes, edges)["notes"] == []


def test_table_cap_says_how_many_rows_it_left_out() -> None:
    section = html.Section("t", "", ["a"], [[i] for i in range(5)])
    text = html.table(section, max_rows=2)
    assert text.count("<tr>") == 3  # header and two rows
    assert "2 of 5 rows shown" in text


def test_report_links_root_causes_and_false_completions_to_their_timelines(
        tmp_path: Path) -> None:
    tm = tracemap.open(tmp_path / "s.duckdb")
    tm.ingest([str(FIXTURES / "otlp_json")])
    failures = tm.failures()
    page = tm.report(tmp_path / "r.html").read_text()
    data = json.loads(re.search(r"id='tm-data'>(.*?)</script>", page, re.S).group(1))
    causes = [c.component for c in failures.root_causes[:5]]
    assert [i["component"] for i in data["incidents"]] == causes != []
    for incident in data["incidents"]:
        shown = data["timelines"][incident["timeline"]]
        assert f"Root cause #{incident['rank']}: {incident['component']}" in shown["reasons"]
        assert incident["component"] in {b["component"] for b in shown["data"]["bars"]}
    # service-y is the peer service-x calls: both causes are one trace, embedded once, both named
    assert causes == ["otel:service:service-x", "otel:service:service-y"]
    assert data["timelines"][0]["reasons"] == ["Root cause #1: otel:service:service-x",
                                               "Root cause #2: otel:service:service-y"]
    assert data["timelines"][0]["reason"] == "; ".join(data["timelines"][0]["reasons"])
    executions = [t["data"]["execution"] for t in data["timelines"]]
    assert len(executions) == len(set(executions))  # each execution embedded once


def test_trace_html_needs_an_output_file(tm: tracemap.Tracemap, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["trace", MESSAGE, "--db", tm.db, "--format", "html"])
    assert r.exit_code == 2
    assert "html writes a page: pass -o FILE.html" in r.output
    out = tmp_path / "t.html"
    r = CliRunner().invoke(app, ["trace", MESSAGE, "--db", tm.db, "--format", "html", "-o",
                                 str(out)])
    assert r.exit_code == 0, r.output
    assert f"timeline written to {out}" in r.output.replace("\n", "")
    data = json.loads(re.search(r"id='tm-data'>(.*?)</script>", out.read_text(), re.S).group(1))
    assert [t["data"]["execution"] for t in data["timelines"]] == [tm.trace(MESSAGE).execution]


def test_timeline_starts_at_the_root_even_when_it_has_no_clock(tmp_path: Path) -> None:
    # the Flink job's OpenLineage run reads Kafka topic `orders`: the topic is the root, a
    # dataset with no time of its own, so its lane leads although the run is the first timed
    tm = tracemap.open(tmp_path / "s.duckdb")
    tm.ingest([str(FIXTURES / "scenarios" / "lineage_topic" / "lineage.openlineage.jsonl")])
    topic = "dataset:kafka://kafka-cluster-prod:9092/orders"
    run = "openlineage:run:0190a0b6-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
    table = "dataset:postgresql://Warehouse.internal/analytics.public.order_facts"
    result = tm.trace(run)
    assert result.root == topic and result.critical_path == [topic, run, table]
    assert [(r["uid"], r["lane"], r["depth"]) for r in timeline.rows(result)] == [
        (topic, "dataset", 0), (table, "dataset", 1), (run, "openlineage", 0)]
