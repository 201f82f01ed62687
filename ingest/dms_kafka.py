"""AWS DMS change records as its Apache Kafka (or Kinesis) target endpoint writes them.

AWS Database Migration Service 3.x, Kafka/MSK or Kinesis target, ``MessageFormat`` ``json``
(pretty, one object over many lines) or ``json-unformatted`` (one per line), dumped from the
topic. A record is ``{"data": {row}, "metadata": {timestamp, record-type (data|control),
operation (load|insert|update|delete, or create-table/drop-table/add-column... for control
records), partition-key-type, partition-key-value?, schema-name, table-name,
transaction-id}}``; ``IncludeTransactionDetails`` adds ``transaction-record-id``,
``prev-transaction-id``, ``prev-transaction-record-id``, ``commit-timestamp`` and
``stream-position``. ``BeforeImageSettings`` adds a top-level before image (``before-image``
by default); the ``add-before-image-columns`` transformation adds ``BI_<column>`` columns to
``data`` instead. Both are kept in the payload.

Rows: each record is a message on channel ``<schema-name>.<table-name>`` (the DMS topic is an
endpoint setting that records do not state; the ``topic`` option names it), event type
``<table>.<operation>``. Records hold no offsets, so the uid is
``dms:msg:<schema>.<table>/<stream-position or transaction-id>/<hash>`` with hash the first
12 hex digits of the SHA-1 of the record's data, operation, timestamp, before image and
transaction record id. ``transaction-id`` becomes a ``business:db_transaction`` key so the
changes of one source transaction join (qualified as ``<server>/<id>`` when the ``server``
option names the source database, as debezium_json qualifies them with the server name).

Quirk: test resources start with a ``/* licence */`` block, which is not a record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import partial
from typing import Any

from ingest._json import (
    compact,
    elements,
    head_object,
    json_values,
    raw_json,
    shape,
    starts_with_key,
)
from ingest.base import (
    Batch,
    BatchBuilder,
    Source,
    cap_payload,
    dumps,
    first_json_value,
    us_from_iso,
)
from ingest.debezium_json import DB_TRANSACTION
from tracemap.model import Status, channel_component

NAME = "dms_kafka"

#: Metadata fields kept in ``detail`` (under DMS's own names).
METADATA_DETAIL = ("record-type", "operation", "partition-key-type", "partition-key-value",
                   "schema-name", "table-name", "transaction-id", "transaction-record-id",
                   "prev-transaction-id", "prev-transaction-record-id", "commit-timestamp",
                   "stream-position")
RECORD_TYPES = ("data", "control")


def sniff(head: bytes, path: str) -> bool:
    obj = head_object(head)
    if obj is not None:
        meta = obj.get("metadata")
        return isinstance(meta, dict) and "record-type" in meta and "operation" in meta
    text = first_json_value(head)
    return (starts_with_key(head, "data", "metadata") and b'"record-type"' in text
            and b'"partition-key-type"' in text)


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    expected = "an AWS DMS record (JSON object with data and metadata)"
    add = partial(_add_record, b, src)
    for where, value in json_values(src, b, expected):
        for loc, rec in elements(value, where, "document"):
            b.record(add, rec, loc, raw=raw_json)
            if b.ready():
                yield b.take()
    yield b.take()


def _add_record(b: BatchBuilder, src: Source, rec: Any, where: str) -> str | None:
    """Add one DMS record; returns why it is unusable, or None."""
    meta = rec.get("metadata") if isinstance(rec, dict) else None
    if not isinstance(meta, dict):
        return f"expected a DMS record with a 'metadata' object, got {shape(rec)}"
    record_type = meta.get("record-type")
    if record_type not in RECORD_TYPES:
        return f"field 'metadata.record-type': expected data or control, got {record_type!r}"
    schema, table = str(meta.get("schema-name") or ""), str(meta.get("table-name") or "")
    operation = meta.get("operation")
    if not table or not operation:
        return "fields 'metadata.table-name'/'metadata.operation': expected non-empty strings"
    try:
        produced = us_from_iso(meta.get("timestamp"))
    except ValueError:
        return f"field 'metadata.timestamp': expected an ISO-8601 time, got {meta['timestamp']!r}"
    data = rec.get("data")
    name = f"{schema}.{table}" if schema else table
    channel = src.options.get("topic") or name
    tx = meta.get("transaction-id")
    extras = {k: v for k, v in rec.items() if k not in ("data", "metadata")}
    digest = hashlib.sha1(dumps({"data": data, "op": operation, "ts": meta.get("timestamp"),
                                 "extra": extras,
                                 "rec": meta.get("transaction-record-id")}).encode())
    position = meta.get("stream-position") or tx
    uid = (f"dms:msg:{name}/{position if position not in (None, '') else '-'}/"
           f"{digest.hexdigest()[:12]}")
    text, cut = cap_payload(rec)
    b.message(uid=uid, system="kafka", component=channel_component("kafka", channel),
              channel=channel, event_type=f"{table}.{operation}", msg_key=None,
              produced_at=produced, status=Status.OK, headers=None, payload=text,
              location=where,
              detail=compact({**{k: meta.get(k) for k in METADATA_DETAIL},
                              "before_image_field": next(iter(extras), None),
                              "payload_truncated": cut or None}))
    if tx not in (None, ""):
        server = src.options.get("server")
        b.key(uid, DB_TRANSACTION, f"{server}/{tx}" if server else str(tx))
    b.keys(uid, src.rules.payload(data))
    return None
