"""`tracemap demo` finds every planted answer of the bundled landscape."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tracemap.cli import app


def test_demo_finds_every_planted_answer(tmp_path: Path) -> None:
    report = tmp_path / "demo.html"
    r = CliRunner().invoke(app, ["demo", "--db", str(tmp_path / "d.duckdb"), "-o", str(report),
                                 "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    failed = [c for c in result["checks"] if not c["ok"]]
    assert failed == []
    whats = {c["what"] for c in result["checks"]}
    for incident in ("tax-outage", "payments-retry-storm", "bad-deploy", "notifier-stalled"):
        assert f"{incident}: root cause ranked first" in whats
    assert "notifier-stalled: silent failures" in whats
    # every hazard sample_traces plants (samples/hazards.py) is checked, and the chain's path
    planted = {c["what"].split(" at ")[0] for c in result["checks"] if " at " in c["what"]}
    assert planted == {"duplicate delivery", "duplicate effect", "out of order", "dead letter",
                       "choreography", "retry storm", "spanning workflow"}
    assert any(c["what"].startswith("pathway ") for c in result["checks"])
    page = report.read_text()
    assert report.is_file() and "id='tm-data'" in page  # drawn by the browser
    assert "<h2>Execution risks</h2>" in page and "<h2>Pathways</h2>" in page
    # The order's child workflow is one entity: its step in the parent folds into its run.
    r = CliRunner().invoke(app, ["trace", "ORD-1032", "--db", str(tmp_path / "d.duckdb"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    trace = json.loads(r.output)
    (child,) = [e["uid"] for e in trace["entities"]
                if e["component"] == "temporal:workflow:ShipmentWorkflow"]
    assert child.startswith("temporal:run:shipment-ORD-1032/")
    assert [e["kind"] for e in trace["edges"] if e["dst"] == child
            and e["src"].startswith("temporal:run:order-1032/")] == ["child"]


def test_demo_tour_on_a_terminal_names_each_step(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["demo", "--db", str(tmp_path / "d.duckdb"),
                                 "-o", str(tmp_path / "demo.html")])
    for step in ("1. Ingest", "2. Correlate", "3. Hidden dependencies", "Change impact",
                 "One stitched execution",
                 "planted answers found", "HTML report:"):
        assert step in r.output, step
