"""The CLI through typer's CliRunner: exit codes, --json contracts, error messages."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import FIXTURES
from tracemap.cli import app

runner = CliRunner()
KCAT = FIXTURES / "kafka_kcat" / "kcat_J_kafkasql_journal_dump.jsonl"


def _run(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.output


def test_ingest_json_contract(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    code, output = _run("ingest", str(KCAT), str(FIXTURES / "otlp_json"), "--db", db, "--json")
    assert code == 0, output
    data = json.loads(output)
    assert set(data) >= {"sources", "totals"}
    first = data["sources"][0]
    assert set(first) >= {"path", "format", "status", "records", "loaded", "rejected", "skipped"}
    assert first["status"] == "new" and first["format"] == "kafka_kcat"
    assert data["totals"] == {"records": 26, "loaded": 26, "rejected": 0, "skipped": 0}


def test_status_and_rejects_json(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(KCAT.read_text() + "{not json\n")
    assert _run("ingest", str(bad), "--db", db)[0] == 0
    code, output = _run("status", "--db", db, "--json")
    assert code == 0, output
    status = json.loads(output)
    assert status["counts"]["messages"] == 12 and status["counts"]["rejects"] == 1
    assert status["systems"] == {"kafka": {"runs": 0, "steps": 0, "messages": 12}}
    assert status["sources"][0]["records"] == 13
    code, output = _run("rejects", "--db", db, "--json")
    rejects = json.loads(output)["rejects"]
    assert [(r["location"], r["path"]) for r in rejects] == [("line 13", str(bad.resolve()))]


def test_strict_exits_nonzero_on_rejects(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{broken\n" + KCAT.read_text())
    code, _ = _run("ingest", str(bad), "--db", str(tmp_path / "s.duckdb"), "--strict")
    assert code == 1


def test_unknown_format_is_one_red_line(tmp_path: Path) -> None:
    code, output = _run("ingest", str(KCAT), "--db", str(tmp_path / "s.duckdb"),
                        "--format", "kafka_kact")
    assert code == 1
    assert "error: Unknown format 'kafka_kact'. Did you mean 'kafka_kcat'?" in output
    assert "Traceback" not in output


def test_unrecognised_file_named_explicitly_fails(tmp_path: Path) -> None:
    odd = tmp_path / "notes.txt"
    odd.write_text("hello\n")
    code, output = _run("ingest", str(odd), "--db", str(tmp_path / "s.duckdb"))
    assert code == 1
    assert "Pass --format NAME" in output


def test_status_without_store_says_what_to_do(tmp_path: Path) -> None:
    code, output = _run("status", "--db", str(tmp_path / "none.duckdb"))
    assert code == 1
    assert "no store here yet. Run `tracemap ingest PATH...` first" in output


def test_formats_lists_every_ingestor() -> None:
    import ingest

    code, output = _run("formats", "--json")
    assert code == 0
    names = [f["name"] for f in json.loads(output)["formats"]]
    assert names == ingest.names()
    assert all(f["summary"] for f in json.loads(output)["formats"])


def test_named_file_with_nothing_loaded_fails_the_ingest(tmp_path: Path) -> None:
    # A real compatibility-test template: its one event has placeholder times, so it rejects.
    template = FIXTURES / "openlineage_json" / "ol_flink_kafka_expected_start.json"
    db = str(tmp_path / "s.duckdb")
    r = runner.invoke(app, ["ingest", str(template), "--db", db])
    assert r.exit_code == 1, r.output
    assert (f"{template}: nothing loaded, its only record was rejected: document: field "
            "'eventTime' is a test placeholder") in " ".join(r.stderr.split())
    again = runner.invoke(app, ["ingest", str(template), "--db", db])  # unchanged: still nothing
    assert again.exit_code == 1 and "nothing loaded when it was ingested" in again.stderr
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / template.name).write_bytes(template.read_bytes())
    walked = runner.invoke(app, ["ingest", str(folder), "--db", str(tmp_path / "w.duckdb")])
    assert walked.exit_code == 0, walked.output  # found by walking: reported, not fatal
    assert "nothing loaded" in walked.stderr


def test_undetected_file_says_why_each_format_declined(tmp_path: Path) -> None:
    odd = tmp_path / "notes.json"
    odd.write_text('{"hello": "world", "n": 1}\n')
    r = runner.invoke(app, ["ingest", str(odd), "--db", str(tmp_path / "s.duckdb"), "--json"])
    assert r.exit_code == 1
    (src,) = json.loads(r.stdout)["sources"]
    assert "its first record is an object with keys hello, n" in src["message"]
    assert src["declined"]["kafka_kcat"] == ("a JSON object per line with topic, partition and "
                                             "offset (kcat -J)")


def test_ingest_and_status_say_what_two_files_share(tmp_path: Path) -> None:
    real = FIXTURES / "stepfunctions_json" / "cumulus_execution_status_lambda_retries_failed.json"
    first, reexport = tmp_path / "a.json", tmp_path / "b.json"
    first.write_bytes(real.read_bytes())
    reexport.write_text(json.dumps(json.loads(real.read_text())))  # same history, new bytes
    db = str(tmp_path / "s.duckdb")
    r = runner.invoke(app, ["ingest", str(first), str(reexport), "--db", db])
    assert r.exit_code == 0, r.output
    assert f"1 run, 5 steps also in {first.resolve()}" in " ".join(r.stdout.split())
    code, output = _run("status", "--db", db)
    assert code == 0, output
    assert f"1 run, 5 steps also in {first.resolve()} (merged by uid)" in " ".join(output.split())
