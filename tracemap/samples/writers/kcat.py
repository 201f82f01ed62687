"""Kafka topics as ``kcat -C -b BROKER -t TOPIC -J -e -o beginning`` dumps them.

One JSON envelope per line (kcat 1.7): ``topic, partition, offset, tstype, ts, broker,
headers`` (a flat ``[name, value, ...]`` array), ``key`` and ``payload`` as text. The payload is
the producer's own JSON text: Python producers (``json.dumps``) put a space after ``:`` and
``,``, Go producers (``encoding/json``) do not.
"""

from __future__ import annotations

import json

import orjson

from tracemap.samples import landscape as L
from tracemap.samples.records import KafkaRecord
from tracemap.samples.writers import Sink

FORMAT = "kafka_kcat"


def producer_text(record: KafkaRecord) -> str:
    language = L.SERVICES[L.TOPICS[record.topic].producer].language
    if language == "python":
        return json.dumps(record.payload)
    return orjson.dumps(record.payload).decode()


def envelope(record: KafkaRecord) -> dict[str, object]:
    headers: list[str] = []
    for name, value in record.headers:
        headers += [name, value]
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset,
            "tstype": "create", "ts": record.ts_ms, "broker": record.partition % 3 + 1,
            "headers": headers, "key": record.key, "payload": producer_text(record)}


def write(sink: Sink, records: list[KafkaRecord], folder: str) -> None:
    for record in records:
        sink.append(FORMAT, f"{folder}/{record.topic}.jsonl", orjson.dumps(envelope(record)))
