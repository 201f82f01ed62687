"""A large JSON-lines file parsed in ranges of lines by the workers gives the store a
one-process run gives, row for row: the rows, rejects (located by the file's own line
numbers), counts and notes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

import ingest
from ingest.base import BatchBuilder, LineRange, Source
from tests.conftest import FIXTURES, fixture_files
from tests.test_load_parallel import _Calls, _snapshot
from tracemap import load
from tracemap.load import ingest_paths
from tracemap.store import Store

#: Lines planted between the real records: each is rejected, or passed over, the same way
#: wherever a range starts.
PLANTED = [b"", b"{not json", b"# a comment line", b"[]", b"{}", b"   ", b'"text"']


def _lines_of(files: list[Path]) -> list[bytes]:
    """Each JSON document of ``files`` on one line, as the Collector's file exporter writes
    a request (the fixtures' own records, re-serialized compactly)."""
    out = []
    for path in files:
        text = path.read_bytes()
        try:
            out.append(json.dumps(json.loads(text), separators=(",", ":")).encode())
        except ValueError:  # JSON lines already
            out.extend(line for line in text.splitlines() if line.strip())
    return out


@pytest.fixture
def large(tmp_path: Path) -> list[str]:
    """One JSON-lines file per format that reads lines on their own, from the real fixtures,
    with lines that are no records planted between them."""
    paths = []
    for fmt in ("otlp_json", "otlp_logs_json", "cloudevents_json"):
        records = _lines_of([p for p in fixture_files(fmt) if p.suffix in (".json", ".jsonl")])
        body = []
        for i, line in enumerate(records * 3):
            body.append(line)
            body.append(PLANTED[i % len(PLANTED)])
        path = tmp_path / f"{fmt}.jsonl"
        path.write_bytes(b"\n".join(body) + b"\n")
        paths.append(str(path))
    return paths


def _run(paths: list[str], db: Path, workers: int) -> tuple[Any, Any, int]:
    progress = _Calls()
    with Store(db) as store:
        result = ingest_paths(store, paths, progress=progress, workers=workers)
        advanced = sum(n for call, n in progress.calls if call == "advance")
        return result.to_dict(), _snapshot(store), advanced


@pytest.fixture
def ranged(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every file streams, in ranges of a few lines; the ranges the workers answered."""
    monkeypatch.setattr(load, "SMALL_FILE", 0)
    monkeypatch.setattr(load, "LINE_RANGE_BYTES", 700)
    answered: list[Any] = []

    class Counted(load._Worker):
        def receive(self) -> Any:
            answer = super().receive()
            if answer is not None:
                answered.append(answer)
            return answer

    monkeypatch.setattr(load, "_Worker", Counted)
    return answered


def test_ranges_give_the_rows_of_one_process(large: list[str], tmp_path: Path,
                                             ranged: list[Any]) -> None:
    one = _run(large, tmp_path / "one.duckdb", workers=0)
    two = _run(large, tmp_path / "two.duckdb", workers=2)
    assert two[0] == one[0]  # results, source by source: counts and messages
    for table in one[1]:
        assert two[1][table] == one[1][table], table
    # The progress reaches every byte, once.
    assert two[2] == one[2] == sum(Path(p).stat().st_size for p in large)
    assert len(ranged) > 30  # the workers parsed the files, a few lines at a time
    totals = one[0]["totals"]
    assert totals["loaded"] >= 99 and totals["rejected"] >= 3 * 3 * 3


def test_rejects_name_the_files_lines(large: list[str], tmp_path: Path,
                                      ranged: list[Any]) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        ingest_paths(store, [large[0]], workers=2)
        rejects = store.sql("SELECT location, reason FROM rejects ORDER BY rowid").fetchall()
    lines = Path(large[0]).read_bytes().split(b"\n")
    # Every reject is located at a line that holds a planted non-record, by its number in
    # the whole file, whichever range it was parsed in.
    for location, _ in rejects:
        number = int(location.split()[1])
        assert lines[number - 1] in PLANTED, location
    planted_rejected = sum(1 for line in lines if line.strip() and line in PLANTED
                           and line != b"{}")  # an empty request is no record
    assert len(rejects) == planted_rejected
    assert len(ranged) > 10


def test_a_worker_killed_leaves_its_ranges_to_the_writer(
        large: list[str], tmp_path: Path, ranged: list[Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Batches of a few rows, so the ranges the writer parses itself hold several each.
    monkeypatch.setattr(BatchBuilder.__init__, "__defaults__", (3,))
    one = _run(large, tmp_path / "one.duckdb", workers=0)
    sent: list[Any] = []

    class Dying(load._Worker):  # a real process, killed with ranges asked of it
        def send(self, data: bytes) -> None:
            super().send(data)
            sent.append(self)
            if len(sent) == 5:
                self.proc.kill()

    monkeypatch.setattr(load, "_Worker", Dying)
    two = _run(large, tmp_path / "two.duckdb", workers=2)
    assert (two[0], two[1]) == (one[0], one[1])
    assert any(w.proc.returncode is not None for w in sent)


def test_only_uncompressed_json_lines_of_line_formats_are_cut(
        large: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "LINE_RANGE_BYTES", 700)
    ranges = load._Ranges(2, {}, Source(Path(large[0])).rules)
    otlp, kcat = ingest.get("otlp_json"), ingest.get("kafka_kcat")
    size = Path(large[0]).stat().st_size
    assert ranges.usable(otlp, Source(Path(large[0])), size)
    assert not ranges.usable(kcat, Source(Path(large[0])), size)  # a file's state: kcat
    zipped = tmp_path / "otlp.jsonl.gz"
    zipped.write_bytes(gzip.compress(Path(large[0]).read_bytes()))
    assert not ranges.usable(otlp, Source(zipped), size)
    document = FIXTURES / "otlp_json" / "otlp_proto_example_trace.json"  # pretty-printed
    assert not ranges.usable(otlp, Source(document), size)
    assert not load._Ranges(0, {}, ranges.rules).usable(otlp, Source(Path(large[0])), size)


def test_line_ranges_are_whole_lines_numbered_as_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    lines = [b"a" * n for n in (5, 0, 40, 3, 0, 0, 90, 1)]
    path.write_bytes(b"\n".join(lines))  # no newline at the end
    ranges = list(load._line_ranges(path, 16))
    data = path.read_bytes()
    assert ranges[0].start == 0 and ranges[-1].end == len(data)
    for a, b in zip(ranges, ranges[1:], strict=False):
        assert a.end == b.start and data[a.end - 1:a.end] == b"\n"
    seen = []
    for r in ranges:
        assert r.first_line == data[:r.start].count(b"\n") + 1
        seen += list(Source(path, line_range=LineRange(r.start, r.end, r.first_line)).lines())
    assert seen == list(Source(path).lines())
