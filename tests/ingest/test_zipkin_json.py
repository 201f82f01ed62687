"""Zipkin v2 JSON: shared span ids, dangling parents, messaging keys, skew, errors, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from ingest import zipkin_json
from ingest._spans import derived_span_id
from ingest.base import Source
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "zipkin_json"
SKEW = HERE / "zipkin2_clock_skew.json"
KAFKA = HERE / "zipkin2_messaging_kafka.json"
RABBIT = HERE / "zipkin2_messaging_rabbitmq.json"
MESSAGING2 = HERE / "zipkin2_messaging2_http_sns_rabbitmq.json"
TRACES = HERE / "zipkin_api_v2_traces_list.json"
YELP = HERE / "zipkin2_yelp_shared_root.json"


def _uid(trace: str, span: str) -> str:
    return f"otel:span:{trace.rjust(32, '0')}/{span}"


def _steps(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["uid"]: r for r in rows["steps"]}


def _keys(rows: dict[str, Any], uid: str) -> set[tuple[str, str]]:
    return {(k["kind"], k["value"]) for k in rows["keys"] if k["entity_uid"] == uid}


def _links(rows: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(x["src_uid"], x["kind"], x["dst_uid"]) for x in rows["links"]}


def test_shared_client_server_id_gives_two_steps_and_a_calls_link() -> None:
    rows = normalized_rows(SKEW)
    steps = _steps(rows)
    tid, shared = "1e223ff1f80f1c69", "74280ae0c10d8062"
    client = steps[_uid(tid, shared)]
    server = steps[_uid(tid, derived_span_id(tid.rjust(32, "0"), shared))]
    assert (client["component"], client["step_type"]) == ("otel:operation:servicea/post", "client")
    assert (server["component"], server["step_type"]) == ("otel:operation:serviceb/post", "server")
    assert server["parent_uid"] == client["uid"]
    assert (client["uid"], "calls", server["uid"]) in _links(rows)
    # the server half is serviceb's run, and keeps the id its B3 headers carried
    assert server["run_uid"] == server["uid"].replace(":span:", ":run:")
    assert ("span_id", shared) in _keys(rows, server["uid"])
    assert server["detail"]["shared_span_id"] == shared
    # serviceb's child of the shared id belongs to the server half, not the client
    assert steps[_uid(tid, "43210ae0c10d1234")]["parent_uid"] == server["uid"]
    assert len(rows["steps"]) == 4 and len({s["uid"] for s in rows["steps"]}) == 4


def test_shared_server_without_its_client_keeps_its_id_and_calls_what_it_called() -> None:
    rows = normalized_rows(YELP)
    steps = _steps(rows)
    tid, routing = "a03ee8fff1dcd9b9", "2e8cfb154b59a41f"
    # the root is a shared SERVER span whose CLIENT half was never reported: it is the only
    # span with its id, so it keeps it (no derived id, no parent, no shared_span_id)
    root = steps[_uid(tid, routing)]
    assert (root["component"], root["step_type"]) == ("otel:operation:routing/post "
                                                      "/location/update/v4", "server")
    assert root.get("parent_uid") is None and "shared_span_id" not in root["detail"]
    assert _uid(tid, derived_span_id(tid.rjust(32, "0"), routing)) not in steps
    # the two services it called (their CLIENT spans name it as parent) hang under it
    assert {(s, d) for s, k, d in _links(rows) if k == "calls" and s == root["uid"]} == {
        (root["uid"], _uid(tid, "f5f268651b2a2b34")),  # yelp-main post
        (root["uid"], _uid(tid, "668ed78ad94b35a1"))}  # unknown post -> api_proxy
    # every link starts from a row that exists
    uids = set(steps) | {r["uid"] for r in rows["runs"]}
    assert {x["src_uid"] for x in rows["links"]} <= uids
    assert {s["parent_uid"] for s in rows["steps"] if s.get("parent_uid")} <= uids
    # shared ids whose CLIENT half is present are still split (mobile_api, spectre, api_proxy)
    for shared in ("f5f268651b2a2b34", "7a778764a0d0b594", "668ed78ad94b35a1"):
        server = steps[_uid(tid, derived_span_id(tid.rjust(32, "0"), shared))]
        assert server["parent_uid"] == _uid(tid, shared)
        assert server["detail"]["shared_span_id"] == shared
    assert len(rows["steps"]) == 16


def test_clock_skew_is_kept_as_recorded() -> None:
    steps = _steps(normalized_rows(SKEW))
    tid = "1e223ff1f80f1c69"
    client = steps[_uid(tid, "74280ae0c10d8062")]
    server = steps[_uid(tid, derived_span_id(tid.rjust(32, "0"), "74280ae0c10d8062"))]
    root = steps[_uid(tid, "bf396325699c84bf")]
    # the server starts 65 ms before the client that called it, and before the root
    assert server["started_at"] == "2016-08-02T15:00:04.008761+00:00"
    assert client["started_at"] == "2016-08-02T15:00:04.074202+00:00"
    assert server["started_at"] < client["started_at"] and server["started_at"] < root["started_at"]
    assert server["ended_at"] == "2016-08-02T15:00:04.102338+00:00"  # timestamp + duration


def test_dangling_parent_stays_and_the_span_is_a_local_root() -> None:
    rows = normalized_rows(MESSAGING2)
    tid = "0d1a94ebc9256244"
    span = _steps(rows)[_uid(tid, "939e2fdc360a1201")]
    assert span["parent_uid"] == _uid(tid, "0153a596db406c83")  # not in the file
    assert span["run_uid"] == span["uid"].replace(":span:", ":run:")
    run = {r["uid"]: r for r in rows["runs"]}[span["run_uid"]]
    assert run["component"] == "otel:service:transfer-service"
    assert run["parent_uid"] == _uid(tid, "0153a596db406c83")


def test_kafka_producer_and_consumer_share_message_key_and_channel() -> None:
    rows = normalized_rows(KAFKA)
    tid = "0562809467078eab"
    producer, consumer = _uid(tid, "2e22a0564764943a"), _uid(tid, "b4a2a87ee7f003bc")
    shared = {("channel", "kafka:topic:messages"),
              ("message_key", "e1b2f8b5-dd1e-11e8-93d1-0050568b53f5")}
    assert shared <= _keys(rows, producer)
    assert shared <= _keys(rows, consumer)  # Brave tags kafka.key on the producer only
    # servicea -> serviceb through the topic: the parent reference is follows_from, not a call
    assert (producer, "follows_from", consumer) in _links(rows)
    steps = _steps(rows)
    assert steps[producer]["detail"]["peer.service"] == "kafka"
    assert steps[producer]["detail"]["kafka.topic"] == "messages"
    # the consumer's run carries the channel too; a producer without a key has only its topic
    assert ("channel", "kafka:topic:messages") in _keys(rows, steps[consumer]["run_uid"])
    assert _keys(rows, _uid(tid, "79145dc8245c2899")) >= {
        ("channel", "kafka:topic:command-messages")}
    assert not {k for k in _keys(rows, _uid(tid, "79145dc8245c2899")) if k[0] == "message_key"}


def test_rabbitmq_producer_and_consumer_share_exchange_and_routing_key() -> None:
    rows = normalized_rows(RABBIT)
    tid = "5aab74dbb904746bb33447baae403ed6"
    producer, consumer = _uid(tid, "05e3ac9a4f6e3b90"), _uid(tid, "e457b5a2e4d86bd1")
    # rabbit.exchange "" is AMQP's default exchange; Brave tags only the consumer side
    shared = {("channel", "rabbitmq:exchange:amq.default"), ("message_key", "backend")}
    assert shared <= _keys(rows, producer)
    assert shared <= _keys(rows, consumer)
    assert (producer, "follows_from", consumer) in _links(rows)
    assert _steps(rows)[consumer]["detail"]["rabbit.queue"] == "backend"
    other = normalized_rows(MESSAGING2)
    assert ("channel", "rabbitmq:exchange:notification-exchange") in _keys(
        other, _uid("0d1a94ebc9256244", "3df9ceef91bbc777"))


def test_error_tag_fails_the_span_with_its_value_as_error() -> None:
    steps = _steps(normalized_rows(KAFKA))
    tid = "0562809467078eab"
    failed = steps[_uid(tid, "2f77d5b0b8e0de35")]
    assert (failed["status"], failed["error"]) == ("failed", "some error")
    empty = steps[_uid(tid, "568b33e6af8a225a")]  # "error": "" still marks an error in Zipkin
    assert empty["status"] == "failed" and empty.get("error") is None
    assert steps[_uid(tid, "5141af930f03274e")]["status"] == "ok"
    otel = _steps(normalized_rows(TRACES))[_uid("4bf92f3577b34da6a3ce929d0e0e4736",
                                                "00f067aa0ba902b7")]
    assert (otel["status"], otel["error"]) == ("failed", "payment declined")
    assert "otel.status_code" not in otel["detail"]
    assert otel["detail"]["otel.scope"] == "io.opentelemetry.spring-webmvc-6.0"


def test_list_of_traces_and_remote_service() -> None:
    rows = normalized_rows(TRACES)
    assert rows["source"]["records"] == 4 and rows["source"]["loaded"] == 4
    client = _steps(rows)[_uid("4bf92f3577b34da6a3ce929d0e0e4736", "b7ad6b7169203331")]
    assert client["detail"]["peer.service"] == "mysql"
    assert client["detail"]["net.peer.ip"] == "10.1.9.9"
    assert client["detail"]["net.host.ip"] == "10.1.2.3"
    assert client["location"] == "document [1][1]"
    backend = _steps(rows)[_uid("5af7183fb1d4cf5f", "352bff9a74ca9ad2")]
    assert (_uid("5af7183fb1d4cf5f", "6b221d5bc9e6496c"), "calls", backend["uid"]) in _links(rows)


def test_json_lines_of_span_arrays_give_the_same_steps(tmp_path: Path) -> None:
    traces = json.loads(TRACES.read_text())
    path = tmp_path / "zipkin_topic.jsonl"  # the zipkin Kafka topic: one span array a message
    path.write_text("\n".join(json.dumps(t) for t in traces) + "\n")
    lines, whole = normalized_rows(path), normalized_rows(TRACES)
    assert lines["source"]["format"] == "zipkin_json"
    strip = [{k: v for k, v in s.items() if k != "location"} for s in whole["steps"]]
    assert [{k: v for k, v in s.items() if k != "location"} for s in lines["steps"]] == strip
    assert _steps(lines)[_uid("5af7183fb1d4cf5f", "352bff9a74ca9ad2")]["location"] == "line 1 [0]"


def test_bad_spans_are_rejected_where_they_are(tmp_path: Path) -> None:
    spans = json.loads(RABBIT.read_text())
    spans[1]["id"] = "not-hex"
    spans[2]["timestamp"] = "soon"
    spans.append({"traceId": "5aab74dbb904746b", "id": "1", "name": "get",
                  "annotations": [{"timestamp": 1, "value": "sr",
                                   "endpoint": {"serviceName": "x"}}],
                  "binaryAnnotations": []})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spans, indent=1))
    rows = normalized_rows(path)
    assert rows["source"]["records"] == 5 and rows["source"]["loaded"] == 2
    assert rows["rejects"] == [
        {"location": "document [1]", "reason": "expected a non-zero traceId (16 or 32 hex "
         "digits) and id (16 hex digits); got '5aab74dbb904746bb33447baae403ed6'/'not-hex'"},
        {"location": "document [2]", "reason": "field 'timestamp': expected microseconds, "
         "got 'soon'"},
        {"location": "document [4]", "reason": "a Zipkin v1 span (binaryAnnotations / "
         "annotation endpoints) among v2 spans: keep v1 spans in a file of their own, read "
         "as zipkin_v1_json (--format zipkin_v1_json)"},
    ]


def test_truncated_file_is_one_reject_and_gzip_reads_the_same(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_bytes(KAFKA.read_bytes()[:3000])
    rows = normalized_rows(cut)
    assert rows["source"]["format"] == "zipkin_json"
    assert [r["location"] for r in rows["rejects"]] == ["byte 3000"]  # where the cut file ends
    # the 8 complete spans before the cut are kept, the span cut there is the reject
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (9, 8)
    assert len(rows["steps"]) == 8
    packed = tmp_path / "kafka.json.gz"
    packed.write_bytes(gzip.compress(KAFKA.read_bytes()))
    assert normalized_rows(packed)["keys"] == normalized_rows(KAFKA)["keys"]


def test_sniff_claims_zipkin_only() -> None:
    for path in sorted(HERE.glob("*.json")):
        assert zipkin_json.sniff(Source(path).head(), str(path)), path.name
    for other in (FIXTURES / "otlp_json" / "otlp_proto_example_trace.json",
                  FIXTURES / "jaeger_json" / "jaeger_anonymizer_spans_array.json",
                  FIXTURES / "jaeger_json" / "jaeger_api_v2_grpcurl_get_trace.json",
                  FIXTURES / "kafka_kcat" / "kcat_J_kafkasql_journal_dump.jsonl",
                  FIXTURES / "otlp_logs_json" / "collector_file_exporter_logs.jsonl"):
        assert not zipkin_json.sniff(Source(other).head(), str(other)), other.name


def test_interleaved_traces_are_mapped_trace_by_trace(tmp_path: Path,
                                                      monkeypatch: Any) -> None:
    first, second = json.loads(TRACES.read_text())
    path = tmp_path / "interleaved.json"
    # checkout's client span comes first, its parent (same service) three spans later
    path.write_text(json.dumps([second[1], first[0], first[1], second[0]]))
    monkeypatch.setattr(zipkin_json, "CHUNK_SPANS", 1)  # one trace per mapping call
    rows = normalized_rows(path)
    tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    client, parent = _uid(tid, "b7ad6b7169203331"), _uid(tid, "00f067aa0ba902b7")
    # mapped with its trace, the parent is known to be in checkout too: containment, no run
    assert (parent, "contains", client) in _links(rows)
    assert _steps(rows)[client].get("run_uid") is None
    assert len(rows["steps"]) == 4 and len(rows["runs"]) == 3


def test_a_time_past_int64_is_that_spans_reject(tmp_path: Path) -> None:
    spans = json.loads(KAFKA.read_text())
    spans[0]["timestamp"] = 1e300
    path = tmp_path / "far.json"
    path.write_text(json.dumps(spans))
    rows = normalized_rows(path)
    assert (rows["source"]["records"], rows["source"]["loaded"]) == (28, 27)
    assert rows["rejects"] == [{"location": "line 1 [0]", "reason": "field 'timestamp': "
                                "expected microseconds, got '1e+300'"}]


def test_a_caller_without_its_client_span_calls_the_service_it_reached(tmp_path: Path) -> None:
    # Real traces where the caller reported no CLIENT span for the hop: auth-service's shared
    # SERVER span has no CLIENT half (its parent is mobile-gateway's SERVER span), and Yelp's
    # `routing` root is a SERVER whose CLIENT half was never reported. A parent -> child hop
    # between two services is a call, whatever kind the parent span has.
    import tracemap

    tm = tracemap.open(tmp_path / "s.duckdb")
    assert tm.ingest([str(MESSAGING2), str(YELP)]).totals["rejected"] == 0
    with tm.analysis_store() as store:
        hops = set(store.sql("""
            SELECT a.node, e.kind, b.node FROM edges e
            JOIN entities a ON a.uid = e.src JOIN entities b ON b.uid = e.dst
            WHERE a.node <> b.node AND a.node LIKE 'otel:service:%'
              AND b.node LIKE 'otel:service:%'""").fetchall())
    assert {("otel:service:mobile-gateway", "calls", "otel:service:auth-service"),
            ("otel:service:routing", "calls", "otel:service:yelp-main"),
            ("otel:service:routing", "calls", "otel:service:unknown"),
            ("otel:service:yelp-main", "calls", "otel:service:mobile_api")} <= hops
    assert {kind for _, kind, _ in hops} == {"calls"}
