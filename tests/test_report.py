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
    assert [r["uid"] for r in rows].count(MESSAGE) == 1
    assert sorted(r["uid"] for r in rows) == sorted(e["uid"] for e in result.entities)
    assert [r["lane"] for r in rows] == ["otel"] * 6 + ["kafka"]  # lanes by first start
    lanes = {r["uid"]: r["lane"] for r in rows}
    for r in rows:  # depth = ancestors in the same lane, along the display tree
        chain, node = [], result.parents.get(r["uid"])
        while node is not None:
            chain.append(node)
            node = result.parents.get(node)
        assert r["depth"] == sum(lanes[a] == r["lane"] for a in chain)
        assert r["parent"] == result.parents.get(r["uid"])
    consumer = next(r for r in rows if r["parent"] == MESSAGE)
    assert consumer["lane"] == "otel" and consumer["depth"] == 3  # under its producer's spans


def test_timeline_cap_keeps_the_critical_path_and_says_so(tm: tracemap.Tracemap) -> None:
    result = tm.trace(MESSAGE)
    data = timeline.data(result, max_bars=2)
    drawn = {b["uid"] for b in data["bars"]}
    assert drawn == set(result.critical_path)
    assert data["critical_path"] == result.critical_path
    assert data["notes"] == [f"{len(drawn)} of 7 entities drawn (the critical path and the "
                             "first ones in display order); `tracemap trace --json` lists all."]
    assert all(a["src"] in drawn and a["dst"] in drawn for a in data["arrows"])
    full = timeline.data(result)
    assert len(full["bars"]) == 7 and full["notes"] == []
    hops = {(a["src"], a["dst"], a["kind"]) for a in full["arrows"] if MESSAGE in (a["src"],
                                                                                 a["dst"])}
    assert {k for _, _, k in hops} == {"emits", "triggers"}


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
        assert shown["reason"] == f"Root cause #{incident['rank']}: {incident['component']}"
        assert incident["component"] in {b["component"] for b in shown["data"]["bars"]}
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
