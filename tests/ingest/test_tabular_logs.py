"""tabular_logs: log tables become logs rows attached to their spans, levels read from text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.golden import normalized_rows
from tracemap.load import ingest_paths
from tracemap.store import Store

LOGS = FIXTURES / "tabular_logs" / "rca_dataset_logs.csv"
SPANS = FIXTURES / "tabular_spans" / "rca_dataset_spans.csv"


def _log(rows: dict, start: str) -> dict:
    (row,) = [r for r in rows["logs"] if r["body"].startswith(start)]
    return row


@pytest.mark.parametrize(("body", "severity", "spelled"), [
    ('{"severity":"info","message":"request st', "info", "info"),  # JSON inside Docker JSON
    ('time="2024-06-03T16:00:02Z" level=error ', "error", "error"),  # logfmt
    ('{"level":50,"time":1717430402493,"pid":1', "error", "50"),  # pino number
    ('{"level":30,"time":1717430401020,"pid":1', "info", "30"),
    ("[WARN] retrying PaymentService/Charge (a", "warn", "WARN"),
    ("E0603 16:00:03.000512       1 reflector", "error", "E"),  # klog
    ("2024/06/03 16:00:03 [error] 31#31: *4172", "error", "error"),  # nginx
    ("2024-06-03 16:00:02,800 INFO [grpc-defau", "info", "INFO"),  # log4j layout
    ("Traceback (most recent call last):", "error", "Traceback"),
    ("java.net.SocketTimeoutException: Read ti", "error", "Exception"),
    ("panic: runtime error: invalid memory add", "fatal", "panic"),  # CRI line, Go panic
])
def test_level_read_from_the_docker_json_text(body: str, severity: str, spelled: str) -> None:
    row = _log(normalized_rows(LOGS), body)
    assert row["severity"] == severity
    assert row["detail"]["severity_text"] == spelled
    assert row["detail"]["severity_source"] == "message"
    assert "severity_number" not in row  # no OTel number was given


def test_docker_and_cri_lines_are_unwrapped() -> None:
    rows = normalized_rows(LOGS)
    docker = _log(rows, "Traceback (most recent call last):")
    assert docker["body"] == "Traceback (most recent call last):"  # the "\n" Docker kept, cut
    assert docker["detail"]["stream"] == "stderr"
    # No timestamp cell: the time is the Docker line's (ns cut to µs).
    assert docker["time"] == "2024-06-03T16:00:02.611000+00:00"
    assert docker["service"] == "emailservice"
    cri = _log(rows, "1:M 03 Jun 2024 16:00:03.100 * Background")
    assert (cri["detail"]["stream"], cri["severity"], cri["service"]) == (
        "stdout", "unknown", "redis-cart")


def test_logs_attach_to_the_spans_of_the_same_dataset(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "t.duckdb"))
    try:
        result = ingest_paths(store, [str(SPANS), str(LOGS)])
        assert [s.format for s in result.sources] == ["tabular_spans", "tabular_logs"]
        attached = store.rows(
            "SELECT s.component, l.severity, l.body FROM logs l JOIN steps s "
            "ON l.entity_uid = s.uid ORDER BY l.time")
        with_ids = store.rows("SELECT count(*) AS n FROM logs WHERE span_id IS NOT NULL")
    finally:
        store.close()
    assert len(attached) == with_ids[0]["n"] == 7
    errors = [(a["component"], a["body"][:30]) for a in attached if a["severity"] == "error"]
    assert errors == [
        ("otel:operation:paymentservice/hipstershop.PaymentService/Charge",
         '{"level":50,"time":17174304024'),
        ("otel:operation:checkoutservice/hipstershop.CheckoutService/PlaceOrder",
         'time="2024-06-03T16:00:02Z" le'),
        ("otel:operation:frontend/HTTP POST /cart/checkout", '{"severity":"error","message":'),
    ]


def test_level_column_spellings(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("ts,severity,msg\n" + "".join(
        f"2024-06-03T16:00:0{i}Z,{level},m{i}\n" for i, level in enumerate(
            ["WARNING", "err", "30", "17", "INFO2", "", "Critical", "bogus"])))
    rows = normalized_rows(path, fmt="tabular_logs")
    got = {r["body"]: (r["severity"], r.get("severity_number")) for r in rows["logs"]}
    assert got == {
        "m0": ("warn", None), "m1": ("error", None), "m2": ("info", None),  # pino 30
        "m3": ("error", 17),  # an OTel SeverityNumber is kept as such
        "m4": ("info", None), "m5": ("unknown", None), "m6": ("fatal", None),
        "m7": ("unknown", None),
    }


def test_unreadable_time_is_rejected_with_its_line(tmp_path: Path) -> None:
    lines = LOGS.read_text().splitlines()
    lines[2] = "yesterday" + lines[2][len("1717430401010"):]
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(lines) + "\n")
    rows = normalized_rows(path)
    assert rows["rejects"] == [{"location": "line 3", "reason": "column 'timestamp': expected "
                                "epoch s/ms/µs/ns or an ISO-8601 time, got 'yesterday'"}]
    assert rows["source"]["loaded"] == 14


def test_map_names_message_and_level(tmp_path: Path) -> None:
    path = tmp_path / "loki.csv"
    path.write_text('when,lbl_level,text\n1717430400123456789,error,"boom, again"\n')
    rows = normalized_rows(path, fmt="tabular_logs",
                           column_map={"when": "time", "lbl_level": "level", "text": "message"})
    log = rows["logs"][0]
    assert (log["time"], log["severity"], log["body"]) == (
        "2024-06-03T16:00:00.123456+00:00", "error", "boom, again")
    assert json.dumps(log["detail"]) == '{"severity_text": "error"}'


def test_clickhouse_otel_logs(tmp_path: Path) -> None:
    # SELECT ... FROM otel_logs FORMAT CSVWithNames (collector clickhouse exporter).
    path = tmp_path / "otel_logs.csv"
    path.write_text(
        '"Timestamp","TraceId","SpanId","SeverityText","SeverityNumber","ServiceName","Body",'
        '"ResourceAttributes","LogAttributes"\n'
        '"2024-06-03 16:05:01.215801003","a8f1c7e2b9d04e6f8a1b2c3d4e5f6071","5e6f708192a3b4c5",'
        '"fail",18,"accounting","Order processing failed",'
        '"{\'service.name\':\'accounting\',\'k8s.pod.name\':\'accounting-0\'}",'
        '"{\'order.id\':\'order-7c1e\',\'exception.type\':\'Npgsql.PostgresException\'}"\n')
    log = normalized_rows(path)["logs"][0]
    assert (log["severity"], log["severity_number"], log["service"]) == ("error", 18, "accounting")
    assert log["entity_uid"] == ("otel:span:a8f1c7e2b9d04e6f8a1b2c3d4e5f6071/"
                                 "5e6f708192a3b4c5")
    assert log["time"] == "2024-06-03T16:05:01.215801+00:00"
    assert (log["detail"]["order.id"], log["detail"]["k8s.pod.name"]) == (
        "order-7c1e", "accounting-0")  # the maps, flattened


OTLP2PARQUET = FIXTURES / "tabular_logs" / "otlp2parquet_logs.parquet"
OTLP_LOGS = (FIXTURES / "otlp_logs_json" / "otlp_proto_example_logs.json",
             FIXTURES / "otlp_logs_json" / "collector_file_exporter_logs.jsonl")
SAME = ("entity_uid", "trace_id", "span_id", "service", "time", "severity", "severity_number",
        "body")


def test_binary_ids_and_any_value_bodies_give_the_otlp_rows() -> None:
    """otlp2parquet's FixedSizeBinary ids are hex, its AnyValue bodies their value: the rows
    equal those the OTLP/JSON ingestor makes of the same records."""
    parquet = normalized_rows(OTLP2PARQUET)
    assert parquet["source"]["records"] == parquet["source"]["loaded"] == 5
    otlp = [r for p in OTLP_LOGS for r in normalized_rows(p)["logs"]]
    def same(rows: list[dict]) -> list[tuple]:
        return sorted(tuple(str(r.get(k)) for k in SAME) for r in rows)
    assert same(parquet["logs"]) == same(otlp)
    first = next(r for r in parquet["logs"] if r["body"] == "Example log record")
    assert (first["trace_id"], first["span_id"]) == ("5b8efff798038103d269b633813fc60c",
                                                     "eee19b7ec3c1b174")
    assert first["detail"]["string.attribute"] == "some string"  # map of AnyValue, unwrapped


def test_binary_id_columns_in_a_span_table_are_hex(tmp_path: Path) -> None:
    """A span table whose ids are FixedString/FixedSizeBinary loads as its hex twin."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    lake = FIXTURES / "tabular_spans" / "lake_spans.parquet"
    table = pq.read_table(lake)
    for name, size in (("trace_id", 16), ("span_id", 8), ("parent_id", 8)):
        raw = [None if v is None else bytes.fromhex(v.rjust(2 * size, "0"))
               for v in table[name].to_pylist()]
        table = table.set_column(table.schema.get_field_index(name), name,
                                 pa.array(raw, pa.binary(size)))
    pq.write_table(table, tmp_path / "binary_ids.parquet")
    got, want = normalized_rows(tmp_path / "binary_ids.parquet"), normalized_rows(lake)
    assert got["source"]["rejected"] == 0
    assert got["steps"] == want["steps"] and got["runs"] == want["runs"]


def test_text_written_as_parquet_binary_stays_text(tmp_path: Path) -> None:
    """ClickHouse writes String columns as BYTE_ARRAY without a UTF-8 annotation: hex text in
    a binary column is the id itself, not bytes to encode again."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "Timestamp": pa.array([b"2024-06-03 16:01:42.001"], pa.binary()),
        "TraceId": pa.array([b"4bf92f3577b34da6a3ce929d0e0e4736"], pa.binary()),
        "SpanId": pa.array([b"00f067aa0ba902b7"], pa.binary()),
        "SeverityText": pa.array([b"ERROR"], pa.binary()),
        "Body": pa.array([b"payment declined"], pa.binary()),
    })
    pq.write_table(table, tmp_path / "clickhouse_binary_strings.parquet")
    (row,) = normalized_rows(tmp_path / "clickhouse_binary_strings.parquet")["logs"]
    assert (row["trace_id"], row["span_id"], row["severity"], row["body"]) == (
        "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "error", "payment declined")


def test_a_column_type_no_reader_expects_is_a_data_reject_not_a_bug(tmp_path: Path) -> None:
    """A time column holding durations cannot be read as times: the file is refused with the
    column types named, never as an internal error."""
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "durations.parquet"
    pq.write_table(pa.table({"time": pa.array([datetime.timedelta(seconds=5)]),
                             "level": ["info"], "message": ["started"]}), path)
    rows = normalized_rows(path)
    assert (rows["source"]["records"], rows["source"]["rejected"]) == (1, 1)
    (reject,) = rows["rejects"]
    assert "bug in tracemap" not in reject["reason"]
    assert reject["reason"].startswith("not readable as tabular_logs: a column type this reader "
                                       "cannot use (")
    assert "columns: time: Duration(time_unit='us'), level: String, message: String." in (
        reject["reason"])
