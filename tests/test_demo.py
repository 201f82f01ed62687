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
    assert report.is_file() and "id='tm-data'" in report.read_text()  # drawn by the browser


def test_demo_tour_on_a_terminal_names_each_step(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["demo", "--db", str(tmp_path / "d.duckdb"),
                                 "-o", str(tmp_path / "demo.html")])
    for step in ("1. Ingest", "2. Correlate", "3. Hidden dependencies", "Change impact",
                 "One stitched execution",
                 "planted answers found", "HTML report:"):
        assert step in r.output, step
