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


def _raw(uid: str, attempt: int) -> dict[str, Any]:
    return {"uid": uid, "run_uid": "r", "system": "temporal", "name": "step", "attempt": attempt}


def test_rows_of_a_chunk_are_framed_together_in_order() -> None:
    first = load._Parsed("temporal_json", None, "", {}, {}, {"steps": [[_raw("a", 1)],
                                                                         [_raw("b", 2)]]},
                         [], None, [], 0)
    second = load._Parsed("temporal_json", None, "", {}, {}, {"steps": [[_raw("c", 3)]]},
                          [], None, [], 0)
    joined, heights = load._frame_together([first, second])
    assert joined["steps"]["uid"].to_list() == ["a", "b", "c"]
    assert heights == [{"steps": 2}, {"steps": 1}]
    assert first.tables == second.tables == {}


def test_a_value_that_does_not_fit_frames_each_file_as_one_process_does() -> None:
    odd = load._Parsed("temporal_json", None, "", {},
                       {"dialect": "temporal", "skipped_types": {"MarkerRecorded": 1}},
                       {"steps": [[_raw("a", 1), _raw("b", 2**40)]]}, [], None, [], 0)
    fine = load._Parsed("temporal_json", None, "", {}, {}, {"steps": [[_raw("c", 3)]]},
                        [], None, [], 0)
    assert load._frame_together([odd, fine]) is None
    assert odd.tables["steps"][0]["attempt"].to_list() == [1, None]  # past an INTEGER
    assert fine.tables["steps"][0]["uid"].to_list() == ["c"]
    # the note sits where one process writes it: before the skipped types
    assert list(odd.detail.items()) == [("dialect", "temporal"),
                                        ("coerced_values", {"steps.attempt": 1}),
                                        ("skipped_types", {"MarkerRecorded": 1})]
    assert fine.detail == {}


def test_a_file_changed_after_the_scan_is_loaded_as_it_is_read(
        inputs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A history rewritten between the scan (its stat) and the workers' read: its rows are
    # those of the bytes read, never a worker's parse of other bytes; the others' hashes
    # are the workers' own.
    monkeypatch.setattr(load, "PARALLEL_FILES", 1)
    histories = sorted(p for p in (FIXTURES / "temporal_json").iterdir() if p.suffix == ".json")
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    shutil.copy(histories[0], first)
    shutil.copy(histories[1], second)
    start = load._Ahead.start

    def rewrite_then_start(*args: Any, **kwargs: Any) -> load._Ahead:
        shutil.copy(histories[2], first)  # after the scan, before any worker reads it
        return start(*args, **kwargs)

    monkeypatch.setattr(load._Ahead, "start", rewrite_then_start)
    files = [str(first), str(second), *inputs[:80]]
    with Store(tmp_path / "two.duckdb") as store:
        ingest_paths(store, files, workers=2)
        got = store.sql("SELECT s.sha256, count(*) FROM sources s JOIN runs r "
                        "ON r.source_id = s.id WHERE s.path = ? GROUP BY 1",
                        [str(first.resolve())]).fetchall()
        uids = {r[0] for r in store.sql(
            "SELECT uid FROM runs JOIN sources s ON s.id = source_id WHERE s.path = ?",
            [str(first.resolve())]).fetchall()}
    monkeypatch.setattr(load._Ahead, "start", start)
    with Store(tmp_path / "one.duckdb") as store:
        ingest_paths(store, [str(histories[2])], workers=0)
        want = {r[0] for r in store.sql("SELECT uid FROM runs").fetchall()}
    assert got and got[0][0] == load.file_sha256(histories[2])
    assert uids == want
