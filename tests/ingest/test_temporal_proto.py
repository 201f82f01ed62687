"""Temporal binary histories: same rows as the JSON of the same history, exports, truncation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from ingest import temporal_json, temporal_proto
from tests.conftest import FIXTURES
from tests.golden import normalized_rows

# A pre-1.0 history (int64 ``timestamp``, no ``eventTime``) has no form in the 1.x proto.
JSON_FIXTURES = sorted(p for p in (FIXTURES / "temporal_json").glob("*.json")
                       if b'"eventTime"' in p.read_bytes())
BIN = FIXTURES / "temporal_proto" / "sdkts_cancel_activity_history.bin"
BIN_JSON_TWIN = FIXTURES / "temporal_json" / "sdkts_cancel_activity_history.json"


def to_proto(doc: dict[str, Any]) -> bytes:
    """A JSON history as binary History, enums folded to their proto names first (the
    PascalCase spellings of tctl and older CLIs are not proto JSON)."""
    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if key == "eventType":
            return "EVENT_TYPE_" + temporal_json._snake_upper(temporal_json.event_type(node))
        if key in temporal_json.ENUMS:
            return temporal_json.enum_name(node, *temporal_json.ENUMS[key]) or 0
        return node

    if isinstance(doc.get("history"), dict):  # a GetWorkflowExecutionHistory response
        doc = doc["history"]
    message = json_format.ParseDict(walk(doc), temporal_proto.History(),
                                    ignore_unknown_fields=True)
    return message.SerializeToString()


def _without_source(rows: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rows.items() if k != "source"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field_1(value: bytes) -> bytes:
    return b"\x0a" + _varint(len(value)) + value


@pytest.mark.parametrize("path", JSON_FIXTURES, ids=lambda p: p.stem)
def test_proto_and_json_of_one_history_give_the_same_rows(path: Path, tmp_path: Path) -> None:
    binary = tmp_path / f"{path.stem}.bin"
    binary.write_bytes(to_proto(json.loads(path.read_text())))
    from_proto = normalized_rows(binary)
    assert from_proto["source"]["format"] == "temporal_proto"
    assert from_proto["source"]["records"] == from_proto["source"]["loaded"] > 0
    assert _without_source(from_proto) == _without_source(normalized_rows(path))


def test_corpus_binary_has_the_shape_of_its_json_counterpart() -> None:
    # Different runs of the same workflow (see PROVENANCE): same steps, statuses and attempts.
    def shape(rows: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted((r["component"], r.get("step_type"), r["status"], r.get("attempt"),
                       r["location"], r["detail"].get("close_event"))
                      for r in rows["runs"] + rows["steps"])

    from_bin = normalized_rows(BIN)
    assert shape(from_bin) == shape(normalized_rows(BIN_JSON_TWIN))
    (run,) = from_bin["runs"]
    assert run["started_at"] == "2022-01-13T18:46:34.661949+00:00"
    assert run["detail"]["binary_checksum"] == "@temporalio/worker@0.17.2"


def test_truncated_binary_loses_only_the_event_that_was_cut(tmp_path: Path) -> None:
    data = BIN.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:-40])  # inside the last event (WorkflowExecutionCompleted)
    rows = normalized_rows(cut)
    assert (rows["source"]["records"], rows["source"]["loaded"],
            rows["source"]["rejected"]) == (16, 15, 1)
    ((location, reason),) = [(r["location"], r["reason"]) for r in rows["rejects"]]
    assert location == "events[15]"
    assert reason.startswith(f"truncated at byte {len(data) - 40}: a field of ")
    (run,) = rows["runs"]
    assert run["status"] == "running"


def test_cloud_export_of_several_histories(tmp_path: Path) -> None:
    other = to_proto(json.loads((FIXTURES / "temporal_json" /
                                 "sdkts_otel_smorgasbord_traceparent.json").read_text()))
    export = tmp_path / "export.pb"  # WorkflowExecutions{items: [WorkflowExecution{history}]}
    export.write_bytes(_field_1(_field_1(BIN.read_bytes())) + _field_1(_field_1(other)))
    rows = normalized_rows(export)
    assert rows["source"]["format"] == "temporal_proto"
    assert rows["source"]["records"] == rows["source"]["loaded"] == 16 + 38
    assert sorted(r["component"] for r in rows["runs"]) == [
        "temporal:workflow:cancelFakeProgress", "temporal:workflow:smorgasbord"]
    assert {r["location"] for r in rows["steps"]} >= {"items[0] event 5", "items[1] event 8"}


def test_not_a_history_is_one_reject(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x08\x96\x01" * 10)
    rows = normalized_rows(junk, fmt="temporal_proto")
    assert (rows["source"]["records"], rows["source"]["rejected"]) == (1, 1)
    assert rows["rejects"][0]["location"] == "file"
    assert "temporal.api.history.v1.History" in rows["rejects"][0]["reason"]


def test_event_type_newer_than_the_descriptor_is_skipped(tmp_path: Path) -> None:
    future = temporal_proto.HistoryEvent(event_id=17, event_type=0)
    future.event_time.FromJsonString("2022-01-13T18:46:36Z")
    raw = bytearray(future.SerializeToString())
    raw += b"\x18" + _varint(61)  # event_type = 61, unknown to this reader
    raw += b"\xb2\x04\x02\x08\x01"  # and its attributes in field 70, unknown too
    path = tmp_path / "future.bin"
    path.write_bytes(BIN.read_bytes() + _field_1(bytes(raw)))
    rows = normalized_rows(path)
    assert (rows["source"]["records"], rows["source"]["loaded"],
            rows["source"]["skipped"]) == (17, 16, 1)
    assert _without_source(rows) == _without_source(normalized_rows(BIN))
