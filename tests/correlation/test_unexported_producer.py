"""The workflow -> topic hop when the worker's spans were not exported: the record's
traceparent names a span not in the store; the Temporal activity carrying that trace (its
``_tracer-data`` header, as @temporalio/interceptors-opentelemetry writes it) and running when
the record was produced sent it (tests/fixtures/scenarios/PROVENANCE.md)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.conftest import SCENARIOS
from tests.correlation.landscape import component_edges, correlate, rows, score

FOLDER = SCENARIOS / "unexported_producer"
TRACE = "51d4a6a214d533a51344e770208c6112"
RUN = "6305f34a-ee33-4c95-8b8d-db6a1ac88ebd/24c39852-41f1-45b4-af74-eb75e1a2719c"
FAKE_PROGRESS = f"temporal:step:{RUN}/5"


def test_activity_emits_the_record_with_trace_interval_and_channel_evidence(
        tmp_path: Path) -> None:
    tm = correlate(tmp_path, FOLDER)
    # The history alone gives the workflow's structure; the record and its consumer add
    # exactly the activity -> topic -> consumer hops.
    structure = component_edges(correlate(tmp_path / "alone", FOLDER / "history.json"))
    expected = {*structure,
                ("temporal:activity:fakeProgress", "kafka:topic:progress", "emits"),
                ("kafka:topic:progress", "otel:service:tracker", "triggers")}
    assert score(tm, expected, "unexported_producer") == (1.0, 1.0)
    emits = rows(tm, "SELECT src, dst, rule, confidence, evidence FROM edges "
                     "WHERE kind = 'emits' ORDER BY dst")
    assert [(e["src"], e["dst"], e["rule"]) for e in emits] == [
        (FAKE_PROGRESS, "kafka:msg:progress/0/0", "trace_context"),
        (FAKE_PROGRESS, "kafka:msg:progress/0/1", "trace_context")]
    first = json.loads(emits[0]["evidence"])
    assert first["key"] == {"kind": "trace_id", "value": TRACE}
    assert first["context"]["span_id"] == "9c1d2e3f4a5b6c7d"
    assert first["context"]["interval"] == ["2026-06-26T14:44:21.819332Z",
                                            "2026-06-26T14:44:22.834337Z"]
    assert first["context"]["channel"] == "kafka:topic:progress"
    # queryOwnWf ran at the same moment under the same trace: the name decided
    assert first["context"]["channel_named_by"] == "name or input"
    assert emits[0]["confidence"] == 0.9
    assert rows(tm, "SELECT count(*) AS n FROM executions")[0]["n"] == 1


def test_explain_shows_the_trace_context(tmp_path: Path) -> None:
    tm = correlate(tmp_path, FOLDER)
    result = tm.explain(FAKE_PROGRESS, "kafka:msg:progress/0/0")
    basis = [p["basis"] for p in result.evidence if p["rule"] == "trace_context"]
    assert basis == [f"key trace_id={TRACE}; sender running 2026-06-26T14:44:21.819332Z .. "
                     "2026-06-26T14:44:22.834337Z, message at 2026-06-26T14:44:21.830000Z; "
                     "channel kafka:topic:progress named by its name or input"]


def test_impact_of_the_activity_reaches_behind_the_topic(tmp_path: Path) -> None:
    tm = correlate(tmp_path, FOLDER)
    reached = {i.component: i.path for i in tm.impact("fakeProgress").impacted}
    assert reached["otel:service:tracker"] == [
        "temporal:activity:fakeProgress", "kafka:topic:progress", "otel:service:tracker"]


def _skewed_copy(folder: Path) -> Path:
    """The scenario with the worker's clock ahead: the records' CreateTime lands 100/146 ms
    after fakeProgress closed, and tracker consumed record 0 as a child of its traceparent
    (the OTel messaging child convention, so in the same trace), its HTTP CLIENT call to a
    ``/progress`` endpoint enclosing the produce time."""
    folder.mkdir(parents=True)
    (folder / "history.json").write_text((FOLDER / "history.json").read_text())
    records = [json.loads(line) for line in
               (FOLDER / "progress.kcat.jsonl").read_text().splitlines() if line.strip()]
    # fakeProgress closed at 14:44:22.834337Z
    for record, ts in zip(records, (1782485062934, 1782485062980), strict=True):
        record["ts"] = ts
    (folder / "progress.kcat.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records))
    doc = json.loads((FOLDER / "tracker.otlp.json").read_text())
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    for span, start in zip(spans, (1782485062936, 1782485062982), strict=True):
        span["startTimeUnixNano"] = str(start * 1_000_000)
        span["endTimeUnixNano"] = str((start + 40) * 1_000_000)
    attrs = spans[0]["attributes"]
    spans.append({"traceId": TRACE, "spanId": "aa11bb22cc33dd44",
                  "parentSpanId": "9c1d2e3f4a5b6c7d", "name": "progress process", "kind": 5,
                  "startTimeUnixNano": "1782485062920000000",
                  "endTimeUnixNano": "1782485063000000000", "attributes": attrs,
                  "status": {}})
    spans.append({"traceId": TRACE, "spanId": "ee55ff6600778899",
                  "parentSpanId": "aa11bb22cc33dd44", "name": "GET /progress/{id}", "kind": 3,
                  "startTimeUnixNano": "1782485062925000000",
                  "endTimeUnixNano": "1782485062990000000",
                  "attributes": [
                      {"key": "http.request.method", "value": {"stringValue": "GET"}},
                      {"key": "url.full",
                       "value": {"stringValue": "http://steps:8080/progress/p-1"}},
                      {"key": "server.address", "value": {"stringValue": "steps"}}],
                  "status": {}})
    (folder / "tracker.otlp.json").write_text(json.dumps(doc))
    return folder


def test_late_record_is_still_the_activitys_not_the_consumers_call(tmp_path: Path) -> None:
    tm = correlate(tmp_path, _skewed_copy(tmp_path / "skewed"))
    emits = rows(tm, "SELECT src, dst, rule FROM edges WHERE kind = 'emits' "
                     "AND dst LIKE 'kafka:msg:%' ORDER BY dst")
    assert [(e["src"], e["dst"], e["rule"]) for e in emits] == [
        (FAKE_PROGRESS, "kafka:msg:progress/0/0", "trace_context"),
        (FAKE_PROGRESS, "kafka:msg:progress/0/1", "trace_context")]
    assert rows(tm, "SELECT count(*) AS n FROM edges e JOIN entities s ON s.uid = e.src "
                    "WHERE s.system = 'otel' AND e.kind = 'emits'")[0]["n"] == 0
    assert ("temporal:activity:fakeProgress", "kafka:topic:progress",
            "emits") in component_edges(tm)


def test_an_activity_names_its_channel_by_its_input(tmp_path: Path) -> None:
    """An activity called ``report`` whose first argument is the topic (``report("progress",
    100)``): its name does not name the channel, its input does, so it wins over queryOwnWf,
    which started later and also ran when record 0 was produced."""
    folder = tmp_path / "named_by_input"
    folder.mkdir()
    history = json.loads((FOLDER / "history.json").read_text())
    attrs = history["events"][4]["activityTaskScheduledEventAttributes"]
    attrs["activityType"]["name"] = "report"
    first = attrs["input"]["payloads"][0]
    first["data"] = base64.b64encode(b'"progress"').decode()
    (folder / "history.json").write_text(json.dumps(history))
    for name in ("progress.kcat.jsonl", "tracker.otlp.json"):
        (folder / name).write_text((FOLDER / name).read_text())
    tm = correlate(tmp_path, folder)
    emits = rows(tm, "SELECT src, evidence FROM edges WHERE kind = 'emits' "
                     "AND dst = 'kafka:msg:progress/0/0'")
    assert [e["src"] for e in emits] == [FAKE_PROGRESS]
    assert json.loads(emits[0]["evidence"])["context"]["channel_named_by"] == "input"
    detail = rows(tm, "SELECT detail FROM steps WHERE uid = ?", [FAKE_PROGRESS])[0]["detail"]
    assert json.loads(detail)["input_names"] == ["progress"]
