"""zipkin_v1_json: v1 spans become the v2 spans Zipkin makes of them, then zipkin_json's rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingest import zipkin_v1_json
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

HERE = FIXTURES / "zipkin_v1_json"
V2 = sorted((FIXTURES / "zipkin_json").glob("*.json"))

#: zipkin2.v1.V2SpanConverter: the core annotations that open and close a v2 span of a kind,
#: and the address annotation naming its remote endpoint.
V1_OF_KIND = {"CLIENT": ("cs", "cr", "sa"), "SERVER": ("sr", "ss", "ca"),
              "PRODUCER": ("ms", "ws", "ma"), "CONSUMER": ("wr", "mr", "ma")}


def _v1(span: dict[str, Any]) -> dict[str, Any]:
    """One v2 span written as v1, as Zipkin's V2SpanConverter writes it."""
    local, ts, dur = span.get("localEndpoint"), span.get("timestamp"), span.get("duration")
    out: dict[str, Any] = {k: span[k] for k in ("traceId", "id", "parentId", "name", "debug")
                           if k in span}
    annotations = [{"timestamp": a["timestamp"], "value": a["value"], "endpoint": local}
                   for a in span.get("annotations", [])]
    binary = [{"key": k, "value": v, "endpoint": local} for k, v in span.get("tags", {}).items()]
    kind = span.get("kind")
    if kind:
        begin, end, address = V1_OF_KIND[kind]
        if kind == "CONSUMER" and not dur:
            annotations.append({"timestamp": ts, "value": "mr", "endpoint": local})
        else:
            annotations.append({"timestamp": ts, "value": begin, "endpoint": local})
            if dur:
                annotations.append({"timestamp": ts + dur, "value": end, "endpoint": local})
        if span.get("remoteEndpoint"):
            binary.append({"key": address, "value": True, "endpoint": span["remoteEndpoint"]})
    elif local and not binary:
        binary.append({"key": "lc", "value": "", "endpoint": local})
    if not span.get("shared"):  # a shared span's timing is its annotations' alone
        out.update({k: v for k, v in (("timestamp", ts), ("duration", dur)) if v})
    return {**out, "annotations": annotations, "binaryAnnotations": binary}


def _as_v1(doc: Any) -> Any:
    if isinstance(doc, list):
        return [_as_v1(item) for item in doc]
    return _v1(doc)


def _comparable(rows: dict[str, Any]) -> dict[str, Any]:
    return {table: value for table, value in rows.items() if table != "source"}


@pytest.mark.parametrize("v2", V2, ids=lambda p: p.name)
def test_v1_spans_give_the_rows_of_the_same_v2_spans(v2: Path, tmp_path: Path) -> None:
    """Every real v2 fixture, written as v1 by Zipkin's own rules, loads the same rows."""
    v1 = tmp_path / v2.name
    v1.write_text(json.dumps(_as_v1(json.loads(v2.read_text())), indent=1))
    got, want = normalized_rows(v1), normalized_rows(v2)
    assert got["source"]["format"] == "zipkin_v1_json"
    assert (got["source"]["records"], got["source"]["rejected"]) == (
        want["source"]["records"], want["source"]["rejected"])
    assert _comparable(got) == _comparable(want)


def test_a_shared_finagle_rpc_span_is_a_client_and_a_server() -> None:
    """Finagle reports one span id for both sides of an RPC: the client half (zipkin-web)
    keeps the id and the span's own timing, the server half (zipkin-query) gets its own id
    below it and the sr..ss timing, each with the tags its endpoint recorded."""
    rows = normalized_rows(HERE / "zipkin_benchmarks_span_rpc.json")
    assert rows["source"]["records"] == rows["source"]["loaded"] == 2
    client, server = sorted(rows["steps"], key=lambda s: s["started_at"])
    assert (client["component"], client["started_at"], client["ended_at"]) == (
        "otel:operation:zipkin-web/get", "2016-04-27T09:48:11.274000+00:00",
        "2016-04-27T09:48:11.325000+00:00")
    assert client["uid"] == "otel:span:000000000000000083c138a4ee0f3de9/d673d7abe80d2f3f"
    assert client["detail"]["peer.service"] == "zipkin-query"
    assert client["detail"]["clnt/finagle.version"] == "6.34.0"
    assert (server["component"], server["parent_uid"], server["started_at"],
            server["ended_at"]) == (
        "otel:operation:zipkin-query/get", client["uid"], "2016-04-27T09:48:11.298000+00:00",
        "2016-04-27T09:48:11.302000+00:00")
    assert server["detail"]["srv/finagle.version"] == "6.34.0"
    assert {lk["kind"] for lk in rows["links"]
            if (lk["src_uid"], lk["dst_uid"]) == (client["uid"], server["uid"])} == {"calls"}


def test_zipkin_docs_trace_clients_name_the_database() -> None:
    """The Zipkin data-model example: the server span, a local span (lc) and three JDBC client
    spans whose ``sa`` address names the uninstrumented database."""
    rows = normalized_rows(HERE / "zipkin_docs_data_model.json")
    kinds = {s["name"] + "/" + s["uid"][-4:]: (s["detail"]["otel.kind"],
                                               s["detail"].get("peer.service"))
             for s in rows["steps"]}
    assert kinds == {"get/b982": ("server", None), "get-traces/6f71": ("unspecified", None),
                     "query/8d97": ("client", "spanstore-jdbc"),
                     "query/2f2e": ("client", "spanstore-jdbc"),
                     "query/4336": ("client", "spanstore-jdbc")}


@pytest.mark.parametrize(("span", "reason"), [
    ("not a span", "expected a span object, got str"),
    ({"traceId": "a", "id": "b", "annotations": {"value": "cs"}},
     "field 'annotations': expected an array of objects, got \"{'value': 'cs'}\""),
    ({"traceId": "a", "id": "b", "binaryAnnotations": [{"key": 1, "value": "x"}]},
     "binaryAnnotations: expected a string key, got 1"),
])
def test_unreadable_spans_say_why(span: Any, reason: str) -> None:
    with pytest.raises(ValueError) as exc:
        zipkin_v1_json.to_v2(span)
    assert str(exc.value) == reason


def test_a_bad_span_costs_itself_only(tmp_path: Path) -> None:
    spans = json.loads((HERE / "zipkin_docs_data_model.json").read_text())
    spans[2]["annotations"] = "cs"
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(spans, indent=1))
    rows = normalized_rows(path)
    src = rows["source"]
    assert (src["records"], src["loaded"], src["rejected"]) == (5, 4, 1)
    assert rows["rejects"] == [{"location": "document [2]", "reason": "field 'annotations': "
                                "expected an array of objects, got 'cs'"}]
