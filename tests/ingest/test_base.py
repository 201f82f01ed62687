"""The shared ingestor helpers on hostile values: cut .gz files, invalid text, huge numbers."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ingest.base import (
    BatchBuilder,
    Source,
    UnreadableFile,
    dumps,
    is_json_lines,
    loads,
    us_auto,
    us_from_iso,
    us_from_ms,
    us_from_ns,
    us_from_s,
)
from tests.conftest import FIXTURES
from tests.golden import counts_and_rejects

KCAT = FIXTURES / "kafka_kcat" / "kcat_J_kafkasql_journal_dump.jsonl"
OTLP = FIXTURES / "otlp_json" / "jaeger_fixture_otel_traces_01.otlp.json"
GZIP_CUT = ("gzip stream broken off or corrupt (Compressed file ended before the end-of-stream "
            "marker was reached); the file was cut short or damaged in transit: copy or export "
            "it again")




def test_cut_gzip_of_json_lines_keeps_the_lines_before_the_cut(tmp_path: Path) -> None:
    packed = gzip.compress(KCAT.read_bytes(), mtime=0)
    cut = tmp_path / "dump.jsonl.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    counts, rejects = counts_and_rejects(cut)
    assert counts == (4, 3, 1, 0)
    assert rejects == [("line 4", GZIP_CUT)]


def test_cut_gzip_of_one_document_is_one_reject_saying_so(tmp_path: Path) -> None:
    packed = gzip.compress(OTLP.read_bytes(), mtime=0)
    cut = tmp_path / "traces.json.gz"
    cut.write_bytes(packed[:-40])  # the whole head is there: sniffed as usual
    counts, rejects = counts_and_rejects(cut)
    assert counts == (1, 0, 1, 0)
    assert rejects == [("file", f"not readable as otlp_json: {GZIP_CUT}")]


def test_corrupt_gzip_data_raises_unreadable_file(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(OTLP.read_bytes(), mtime=0))
    packed[200:210] = b"\xff" * 10
    bad = tmp_path / "traces.json.gz"
    bad.write_bytes(bytes(packed))
    with pytest.raises(UnreadableFile, match="gzip stream broken off or corrupt"):
        Source(bad).read_document()


def test_json_lines_with_a_garbled_first_line_stay_json_lines(tmp_path: Path) -> None:
    lines = KCAT.read_bytes().splitlines()
    dump = tmp_path / "dump.jsonl"
    dump.write_bytes(b"\n".join([lines[0][:50], *lines[1:]]) + b"\n")
    assert is_json_lines(Source(dump))
    counts, rejects = counts_and_rejects(dump, fmt="kafka_kcat")
    assert counts == (12, 11, 1, 0)
    assert [loc for loc, _ in rejects] == ["line 1"]
    pretty = tmp_path / "pretty.json"
    pretty.write_text('{\n  "resourceSpans": [\n    {}\n  ]\n}\n')
    assert not is_json_lines(Source(pretty))


@pytest.mark.parametrize("text", [b'{"a": "\xff"}', b'{"a": "\xed\xa0\x80"}',
                                  b'{"a": "\\ud800", "n": NaN}'])
def test_loads_refuses_text_no_column_can_hold(text: bytes) -> None:
    with pytest.raises(ValueError):
        loads(text)


def test_loads_keeps_what_only_the_stdlib_reads() -> None:
    assert loads(b'{"n": NaN, "big": 18446744073709551617, "e": "\\ud83d\\ude00"}') == {
        "n": pytest.approx(float("nan"), nan_ok=True), "big": 2**64 + 1, "e": "\U0001f600"}


def test_dumps_writes_what_orjson_refuses() -> None:
    assert dumps({"big": 2**64 + 1, "nan": float("nan"), "s": "a\ud800b", 7: [2**70]}) == (
        '{"big":"18446744073709551617","nan":null,"s":"a?b","7":["1180591620717411303424"]}')
    deep = loads(b"[" * 1000 + b"]" * 1000)
    assert dumps(deep) == '"(a value nested too deep to store)"'
    assert dumps(loads(b"[" * 300 + b"]" * 300)) == "[" * 300 + "]" * 300


def test_reject_text_is_storable() -> None:
    b = BatchBuilder()
    b.read()
    b.reject("line 1", "bad value 'x\ud800'", "raw \udcff")
    assert b.take().rejects == [("line 1", "bad value 'x?'", "raw ?")]


def test_restore_forgets_a_record_that_failed_half_way() -> None:
    b = BatchBuilder()
    b.read()
    b.run(uid="r1", system="s")
    b.loaded()
    mark = b.mark()
    b.read()
    b.run(uid="r2", system="s")
    b.key("r2", "trace_id", "t")
    b.loaded()
    b.skip("odd")
    b.restore(mark)
    b.read()
    b.reject("line 2", "half-way failure")
    batch = b.take()
    assert (batch.records, batch.loaded, batch.skipped, len(batch.rejects)) == (2, 1, 0, 1)
    assert batch.tables["runs"]["uid"].to_list() == ["r1"]
    assert "keys" not in batch.tables and not batch.skipped_types


@pytest.mark.parametrize("helper", [us_from_ns, us_from_ms, us_from_s, us_auto])
@pytest.mark.parametrize("value", [float("inf"), "NaN", "1e400", 10**40])
def test_time_helpers_refuse_non_times_with_value_error(helper, value) -> None:
    with pytest.raises(ValueError, match="is not a finite number|is after the year 9999|"
                                         "invalid literal"):
        helper(value)


def test_time_helpers_keep_real_times() -> None:
    assert us_from_ns("1700000000123456789") == 1_700_000_000_123_456
    assert us_from_ms(1700000000123.5) == 1_700_000_000_123_500
    assert us_from_s("1.7e9") == 1_700_000_000_000_000
    assert us_auto(1_700_000_000_123) == 1_700_000_000_123_000
    assert us_from_ms("not a time") is None


@pytest.mark.parametrize(("text", "us"), [
    ("2023-11-14T22:13:20.123456Z", 1_700_000_000_123_456),
    ("2023-11-14T22:13:20.1234567891Z", 1_700_000_000_123_456),  # past µs: cut, not rounded
    ("2023-11-14T22:13:20.5Z", 1_700_000_000_500_000),
    ("2023-11-14T22:13:20Z", 1_700_000_000_000_000),
    ("2023-11-14T23:13:20.5+01:00", 1_700_000_000_500_000),
    ("2023-11-14T22:13:20.123000+00:00", 1_700_000_000_123_000),  # boto3's spelling
    ("2023-11-14 22:13:20", 1_700_000_000_000_000),  # no offset: UTC
    ("1969-12-31T23:59:59.999999Z", -1),
    ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
])
def test_us_from_iso_reads_rfc3339_and_iso_spellings_alike(text: str, us: int) -> None:
    assert us_from_iso(text) == us


@pytest.mark.parametrize("text", ["2023-02-29T00:00:00Z", "2023-11-14T24:00:00Z",
                                  "2023-11-14T22:60:00Z", "2023-11-14T22:13:60Z",
                                  "2023-13-14T22:13:20Z", "2023-11-14T22:13:20.12Q"])
def test_us_from_iso_refuses_what_is_no_time(text: str) -> None:
    with pytest.raises(ValueError):
        us_from_iso(text)


def test_a_value_that_does_not_fit_its_column_is_fitted_and_counted() -> None:
    b = BatchBuilder()
    b.read(2)
    b.step(uid="a", name={"odd": 1}, attempt=2**40, error=2**70)
    b.step(uid="b", name="fine", attempt=3)
    b.loaded(2)
    batch = b.take()
    assert batch.tables["steps"].select("uid", "name", "attempt", "error").rows() == [
        ("a", '{"odd":1}', None, "1180591620717411303424"), ("b", "fine", 3, None)]
    assert batch.notes["coerced_values"] == {"steps.name": 1, "steps.attempt": 1,
                                             "steps.error": 1}


def test_a_document_that_says_it_is_too_large_is_refused_unread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.base

    monkeypatch.setattr(ingest.base, "MAX_DOCUMENT_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb") as fh:
        fh.write(b"[" + b" " * (2 << 20) + b"]")
    plain = tmp_path / "big.json"
    plain.write_bytes(b"[" + b" " * (2 << 20) + b"]")

    def no_reading(self: Source) -> None:
        raise AssertionError("the size was known before reading")

    monkeypatch.setattr(Source, "open", no_reading)
    for path in (bomb, plain):
        with pytest.raises(ingest.base.DocumentTooLarge, match="document over 1 MiB"):
            Source(path).read_document()


# --------------------------------------------------------------------------------------------
# Detection past the head: noise lines, log prefixes, never raising


@pytest.mark.parametrize(("line", "kind"), [
    (b"$ kcat -C -b localhost:9092 -t topic-01 -J", "shell prompt"),
    (b"lixin-macbook:~ lixin$ docker run -it --rm debezium/kafka:1.2 watch-topic", "shell prompt"),
    (b"[ec2-user@ip-10-0-0-1 ~]$ kafka-console-consumer --topic x", "shell prompt"),
    (b"user@host:~/exports# kcat -C -J -t x", "shell prompt"),
    (b"% Reached end of topic noop [0] at offset 15", "kcat status line"),
    (b"Processed a total of 4 messages", "console consumer summary"),
    (b'{"topic": "x"}', None),
    (b"# a comment", None),
    (b"WARNING: Using default BROKER_ID=1", None),
])
def test_noise_kind_knows_prompts_and_status_lines(line: bytes, kind: str | None) -> None:
    from ingest.base import noise_kind

    assert noise_kind(line) == kind


def test_record_view_cuts_log_prefixes_and_shortens_long_strings() -> None:
    from ingest.base import record_view

    path = FIXTURES / "stepfunctions_json" / "sam_logs_express_execution_events.txt"
    view = record_view(Source(path))
    assert view is not None and (view.line, view.noise, view.prefixed) == (1, {}, True)
    assert view.head.startswith(b'{\n  "id": "1",\n  "type": "ExecutionStarted"')
    assert b"states/LoggingAndMaskingWorkflow" not in view.head


def test_detection_never_raises_but_unknown_format_on_mutated_files(tmp_path: Path) -> None:
    import random

    import ingest
    from tests.fuzzing import MUTATIONS, fuzz_cases, mutate
    from tracemap.errors import UnknownFormatError

    rng = random.Random(15)
    cases = fuzz_cases()
    for i in range(120):
        fmt, fixture = cases[rng.randrange(len(cases))]
        mutation = MUTATIONS[rng.randrange(len(MUTATIONS))]
        target = tmp_path / f"{i}-{fixture.name}"
        target.write_bytes(mutate(fixture.read_bytes(), fixture, mutation, rng,
                                  huge_cap=1 << 18).data)
        try:
            module, rule = ingest.detection(Source(target))
        except UnknownFormatError:
            continue
        assert module.NAME in ingest.BY_NAME and rule, (fmt, mutation)


@pytest.mark.parametrize(("data", "line", "noise"), [
    # a captured terminal: the prompt, then the command's banner, then records
    (b'$ docker run watcher\nUsing KAFKA_BROKER=1.2.3.4\n{"a": 1}\n', 3,
     {"shell prompt": 1, "text line": 1}),
    # prose or markup around a JSON example is not a file of records
    (b'# Title\n\nSome text\n```\n{"topic": "x", "partition": 0, "offset": 1}\n```\n', None,
     None),
])
def test_text_before_records_is_passed_over_only_after_a_prompt(
        data: bytes, line: int | None, noise: dict[str, int] | None) -> None:
    from ingest.base import _record_view

    view = _record_view(data)
    assert (view.line, view.noise) == (line, noise) if view else line is None


@pytest.mark.parametrize(("line", "message"), [
    # aws logs tail: <time> <log stream> <message>
    (b'2026-08-24T03:25:42.883000+00:00 states/m/2026-08-24-03/00000000 {"id":"1"}',
     b'{"id":"1"}'),
    # sam logs: <log stream> <time> <message>, a text message (a runtime's START line)
    (b"2024/04/24/[$LATEST]0f1e 2024-04-24T11:54:30.672000 START RequestId: 42 Version: 1",
     b"START RequestId: 42 Version: 1"),
    (b"2024-01-01T00:00:00Z started", None),  # a time alone does not make a log viewer's line
    (b'{"time": "2024-01-01T00:00:00Z a b"}', None),
    (b'  "2024-01-01T00:00:00Z a b",', None),  # inside a pretty-printed message
])
def test_log_message_is_what_follows_a_log_viewers_prefix(line: bytes,
                                                           message: bytes | None) -> None:
    from ingest.base import log_message

    assert log_message(line) == message
