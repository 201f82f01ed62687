"""Real export files first met in the issue 15 check (files nobody here had seen): the rows
each one must give, exactly. Files that were not detected or loaded wrong before the fix say
what went wrong in their test's docstring; PROVENANCE.md beside each fixture says where it is
from."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES
from tests.golden import normalized_rows


def _counts(rows: dict) -> tuple[str, str, int, int, int, int]:
    src = rows["source"]
    return (src["format"], src["chosen_by"], src["records"], src["loaded"], src["rejected"],
            src["skipped"])


def test_debezium_mongodb_key_on_its_own_line_is_the_next_events_key() -> None:
    """Was not detected: a schemaless MongoDB key ``{"id": ...}`` opens the file."""
    rows = normalized_rows(FIXTURES / "debezium_json" / "paimon_mongodb_key_line_then_value.txt")
    assert _counts(rows) == ("debezium_json", "detected", 4, 2, 0, 2)
    key = '{"id":"{\\"$oid\\": \\"67ab25755c0d5ac87eb8c632\\"}"}'
    assert sorted((m["location"], m["channel"], m["event_type"], m["msg_key"], m["produced_at"])
                  for m in rows["messages"]) == [
        ("line 19", "mongodb_bigdata_test.bigdata_test.sync_test_table",
         "sync_test_table.update", key, "2025-02-12T00:59:52.890000+00:00"),
        ("line 21", "mongodb_bigdata_test.bigdata_test.sync_test_table",
         "sync_test_table.update", key, "2025-02-12T00:59:52.890000+00:00"),
    ]
    assert "rejects" not in rows


def _kcat_pretty(path: Path) -> dict:
    rows = normalized_rows(path)
    (msg,) = rows["messages"]
    assert (msg["uid"], msg["channel"], msg["location"], msg["produced_at"], msg["headers"],
            msg["payload"]) == (
        "kafka:msg:events/0/0", "events", "line 2", "2022-05-13T18:07:53.281000+00:00",
        {"content-type": "application/json"}, {"greeting": "Hello, world"})
    assert "rejects" not in rows
    return rows


def test_kcat_piped_through_jq_after_a_prompt() -> None:
    """Was not detected: ``kcat -J | jq .`` pretty-prints each envelope over many lines."""
    rows = _kcat_pretty(FIXTURES / "kafka_kcat" / "zilla_kcat_J_jq_pretty_prompt.txt")
    # the prompt and kcat's "% Reached end of topic" line are skipped
    assert _counts(rows) == ("kafka_kcat", "detected", 3, 1, 0, 2)


def test_kcat_piped_through_jq_under_a_bare_command_line() -> None:
    """Was not detected: docs print the command without a prompt above its output."""
    rows = _kcat_pretty(FIXTURES / "kafka_kcat" / "zilla_kcat_J_jq_pretty_bare_command.txt")
    assert _counts(rows) == ("kafka_kcat", "detected", 2, 1, 0, 1)


def test_pre_1_0_temporal_history_is_temporal_not_cadence() -> None:
    """Loaded wrong: taken for Cadence (``timestamp`` ns), so system cadence and attempt 2."""
    rows = normalized_rows(
        FIXTURES / "temporal_json" / "sdkgo_sample_history_pre_1_0_timestamp_ns.json")
    assert _counts(rows) == ("temporal_json", "detected", 11, 11, 0, 0)
    (run,) = rows["runs"]
    assert (run["system"], run["component"], run["status"], run["started_at"],
            run["ended_at"]) == (
        "temporal", "temporal:workflow:testReplayWorkflowFromFile", "ok",
        "2018-06-07T01:50:57.159337+00:00", "2019-05-17T20:59:17.491513+00:00")
    (step,) = rows["steps"]
    assert (step["component"], step["status"], step["attempt"], step["started_at"],
            step["ended_at"]) == (
        "temporal:activity:testActivityMultipleArgs", "ok", 1,
        "2018-06-07T01:50:57.188469+00:00", "2019-05-17T20:59:17.403468+00:00")


def test_nexus_operation_links_the_handler_run_its_started_event_names() -> None:
    """Loaded without its link: the handler's run (``links[].workflowEvent``) was dropped."""
    rows = normalized_rows(
        FIXTURES / "temporal_json" / "sdkjava_nexus_operation_cancelled_handler_link.json")
    assert _counts(rows) == ("temporal_json", "detected", 15, 15, 0, 0)
    (step,) = rows["steps"]
    assert (step["component"], step["step_type"], step["status"], step["error"]) == (
        "temporal:nexus:TestNexusService.operation", "nexus_operation", "cancelled",
        "nexus operation completed unsuccessfully: operation canceled")
    assert [(link["src_uid"], link["dst_uid"], link["kind"], link["evidence"])
            for link in rows["links"]] == [
        (step["uid"],
         "temporal:run:test-efd6d2f3-182a-4d98-8806-561e56674db1/"
         "1c753b0e-ee97-4a09-ac29-76c1d22f1426",
         "child", "nexusOperationStarted.links[0].workflowEvent")]


def test_jaeger_go_model_trace_gives_the_times_of_its_otlp_twin() -> None:
    """Was rejected: ``{"Spans": [...]}`` (Go ``encoding/json`` of ``model.Trace``), whose
    integer durations are ``time.Duration`` nanoseconds, not the query API's microseconds."""
    go_model = normalized_rows(FIXTURES / "jaeger_json" / "jaeger_it_example_trace_go_model.json")
    otlp = normalized_rows(FIXTURES / "otlp_json" / "jaeger_it_example_trace_otlp.json")
    assert _counts(go_model) == ("jaeger_json", "detected", 5, 5, 0, 0)
    assert _counts(otlp) == ("otlp_json", "detected", 5, 5, 0, 0)

    def spans(rows: dict) -> list[tuple[str, str, str, str]]:
        return sorted((s["uid"], s["component"], s["started_at"], s["ended_at"])
                      for s in rows["steps"])

    assert spans(go_model) == spans(otlp)
    assert spans(go_model)[0] == (
        "otel:span:00000000000000000000000000000011/0000000000000003",
        "otel:operation:example-service-1/example-operation-1",
        "2017-01-26T16:46:31.639875+00:00", "2017-01-26T16:46:31.639975+00:00")
