"""Jaeger JSON: the same rows as OTLP for the same spans, ids, references, errors, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from ingest import jaeger_json
from ingest.base import Source
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "jaeger_json"
QUERY_API = HERE / "jaeger_query_api_otlp2jaeger_out.json"
UI_MODEL = HERE / "jaeger_ui_model_trace_ui_01.json"
ANONYMIZED = HERE / "jaeger_anonymizer_spans_array.json"
GRPCURL = HERE / "jaeger_api_v2_grpcurl_get_trace.json"
V3 = HERE / "jaeger_api_v3_get_trace.json"
UI_TRACE_STATE = HERE / "jaeger_ui_trace_state_flamegraph.json"
OTLP_TWIN = FIXTURES / "otlp_json" / "jaeger_fixture_otlp2jaeger_in.otlp.json"

SPAN_COLUMNS = ("uid", "component", "parent_uid", "status", "started_at", "ended_at",
                "step_type", "run_uid", "error")
RUN_COLUMNS = ("uid", "component", "parent_uid", "status", "started_at", "ended_at", "name")


def _pick(rows: list[dict[str, Any]], cols: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.get(c) for c in cols) for r in rows)


def _by_uid(rows: dict[str, Any], table: str = "steps") -> dict[str, dict[str, Any]]:
    return {r["uid"]: r for r in rows[table]}


def _links(rows: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(x["src_uid"], x["kind"], x["dst_uid"]) for x in rows.get("links", [])}


def test_query_api_gives_the_rows_otlp_gives_for_the_same_trace() -> None:
    jaeger, otlp = normalized_rows(QUERY_API), normalized_rows(OTLP_TWIN)
    assert _pick(jaeger["steps"], SPAN_COLUMNS) == _pick(otlp["steps"], SPAN_COLUMNS)
    assert _pick(jaeger["runs"], RUN_COLUMNS) == _pick(otlp["runs"], RUN_COLUMNS)
    assert _links(jaeger) == _links(otlp)
    keys = sorted((k["entity_uid"], k["kind"], k["value"]) for k in jaeger["keys"])
    assert keys == sorted((k["entity_uid"], k["kind"], k["value"]) for k in otlp["keys"])
    # otel.scope.name and span.kind tags fold back into scope and kind, so detail agrees too.
    assert [s["detail"] for s in jaeger["steps"]] == [s["detail"] for s in otlp["steps"]]
    step = jaeger["steps"][0]
    assert step["uid"] == "otel:span:83a9efd15c1c98a977e0711cc93ee28b/e127af99e3b3e074"
    assert step["component"] == "otel:operation:telemetrygen/okey-dokey-0"
    assert step["step_type"] == "server"


def test_64_bit_trace_ids_are_padded_to_128_bits() -> None:
    rows = normalized_rows(ANONYMIZED)
    tid = "00000000000000002be38093ead7a083"
    assert set(_by_uid(rows)) == {f"otel:span:{tid}/7606ddfe69932d34",
                                  f"otel:span:{tid}/7bd66f09ba90ea3d"}
    assert {k["value"] for k in rows["keys"] if k["kind"] == "trace_id"} == {tid}
    ui = normalized_rows(UI_MODEL)
    assert f"otel:span:{'0' * 31}1/0000000000000005" in _by_uid(ui)


def test_inline_process_gives_the_service_and_child_of_the_parent() -> None:
    steps = _by_uid(normalized_rows(ANONYMIZED))
    tid = "00000000000000002be38093ead7a083"
    child = steps[f"otel:span:{tid}/7bd66f09ba90ea3d"]
    assert child["component"] == "otel:operation:3c220036602f839e/471418097747d04a"
    assert child["parent_uid"] == f"otel:span:{tid}/7606ddfe69932d34"
    assert child["step_type"] == "client"


def test_follows_from_is_a_span_link_and_the_first_child_of_in_the_trace_the_parent() -> None:
    rows = normalized_rows(UI_MODEL)
    t = "0" * 31 + "1"
    span = _by_uid(rows)[f"otel:span:{t}/0000000000000004"]
    # references: CHILD_OF into trace ff (another trace), CHILD_OF 2, FOLLOWS_FROM 2
    assert span["parent_uid"] == f"otel:span:{t}/0000000000000002"
    links = _links(rows)
    dst = f"otel:span:{t}/0000000000000004"
    assert (f"otel:span:{t}/0000000000000002", "follows_from", dst) in links
    assert (f"otel:span:{'0' * 30}ff/00000000000000ff", "follows_from", dst) in links
    assert (f"otel:span:{t}/0000000000000002", "calls", dst) in links  # service-x -> service-y


def test_error_tag_true_as_bool_or_string_fails_the_span(tmp_path: Path) -> None:
    steps = _by_uid(normalized_rows(ANONYMIZED))
    tid = "00000000000000002be38093ead7a083"
    # type "bool" with the string value "true", as the anonymizer writes it
    assert steps[f"otel:span:{tid}/7bd66f09ba90ea3d"]["status"] == "failed"
    assert steps[f"otel:span:{tid}/7606ddfe69932d34"]["status"] == "ok"
    doc = json.loads(QUERY_API.read_text())
    span = doc["data"][0]["spans"][0]
    span["tags"].append({"key": "error", "type": "string", "value": "true"})
    doc["data"][0]["spans"] = [span]
    path = tmp_path / "error_string.json"
    path.write_text(json.dumps(doc))
    rows = normalized_rows(path)
    assert [s["status"] for s in rows["steps"]] == ["failed"]
    assert "error" not in rows["steps"][0]["detail"]  # folded into the status
    statuses = sorted(s["status"] for s in normalized_rows(UI_MODEL)["steps"])
    assert statuses == ["failed", "ok", "ok", "ok", "ok"]  # error: true (bool) on one span


def test_protobuf_json_shape_shared_span_ids_and_error_logs() -> None:
    rows = normalized_rows(GRPCURL)
    t = "00000000000000000e4af70afda1d294"
    steps = _by_uid(rows)
    client = steps[f"otel:span:{t}/0000000000000002"]
    (server,) = [s for s in rows["steps"] if s["component"] == "otel:operation:orders/get /orders"]
    assert client["step_type"] == "client" and server["step_type"] == "server"
    assert server["uid"] != client["uid"]
    assert server["parent_uid"] == client["uid"]
    assert (client["uid"], "calls", server["uid"]) in _links(rows)
    # the server-side child of the shared id hangs under the server half
    assert steps[f"otel:span:{t}/0000000000000003"]["parent_uid"] == server["uid"]
    assert server["status"] == "failed"
    assert server["error"] == "inventory did not answer in 150ms"  # log with event: error
    assert server["started_at"] == "2024-03-05T09:12:44.115000+00:00"
    assert server["ended_at"] == "2024-03-05T09:12:44.305000+00:00"  # "0.190000s"
    assert steps[f"otel:span:{t}/0000000000000003"]["ended_at"].endswith("44.270000+00:00")
    assert {k["value"] for k in rows["keys"]
            if k["entity_uid"] == server["uid"] and k["kind"] == "span_id"} >= {
        "0000000000000002"}
    assert steps[f"otel:span:{t}/0000000000000001"]["detail"]["host.name"] == "gw-1"


def test_api_v3_result_is_read_as_otlp() -> None:
    rows = normalized_rows(V3)
    t = "0af7651916cd43dd8448eb211c80319c"
    steps = _by_uid(rows)
    server = steps[f"otel:span:{t}/1b2c3d4e5f607182"]
    assert server["component"] == "otel:operation:customer//customer"
    assert server["status"] == "failed" and server["error"] == "customer lookup failed"
    assert (f"otel:span:{t}/9a8b7c6d5e4f3021", "calls", server["uid"]) in _links(rows)
    assert steps[f"otel:span:{t}/4f2c1a9e7b3d5608"].get("parent_uid") is None


def test_api_errors_are_rejected_records(tmp_path: Path) -> None:
    path = tmp_path / "not_found.json"
    path.write_text('{"data": null, "total": 0, "limit": 0, "offset": 0, "errors": '
                    '[{"code": 404, "msg": "trace not found", "traceID": "abc123"}]}')
    rows = normalized_rows(path)
    assert rows["source"]["format"] == "jaeger_json"
    # a one-line document is read as JSON lines: its location is its line
    assert rows["rejects"] == [{"location": "line 1 errors[0]", "reason":
                                "the Jaeger query API reported an error: trace abc123: 404 "
                                "trace not found"}]
    count = tmp_path / "error_count.json"  # not the API's shape: still no crash
    count.write_text('{"data": [], "errors": 1}')
    assert normalized_rows(count, fmt="jaeger_json")["rejects"] == [{
        "location": "line 1 errors[0]", "reason": "the Jaeger query API reported an error: 1"}]
    v3 = tmp_path / "v3_error.json"
    v3.write_text('{"error": {"httpCode": 404, "message": "No traces found"}}')
    rows = normalized_rows(v3)
    assert rows["source"]["format"] == "jaeger_json"
    assert rows["rejects"] == [{"location": "line 1 error", "reason":
                                "the Jaeger api_v3 returned an error, not traces: 404 "
                                "No traces found"}]


def test_a_span_without_ids_is_rejected_where_it_is(tmp_path: Path) -> None:
    doc = json.loads(QUERY_API.read_text())
    del doc["data"][0]["spans"][1]["spanID"]
    doc["data"][0]["spans"][0]["startTime"] = "yesterday"
    path = tmp_path / "bad_spans.json"
    path.write_text(json.dumps(doc, indent=1))
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 2 and rows["source"]["rejected"] == 2
    assert rows["rejects"] == [
        {"location": "document data[0].spans[0]", "reason": "field 'startTime': expected "
         "epoch microseconds or RFC 3339 time, got 'yesterday'"},
        {"location": "document data[0].spans[1]", "reason": "expected a non-zero traceID (16 or "
         "32 hex digits, or base64) and spanID (16 hex digits); got "
         "'83a9efd15c1c98a977e0711cc93ee28b'/None"},
    ]


def test_truncated_document_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(QUERY_API.read_bytes()[:900])
    rows = normalized_rows(path)
    assert rows["source"]["format"] == "jaeger_json"
    assert rows["source"]["records"] == 1 and rows["source"]["rejected"] == 1
    assert rows["rejects"][0]["location"] == "byte 900"  # where the cut file ends
    assert rows["rejects"][0]["reason"] == (
        "expected one JSON document (truncated?): the document ends at byte 900, inside an "
        "unfinished object; no complete record before it")


def test_cut_off_anonymizer_output_is_read_line_by_line(tmp_path: Path) -> None:
    lines = ANONYMIZED.read_bytes().splitlines()
    path = tmp_path / "anonymizer_killed.json"
    # the anonymizer died while writing a third span: no closing bracket, a half line
    path.write_bytes(b"\n".join([lines[0], lines[1] + b",", lines[1][:70]]) + b"\n")
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 3 and rows["source"]["loaded"] == 2
    assert [r["location"] for r in rows["rejects"]] == ["line 3"]
    assert rows["rejects"][0]["reason"].startswith("expected one span object per line (cut off?)")
    # read as one set of spans, so the parent in the other line is still found
    assert {s["parent_uid"][-16:] for s in rows["steps"]} == {"492770a15935810f",
                                                             "7606ddfe69932d34"}
    assert len(rows["runs"]) == 2  # two services: each span is its service's local root


def test_gzip_gives_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "trace.json.gz"
    path.write_bytes(gzip.compress(UI_MODEL.read_bytes()))
    plain, packed = normalized_rows(UI_MODEL), normalized_rows(path)
    assert packed["source"]["format"] == "jaeger_json"
    assert packed["steps"] == plain["steps"] and packed["links"] == plain["links"]


def test_sniff_claims_jaeger_shapes_only() -> None:
    for path in sorted(HERE.glob("*.json")):
        assert jaeger_json.sniff(Source(path).head(), str(path)), path.name
    for other in (OTLP_TWIN, FIXTURES / "zipkin_json" / "zipkin2_messaging_kafka.json",
                  FIXTURES / "kafka_kcat" / "kcat_J_kafkasql_journal_dump.jsonl"):
        assert not jaeger_json.sniff(Source(other).head(), str(other)), other.name
    # kcat -J of the collector's jaeger-spans topic with a JSON-decoded payload is kafka_kcat's
    span = json.loads(ANONYMIZED.read_text())[0]
    envelope = {"topic": "jaeger-spans", "partition": 0, "offset": 7, "tstype": "create",
                "ts": 1605223981761, "broker": 1, "key": None, "payload": span}
    assert not jaeger_json.sniff(json.dumps(envelope).encode(), "dump.jsonl")
    assert jaeger_json.sniff(json.dumps(span).encode(), "spans.jsonl")


def test_an_infinite_start_time_is_that_spans_reject(tmp_path: Path) -> None:
    # Python's json writes Infinity, and tracemap reads it (orjson refuses, the stdlib falls
    # back); the fuzzer found it reached int() (scripts/fuzz_long.py, jaeger_json:4041).
    doc = json.loads(QUERY_API.read_text())
    doc["data"][0]["spans"][0]["startTime"] = float("inf")
    path = tmp_path / "inf.json"
    path.write_text(json.dumps(doc, indent=1))
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 2 and rows["source"]["rejected"] == 1
    assert rows["rejects"] == [{"location": "document data[0].spans[0]", "reason":
                                "field 'startTime': expected epoch microseconds, got inf"}]


def test_ui_trace_state_gives_the_rows_of_the_trace_it_holds() -> None:
    # A trace as the Jaeger UI keeps it (reducers/trace: {data, id, state}), saved verbatim by
    # jaeger-ui: one trace object under data, its spans carrying the UI's denormalized copies
    # of their parents (references[].span) and inline processes, which must not become spans.
    import ingest

    module, rule = ingest.detection(Source(UI_TRACE_STATE))
    assert (module.NAME, rule) == ("jaeger_json", "start of file")
    rows = normalized_rows(UI_TRACE_STATE)
    src = rows["source"]
    assert (src["records"], src["loaded"], src["rejected"], src["skipped"]) == (4, 4, 0, 0)
    assert "rejects" not in rows
    t = "84b3fad94c6112edd6af3347d06f6f1d"
    order, http, bike, nearest = (f"otel:span:{t}/{s}" for s in (
        "487f03177ef9cf89", "d81ccf159d71bc66", "3d4670fa91902216", "7bc101ef51dbc40c"))
    assert _pick(rows["steps"], ("uid", "component", "parent_uid", "status", "started_at",
                                 "ended_at", "step_type", "location")) == sorted([
        (order, "otel:operation:load-generator/OrderVehicle", None, "ok",
         "2022-08-09T12:55:22.779884+00:00", "2022-08-09T12:55:23.961480+00:00", "unspecified",
         "document data.spans[0]"),
        (http, "otel:operation:load-generator/HTTP GET", order, "ok",
         "2022-08-09T12:55:22.993018+00:00", "2022-08-09T12:55:23.961352+00:00", "client",
         "document data.spans[1]"),
        (bike, "otel:operation:ride-sharing-app/BikeHandler", http, "ok",
         "2022-08-09T12:55:22.993895+00:00", "2022-08-09T12:55:23.960961+00:00", "server",
         "document data.spans[2]"),
        (nearest, "otel:operation:ride-sharing-app/FindNearestVehicle", bike, "ok",
         "2022-08-09T12:55:22.994061+00:00", "2022-08-09T12:55:23.960394+00:00", "unspecified",
         "document data.spans[3]")])
    assert _pick(rows["runs"], ("uid", "component", "parent_uid")) == [
        (f"otel:run:{t}/3d4670fa91902216", "otel:service:ride-sharing-app", http),
        (f"otel:run:{t}/487f03177ef9cf89", "otel:service:load-generator", None)]
    assert (http, "calls", bike) in _links(rows)
    assert {k["value"] for k in rows["keys"] if k["kind"] == "trace_id"} == {t}
