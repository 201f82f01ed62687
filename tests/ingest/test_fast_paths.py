"""The DuckDB fast paths give exactly the Python paths' rows (ingest/_duck.py).

Each case ingests one file twice into fresh stores, with the fast path off (``TRACEMAP_FAST=0``)
and on, and compares every model table row for row, the rejects (location, reason, raw) and
the counts. The fast path must also have done the work (checked in ``sources.detail``), so a
case cannot pass by quietly falling back to Python.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ingest import _duck, kafka_kcat
from ingest.base import Source
from tests.conftest import fixture_files
from tracemap.load import ingest_paths
from tracemap.model import TABLES
from tracemap.store import Store


@pytest.fixture(autouse=True)
def _small_files_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_duck, "MIN_BYTES", 0)


def _ingest(path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch,
            fmt: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    monkeypatch.setenv(_duck.ENV, "1" if fast else "0")
    store = Store(":memory:")
    try:
        result = ingest_paths(store, [str(path)], fmt=fmt, debug=True)
        out: dict[str, Any] = {"counts": result.totals}
        for table, columns in TABLES.items():
            out[table] = store.rows(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL")
        out["rejects"] = store.rows("SELECT location, reason, raw FROM rejects ORDER BY ALL")
        detail = json.loads(store.sql("SELECT detail FROM sources").fetchone()[0] or "{}")
        return out, detail
    finally:
        store.close()


def assert_same_rows(path: Path, monkeypatch: pytest.MonkeyPatch,
                     fmt: str | None = None) -> dict[str, Any]:
    """Both paths' rows are identical; returns the fast run's ``sources.detail``."""
    slow, _ = _ingest(path, False, monkeypatch, fmt)
    fast, detail = _ingest(path, True, monkeypatch, fmt)
    for table in slow:
        assert fast[table] == slow[table], f"{path.name}: {table} differs"
    return detail


# ------------------------------------------------------------------------------------ kcat


def _tp(i: int) -> str:
    return f"00-{i:032x}-{i + 7:016x}-01"


def _kcat_record(i: int) -> dict[str, Any]:
    return {"topic": "orders", "partition": i % 3, "offset": i, "tstype": "create",
            "ts": 1_700_000_000_000 + i, "broker": 1,
            "headers": ["traceparent", _tp(i + 1), "correlation-id", f"C-{i}"], "key": f"K-{i}",
            "payload": json.dumps({"type": "OrderPlaced", "correlationId": f"C-{i}",
                                   "amount": 1.5})}


def _set(**kw: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.update(kw)


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(name)


#: Shapes a kcat dump can hold: each replaces part of an ordinary record.
KCAT_EDGES: list[Callable[[dict[str, Any]], None]] = [
    _set(payload=None),  # tombstone
    _drop("headers"), _set(headers=None), _set(headers=[]),
    _set(headers=["a", None, "b", "x"]), _set(headers=["a", "1", "b"]), _set(headers=["a", 5]),
    _set(headers={"correlation-id": "D"}), _set(headers=["x", "1", "x", "2"]),
    _set(headers=["X-Correlation-Id", "up", "x-correlation-id", "low"]),
    _set(headers=["TraceParent", _tp(99), "Correlation-ID", " pad\u00a0"]),
    _set(headers=["naïve", "v"]),
    _set(headers=["traceparent", "00-" + "0" * 32 + "-" + "1" * 16 + "-01"]),
    _set(headers=["traceparent", "  00-ABCDEF0123456789ABCDEF0123456789-0123456789ABCDEF-01"]),
    _set(headers=["traceparent", "garbage"]), _set(headers=["correlation-id", "   "]),
    _set(headers=["ce_id", "E1", "ce_source", "/src", "ce_type", "com.x"]),
    _set(headers=["ce_id", "E2"]), _set(headers=["ce_id", None, "ce_source", None]),
    _set(headers=["Type", "", "event-type", "ET"]),
    _set(headers=["hdr", "tab\there", "q", 'quo"te', "bs", "back\\slash"]),
    _set(headers=["ctl", "a\u0001b"]),
    _set(key='\u0000{"id":1}'), _set(key="\u0001\t\u007f"), _set(key=None), _set(key=5),
    _set(key={"a": 1}), _set(key=""),
    _set(payload='{"a":  1,  "b": [1, 2]}'), _set(payload="[1, 2, 3]"),
    _set(payload="plain text"), _set(payload='"quoted"'), _set(payload=5), _set(payload=1e16),
    _set(payload={"type": "Avro", "n": 1e16}), _set(payload='{"type": "A", "type": "B"}'),
    _set(payload='{"x": NaN}'), _set(payload='{"x": 1,}'), _set(payload='{"x": "\\ud800"}'),
    _set(payload="[" * 1100 + "]" * 1100),
    _set(payload=json.dumps({"big": "é" * 20000, "correlationId": "BIG"})),
    _set(payload="x" * 17000), _set(payload="bin\u0001\u001f"), _set(payload="null"),
    _set(payload=""), _set(payload=' {"a": 1}'),
    _set(payload=json.dumps({"correlationId": 42, "causationId": True, "correlation_id": 2.5})),
    _set(payload=json.dumps({"correlationId": "", "type": 7, "eventType": "E"})),
    _set(payload=json.dumps({"type": "", "eventType": "E"})),
    _set(payload=json.dumps({"correlationId": {"x": 1}, "meta": {"type": "nested"}})),
    _set(payload=json.dumps([{"correlationId": "in a list"}])),
    _set(payload=json.dumps({"correlationId": 1e16, "n": -0.0})),
    _set(payload=json.dumps({"s": "caf\u00e9", "u": "\u2028"}, ensure_ascii=True)),
    _set(tstype="none"), _drop("ts"), _set(ts=-5), _set(ts="1700000000000"), _set(ts=1.5),
    _set(topic=""), _drop("topic"), _set(topic=7), _set(topic=" padded\u3000"),
    _set(partition="3"), _set(partition=3.7), _set(partition=True), _set(offset=2**62),
    _set(offset=2**64), _set(offset=float("inf")), _set(partition=float("-inf")),
    _set(broker="b1"),
    _set(key_error="bad key", payload_error="bad \u0002 payload"), _set(tstype=3),
    _set(extra={"ignored": True}),
]


def kcat_lines(copies: int = 3) -> list[bytes]:
    """Ordinary records with every edge shape ``copies`` times among them."""
    out = []
    for i in range(len(KCAT_EDGES) * copies * 4):
        rec = _kcat_record(i)
        if i % 4 == 3:
            KCAT_EDGES[(i // 4) % len(KCAT_EDGES)](rec)
        out.append(json.dumps(rec, ensure_ascii=i % 2 == 0).encode())
    return out


def _write(path: Path, lines: list[bytes], newline: bytes = b"\n") -> Path:
    data = newline.join(lines) + newline
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def _fast_share(detail: dict[str, Any], records: int) -> float:
    return detail["fast_path"]["duckdb_records"] / records


def test_kcat_edge_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = kcat_lines()
    detail = assert_same_rows(_write(tmp_path / "dump.jsonl", lines), monkeypatch)
    # Ordinary records (three in four) all went through DuckDB, and many odd ones too.
    assert _fast_share(detail, len(lines)) > 0.8, detail


@pytest.mark.parametrize("name,newline", [("dump.jsonl.gz", b"\n"), ("crlf.jsonl", b"\r\n")])
def test_kcat_gzip_and_crlf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                            newline: bytes) -> None:
    lines = kcat_lines(copies=1)
    detail = assert_same_rows(_write(tmp_path / name, lines, newline), monkeypatch,
                              fmt="kafka_kcat")
    assert _fast_share(detail, len(lines)) > 0.8, detail


def test_kcat_blank_line_leaves_the_file_to_python(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    lines = kcat_lines(copies=1)
    lines[40:40] = [b"", b"  "]
    detail = assert_same_rows(_write(tmp_path / "blank.jsonl", lines), monkeypatch)
    assert "fast_path" not in detail  # line numbers after a blank line: Python's own


@pytest.mark.parametrize("bad", [b'{"topic": "orders", oops', b"[1, 2]",
                                 b'{"topic":"t","partition":1,"offset":1,"topic":"u"}',
                                 b'{"topic":"t","partition":1,"offset":1,"key":"\xff"}'],
                         ids=["malformed", "array", "duplicate-key", "invalid-utf8"])
def test_kcat_unreadable_line_hands_over_to_python(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   bad: bytes) -> None:
    lines = kcat_lines(copies=1)
    lines[len(lines) // 2] = bad
    detail = assert_same_rows(_write(tmp_path / "bad.jsonl", lines), monkeypatch)
    assert "fast_path_stopped" in detail


def test_kcat_resumes_in_python_after_a_partial_read(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB fails after delivering some lines: Python goes on from the next one."""
    lines = kcat_lines(copies=1)
    path = _write(tmp_path / "dump.jsonl", lines)
    real = _duck.read_json_lines

    def stops_after_one_batch(src: Source, sql: str, params: dict[str, Any],
                              batch_rows: int = 0) -> Iterator[pl.DataFrame]:
        first = next(iter(real(src, sql, params, batch_rows=100)))
        yield first
        raise _duck.Stopped(first.height, "simulated")

    slow, _ = _ingest(path, False, monkeypatch)
    monkeypatch.setattr(_duck, "read_json_lines", stops_after_one_batch)
    fast, detail = _ingest(path, True, monkeypatch)
    assert fast == slow
    assert detail["fast_path_stopped"]["after_line"] == 100
    assert 0 < detail["fast_path"]["duckdb_records"] < 100


@pytest.mark.parametrize("at", [0, 60], ids=["leading", "mid-file"])
def test_kcat_status_lines_are_skipped_on_both_paths(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     at: int) -> None:
    """kcat's stderr ``% `` lines captured with the records: DuckDB stops at the first one and
    Python reads on; each is skipped, a librdkafka log line (``%3|``) stays a reject."""
    lines = kcat_lines(copies=1)
    records = len(lines)
    lines[at:at] = [b"% Waiting for group rebalance",
                    b"% Group g rebalanced (memberid rdkafka-1): assigned: orders [0]"]
    lines.insert(at + 10, b"% Reached end of topic orders [0] at offset 9")
    lines.insert(at + 20, b"%3|1700000000.123|FAIL|rdkafka#consumer-1| broker down")
    lines.append(b"% Reached end of topic orders [2] at offset 299")
    path = _write(tmp_path / "console.txt", lines)
    slow, _ = _ingest(path, False, monkeypatch, "kafka_kcat")
    detail = assert_same_rows(path, monkeypatch, fmt="kafka_kcat")
    assert slow["counts"]["records"] == records + 5
    assert slow["counts"]["skipped"] == 4
    assert (f"line {at + 21}", "expected a kcat -J JSON object: unexpected character, expected "
            "a JSON value: line 1 column 1 (char 0)") in [
        (r["location"], r["reason"]) for r in slow["rejects"]]
    assert detail["skipped_types"] == {"kcat status line": 4}
    # DuckDB cannot read past a status line: Python goes on from where it stopped.
    stopped = detail["fast_path_stopped"]["after_line"]
    assert stopped <= at and detail["fast_path"]["python_from_line"] == stopped + 1


@pytest.mark.parametrize("path", fixture_files("kafka_kcat"), ids=lambda p: p.name)
def test_kcat_fixtures(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same_rows(path, monkeypatch)


def test_kcat_custom_rules_with_wildcards(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.base import KeyRules

    rules = KeyRules(payload_keys={"items[*].sku": "business:sku", "order.id": "business:order",
                                   "$.correlationId": "correlation_id"},
                     header_keys={"x-req": "correlation_id"})
    lines = []
    for i in range(200):
        rec = _kcat_record(i)
        rec["headers"] += ["X-Req", f" r{i} "]
        rec["payload"] = json.dumps({"order": {"id": i, "order": i % 2 == 0},
                                     "items": [{"sku": f"S{i}"}, {"sku": i}, {}],
                                     "correlationId": f"C{i}"})
        lines.append(json.dumps(rec).encode())
    path = _write(tmp_path / "dump.jsonl", lines)
    monkeypatch.setattr(Source, "__init__", _with_rules(Source.__init__, rules))
    detail = assert_same_rows(path, monkeypatch)
    assert _fast_share(detail, len(lines)) == 1.0


def _with_rules(init: Callable[..., None], rules: Any) -> Callable[..., None]:
    def patched(self: Source, *args: Any, **kwargs: Any) -> None:
        kwargs["rules"] = rules
        init(self, *args, **kwargs)
    return patched


def test_kcat_payload_kept_as_written(tmp_path: Path) -> None:
    """The producer's JSON text is the payload (1.50 stays 1.50), on both paths."""
    rec = _kcat_record(1) | {"payload": '{"amount": 1.50, "type": "X"}'}
    b = kafka_kcat.BatchBuilder()
    kafka_kcat._add_record(b, Source(tmp_path / "x.jsonl"), rec, "line 1")
    assert b.take().tables["messages"]["payload"][0] == '{"amount": 1.50, "type": "X"}'


def test_the_written_out_whitespace_is_pythons() -> None:
    # The fast path strips what str.strip() strips: the list must be Python's, exactly.
    assert _duck.PY_SPACES == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
