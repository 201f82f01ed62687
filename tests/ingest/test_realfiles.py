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


# Files that loaded right: the rows that make each one instructive, pinned.


def test_cadence_timer_cancelled_when_the_activity_wins() -> None:
    rows = normalized_rows(FIXTURES / "cadence_json" / "cadence_replay_timer_cancelled.json")
    assert _counts(rows) == ("cadence_json", "detected", 13, 13, 0, 0)
    (run,) = rows["runs"]
    assert (run["component"], run["status"], run["attempt"]) == (
        "cadence:workflow:timer", "ok", 1)
    assert [(s["component"], s["step_type"], s["status"], s.get("attempt"), s["ended_at"])
            for s in rows["steps"]] == [
        ("cadence:activity:main.orderProcessingActivity", "activity", "ok", 1,
         "2023-03-21T22:10:25.691217+00:00"),
        ("cadence:timer:timer", "timer", "cancelled", None, "2023-03-21T22:10:25.750269+00:00"),
    ]


def test_eventbridge_scheduler_event_with_a_string_detail() -> None:
    rows = normalized_rows(
        FIXTURES / "eventbridge_json" / "powertools_scheduler_event_string_detail.json")
    assert _counts(rows) == ("eventbridge_json", "detected", 1, 1, 0, 0)
    (msg,) = rows["messages"]
    assert (msg["uid"], msg["event_type"], msg["produced_at"], msg["payload"],
            msg["detail"]["source"]) == (
        "eventbridge:msg:d167b752-343a-4b28-afd6-d4de056319e8", "Scheduled Event",
        "2025-02-20T16:03:00+00:00", {}, "aws.scheduler")


def test_cloudevent_data_base64_is_decoded() -> None:
    rows = normalized_rows(FIXTURES / "cloudevents_json" / "sdkjs_v1_data_base64.json")
    assert _counts(rows) == ("cloudevents_json", "detected", 1, 1, 0, 0)
    (msg,) = rows["messages"]
    assert (msg["event_type"], msg["produced_at"], msg["payload"],
            msg["detail"]["extensions"]) == (
        "com.github.pull.create", "2019-11-06T11:08:00+00:00", {"much": "wow"},
        {"myextension": "something"})


def test_amazon_mq_rabbitmq_event_headers_and_text_timestamp() -> None:
    rows = normalized_rows(
        FIXTURES / "rabbitmq_json" / "powertools_amazonmq_rabbitmq_event.json")
    assert _counts(rows) == ("rabbitmq_json", "detected", 1, 1, 0, 0)
    (msg,) = rows["messages"]
    assert (msg["channel"], msg["produced_at"], msg["headers"], msg["payload"]) == (
        "pizzaQueue", "1970-01-01T00:33:41+00:00",
        {"header1": "value1", "header2": "value2", "numberInHeader": "10"},
        {"timeout": 0, "data": "CZrmf0Gw8Ov4bqLQxD4E"})


def test_argo_workflow_running_with_a_failed_continue_on_leaf() -> None:
    rows = normalized_rows(FIXTURES / "argo_workflow" / "argo_dag_leaf_continue_on_failed.yaml")
    assert _counts(rows) == ("argo_workflow", "detected", 4, 4, 0, 0)
    (run,) = rows["runs"]
    assert (run["status"], run["ended_at"]) == ("running", "2020-11-04T16:17:59+00:00")
    assert [(s["name"], s["step_type"], s["status"], s.get("error")) for s in rows["steps"]] == [
        ("build-wf-kpxvm", "dag", "running", None),
        ("A", "pod", "ok", None),
        ("B", "pod", "failed", "failed with exit code 1"),
    ]
    assert ("argo:step:build-wf-kpxvm/build-wf-kpxvm-2225940411",
            "argo:step:build-wf-kpxvm/build-wf-kpxvm-2242718030", "precedes") in [
        (link["src_uid"], link["dst_uid"], link["kind"]) for link in rows["links"]]


def test_openlineage_parent_facet_without_a_run_and_a_root_run() -> None:
    rows = normalized_rows(
        FIXTURES / "openlineage_json" / "ol_spark_serde_event_root_parent_facets.json")
    assert _counts(rows) == ("openlineage_json", "detected", 1, 1, 0, 0)
    (run,) = rows["runs"]
    assert (run["component"], run["status"], run["error"]) == (
        "openlineage:job:namespace/jobName", "running", "failed")
    assert [(link["src_uid"], link["dst_uid"], link["kind"]) for link in rows["links"]] == [
        ("dataset:ins/input", run["uid"], "reads"),
        (run["uid"], "dataset:ons/output", "writes"),
    ]
    # the root run joins this run's execution by key; the run-less parent names no run
    assert sorted(k["value"] for k in rows["keys"] if k["entity_uid"] == run["uid"]) == [
        "5f24c93c-1a1a-49dc-82e7-95ab4915242f", "5f24c93c-2ce9-49dc-82e7-95ab4915242f"]


def test_step_functions_api_history_with_epoch_second_timestamps() -> None:
    rows = normalized_rows(
        FIXTURES / "stepfunctions_json" / "aws_api_get_execution_history_epoch_seconds.json")
    assert _counts(rows) == ("stepfunctions_json", "detected", 4, 4, 0, 0)
    (run,) = rows["runs"]
    assert (run["status"], run["started_at"], run["ended_at"]) == (
        "ok", "2018-05-02T17:57:55.580000+00:00", "2018-05-02T17:57:55.612000+00:00")
    (step,) = rows["steps"]
    assert (step["name"], step["step_type"], step["status"]) == ("HelloWorld", "pass", "ok")


def test_otlp_logs_severities_and_event_names() -> None:
    rows = normalized_rows(
        FIXTURES / "otlp_logs_json" / "collector_file_dotnet_event_names.json")
    assert _counts(rows) == ("otlp_logs_json", "detected", 6, 6, 0, 0)
    assert sorted((log["time"], log["severity"], log["severity_number"],
                   log["detail"]["event_name"]) for log in rows["logs"]) == [
        ("2026-02-15T03:22:20.586979+00:00", "debug", 5, "DebugMessage"),
        ("2026-02-15T03:22:20.663833+00:00", "fatal", 21, "CriticalSystemFailure"),
        ("2026-02-15T03:22:20.702455+00:00", "info", 9, "UserLoggedIn"),
        ("2026-02-15T03:22:20.728441+00:00", "info", 9, "ProcessingOrder"),
        ("2026-02-15T03:22:20.732785+00:00", "warn", 13, "ResourceRunningLow"),
        ("2026-02-15T03:22:20.795465+00:00", "error", 17, "OperationError"),
    ]


def test_zipkin_server_span_contains_its_database_client_spans() -> None:
    rows = normalized_rows(FIXTURES / "zipkin_json" / "zipkin_lens_simple_db_client_spans.json")
    assert _counts(rows) == ("zipkin_json", "detected", 5, 5, 0, 0)
    root = "otel:span:000000000000000019f84f102048e047/19f84f102048e047"
    children = sorted(link["dst_uid"].rsplit("/", 1)[1] for link in rows["links"]
                      if link["src_uid"] == root and link["kind"] == "contains")
    assert children == ["544e854ede87b217", "5d532ef6fed52445", "8b1e63c0f49a81f7",
                        "e4efd924fec0624c"]
    assert sorted((s["step_type"], s["name"]) for s in rows["steps"]) == [
        ("client", "call"), ("client", "insert"), ("client", "insert"), ("client", "insert"),
        ("server", "http:/book")]


def test_debezium_events_in_avro_json_encoding_are_unwrapped() -> None:
    """Loaded wrong: ``{"long": 748}`` unions went into uids and keys, and no time was read."""
    rows = normalized_rows(
        FIXTURES / "debezium_json" / "avro_console_consumer_postgres_unions.txt")
    assert _counts(rows) == ("debezium_json", "detected", 4, 3, 0, 1)
    assert [(m["uid"].split("/", 2)[1], m["event_type"], m["produced_at"])
            for m in sorted(rows["messages"], key=lambda m: m["location"])] == [
        ("26619544", "movies.read", "2024-02-22T03:50:49.321000+00:00"),
        ("26619544", "movies.read", "2024-02-22T03:50:49.325000+00:00"),
        ("26630232", "movies.create", "2024-02-22T03:55:08.123000+00:00"),
    ]
    # snapshot reads get no transaction keys; the insert gets its own, unwrapped
    assert sorted((k["kind"], k["value"]) for k in rows["keys"]) == [
        ("business:db_position", "pgsource./26630232"),
        ("business:db_transaction", "pgsource./749")]
