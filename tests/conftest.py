"""Shared test machinery: golden files of normalized rows, fixture discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files from the current output (review the diff)")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


#: Multi-format correlation scenarios (tests/fixtures/scenarios/<name>/), not one format's fixtures.
SCENARIOS = FIXTURES / "scenarios"


def fixture_files(fmt: str | None = None) -> list[Path]:
    """Fixture inputs under tests/fixtures/<format>/ (provenance notes and scenarios excluded)."""
    root = FIXTURES / fmt if fmt else FIXTURES
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "PROVENANCE.md"
                  and not p.name.startswith(".") and SCENARIOS not in p.parents)
