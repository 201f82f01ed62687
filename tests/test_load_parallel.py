"""Small files parsed in worker processes give the store a one-process run gives, row for row."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, fixture_files
from tracemap import load
from tracemap.load import ingest_paths
from tracemap.store import SOURCE_TABLES, Store


class _Calls:
    """A progress display that keeps every call, to compare two runs' output."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def start(self, files: int, total_bytes: int) -> None:
        self.calls.append(("start", (files, total_bytes)))

    def file(self, display: str) -> None:
        self.calls.append(("file", display))

    def advance(self, nbytes: int) -> None:
        self.calls.append(("advance", nbytes))


def _snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in stored order (the ingest time left out)."""
    out = {table: store.sql(f"SELECT * FROM {table} ORDER BY rowid").fetchall()  # noqa: S608
           for table in SOURCE_TABLES}
    out["sources"] = store.sql("SELECT * EXCLUDE (ingested_at) FROM sources "
                               "ORDER BY id").fetchall()
    return out


def _run(paths: list[str], db: Path, workers: int) -> tuple[Any, Any, list[Any]]:
    progress = _Calls()
    with Store(db) as store:
        result = ingest_paths(store, paths, progress=progress, workers=workers)
        return result.to_dict(), _snapshot(store), progress.calls


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    """Every fixture, a copy of one (same bytes, another path) and a file no format claims."""
    files = [str(p) for p in fixture_files()]
    copy = tmp_path / "copy.json"
    shutil.copy(FIXTURES / "temporal_json" / sorted(
        p.name for p in (FIXTURES / "temporal_json").iterdir() if p.suffix == ".json")[0], copy)
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    return [*files, str(copy), str(tmp_path / "notes.txt")]


def test_workers_give_the_rows_of_one_process(inputs: list[str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "PARALLEL_FILES", 1)
    answered: list[int] = []

    class Counted(load._Worker):
        def answer(self) -> Iterator[tuple[int, Any]]:
            for index, parsed in super().answer():
                if parsed is not None:
                    answered.append(index)
                yield index, parsed

    one = _run(inputs, tmp_path / "one.duckdb", workers=0)
    monkeypatch.setattr(load, "_Worker", Counted)
    two = _run(inputs, tmp_path / "two.duckdb", workers=2)
    assert two[0] == one[0]  # results, source by source
    assert two[1].keys() == one[1].keys()
    for table in one[1]:
        assert two[1][table] == one[1][table], table
    assert two[2] == one[2]  # the same progress output
    # The workers parsed the fixtures (not the writer after them); some failed, some are
    # large (parsed by the writer while it streams them).
    assert len(answered) > len(inputs) * 0.9
    assert one[0]["totals"]["loaded"] > 900


def test_a_worker_killed_leaves_its_files_to_the_writer(inputs: list[str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "PARALLEL_FILES", 1)
    started: list[Any] = []

    class Recorded(load._Worker):
        def __init__(self, setup: bytes) -> None:
            super().__init__(setup)
            started.append(self)

    class Killer(_Calls):
        def file(self, display: str) -> None:
            super().file(display)
            if sum(c[0] == "file" for c in self.calls) == 20:
                started[0].proc.kill()  # mid-run, with files asked of it

    one = _run(inputs, tmp_path / "one.duckdb", workers=0)
    monkeypatch.setattr(load, "_Worker", Recorded)
    progress = Killer()
    with Store(tmp_path / "two.duckdb") as store:
        result = ingest_paths(store, inputs, progress=progress, workers=2)
        assert (result.to_dict(), _snapshot(store)) == one[:2]
    assert len(started) == 2 and started[0].proc.returncode is not None
