"""Runs started by a message: a Step Functions execution started by EventBridge Pipes from a
Kafka topic receives the Pipes batch (AWS docs' example event for a self-managed Kafka source)
as its input, which names the record; the edge comes from that record, not from the message of
another topic produced just before (tests/fixtures/scenarios/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

from ingest._event_source import started_by
from tests.conftest import SCENARIOS
from tests.correlation.landscape import component_edges, correlate, rows, score

FOLDER = SCENARIOS / "pipes_started"
RUN = ("stepfunctions:run:arn:aws:states:eu-west-1:123456789012:execution:InvoiceFlow:"
       "inv-2024-0306-0042")


def test_the_pipes_record_starts_the_execution_not_the_latest_message(tmp_path: Path) -> None:
    tm = correlate(tmp_path, FOLDER)
    structure = component_edges(correlate(tmp_path / "alone", FOLDER / "execution.json"))
    expected = {*structure, ("kafka:topic:invoice.requests",
                             "stepfunctions:statemachine:InvoiceFlow", "triggers")}
    assert score(tm, expected, "pipes_started") == (1.0, 1.0)
    trigger = rows(tm, "SELECT src, rule, confidence, evidence FROM edges WHERE dst = ?",
                   [RUN])
    assert [(t["src"], t["rule"], t["confidence"]) for t in trigger] == [
        ("kafka:msg:invoice.requests/0/15", "link", 1.0)]
    assert "input: SelfManagedKafka record invoice.requests/0/15" in trigger[0]["evidence"]
    # payments.settled (same correlation id, produced closer to the start) touches nothing
    assert not rows(tm, "SELECT src FROM edges WHERE src LIKE 'kafka:msg:payments%' "
                        "OR dst LIKE 'kafka:msg:payments%'")


def test_event_source_envelopes() -> None:
    # Lambda's SQS event (documented example), one EventBridge event, and no envelope.
    sqs = {"Records": [{"messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue"}]}
    assert started_by(sqs) == [("sqs:msg:059f36b4-87a3-44ab-83d2-661975830a7d",
                                "sqs:queue:my-queue",
                                "input: aws:sqs record 059f36b4-87a3-44ab-83d2-661975830a7d")]
    event = {"id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "source": "aws.ec2",
             "detail-type": "EC2 Instance State-change Notification", "detail": {}}
    assert [u for u, _, _ in started_by(event)] == [
        "eventbridge:msg:6a7e8feb-b491-4cf7-a9f1-bf3703467718"]
    assert started_by({"invoiceId": "INV-0042"}) == []
    assert started_by([{"topic": "t", "partition": "x", "offset": 1,
                        "eventSource": "aws:kafka"}]) == []
