"""User mistakes end in one line that names the file and the next step, never a traceback.

Through typer's CliRunner (where a test can make a file unreadable even as root) and through a
real ``tracemap`` subprocess for the paths that need no patching.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import ingest
import tracemap.load
from tests.conftest import FIXTURES
from tracemap.cli import app

KCAT = FIXTURES / "kafka_kcat" / "kcat_J_kafkasql_journal_dump.jsonl"
runner = CliRunner()


def _cli(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), prog_name="tracemap")
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


def _real(*args: str, cwd: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "tracemap.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]),
                               "COLUMNS": "80"})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_missing_file_says_check_the_path(tmp_path: Path) -> None:
    code, stdout, stderr = _cli("ingest", str(tmp_path / "nope.jsonl"), "--db",
                                str(tmp_path / "s.duckdb"))
    assert code == 1
    assert _one_line(stderr) == (f"{tmp_path / 'nope.jsonl'}: no such file or directory; "
                                 "check the path")
    assert "failed" in stdout


def test_unreadable_file_is_a_failed_source_not_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    walked = tmp_path / "exports"
    walked.mkdir()
    locked = walked / "locked.jsonl"
    locked.write_bytes(KCAT.read_bytes())
    (walked / "fine.jsonl").write_bytes(KCAT.read_bytes())

    real = tracemap.load.file_sha256

    def sha(path: Path) -> str:
        if path.name == "locked.jsonl":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(tracemap.load, "file_sha256", sha)
    code, stdout, stderr = _cli("ingest", str(walked), "--db", str(tmp_path / "s.duckdb"))
    assert code == 1  # found by walking, yet its records are lost: the command failed
    assert _one_line(stderr) == (f"{locked}: cannot read this file (Permission denied); check "
                                 "its permissions, or leave it out")
    assert "new" in stdout  # the readable file next to it loaded


def test_directory_that_cannot_be_listed_is_reported(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    top = tmp_path / "exports"
    (top / "private").mkdir(parents=True)
    (top / "ok.jsonl").write_bytes(KCAT.read_bytes())
    real = os.scandir

    def scandir(path: str | os.PathLike[str] = ".") -> os.ScandirIterator[str]:
        if Path(path).name == "private":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, _, stderr = _cli("ingest", str(top), "--db", str(tmp_path / "s.duckdb"))
    assert code == 1
    assert _one_line(stderr) == (f"{top / 'private'}: cannot list this directory (Permission "
                                 "denied); check its permissions or leave it out")


def test_broken_link_found_by_walking(tmp_path: Path) -> None:
    top = tmp_path / "exports"
    top.mkdir()
    (top / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    code, _, stderr = _cli("ingest", str(top), "--db", str(tmp_path / "s.duckdb"))
    assert code == 1
    assert _one_line(stderr) == (f"{top / 'gone.jsonl'}: cannot read this file (No such file "
                                 "or directory); a broken link, or it was removed while "
                                 "ingesting; check the path")


def test_pattern_matching_nothing_and_a_pipe(tmp_path: Path) -> None:
    pipe = tmp_path / "fifo"
    os.mkfifo(pipe)
    pattern = str(tmp_path / "*.nothing")
    code, _, stderr = _cli("ingest", pattern, str(pipe), "--db", str(tmp_path / "s.duckdb"))
    assert code == 1
    assert stderr.strip().splitlines() == [
        f"{pattern}: no file matches this pattern; check the pattern (quote it so tracemap "
        "expands it, not the shell)",
        f"{pipe}: not a regular file (a pipe, socket or device); copy the export to a file "
        "and ingest that"]


def test_unknown_format_suggests_the_right_one(tmp_path: Path) -> None:
    code, rc_stderr = _real("ingest", str(KCAT), "--format", "kafka_kcta", "--db", "s.duckdb",
                            cwd=tmp_path)
    assert code == 1
    assert _one_line(rc_stderr) == (
        "error: Unknown format 'kafka_kcta'. Did you mean 'kafka_kcat'? `tracemap formats` "
        f"lists the {len(ingest.INGESTORS)} formats.")


@pytest.mark.parametrize(("args", "message"), [
    (["ingest", "x.jsonl", "--map", "service"],
     "error: Invalid value for --map: expected COLUMN=FIELD, got 'service'. See `tracemap "
     "ingest --help`."),
    (["ingest"], "error: Missing argument 'paths'. See `tracemap ingest --help`."),
    (["ingest", "x.jsonl", "--frmat", "otlp_json"],
     "error: No such option: --frmat (Possible options: --format, --map). See `tracemap "
     "ingest --help`."),
    (["failures", "--since", "yesterday"],
     "error: Invalid value for --since: expected an ISO-8601 time like 2026-11-02T08:00Z, got "
     "'yesterday'. See `tracemap failures --help`."),
    (["--bogus"], "error: No such option: --bogus. See `tracemap --help`."),
])
def test_usage_errors_are_one_line_with_the_help_to_read(args: list[str], message: str,
                                                         tmp_path: Path) -> None:
    code, _, stderr = _cli(*args)
    assert code == 2
    assert _one_line(stderr) == message


def test_usage_error_in_a_real_process(tmp_path: Path) -> None:
    code, stderr = _real("ingest", "x.jsonl", "--map", "service", cwd=tmp_path)
    assert code == 2
    assert _one_line(stderr) == ("error: Invalid value for --map: expected COLUMN=FIELD, got "
                                 "'service'. See `tracemap ingest --help`.")


def test_store_that_is_not_a_duckdb_file(tmp_path: Path) -> None:
    (tmp_path / "notes.duckdb").write_text("not a database\n")
    code, stderr = _real("status", "--db", "notes.duckdb", cwd=tmp_path)
    assert code == 1
    assert _one_line(stderr) == (
        "error: notes.duckdb: not a tracemap store (the file is not a DuckDB database). Point "
        "--db at a store, or at a new file name to create one.")


def test_duckdb_database_of_something_else_is_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(other)) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
    code, stderr = _real("ingest", str(KCAT), "--db", "warehouse.duckdb", cwd=tmp_path)
    assert code == 1
    assert _one_line(stderr) == (
        "error: warehouse.duckdb: not a tracemap store (a DuckDB database without tracemap's "
        "tables). Use another --db; tracemap will not write into it.")
    with duckdb.connect(str(other), read_only=True) as conn:
        assert [r[0] for r in conn.execute("SHOW TABLES").fetchall()] == ["orders"]


def test_store_from_a_newer_tracemap(tmp_path: Path) -> None:
    assert _cli("ingest", str(KCAT), "--db", str(tmp_path / "s.duckdb"))[0] == 0
    with duckdb.connect(str(tmp_path / "s.duckdb")) as conn:
        conn.execute("UPDATE meta SET value = '7' WHERE name = 'schema_version'")
    for command in (["status"], ["ingest", str(KCAT)]):
        code, stderr = _real(*command, "--db", "s.duckdb", cwd=tmp_path)
        assert code == 1
        assert _one_line(stderr) == (
            "error: s.duckdb: written by a newer tracemap (store schema 7; this one reads 1). "
            "Upgrade tracemap (pip install -U tracemap), or use another --db.")


def test_store_in_a_directory_that_does_not_exist(tmp_path: Path) -> None:
    code, stderr = _real("ingest", str(KCAT), "--db", "no/such/dir/s.duckdb", cwd=tmp_path)
    assert code == 1
    assert _one_line(stderr).startswith("error: no/such/dir/s.duckdb: cannot open the store (")
    assert stderr.strip().endswith("check that it is a writable file in an existing "
                                   "directory, or use another --db.")


def test_report_where_it_cannot_be_written(tmp_path: Path) -> None:
    assert _cli("ingest", str(KCAT), "--db", str(tmp_path / "s.duckdb"))[0] == 0
    code, stderr = _real("report", "-o", "missing/dir/r.html", "--db", "s.duckdb", cwd=tmp_path)
    assert code == 1
    assert _one_line(stderr) == (
        "error: missing/dir/r.html: cannot write here (No such file or directory); check that "
        "the directory exists and is writable, or pass another -o.")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "notes.duckdb").write_text("not a database\n")
    proc = subprocess.run([sys.executable, "-m", "tracemap.cli", "--debug", "status", "--db",
                           "notes.duckdb"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "StoreError" in proc.stderr
