"""The loader over real fixture files: idempotency, rejects, gzip, unknown files, reconciliation."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

import tracemap
from tests.conftest import FIXTURES, fixture_files
from tracemap.errors import UnknownFormatError

KCAT = FIXTURES / "kafka_kcat" / "kcat_J_kafkasql_journal_dump.jsonl"
OTLP = FIXTURES / "otlp_json" / "jaeger_fixture_otel_traces_01.otlp.json"


@pytest.fixture
def tm(tmp_path: Path) -> tracemap.Tracemap:
    return tracemap.open(tmp_path / "store.duckdb")


#: Where the corpus's otlp/ and kafka/ files (and encodings made of them) live as fixtures.
OTLP_AND_KAFKA = ("otlp_json", "otlp_proto", "otlp_logs_json", "otlp_logs_proto", "kafka_kcat",
                  "kafka_lambda", "debezium_json", "dms_kafka")


def test_ingesting_twice_changes_nothing(tm: tracemap.Tracemap) -> None:
    paths = [str(p) for fmt in OTLP_AND_KAFKA for p in fixture_files(fmt)]
    first = tm.ingest(paths)
    before = tm.status().to_dict()
    second = tm.ingest(paths)
    after = tm.status().to_dict()
    assert not first.failed
    assert {s.status for s in first.sources} == {"new"}
    assert {s.status for s in second.sources} == {"unchanged"}
    assert after["counts"] == before["counts"]
    assert after["sources"] == before["sources"]
    assert before["counts"]["messages"] > 0 and before["counts"]["steps"] > 0


def test_every_fixture_reconciles(tm: tracemap.Tracemap) -> None:
    result = tm.ingest([str(p) for p in fixture_files()])
    assert not result.failed, [s.message for s in result.failed]
    for s in tm.status().sources:
        assert s["records"] == s["loaded"] + s["rejected"] + s["skipped"], s
    totals = result.totals
    assert totals["records"] == totals["loaded"] + totals["rejected"] + totals["skipped"]


def test_non_json_line_in_kcat_dump_is_rejected_and_neighbours_load(
        tm: tracemap.Tracemap, tmp_path: Path) -> None:
    lines = KCAT.read_text().splitlines()
    lines.insert(3, '{"topic": "kafkasql-journal", "partition": 0, "offs')  # a line cut short
    # kcat's own status line (stderr captured with 2>&1) is skipped, not rejected
    lines.insert(6, "% Reached end of topic kafkasql-journal [0] at offset 14")
    broken = tmp_path / "dump.jsonl"
    broken.write_text("\n".join(lines) + "\n")
    result = tm.ingest([str(broken)])
    (src,) = result.sources
    assert (src.records, src.loaded, src.rejected, src.skipped) == (14, 12, 1, 1)
    (reject,) = tm.rejects().rejects
    assert reject["location"] == "line 4"
    assert reject["reason"].startswith("expected a kcat -J JSON object")


def test_truncated_document_is_one_reject_not_a_crash(tm: tracemap.Tracemap,
                                                      tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_bytes(OTLP.read_bytes()[:1500])
    result = tm.ingest([str(cut)])
    (src,) = result.sources
    assert (src.format, src.records, src.loaded, src.rejected) == ("otlp_json", 1, 0, 1)
    (reject,) = tm.rejects().rejects
    assert reject["location"] == "byte 1500"  # where the cut file ends
    assert "expected one JSON document (truncated?)" in reject["reason"]


def test_gzip_is_read_transparently(tm: tracemap.Tracemap, tmp_path: Path) -> None:
    gz = tmp_path / "traces.json.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write(OTLP.read_bytes())
    (src,) = tm.ingest([str(gz)]).sources
    assert (src.format, src.loaded) == ("otlp_json", 4)
    assert tm.status().counts["runs"] == 4


def test_unknown_file_names_format_option(tm: tracemap.Tracemap, tmp_path: Path) -> None:
    odd = tmp_path / "notes.txt"
    odd.write_text("just some notes\n")
    (src,) = tm.ingest([str(odd)]).sources
    assert src.status == "failed"
    assert src.message == (f"{odd}: this file was recognised by no ingestor (tried "
                           f"{len(__import__('ingest').INGESTORS)}): it starts with 'just some "
                           "notes', not a record any format reads. Pass --format NAME; "
                           "`tracemap formats` lists them and what each reads.")
    assert src.declined is not None and set(src.declined) == set(__import__("ingest").names())


def test_mistyped_format_suggests_the_right_one(tm: tracemap.Tracemap) -> None:
    with pytest.raises(UnknownFormatError, match="Did you mean 'kafka_kcat'"):
        tm.ingest([str(KCAT)], fmt="kafka_kcta")


def test_force_replaces_rows_and_changed_file_replaces_old_source(
        tm: tracemap.Tracemap, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    shutil.copy(KCAT, dump)
    tm.ingest([str(dump)])
    (forced,) = tm.ingest([str(dump)], force=True).sources
    assert forced.status == "replaced"
    assert tm.status().counts["messages"] == 12
    dump.write_text("\n".join(KCAT.read_text().splitlines()[:5]) + "\n")
    (changed,) = tm.ingest([str(dump)]).sources
    assert (changed.status, changed.loaded) == ("replaced", 5)
    status = tm.status()
    assert status.counts["messages"] == 5
    assert len(status.sources) == 1


def test_missing_path_is_reported_not_ignored(tm: tracemap.Tracemap, tmp_path: Path) -> None:
    result = tm.ingest([str(tmp_path / "nope.json"), str(KCAT)])
    assert [s.status for s in result.sources] == ["failed", "new"]
    assert "no such file or directory" in result.sources[0].message


def test_glob_and_directory_expansion(tm: tracemap.Tracemap) -> None:
    result = tm.ingest([str(FIXTURES / "otlp_json" / "*.json")])
    assert len(result.sources) == len(list((FIXTURES / "otlp_json").glob("*.json")))
    assert all(s.format == "otlp_json" for s in result.sources)


def test_the_same_history_in_two_files_is_one_run_and_says_so(tm: tracemap.Tracemap,
                                                               tmp_path: Path) -> None:
    from tracemap.load import merged_text

    real = FIXTURES / "stepfunctions_json" / "cumulus_execution_status_lambda_retries_failed.json"
    first, reexport, copy = (tmp_path / n for n in ("a.json", "b.json", "c.json"))
    shutil.copy(real, first)
    shutil.copy(real, copy)
    reexport.write_text(json.dumps(json.loads(real.read_text())))  # same content, new bytes
    a, b, c = tm.ingest([str(first), str(reexport), str(copy)]).sources
    assert (a.status, a.merged) == ("new", None)
    assert (b.status, b.loaded, b.merged) == (
        "new", 25, {"runs": 1, "steps": 5, "with": [str(first.resolve())]})
    assert merged_text(b) == (
        f"{reexport}: 1 run, 5 steps also in {first.resolve()} (same uids): each is one "
        "entity, the first source's row is used")
    assert (c.status, c.merged) == ("unchanged", {"identical_to": str(first.resolve())})
    details = {Path(s["path"]).name: s["detail"] for s in tm.status().sources}
    assert json.loads(details["b.json"])["merged"]["runs"] == 1
    with tm.analysis_store() as store:
        assert store.sql("SELECT count(*) FROM executions").fetchone()[0] == 1
