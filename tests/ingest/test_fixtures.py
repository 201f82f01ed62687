"""Every fixture under tests/fixtures/<format>/: sniffed as that format, reconciled, golden."""

from __future__ import annotations

from pathlib import Path

import pytest

import ingest
from ingest.base import Source
from tests.conftest import FIXTURES, fixture_files
from tests.golden import check_golden, normalized_rows

CASES = fixture_files()


def _fmt(path: Path) -> str:
    return path.relative_to(FIXTURES).parts[0]


def _id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_sniffed_as_its_folder(path: Path) -> None:
    assert ingest.detect(Source(path)).NAME == _fmt(path)


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_golden_rows(path: Path, update_golden: bool) -> None:
    rows = normalized_rows(path)
    src = rows["source"]
    assert src["status"] == "new", src
    assert src["records"] == src["loaded"] + src["rejected"] + src["skipped"]
    assert src["records"] > 0
    check_golden(f"{_fmt(path)}/{path.name}", rows, update_golden)


def test_every_format_has_a_fixture() -> None:
    assert {_fmt(p) for p in CASES} == set(ingest.names())
