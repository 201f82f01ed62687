"""Hostile input at the loader level: limits, deep nesting, gzip bombs, a busy store, SIGKILL."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ingest.base
import tracemap
from tests.conftest import FIXTURES
from tracemap.errors import StoreBusyError

KCAT = FIXTURES / "kafka_kcat" / "kcat_J_kafkasql_journal_dump.jsonl"


def _kcat_line(offset: int, payload: str = "{}") -> str:
    return json.dumps({"topic": "t", "partition": 0, "offset": offset, "tstype": "create",
                       "ts": 1637230546039 + offset, "headers": ["correlation-id", f"c{offset}"],
                       "key": f"k{offset}", "payload": payload})


def test_over_long_line_is_rejected_without_holding_it(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.base, "MAX_LINE_BYTES", 4096)
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n".join([_kcat_line(0), _kcat_line(1, "x" * 20_000), _kcat_line(2)]) + "\n")
    tm = tracemap.open(tmp_path / "s.duckdb")
    (src,) = tm.ingest([str(dump)]).sources
    assert (src.records, src.loaded, src.rejected) == (3, 2, 1)
    (reject,) = tm.rejects().rejects
    assert reject["location"] == "line 2"
    assert "over the 0 MiB limit" in reject["reason"] or "limit for one record" in reject["reason"]


def test_deep_nesting_is_a_reject_not_a_recursion_error(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    dump.write_text(_kcat_line(0) + "\n" + deep + "\n" + _kcat_line(1) + "\n")
    tm = tracemap.open(tmp_path / "s.duckdb")
    (src,) = tm.ingest([str(dump)], fmt="kafka_kcat").sources
    assert (src.records, src.loaded, src.rejected) == (3, 2, 1)
    (reject,) = tm.rejects().rejects
    assert reject["location"] == "line 2" and "nested deeper than 1024 levels" in reject["reason"]


def test_gzip_bomb_document_is_refused_with_a_clear_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.base, "MAX_DOCUMENT_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb") as fh:
        fh.write(b'{\n  "resourceSpans": [\n')  # pretty-printed: read as one document
        for _ in range(64):
            fh.write(b" " * (1 << 16) + b"\n")
        fh.write(b"]}\n")
    assert bomb.stat().st_size < 50_000
    tm = tracemap.open(tmp_path / "s.duckdb")
    (src,) = tm.ingest([str(bomb)]).sources
    assert (src.format, src.records, src.rejected) == ("otlp_json", 1, 1)
    (reject,) = tm.rejects().rejects
    assert "document over 1 MiB; export it as JSON lines" in reject["reason"]


def test_second_writer_gets_store_in_use(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    tracemap.open(db).ingest([str(KCAT)])
    with subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(30)", str(db)],
        stdout=subprocess.PIPE, text=True,
    ) as holder:
        try:
            assert holder.stdout.readline().strip() == "ready"
            with pytest.raises(StoreBusyError, match="store is in use by another tracemap"):
                tracemap.open(db).ingest([str(KCAT)], force=True)
        finally:
            holder.kill()
    assert tracemap.open(db).status().counts["messages"] == 12


def test_readers_share_the_store(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    tm = tracemap.open(db)
    tm.ingest([str(KCAT)])
    with tm.reader() as a, tm.reader() as b:
        assert a.counts()["messages"] == b.counts()["messages"] == 12


def _big_dump(path: Path, n: int) -> None:
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(_kcat_line(i, json.dumps({"orderId": i, "pad": "p" * 200})) + "\n")


@pytest.mark.parametrize("delay", [0.5, 1.5])
def test_sigkill_mid_ingest_then_rerun_is_consistent(tmp_path: Path, delay: float) -> None:
    dump = tmp_path / "big.jsonl"
    n = 200_000
    _big_dump(dump, n)
    db = tmp_path / "s.duckdb"
    cmd = [sys.executable, "-m", "tracemap.cli", "ingest", str(dump), "--db", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rerun = subprocess.run(cmd, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert rerun.returncode == 0, rerun.stderr
    with tracemap.open(db).reader() as store:
        assert store.sql("SELECT count(*), count(DISTINCT uid) FROM messages").fetchone() == (n, n)
        assert store.sql("SELECT count(*), sum(records) FROM sources").fetchone() == (1, n)
