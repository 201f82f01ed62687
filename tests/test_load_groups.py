"""Small files are committed many to a transaction; what a re-run sees must not change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tracemap import load
from tracemap.load import ingest_paths
from tracemap.store import Store


def _kcat(path: Path, topic: str, n: int = 3) -> Path:
    lines = [json.dumps({"topic": topic, "partition": 0, "offset": i, "tstype": "create",
                         "ts": 1_700_000_000_000 + i, "key": f"k{i}", "payload": "{}"})
             for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "exports"
    root.mkdir()
    for i in range(30):
        _kcat(root / f"t{i:02}.jsonl", f"topic{i}")
    (root / "zdup.jsonl").write_bytes((root / "t00.jsonl").read_bytes())
    (root / "broken.jsonl").write_text('{"topic": "x", "partition": 0, "offset": 1}\nnot json\n')
    return root


def _counts(store: Store) -> tuple[int, ...]:
    return store.sql("SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM messages), "
                     "(SELECT count(*) FROM rejects), (SELECT count(*) FROM sources "
                     "WHERE state <> 'done')").fetchone()


def test_small_files_in_groups(tree: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "GROUP_SOURCES", 7)  # several groups, the last one partial
    store = Store(tmp_path / "s.duckdb")
    first = ingest_paths(store, [str(tree)])
    by_name = {Path(s.path).name: s for s in first.sources}
    assert by_name["zdup.jsonl"].status == "unchanged"  # same content as t00, in the same run
    assert by_name["broken.jsonl"].rejected == 1 and by_name["broken.jsonl"].loaded == 1
    assert _counts(store) == (31, 91, 1, 0)
    assert [r["location"] for r in store.rejects()] == ["line 2"]

    again = ingest_paths(store, [str(tree)])
    assert {s.status for s in again.sources} == {"unchanged"}
    assert again.totals == first.totals

    changed = _kcat(tree / "t05.jsonl", "topic5", n=4)
    os.utime(changed, ns=(1, 1))
    third = ingest_paths(store, [str(tree)])
    assert {Path(s.path).name: s.status for s in third.sources
            if s.status != "unchanged"} == {"t05.jsonl": "replaced"}
    assert _counts(store) == (31, 92, 1, 0)
    assert store.sql("SELECT count(*) FROM messages WHERE channel = 'topic5'").fetchone()[0] == 4


def test_an_interrupted_group_writes_nothing(tree: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s.duckdb")
    real = load.file_sha256
    calls = []

    def sha(path: Path) -> str:
        calls.append(path)
        if len(calls) == 20:
            raise KeyboardInterrupt
        return real(path)

    monkeypatch.setattr(load, "file_sha256", sha)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(store, [str(tree)])
    assert _counts(store) == (0, 0, 0, 0)
    monkeypatch.setattr(load, "file_sha256", real)
    assert ingest_paths(store, [str(tree)]).totals["loaded"] == 94  # zdup counted as t00
    assert _counts(store) == (31, 91, 1, 0)


def test_folded_frames_keep_each_row_with_its_source(tree: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "COMPACT_FRAMES", 4)  # fold every few sources
    store = Store(tmp_path / "s.duckdb")
    ingest_paths(store, [str(tree)])
    per_source = store.sql("SELECT s.path, count(m.uid), min(m.channel), max(m.channel) "
                           "FROM sources s LEFT JOIN messages m ON m.source_id = s.id "
                           "GROUP BY 1").fetchall()
    assert len(per_source) == 31
    for path, n, low, high in per_source:
        name = Path(path).name
        if name.startswith("t"):
            assert (n, low, high) == (3, f"topic{int(name[1:3])}", f"topic{int(name[1:3])}")
    assert _counts(store) == (31, 91, 1, 0)
