"""The messages a run's input says started it (not a format: not registered).

A run started by a message receives that message, in the documented envelope of whatever
delivered it, as its input:

- EventBridge Pipes and Lambda event source mappings hand the target a batch: a JSON array
  of source records (Pipes), or ``{"Records": [...]}`` (SQS) / ``{"records": {"topic-0":
  [...]}}`` (MSK, self-managed Kafka) for Lambda. A Kafka record names its ``topic``,
  ``partition`` and ``offset`` (``eventSource`` ``SelfManagedKafka`` or ``aws:kafka``); an
  SQS record its ``messageId`` (``eventSource`` ``aws:sqs``).
- An EventBridge rule target receives the event itself (``id``, ``source``,
  ``detail-type``).

Each record names the message uid the bus ingestors give it (``kafka:msg:<topic>/<p>/<o>``,
``sqs:msg:<id>``, ``eventbridge:msg:<id>``), so the run gets an explicit ``triggers`` link
from it, and the channel it read: correlation then needs neither time nor a shared key.
"""

from __future__ import annotations

from typing import Any

from ingest.kafka_kcat import position
from tracemap.model import channel_component, kafka_record_uid

#: ``eventSource`` values of Kafka records in Pipes and Lambda event source mapping events.
KAFKA_SOURCES = frozenset({"selfmanagedkafka", "aws:kafka"})

#: At most this many records of one input are linked (a batch is at most 10,000 in Pipes).
MAX_RECORDS = 10_000


def started_by(run_input: Any) -> list[tuple[str, str | None, str]]:
    """``(message uid, channel component or None, evidence)`` per message ``run_input`` carries.
    """
    out: list[tuple[str, str | None, str]] = []
    for rec in _records(run_input)[:MAX_RECORDS]:
        found = _message(rec)
        if found and found not in out:
            out.append(found)
    return out


def _records(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        return []
    if isinstance(doc.get("Records"), list):
        return doc["Records"]
    if isinstance(doc.get("records"), dict):  # Lambda's Kafka event: records by topic-partition
        return [r for batch in doc["records"].values() if isinstance(batch, list)
                for r in batch]
    return [doc]


def _message(rec: Any) -> tuple[str, str | None, str] | None:
    if not isinstance(rec, dict):
        return None
    source = str(rec.get("eventSource") or "").lower()
    if source in KAFKA_SOURCES or (not source and "eventSourceKey" in rec):
        place = position(rec)
        if isinstance(place, str):
            return None
        topic, partition, offset = place
        return (kafka_record_uid(topic, partition, offset), channel_component("kafka", topic),
                f"input: {rec.get('eventSource') or 'Kafka'} record {topic}/{partition}/{offset}")
    if source == "aws:sqs" and isinstance(rec.get("messageId"), str) and rec["messageId"]:
        arn = str(rec.get("eventSourceARN") or "")
        queue = arn.rsplit(":", 1)[-1] if arn else "unknown"
        return (f"sqs:msg:{rec['messageId']}", channel_component("sqs", queue),
                f"input: aws:sqs record {rec['messageId']}")
    if (isinstance(rec.get("id"), str) and rec["id"] and "detail-type" in rec
            and "source" in rec):
        # The event does not name its bus: no channel.
        return f"eventbridge:msg:{rec['id']}", None, f"input: EventBridge event {rec['id']}"
    return None
