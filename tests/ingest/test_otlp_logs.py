"""OTLP logs (JSON and protobuf): records attach to spans, severities fold, encodings agree."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from ingest import otlp_logs_json, otlp_logs_proto, otlp_proto
from ingest.base import Source
from tests.conftest import FIXTURES
from tests.golden import counts_and_rejects, normalized_rows
from tracemap.load import ingest_paths
from tracemap.store import Store

EXAMPLE = FIXTURES / "otlp_logs_json" / "otlp_proto_example_logs.json"
COLLECTOR = FIXTURES / "otlp_logs_json" / "collector_file_exporter_logs.jsonl"
PROTO = FIXTURES / "otlp_logs_proto" / "otlp_proto_example_logs.pb"
ZIPKIN_TRACES = FIXTURES / "zipkin_json" / "zipkin_api_v2_traces_list.json"


def _without(rows: list[dict[str, Any]], *cols: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in cols} for r in rows]


def test_log_records_attach_to_the_span_they_were_written_in() -> None:
    store = Store(":memory:")
    try:
        ingest_paths(store, [str(ZIPKIN_TRACES), str(COLLECTOR)])
        rows = store.rows("SELECT l.body, l.severity, s.uid, s.component, s.status FROM logs l "
                          "JOIN steps s ON s.uid = l.entity_uid ORDER BY l.time")
    finally:
        store.close()
    span = "otel:span:4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7"
    assert rows == [
        {"body": "checkout started for order 8812", "severity": "info", "uid": span,
         "component": "otel:operation:checkout/post /checkout", "status": "failed"},
        {"body": "payment declined", "severity": "error", "uid": span,
         "component": "otel:operation:checkout/post /checkout", "status": "failed"},
    ]


def test_rows_of_the_example_record() -> None:
    (log,) = normalized_rows(EXAMPLE)["logs"]
    assert log["entity_uid"] == "otel:span:5b8efff798038103d269b633813fc60c/eee19b7ec3c1b174"
    assert (log["trace_id"], log["span_id"]) == ("5b8efff798038103d269b633813fc60c",
                                                 "eee19b7ec3c1b174")
    assert (log["severity"], log["severity_number"]) == ("info", 10)
    assert log["service"] == "my.service" and log["body"] == "Example log record"
    assert log["time"] == "2018-12-13T14:51:00.300000+00:00"
    assert log["detail"]["int.attribute"] == 10
    assert log["detail"]["map.attribute"] == {"some.map.key": "some value"}
    assert log["detail"]["severity_text"] == "Information"
    assert log["uid"].startswith("otel:log:")


def test_collector_lines_time_fallback_exceptions_and_map_bodies() -> None:
    rows = normalized_rows(COLLECTOR)
    assert "keys" not in rows  # logs are not entities
    logs = {r["body"]: r for r in rows["logs"]}
    warn = logs["retrying charge"]  # severityText only, observedTimeUnixNano only
    assert (warn["severity"], warn.get("severity_number")) == ("warn", None)
    assert warn["time"] == "2024-06-03T16:01:42.200000+00:00"
    assert warn.get("entity_uid") is None
    error = logs["payment declined"]
    assert error["detail"]["exception.type"] == "com.shop.PaymentDeclinedException"
    assert error["detail"]["service.version"] == "2.4.1"
    fatal = logs['{"event":"charge.failed","attempts":3}']
    assert fatal["severity"] == "fatal"
    assert fatal["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert fatal.get("entity_uid") is None  # a trace id without a span id names no span


@pytest.mark.parametrize(("number", "severity"), [
    (1, "trace"), (4, "trace"), (5, "debug"), (8, "debug"), (9, "info"), (12, "info"),
    (13, "warn"), (16, "warn"), (17, "error"), (20, "error"), (21, "fatal"), (24, "fatal"),
])
def test_severity_numbers_fold_by_range(number: int, severity: str) -> None:
    assert otlp_logs_json.fold_severity(number, None) == severity
    assert otlp_logs_json.fold_severity(number, "ignored when the number says") == severity


@pytest.mark.parametrize(("value", "number"), [
    (10, 10), ("10", 10), ("SEVERITY_NUMBER_INFO2", 10), ("SEVERITY_NUMBER_ERROR", 17),
    ("SEVERITY_NUMBER_FATAL4", 24), ("SEVERITY_NUMBER_UNSPECIFIED", None), (0, None),
    (2**40, None), ("99999999999", None), (-3, None),
])
def test_severity_number_spellings(value: Any, number: int | None) -> None:
    assert otlp_logs_json.severity_number(value) == number


@pytest.mark.parametrize(("text", "severity"), [
    ("Information", "info"), ("WARNING", "warn"), ("ERROR3", "error"), ("CRITICAL", "fatal"),
    ("notice", "info"), ("bogus", "unknown"), (None, "unknown"),
])
def test_severity_text_without_a_number(text: str | None, severity: str) -> None:
    assert otlp_logs_json.fold_severity(None, text) == severity
    assert otlp_logs_json.fold_severity(0, text) == severity


def test_json_and_protobuf_give_the_same_rows() -> None:
    from_json, from_proto = normalized_rows(EXAMPLE), normalized_rows(PROTO)
    assert from_proto["source"]["format"] == "otlp_logs_proto"
    assert from_proto["source"]["records"] == from_json["source"]["records"] == 1
    assert _without(from_proto["logs"], "location") == _without(from_json["logs"], "location")


def test_protobuf_sniffs_apart_from_trace_protobuf() -> None:
    logs_head = Source(PROTO).head()
    traces = FIXTURES / "otlp_proto" / "otlp_proto_example_trace.pb"
    traces_head = Source(traces).head()
    assert otlp_logs_proto.sniff(logs_head, str(PROTO))
    assert not otlp_proto.sniff(logs_head, str(PROTO))
    assert not otlp_logs_proto.sniff(traces_head, str(traces))


def test_gzip_protobuf_and_truncated_protobuf(tmp_path: Path) -> None:
    packed = tmp_path / "logs.pb.gz"
    packed.write_bytes(gzip.compress(PROTO.read_bytes()))
    assert normalized_rows(packed)["logs"] == normalized_rows(PROTO)["logs"]
    cut = tmp_path / "cut.pb"
    cut.write_bytes(PROTO.read_bytes()[:-20])
    rows = normalized_rows(cut)
    assert rows["source"]["format"] == "otlp_logs_proto"
    assert [r["location"] for r in rows["rejects"]] == ["file"]
    assert rows["rejects"][0]["reason"].startswith(
        "expected a protobuf ExportLogsServiceRequest (truncated?)")


def test_bad_records_are_rejected_where_they_are(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    records = doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    records.append({**records[0], "timeUnixNano": "yesterday"})
    records.append("not a record")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc, indent=1))
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 3 and rows["source"]["loaded"] == 1
    where = "document resourceLogs[0].scopeLogs[0].logRecords"
    assert rows["rejects"] == [
        {"location": f"{where}[1]", "reason": "log record has a field of the wrong type: invalid "
         "literal for int() with base 10: 'yesterday'"},
        {"location": f"{where}[2]", "reason": "expected a log record object, got str"},
    ]


def test_odd_shapes_are_rejected_and_the_other_lines_load(tmp_path: Path) -> None:
    first, second = COLLECTOR.read_text().splitlines()
    doc = json.loads(second)
    doc["resourceLogs"][0]["resource"] = "checkout"
    doc["resourceLogs"].append({"scopeLogs": [{"logRecords": 7}]})
    odd = json.loads(first)
    odd["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = 1e300
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join([first[:200], json.dumps(odd), json.dumps(doc)]) + "\n")
    rows = normalized_rows(path, fmt="otlp_logs_json")
    n_second = len(doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"])
    n_first = len(odd["resourceLogs"][0]["scopeLogs"][0]["logRecords"])
    assert rows["source"]["records"] == 1 + n_first + n_second + 1
    assert rows["source"]["loaded"] == n_first - 1
    reasons = {r["location"]: r["reason"] for r in rows["rejects"]}
    assert reasons.pop("line 1").startswith("expected a JSON document per line: ")
    assert reasons.pop("line 2 resourceLogs[0].scopeLogs[0].logRecords[0]") == (
        "log record has a field of the wrong type: time '1e+300' is past the int64 nanoseconds "
        "OTLP uses")
    assert reasons.pop("line 3 resourceLogs[1].scopeLogs[0].logRecords") == (
        "expected a list, got int")
    assert set(reasons.values()) == {"resourceLogs[0].resource: expected an object, got str"}


def test_values_that_are_not_requests_are_rejects_and_empty_requests_are_none(
        tmp_path: Path) -> None:
    first = COLLECTOR.read_text().splitlines()[0]
    n_first = len(json.loads(first)["resourceLogs"][0]["scopeLogs"][0]["logRecords"])
    # {} is an empty request as protobuf's JSON mapping (and so the Collector) writes it.
    lines = [first, "{}", '{"resourceLogs": []}', '{"resourceSpans": []}', "[]"]
    path = tmp_path / "logs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert counts_and_rejects(path, fmt="otlp_logs_json") == ((n_first + 2, n_first, 2, 0), [
        ("line 4", "expected an ExportLogsServiceRequest object with 'resourceLogs', got an "
         "object with keys resourceSpans"),
        ("line 5", "expected an ExportLogsServiceRequest object, got list"),
    ])
    # A whole document forced as logs: Grafana Tempo's trace JSON.
    tempo = FIXTURES / "otlp_json" / "grafana_tempo_download_trace_example.json"
    assert counts_and_rejects(tempo, fmt="otlp_logs_json") == ((1, 0, 1, 0), [
        ("document", "expected an ExportLogsServiceRequest object with 'resourceLogs', got an "
         "object with keys batches")])
