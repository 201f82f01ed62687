"""Canal change events as JSON: Alibaba Canal flat messages (MySQL binlog CDC), one per line.

Written by Alibaba Canal 1.1.x to Kafka, RocketMQ, RabbitMQ or Pulsar with
``canal.mq.flatMessage = true`` (the ``canal-json`` format Flink, SeaTunnel, Doris and
StarRocks read), dumped from the topic (``kafka-console-consumer``, ``kcat -C -f '%s\\n'``), and
by TiCDC's ``protocol=canal-json`` sink. One message is one binlog event of one table:
``{data, old, database, table, type, isDdl, es, ts, id, sql, pkNames, sqlType, mysqlType}``,
``data`` the rows after the change (the deleted rows for ``DELETE``), ``old`` the changed
columns' previous values for ``UPDATE``, ``es`` the binlog event time and ``ts`` the time
Canal (or TiCDC) sent it, both epoch ms. JSON lines, a JSON array of messages, or one message.

Rows: each message is a message on the topic it was dumped from: the ``topic`` option, else
``<database>.<table>`` (Canal's own topic is configuration, ``canal.mq.topic`` or a
``dynamicTopic`` rule, that the message does not carry; ``detail.topic_from`` says which).
``event_type`` is ``<table>.<op>`` with Debezium's op names (``create``/``update``/
``delete``, ``read`` for ``INIT`` rows of a full load) so CDC events of both tools read
alike; DDL (``isDdl``: ``CREATE``, ``ALTER``, ``ERASE``, ``TRUNCATE``, ``RENAME``, ``QUERY``
...) is ``schema_change``. ``produced_at`` is
``ts`` (without ``ts`` and ``es``, as TiCDC's storage sink writes, the physical part of
``_tidb.commitTs``); ``es`` stays in ``detail.event_ts_ms``. The uid is
``canal:msg:<topic>/<id>/<hash>``: Canal's message id repeats across restarts (TiCDC always
writes 0), so the first 12 hex digits of the SHA-1 of the type, rows, old values, SQL and
``es`` tell messages apart.

Keys: every row of ``data`` goes through the payload key rules. A transaction id, when the
message has one, is ``business:db_transaction``: ``gtid`` (Canal 1.1.6+ with GTID mode) as
``mysql/<gtid>``, TiCDC's ``_tidb.commitTs`` as ``tidb/<commitTs>``, so the rows of one
transaction join. Skipped by type: TiCDC ``TIDB_WATERMARK`` events (a resolved timestamp, no
change) and messages with neither rows nor SQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import partial
from typing import Any

from ingest._json import elements, head_object, json_values, raw_json, shape
from ingest.base import (
    Batch,
    BatchBuilder,
    Skipped,
    Source,
    cap_payload,
    dumps,
    first_json_value,
    us_from_ms,
)
from tracemap.model import Status, business_key, channel_component

NAME = "canal_json"

DB_TRANSACTION = business_key("db_transaction")

#: Canal's row-change types -> Debezium's op names (``debezium_json.OP_NAMES``). ``INIT`` is a
#: row of an initial full load (Canal adapters' ETL, the form Flink's canal-json reads too).
DML_TYPES = {"INSERT": "create", "UPDATE": "update", "DELETE": "delete", "INIT": "read"}
#: Types that are no change: skipped, counted under their name.
SKIPPED_TYPES = frozenset({"TIDB_WATERMARK"})
#: Top-level fields every flat message has; a sniffed object must have most of them.
FLAT_FIELDS = frozenset({"data", "database", "table", "type", "isDdl", "es", "ts", "pkNames",
                         "sql", "old", "sqlType", "mysqlType"})
#: Fields kept in ``detail`` as the message writes them (rows stay in the payload).
DETAIL_FIELDS = ("database", "table", "type", "isDdl", "id", "pkNames", "gtid")


def sniff(head: bytes, path: str) -> bool:
    obj = head_object(head)
    if obj is not None:
        return _is_flat_message(obj)
    # A first message cut at the sniff limit (many rows): Canal writes ``data`` first and
    # then database/es/id/isDdl, in that (alphabetical) order.
    text = first_json_value(head).lstrip(b"[").lstrip()
    return text.startswith(b'{"data":') and (b'"isDdl"' in text or b'"pkNames"' in text)


def _is_flat_message(obj: dict[str, Any]) -> bool:
    return ("isDdl" in obj and "type" in obj and "database" in obj and "table" in obj
            and len(FLAT_FIELDS & obj.keys()) >= 7)


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    expected = "a Canal flat message (JSON object with data/database/table/type/isDdl)"
    add = partial(_add_message, b, src)
    for where, value in json_values(src, b, expected):
        for loc, message in elements(value, where, "document"):
            b.record(add, message, loc, raw=raw_json, catch=True)
            if b.ready():
                yield b.take()
    yield b.take()


def _add_message(b: BatchBuilder, src: Source, msg: Any, where: str) -> str | Skipped | None:
    """Add one flat message; returns why it is unusable, what was skipped, or None."""
    if not isinstance(msg, dict):
        return f"expected a Canal flat message object, got {shape(msg)}"
    kind = msg.get("type")
    if not isinstance(kind, str) or not kind:
        return f"field 'type': expected INSERT, UPDATE, DELETE or a DDL type, got {kind!r}"
    if kind in SKIPPED_TYPES:
        return Skipped(kind)
    is_ddl = msg.get("isDdl") is True or str(msg.get("isDdl")).lower() == "true"
    if not is_ddl and kind not in DML_TYPES:
        return f"field 'type': expected INSERT, UPDATE or DELETE for a row change, got {kind!r}"
    rows = msg.get("data")
    if rows is not None and not (isinstance(rows, list)
                                 and all(isinstance(r, dict) for r in rows)):
        return f"field 'data': expected an array of row objects, got {shape(rows)}"
    if not rows and not is_ddl:
        return Skipped(f"{kind} without rows")
    for name in ("database", "table"):
        if msg.get(name) is not None and not isinstance(msg.get(name), str):
            return f"field '{name}': expected a string, got {shape(msg.get(name))}"
    try:
        produced = us_from_ms(msg.get("ts")) or us_from_ms(msg.get("es")) or _tso_us(msg)
    except (TypeError, ValueError):
        return f"field 'ts': expected epoch milliseconds, got {msg.get('ts')!r}"
    _add_change(b, src, msg, kind, is_ddl, rows or [], produced, where)
    return None


def _tso_us(msg: dict[str, Any]) -> int | None:
    """The time of a TiCDC message without ``ts``/``es`` (its cloud-storage sink omits them),
    from the commit TSO: a TiDB TSO is epoch ms shifted left by 18 bits."""
    tidb = msg.get("_tidb")
    commit = tidb.get("commitTs") if isinstance(tidb, dict) else None
    if isinstance(commit, int) and not isinstance(commit, bool) and commit > 0:
        return us_from_ms(commit >> 18)
    return None


def _add_change(b: BatchBuilder, src: Source, msg: dict[str, Any], kind: str, is_ddl: bool,
                rows: list[dict[str, Any]], produced: int | None, where: str) -> None:
    database, table = msg.get("database") or "", msg.get("table") or ""
    topic = src.options.get("topic") or ".".join(p for p in (database, table) if p) or "canal"
    digest = hashlib.sha1(dumps({"type": kind, "data": rows, "old": msg.get("old"),
                                 "sql": msg.get("sql"), "es": msg.get("es")}).encode()
                          ).hexdigest()[:12]
    uid = f"canal:msg:{topic}/{msg.get('id', '-')}/{digest}"
    text, cut = cap_payload(msg)
    tidb = msg.get("_tidb") if isinstance(msg.get("_tidb"), dict) else {}
    detail: dict[str, Any] = {k: msg[k] for k in DETAIL_FIELDS if msg.get(k) not in (None, "")}
    detail.update({
        "event_ts_ms": msg.get("es"), "rows": len(rows),
        "sql": (msg.get("sql") or None) if is_ddl else None,
        "commit_ts": tidb.get("commitTs"),
        "topic_from": "option" if src.options.get("topic") else "database.table",
        "payload_truncated": cut or None,
    })
    event_type = "schema_change" if is_ddl else f"{table}.{DML_TYPES[kind]}"
    b.message(uid=uid, system="kafka", component=channel_component("kafka", topic),
              channel=topic, event_type=event_type, msg_key=None, produced_at=produced,
              status=Status.OK, headers=None, payload=text, location=where,
              detail={k: v for k, v in detail.items() if v is not None})
    gtid, commit = msg.get("gtid"), tidb.get("commitTs")
    if kind == "INIT":
        pass  # a full load is no transaction: a key would join every loaded row
    elif gtid not in (None, ""):
        b.key(uid, DB_TRANSACTION, f"mysql/{gtid}")
    elif commit not in (None, ""):
        b.key(uid, DB_TRANSACTION, f"tidb/{commit}")
    for row in rows:
        b.keys(uid, src.rules.payload(row))
