"""tabular_spans: CSV/TSV/Parquet span tables give the OTLP ingestor's rows."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ingest import _tabular as tab
from ingest import tabular_spans
from ingest.base import Source
from tests.conftest import FIXTURES, fixture_files
from tests.golden import normalized_rows

OTELCOL = FIXTURES / "tabular_spans" / "otelcol_spans.csv"
RCA = FIXTURES / "tabular_spans" / "rca_dataset_spans.csv"
LAKE = FIXTURES / "tabular_spans" / "lake_spans.parquet"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _steps(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["uid"]: s for s in rows["steps"]}


def _sha(text: str, nbytes: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[: 2 * nbytes]


@pytest.mark.parametrize(("pod", "service"), [
    ("checkout-7d9f8b6c5-x2kqz", "checkout"),  # Deployment: replica-set hash + pod suffix
    ("cartservice-5c5b8f9d7b-q8w2z", "cartservice"),  # 10-character pod-template-hash
    ("kafka-0", "kafka"),  # StatefulSet ordinal
    ("redis-master-12", "redis-master"),
    ("fluentd-x2kqz", "fluentd"),  # DaemonSet / Job: one 5-character suffix
    ("nightly-report-28391040-bx7lq", "nightly-report"),  # CronJob: minutes + suffix
    ("frontend", "frontend"),
    ("api-gateway", "api-gateway"),  # a real word has vowels: not a generated suffix
    ("payments-v2", "payments-v2"),
])
def test_pod_names_fold_to_services(pod: str, service: str) -> None:
    out = pl.DataFrame({"pod": [pod]}).select(tab.service_from_pod(pl.col("pod")))
    assert out.item() == service


@pytest.mark.parametrize(("value", "unit", "expected"), [
    ("1717430400", None, 1717430400_000000),  # s by magnitude
    ("1717430400.25", None, 1717430400_250000),
    ("1717430400123", None, 1717430400_123000),  # ms
    ("1717430400123.5", None, 1717430400_123500),
    ("1717430400123456", None, 1717430400_123456),  # µs
    ("1717430400123456789", None, 1717430400_123456),  # ns, no float on the way
    ("2024-06-03T16:00:00.123456789Z", None, 1717430400_123456),
    ("2024-06-03 18:00:00.5+02:00", None, 1717430400_500000),
    ("2024-06-03 16:00:00,250", None, 1717430400_250000),  # Python logging's comma
    ("1717430400", "ms", 1717430400_000),  # the column name's unit wins over magnitude
    ("1717430400123", "us", 1717430400123),
    ("0", None, None),  # unset, as OTLP's 0
])
def test_time_units(value: str, unit: str | None, expected: int | None) -> None:
    us, bad = tab.times_us(pl.Series("t", [value]), unit)
    assert us.to_list() == [expected]
    assert bad.to_list() == [False]


def test_unreadable_time_is_flagged() -> None:
    us, bad = tab.times_us(pl.Series("t", ["yesterday", None, "1717430400"]), None)
    assert us.to_list() == [None, None, 1717430400_000000]
    assert bad.to_list() == [False if v is None else v for v in [True, False, False]]


@pytest.mark.parametrize(("name", "field", "unit"), [
    ("startTimeUnixNano", "start", "ns"), ("endTimeUnixNano", "end", "ns"),
    ("start_time_ms", "start", "ms"), ("duration_us", "duration", "us"),
    ("durationNano", "duration", "ns"), ("Duration", "duration", None),
    ("duration_ms", "duration", "ms"), ("timestamp", "start", None),
])
def test_time_column_units_from_names(name: str, field: str, unit: str | None) -> None:
    cols = tab.resolve(["traceId", "spanId", name], tabular_spans.WANTED, None,
                       tabular_spans.SYNONYMS, "x.csv")
    assert cols.by_field[field] == name
    assert cols.units[field] == unit


# A trace whose spans start 0, 20 and 40 ms after the root and last 100, 30 and 10 ms.
_SPANS = [("a1", "", 0, 100), ("b2", "a1", 20, 30), ("c3", "a1", 40, 10)]


@pytest.mark.parametrize(("unit", "scale"), [
    ("ns", 1_000_000), ("us", 1_000), ("ms", 1), ("s", 0.001),
])
def test_duration_unit_detected_from_the_traces(tmp_path: Path, unit: str, scale: float
                                                ) -> None:
    # Start in µs, duration in ``unit`` with no unit in the column names: the root's length
    # against the spread of its spans' starts gives the unit away.
    start = 1717430400_000000
    lines = ["trace_id,span_id,parent_id,service,start,duration"]
    for sid, parent, off_ms, length_ms in _SPANS:
        lines.append(f"7e0c5f1a9b2d4c6e,{sid},{parent},svc,{start + off_ms * 1000},"
                     f"{length_ms * scale:g}")
    rows = normalized_rows(_write(tmp_path, "t.csv", "\n".join(lines) + "\n"))
    by_span = {s["uid"].rsplit("/", 1)[1][-2:]: s for s in rows["steps"]}
    assert by_span["a1"]["ended_at"] == "2024-06-03T16:00:00.100000+00:00"
    assert by_span["c3"]["ended_at"] == "2024-06-03T16:00:00.050000+00:00"


def test_ns_duration_next_to_us_start_in_parquet() -> None:
    rows = normalized_rows(LAKE)
    root = _steps(rows)["otel:span:19af3c2e5d7b4a6f8e0d1c2b3a495867/f607182930415263"]
    assert (root["started_at"], root["ended_at"]) == (
        "2024-06-03T18:00:05+00:00", "2024-06-03T18:00:07.004551+00:00")
    assert root["detail"]["http.status_code"] == 504  # Parquet keeps types
    assert root["detail"]["error"] is True
    assert root["status"] == "failed"


def test_root_parents_and_text_ids_hash_stably() -> None:
    rows = normalized_rows(RCA)
    tid = _sha("T_1717430400_000117", 16)
    root = _steps(rows)[f"otel:span:{tid}/{_sha('sp_000117_00', 8)}"]
    assert "parent_uid" not in root  # ParentID "root"
    assert root["detail"]["TraceID"] == "T_1717430400_000117"  # the source's id, kept
    redis = _steps(rows)[f"otel:span:{tid}/{_sha('sp_000117_03', 8)}"]
    assert redis["parent_uid"] == f"otel:span:{tid}/{_sha('sp_000117_02', 8)}"
    assert redis["component"] == "otel:operation:redis-cart/HGET"  # StatefulSet pod folded
    calls = {(link["src_uid"][-16:], link["dst_uid"][-16:]) for link in rows["links"]
             if link["kind"] == "calls"}
    assert (_sha("sp_000117_02", 8), _sha("sp_000117_03", 8)) in calls  # cart -> redis
    statuses = {s["location"]: s["status"] for s in rows["steps"]}
    assert statuses["line 11"] == "failed"  # HTTP 503
    assert statuses["line 16"] == "ok"  # HTTP 404 is not a failure of the span


def test_decimal_ids_convert_to_hex(tmp_path: Path) -> None:
    # Grafana/Datadog write 64-bit ids as decimal text: the same ids as hex, so they join.
    path = _write(tmp_path, "dd.csv",
                  "traceID,spanID,parentSpanID,serviceName,operationName,startTime,duration\n"
                  "4450900759028499335,4322526419282105830,3095626263385822295,loki,store,"
                  "1717430400000.5,12.25\n")
    step = normalized_rows(path)["steps"][0]
    assert step["uid"] == f"otel:span:{4450900759028499335:032x}/{4322526419282105830:016x}"
    assert step["parent_uid"].endswith(f"/{3095626263385822295:016x}")
    assert step["detail"]["traceID"] == "4450900759028499335"
    assert (step["started_at"], step["ended_at"]) == (
        "2024-06-03T16:00:00.000500+00:00", "2024-06-03T16:00:00.012750+00:00")


_ODD = ("tid,sid,psid,svc,op,t0,t1,traceId\n"
        "4bf92f3577b34da6a3ce929d0e0e4736,00f067aa0ba902b7,,frontend,GET /,"
        "1717430400000000,1717430400250000,ignored\n")


def test_map_names_the_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "odd.csv", _ODD)
    column_map = {"tid": "trace_id", "sid": "span_id", "psid": "parent_span_id",
                  "svc": "service", "op": "operation", "t0": "time", "t1": "end"}
    rows = normalized_rows(path, fmt="tabular_spans", column_map=column_map)
    step = rows["steps"][0]
    assert step["uid"] == "otel:span:4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7"
    assert step["component"] == "otel:operation:frontend/GET /"
    assert (step["started_at"], step["ended_at"]) == (
        "2024-06-03T16:00:00+00:00", "2024-06-03T16:00:00.250000+00:00")
    assert step["detail"]["traceId"] == "ignored"  # the spelled column lost to the map


def test_map_with_an_unknown_field_fails_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "odd.csv", _ODD)
    rows = normalized_rows(path, fmt="tabular_spans", column_map={"svc": "servce"})
    assert rows["rejects"] == [{"location": "file", "reason": (
        f"not readable as tabular_spans: {path}: --map svc=servce: unknown field 'servce'. "
        "Did you mean 'service'? Fields: " + ", ".join(tab.FIELDS) + ".")}]


def test_rejects_name_the_line_and_the_column(tmp_path: Path) -> None:
    lines = OTELCOL.read_text().splitlines()
    # A quoted message over two lines moves every later line number by one.
    lines[3] = lines[3].replace("STATUS_CODE_UNSET,,", 'STATUS_CODE_UNSET,"two\nlines",', 1)
    lines[4] = lines[4].replace("1717430400015330000", "yesterday")
    lines[6] = lines[6].replace(",1d5b1f2f6f6c4a39,", ",,")
    lines[7] = lines[7].replace("4bf92f3577b34da6a3ce929d0e0e4736", "0" * 32)
    path = _write(tmp_path, "broken.csv", "\n".join(lines) + "\n")
    rows = normalized_rows(path)
    assert rows["rejects"] == [
        {"location": "line 6", "reason": "column 'startTimeUnixNano': expected epoch "
         "s/ms/µs/ns or an ISO-8601 time, got 'yesterday'"},
        {"location": "line 8", "reason": "column 'spanId': expected a non-empty, non-zero "
         "span id, got ''"},
        {"location": "line 9", "reason": "column 'traceId': expected a non-empty, non-zero "
         "trace id, got '00000000000000000000000000000000'"},
    ]
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (9, 6)
    second = [s for s in rows["steps"] if s["uid"].endswith("53995c3f42cd8ad8")][0]
    assert (second["location"], second["error"]) == ("line 4", "two\nlines")


def _without(rows: dict[str, Any], drop: set[str]) -> dict[str, Any]:
    return {t: [{k: v for k, v in r.items() if k not in drop} for r in rs]
            for t, rs in rows.items() if t in ("steps", "runs", "links", "keys")}


def test_same_rows_as_the_otlp_ingestor() -> None:
    # Line 2 of the CSV is the span of the OTLP example (opentelemetry-proto examples/trace.json).
    otlp = normalized_rows(FIXTURES / "otlp_json" / "otlp_proto_example_trace.json")
    table = normalized_rows(OTELCOL)
    mine = {t: [r for r in rs if "5b8efff798038103d269b633813fc60c" in str(r)]
            for t, rs in table.items() if isinstance(rs, list)}
    assert _without(mine, {"location"}) == _without(otlp, {"location"})
    assert {r["location"] for r in mine["steps"]} == {"line 2"}


@pytest.mark.parametrize("path", fixture_files("tabular_spans"), ids=lambda p: p.name)
def test_fast_path_equals_add_spans(path: Path) -> None:
    fast = normalized_rows(path)
    reference = normalized_rows(path, reference_path=True)
    assert fast == reference


def test_gzip_gives_the_same_rows(tmp_path: Path) -> None:
    gz = tmp_path / "otelcol_spans.csv.gz"
    with open(OTELCOL, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    plain, zipped = normalized_rows(OTELCOL), normalized_rows(gz)
    assert zipped["source"]["format"] == "tabular_spans"
    assert _without(zipped, set()) == _without(plain, set())


def test_small_blocks_give_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many blocks/batches: parents are still found across block boundaries.
    whole = {p: normalized_rows(p) for p in (OTELCOL, RCA, LAKE)}
    monkeypatch.setattr(tab, "BLOCK_BYTES", 300)
    monkeypatch.setattr(tab, "PARQUET_ROWS", 2)
    for path, rows in whole.items():
        assert normalized_rows(path) == rows, path.name


@pytest.mark.parametrize(("column", "values", "expected"), [
    ("statusCode", ["STATUS_CODE_ERROR", "Error", "2", "STATUS_CODE_OK", "Ok", "", "UNSET"],
     ["failed", "failed", "failed", "ok", "ok", "ok", "ok"]),
    ("status_code", ["500", "503.0", "404", "200", "DEADLINE_EXCEEDED", "Cancelled", "weird"],
     ["failed", "failed", "ok", "ok", "timed_out", "cancelled", "unknown"]),
    ("error", ["true", "1", "false", "0", "", "True", "no"],
     ["failed", "failed", "ok", "ok", "ok", "failed", "ok"]),
])
def test_status_spellings(tmp_path: Path, column: str, values: list[str], expected: list[str]
                          ) -> None:
    lines = [f"traceId,spanId,kind,{column}"]
    lines += [f"4bf92f3577b34da6a3ce929d0e0e4736,{i + 1:016x},SPAN_KIND_SERVER,{v}"
              for i, v in enumerate(values)]
    rows = normalized_rows(_write(tmp_path, "s.csv", "\n".join(lines) + "\n"))
    got = {int(s["uid"][-16:], 16): s["status"] for s in rows["steps"]}
    assert [got[i + 1] for i in range(len(values))] == expected
    assert {s["status"] for s in rows["runs"]} <= set(expected)


@pytest.mark.parametrize(("kind", "expected"), [
    ("SPAN_KIND_CONSUMER", "consumer"), ("Server", "server"), ("3", "client"),
    ("producer", "producer"), ("", "unspecified"), ("SpanKind.INTERNAL", "internal"),
])
def test_kind_spellings(tmp_path: Path, kind: str, expected: str) -> None:
    path = _write(tmp_path, "k.csv", f"traceId,spanId,span.kind\n4bf9,00f0,{kind}\n")
    assert normalized_rows(path)["steps"][0]["step_type"] == expected


def test_repeated_header_line_is_skipped(tmp_path: Path) -> None:
    text = OTELCOL.read_text()
    path = _write(tmp_path, "cat.csv", text + text)  # two exports concatenated
    rows = normalized_rows(path)
    assert rows["source"]["skipped"] == 1
    assert rows["source"]["loaded"] == 18


@pytest.mark.parametrize(("header", "shape"), [
    (b"traceId,spanId,parentSpanId,name,startTimeUnixNano\n", "spans"),
    (b"TraceID\tSpanID\tParentID\tPodName\n", "spans"),
    (b"trace.trace_id,trace.span_id,message\n", "logs"),  # ids but no span structure
    (b"timestamp,TraceID,SpanID,PodName,message\n", "logs"),
    (b"@timestamp,log.level,message\n", "logs"),
    (b"id,name,price\n", None),
    (b'{"traceId":"a","spanId":"b"}\n', None),
])
def test_sniff_by_header(header: bytes, shape: str | None) -> None:
    assert tab.sniff_shape(header, "x.csv") == shape


def test_parquet_is_sniffed_from_its_footer() -> None:
    head = Source(LAKE).head()
    assert head.startswith(b"PAR1")
    assert tabular_spans.sniff(head, str(LAKE))
    assert not tabular_spans.sniff(b"PAR1" + b"\0" * 100, "/nonexistent.parquet")


CLICKHOUSE = FIXTURES / "tabular_spans" / "clickhouse_otel_traces.csv"


def test_clickhouse_attribute_maps_links_and_events(tmp_path: Path) -> None:
    rows = normalized_rows(CLICKHOUSE)
    t = "a8f1c7e2b9d04e6f8a1b2c3d4e5f6071"
    keys = {(k["entity_uid"][-16:], k["kind"], k["value"]) for k in rows["keys"]}
    # SpanAttributes are attributes: the key rules and messaging keys see inside the map.
    assert ("4d5e6f708192a3b4", "message_id", "order-7c1e/0/52341") in keys
    assert ("4d5e6f708192a3b4", "channel", "kafka:topic:orders") in keys
    run = [r for r in rows["runs"] if r["uid"].endswith("/1a2b3c4d5e6f7081")][0]
    assert run["detail"]["service.version"] == "1.12.0"  # ResourceAttributes go on the run
    assert {(link["src_uid"], link["dst_uid"], link["kind"]) for link in rows["links"]
            if link["evidence"] == "span link"} == {
        (f"otel:span:{t}/4d5e6f708192a3b4",
         "otel:span:0c9e4b1d2f3a45b6c7d8e9f0a1b2c3d4/6f708192a3b4c5d6", "follows_from")}
    assert not any(k.startswith(("Events.", "Links.")) for s in rows["steps"]
                   for k in s["detail"])
    # With no status message, the exception event names the error (as OTLP reads events).
    text = CLICKHOUSE.read_text().replace('"Npgsql.PostgresException: 53300: sorry, too many '
                                          'clients already"', '""')
    rows = normalized_rows(_write(tmp_path, "ch.csv", text))
    failed = [s for s in rows["steps"] if s["status"] == "failed"]
    assert [s["error"] for s in failed] == ["53300: sorry, too many clients already"]


def test_parquet_map_columns_are_attributes(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({
        "TraceId": ["4bf92f3577b34da6a3ce929d0e0e4736"], "SpanId": ["00f067aa0ba902b7"],
        "ParentSpanId": [""], "Timestamp": pa.array([1717430400_000000], pa.timestamp("us")),
        "Duration": [5_000_000],
        "ResourceAttributes": pa.array([[("service.name", "cart")]],
                                       pa.map_(pa.string(), pa.string())),
        "SpanAttributes": pa.array([[("messaging.message.id", "m-1")]],
                                   pa.map_(pa.string(), pa.string())),
    }), path)
    rows = normalized_rows(path)
    step = rows["steps"][0]
    assert step["component"] == "otel:operation:cart/"  # service.name from the resource map
    assert ("message_id", "m-1") in {(k["kind"], k["value"]) for k in rows["keys"]}
    assert step["ended_at"] == "2024-06-03T16:00:00.005000+00:00"  # ns: ISO start, big ints


def test_parquet_rejects_name_the_row(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(LAKE)
    spans = table["span_id"].to_pylist()
    spans[2] = None  # row 3 lost its span id
    path = tmp_path / "broken.parquet"
    pq.write_table(table.set_column(1, "span_id", pl.Series(spans).to_arrow()), path)
    rows = normalized_rows(path)
    assert rows["rejects"] == [{"location": "row 3", "reason": "column 'span_id': expected a "
                                "non-empty, non-zero span id, got ''"}]
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (9, 8)


def test_odd_cells_cost_their_row_and_a_nul_byte_leaves_the_header_alone(tmp_path: Path
                                                                          ) -> None:
    lines = OTELCOL.read_text().splitlines()
    lines[2] = lines[2].replace("1717430400000000000", "1e25", 1)  # a float past any time
    lines[3] = lines[3].replace("STATUS_CODE_UNSET", "STATUS\x00CODE", 1)
    path = _write(tmp_path, "odd.csv", "\n".join(lines) + "\n")
    rows = normalized_rows(path, fmt="tabular_spans")
    assert rows["rejects"] == [
        {"location": "line 3", "reason": "column 'startTimeUnixNano': expected epoch "
         "s/ms/µs/ns or an ISO-8601 time, got '1e25'"}]
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (9, 8)


def test_corrupt_parquet_is_one_reject_saying_so(tmp_path: Path) -> None:
    data = bytearray(LAKE.read_bytes())
    data[-12:-8] = b"\xff\xff\xff\x7f"  # the footer length points outside the file
    path = tmp_path / "lake.parquet"
    path.write_bytes(bytes(data))
    rows = normalized_rows(path, fmt="tabular_spans")
    assert (rows["source"]["records"], rows["source"]["rejected"]) == (1, 1)
    (reject,) = rows["rejects"]
    assert reject["location"] == "file"
    assert reject["reason"].startswith("not readable as tabular_spans: not a readable Parquet "
                                       "file: ")


def test_invalid_utf8_in_parquet_text_is_replaced_not_a_crash(tmp_path: Path) -> None:
    # pyarrow does not check Parquet text and Polars trusts it: reading such a column ended
    # the process with a Rust panic (found by scripts/fuzz_long.py on tabular_spans).
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(LAKE)
    for column in ("name", "service.name"):  # plain and dictionary-encoded text
        values = table.column(column).combine_chunks()
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        raw = [b"\xffbad" if i == 0 else v.encode()
               for i, v in enumerate(values.to_pylist())]
        broken = pa.array(raw, type=pa.binary()).view(pa.string())
        if column == "service.name":
            broken = broken.dictionary_encode()
        table = table.set_column(table.schema.get_field_index(column), column, broken)
    path = tmp_path / "bad_text.parquet"
    pq.write_table(table, path)
    rows = normalized_rows(path)
    fine = normalized_rows(LAKE)
    assert (rows["source"]["loaded"], rows["source"]["rejected"]) == (
        fine["source"]["loaded"], 0)
    names = [r["name"] for r in rows["runs"] + rows["steps"]]
    components = {r["component"] for r in rows["runs"] + rows["steps"]}
    assert "\ufffdbad" in names and "otel:service:\ufffdbad" in components


def test_parquet_metadata_that_is_not_utf8_is_ignored(tmp_path: Path) -> None:
    # A flipped byte in a metadata key made Polars panic (scripts/fuzz_long.py, tabular_spans).
    import pyarrow.parquet as pq

    table = pq.read_table(LAKE)
    path = tmp_path / "bad_meta.parquet"
    pq.write_table(table.replace_schema_metadata({b"A\xffROW:note": b"\xfe"}), path)
    rows = normalized_rows(path)
    assert rows["source"]["loaded"] == normalized_rows(LAKE)["source"]["loaded"]
    assert "rejects" not in rows


def test_ids_written_as_hex_of_their_bytes_are_those_bytes(tmp_path: Path) -> None:
    # Binary id columns exported as text: PostgreSQL bytea (`\x` + hex, its default output)
    # and hex literals (`0x...`) are the raw bytes, so they join with plain hex ids; an
    # all-zero id is no id, and a prefix with too many digits is just text (hashed).
    path = _write(tmp_path, "bytea.csv",
                  "trace_id,span_id,parent_span_id,service_name,name,start_time_us,duration_us\n"
                  "\\x4bf92f3577b34da6a3ce929d0e0e4736,0x00F067AA0BA902B7,\\x0000000000000000,"
                  "frontend,GET /,1717430400000000,250000\n"
                  "\\x4bf92f3577b34da6a3ce929d0e0e4736,\\x53995c3f42cd8ad8,0x00F067AA0BA902B7,"
                  "cart,GetCart,1717430400010000,5000\n"
                  "0x4bf92f3577b34da6a3ce929d0e0e4736ff,\\x53995c3f42cd8ad9,,cart,Other,"
                  "1717430400010000,5000\n")
    rows = normalized_rows(path)
    assert (rows["source"]["loaded"], rows["source"]["rejected"]) == (3, 0)
    tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    steps = _steps(rows)
    root = steps[f"otel:span:{tid}/00f067aa0ba902b7"]
    assert "parent_uid" not in root
    assert steps[f"otel:span:{tid}/53995c3f42cd8ad8"]["parent_uid"] == root["uid"]
    hashed = _sha("0x4bf92f3577b34da6a3ce929d0e0e4736ff", 16)
    assert f"otel:span:{hashed}/53995c3f42cd8ad9" in steps


def test_trace_ids_written_as_uuids_are_their_16_bytes(tmp_path: Path) -> None:
    # Stores that keep trace ids in a UUID column print them 8-4-4-4-12: the same 16 bytes as
    # the hex id other sources write; a span id in that form is not 8 bytes, so it is text.
    path = _write(tmp_path, "uuid.csv",
                  "trace_id,span_id,service_name,name,start_time_us,duration_us\n"
                  "4BF92F35-77B3-4DA6-A3CE-929D0E0E4736,00f067aa0ba902b7,frontend,GET /,"
                  "1717430400000000,250000\n"
                  "00000000-0000-0000-0000-000000000000,53995c3f42cd8ad8,cart,GetCart,"
                  "1717430400010000,5000\n")
    rows = normalized_rows(path)
    src = rows["source"]
    assert (src["loaded"], src["rejected"]) == (1, 1)
    (step,) = rows["steps"]
    assert step["uid"] == "otel:span:4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7"
    assert step["detail"]["trace_id"] == "4BF92F35-77B3-4DA6-A3CE-929D0E0E4736"
