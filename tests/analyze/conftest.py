"""Scenario stores: the landscape of scenario.py ingested and correlated, per incident set."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracemap
from tests.analyze.scenario import Incidents, write


@pytest.fixture
def scenario(tmp_path: Path):
    """``scenario(**incidents)`` -> (Tracemap over the ingested landscape, planted answers)."""

    def build(**flags: object) -> tuple[tracemap.Tracemap, dict[str, list[str]]]:
        answers = write(tmp_path / "landscape", Incidents(**flags))
        tm = tracemap.open(tmp_path / "store.duckdb")
        result = tm.ingest([str(tmp_path / "landscape")])
        assert result.totals["rejected"] == 0, [s.message for s in result.sources]
        return tm, answers

    return build
