"""One identity per real thing: a Kafka topic named by OpenLineage (``kafka://host:port`` +
topic) is the topic the records are on, and one table spelled two ways by two integrations
(``postgresql://Host`` without port, ``postgres://host:5432``) is one node, per the OpenLineage
naming spec (tests/fixtures/scenarios/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SCENARIOS
from tests.correlation.landscape import correlate, score

FLINK = "openlineage:job:flink_job_namespace/flink_examples_stateful"
REPORT = "openlineage:job:reporting/daily_revenue"
FACTS = "dataset:postgres://warehouse.internal:5432/analytics.public.order_facts"
FILES = (SCENARIOS / "lineage_topic", SCENARIOS / "otel_messaging" / "checkout.otlp.json",
         SCENARIOS / "otel_messaging" / "orders.kcat.jsonl")


def test_a_topic_read_through_lineage_is_the_topic(tmp_path: Path) -> None:
    tm = correlate(tmp_path, *FILES)
    expected = {("otel:service:checkout", "kafka:topic:orders", "emits"),
                ("kafka:topic:orders", FLINK, "reads"), (FLINK, FACTS, "writes"),
                (FACTS, REPORT, "reads"),
                (REPORT, "dataset:s3://reports/revenue/2024-05-01.parquet", "writes")}
    assert score(tm, expected, "lineage_topic") == (1.0, 1.0)


def test_impact_of_the_topic_reaches_the_lineage_readers(tmp_path: Path) -> None:
    tm = correlate(tmp_path, *FILES)
    reached = {i.component: i.path for i in tm.impact("kafka:topic:orders").impacted}
    assert reached[REPORT] == ["kafka:topic:orders", FLINK, FACTS, REPORT]
    upstream = {i.component for i in tm.impact(REPORT, upstream=True).impacted}
    assert "otel:service:checkout" in upstream
