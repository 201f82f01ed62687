"""Debezium change events as JSON: Kafka Connect JsonConverter values, one per line.

Written by Debezium connectors (1.x-3.x; MySQL/MariaDB, PostgreSQL, SQL Server, Oracle, Db2,
MongoDB, Vitess) through ``org.apache.kafka.connect.json.JsonConverter``, dumped from the
topic (``kafka-console-consumer``, ``kcat -C -f '%s\\n'``, test resources), with
``value.converter.schemas.enable=true`` (``{"schema": ..., "payload": {...}}``) or ``false``
(the payload alone). A payload is ``{before, after, source, op, ts_ms, transaction}``;
``op`` is c/u/d/r/t/m (create, update, delete, snapshot read, truncate, message).

Rows: each change event is a message on the Kafka topic Debezium names it to,
``<source.name>.<db or schema>.<table>`` (``TOPIC_PARTS``; the ``topic`` option overrides
it when routing SMTs renamed topics); ``event_type`` is ``<table>.<op name>``. A file holds
no Kafka offsets, so the uid is built from the source position:
``debezium:msg:<topic>/<position>/<hash>``, where position is the connector's log position
(MySQL ``file:pos:row``, PostgreSQL ``lsn``, SQL Server ``change_lsn:event_serial_no``,
Oracle ``scn``, ...) and hash is the first 12 hex digits of the SHA-1 of the event's
``op``/``before``/``after``/``ts_ms``, because snapshot reads share one position.

Keys: ``business:db_transaction`` = ``<source.name>/<transaction id>`` from
``transaction.id`` (transaction metadata on) or else the connector's own transaction field
(PostgreSQL/Oracle ``txId``, MySQL ``gtid``, SQL Server/Db2 ``commit_lsn``), so the changes
of one database transaction join; the server name qualifies it because bare PostgreSQL xids
repeat across databases. ``business:db_position`` = ``<source.name>/<log position>``
(MySQL ``file:pos``, shared by the rows of one binlog event). Snapshot reads get neither key:
they all share the snapshot's transaction and position. The changed row
(``after``, or ``before`` for deletes) goes through the payload key rules.

Quirks: test resources start with a ``/* licence */`` block (not records); events printed by
``kafka-avro-console-consumer`` are in Avro's JSON encoding (unions as ``{"long": 748}``, rows
as ``{"<topic>.Value": {...}}``) and are unwrapped first; ``ts_ms`` may be
a string (docs examples); 2.x adds ``ts_us``/``ts_ns`` (used for the time when present);
MongoDB ``after`` is a JSON string before 2.x; transaction BEGIN/END events (the
``<server>.transaction`` topic) and heartbeats are skipped by type: they do not name the
server, so their ids cannot be joined safely. A dump may print each message's Kafka key
before it: on the same line after a separator (``print.key=true``: a tab; ``;`` in Paimon's
test resources), where the key may have any shape, or on a line of its own, where it must be
a ``<topic>.Key`` document or a schemaless MongoDB key ``{"id": "..."}``; either way it is the
message's ``msg_key``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import partial
from typing import Any

from ingest._json import (
    Keyed,
    elements,
    head_object,
    json_values,
    raw_json,
    shape,
    split_keyed,
    starts_with_key,
)
from ingest.base import (
    Batch,
    BatchBuilder,
    Skipped,
    Source,
    cap_payload,
    dumps,
    first_json_value,
    loads,
    us_from_ms,
    us_from_ns,
)
from tracemap.model import KeyKind, Status, business_key, channel_component

NAME = "debezium_json"
#: What ``sniff`` looks for (said for a file no format claims).
LOOKS_FOR = ("a change event: {before, after, source, op} or {schema: *.Envelope, payload}, "
             "maybe after its key document")

#: Key kinds this module writes (business keys are open-ended in the model).
DB_TRANSACTION = business_key("db_transaction")
DB_POSITION = business_key("db_position")

#: What a key document printed on its own line is counted as (its event carries the key).
KEY_LINE = "message key line"

OP_NAMES = {"c": "create", "u": "update", "d": "delete", "r": "read", "t": "truncate",
            "m": "message"}

#: Source fields Debezium joins after ``source.name`` into a table's default topic name.
TOPIC_PARTS: dict[str, tuple[str, ...]] = {
    "mysql": ("db", "table"),
    "mariadb": ("db", "table"),
    "postgresql": ("schema", "table"),
    "sqlserver": ("db", "schema", "table"),  # 2.0+; 1.x topics had no database part
    "oracle": ("schema", "table"),
    "db2": ("schema", "table"),
    "informix": ("schema", "table"),
    "mongodb": ("db", "collection"),
    "vitess": ("keyspace", "table"),
}
TOPIC_PARTS_1X = {"sqlserver": ("schema", "table")}
DEFAULT_TOPIC_PARTS = ("db", "table")

#: Source fields that place an event in the database log (joined with ":"), per connector.
POSITION_FIELDS: dict[str, tuple[str, ...]] = {
    "mysql": ("file", "pos"),
    "mariadb": ("file", "pos"),
    "postgresql": ("lsn",),
    "sqlserver": ("change_lsn",),
    "db2": ("change_lsn",),
    "oracle": ("scn",),
    "informix": ("change_lsn",),
    "vitess": ("vgtid",),
}
#: Extra position fields that tell apart the rows of one log event (uid only, not the key).
ROW_FIELDS: dict[str, tuple[str, ...]] = {
    "mysql": ("row",), "mariadb": ("row",), "sqlserver": ("event_serial_no",),
    "mongodb": ("ord",),
}
#: The connector's own transaction field, when ``transaction.id`` is absent.
TRANSACTION_FIELDS: dict[str, str] = {
    "postgresql": "txId", "oracle": "txId", "mysql": "gtid", "mariadb": "gtid",
    "sqlserver": "commit_lsn", "db2": "commit_lsn", "informix": "commit_lsn",
    "mongodb": "txnNumber",
}
#: ``source.snapshot`` values of snapshot reads (the string enum; 1.x also wrote booleans).
SNAPSHOT_VALUES = {"true", "last", "first", "first_in_data_collection",
                   "last_in_data_collection", "incremental"}
#: Source field -> name in ``detail`` where the bare name would be ambiguous.
SOURCE_DETAIL_NAMES = {"version": "connector_version", "name": "server",
                       "ts_ms": "source_ts_ms", "ts_us": "source_ts_us", "ts_ns": "source_ts_ns"}


def sniff(head: bytes, path: str) -> bool:
    obj = head_object(head)
    if obj is not None and is_key_document(obj):
        return _value_after_key(first_json_value(head))
    if obj is not None:
        # A key of any shape (``{"schema": null, "payload": {...}}``, a bare object) before its
        # change event on the same line: the value decides.
        return _is_change_event(obj) or _keyed_change_event(first_json_value(head))
    text = first_json_value(head)
    # A first event cut at the sniff limit (wide tables): Debezium's fixed field order.
    if starts_with_key(head, "before", "after"):
        return b'"source"' in text or b'"after"' in text
    return starts_with_key(head, "schema") and b'"field":"before"' in text.replace(b" ", b"")


def _value_after_key(text: bytes) -> bool:
    """Whether a dump that starts with a key document goes on with a change event: on the
    same line after a separator (``print.key=true``), or on the next line."""
    line, _, rest = text.partition(b"\n")
    if split_keyed(line) is not None:
        return _keyed_change_event(line)
    value = head_object(rest)
    return value is not None and _is_change_event(value)


def _keyed_change_event(text: bytes) -> bool:
    """Whether the first line is ``key<separator>value`` whose value is a change event."""
    pair = split_keyed(text.partition(b"\n")[0])
    return pair is not None and isinstance(pair[1], dict) and _is_change_event(pair[1])


def _is_change_event(obj: dict[str, Any]) -> bool:
    payload = obj.get("payload") if "schema" in obj else obj
    if not isinstance(payload, dict):
        return False
    if payload.get("status") in ("BEGIN", "END") and "data_collections" in payload:
        return True  # a dump that starts on the transaction topic
    if "op" in payload and isinstance(payload.get("source"), dict):
        return True
    schema = obj.get("schema")
    return isinstance(schema, dict) and str(schema.get("name", "")).endswith(".Envelope")


def parse(src: Source) -> Iterator[Batch]:
    b = BatchBuilder()
    expected = "a Debezium change event (JSON object with payload/before/after/source/op)"
    pending: list[str] = []  # a key document's text, waiting for the change event after it
    add = partial(_add_event, b, src, pending)
    for where, value in json_values(src, b, expected, keyed=True):
        if isinstance(value, Keyed):
            pending[:] = [value.key] if value.key is not None else []
            value = value.value
        for loc, event in elements(value, where, "document"):
            b.record(add, event, loc, raw=raw_json, catch=True)
            if b.ready():
                yield b.take()
    yield b.take()


def is_key_document(event: Any) -> bool:
    """A Debezium message key as JsonConverter writes it: ``{schema, payload}`` whose schema is
    named ``<topic>.Key`` (the table's primary key columns), or, schemas disabled, the
    MongoDB connector's key ``{"id": "<_id as extended JSON>"}`` (its documented key shape)."""
    if not isinstance(event, dict):
        return False
    if set(event) == {"id"}:
        return isinstance(event["id"], str)
    schema = event.get("schema")
    return (isinstance(schema, dict) and str(schema.get("name", "")).endswith(".Key")
            and isinstance(event.get("payload"), dict | None))


def _add_event(b: BatchBuilder, src: Source, pending: list[str], event: Any,
               where: str) -> str | Skipped | None:
    """Add one change event; returns why it is unusable, what was skipped, or None."""
    if is_key_document(event):
        # A key printed on its own line before its value (console consumers, docs): it is
        # the next change event's Kafka key, not a record of its own.
        pending[:] = [dumps(event)]
        return Skipped(KEY_LINE)
    key = pending.pop() if pending else None
    if event is None:
        return Skipped("tombstone")
    if not isinstance(event, dict):
        return f"expected a Debezium change event object, got {shape(event)}"
    schema = event.get("schema") if isinstance(event.get("schema"), dict) else {}
    payload = event["payload"] if "payload" in event and "schema" in event else event
    if payload is None:
        return Skipped("tombstone")
    if not isinstance(payload, dict):
        return f"field 'payload': expected an object, got {shape(payload)}"
    if payload.get("status") in ("BEGIN", "END") and "data_collections" in payload:
        return Skipped(f"transaction {payload['status']}")
    if _avro_json(payload):
        payload = _unwrap_avro(payload)
    source = payload.get("source")
    if not isinstance(source, dict):
        if set(payload) <= {"ts_ms", "ts_us", "ts_ns"}:
            return Skipped("heartbeat")
        return ("field 'source': expected the Debezium source block (connector, name, db, "
                f"table ...), got {shape(source)}")
    op = payload.get("op")
    if op is None and ("ddl" in payload or "tableChanges" in payload):
        op = "schema_change"
    elif not isinstance(op, str) or op not in OP_NAMES:
        return f"field 'op': expected one of {', '.join(OP_NAMES)}, got {op!r}"
    try:
        produced = _time(payload)
    except (TypeError, ValueError):
        return f"field 'ts_ms': expected epoch milliseconds, got {payload.get('ts_ms')!r}"
    _add_change(b, src, payload, source, schema, op, produced, where, key)
    return None


def _add_change(b: BatchBuilder, src: Source, payload: dict[str, Any], source: dict[str, Any],
                schema: dict[str, Any], op: str, produced: int | None, where: str,
                key: str | None) -> None:
    connector = str(source.get("connector") or "")
    server = str(source.get("name") or "")
    table = source.get("table") or source.get("collection")
    topic = src.options.get("topic") or _topic(source, schema, connector, server, op)
    position = _joined(source, POSITION_FIELDS.get(connector, ()))
    row = _joined(source, ROW_FIELDS.get(connector, ()))
    after, before = _row(payload.get("after")), _row(payload.get("before"))
    digest = hashlib.sha1(dumps({"op": op, "before": before, "after": after,
                                 "ts": payload.get("ts_ms")}).encode()).hexdigest()[:12]
    uid = f"debezium:msg:{topic}/{':'.join(p for p in (position, row) if p) or '-'}/{digest}"
    text, cut = cap_payload(payload)
    transaction = payload.get("transaction") if isinstance(payload.get("transaction"),
                                                            dict) else {}
    detail = {SOURCE_DETAIL_NAMES.get(k, k): v for k, v in source.items() if v is not None}
    detail.update({
        "op": op, "envelope": schema.get("name"), "schema_version": schema.get("version"),
        "transaction_total_order": transaction.get("total_order"),
        "transaction_collection_order": transaction.get("data_collection_order"),
        "payload_truncated": cut or None,
    })
    op_name = "schema_change" if op == "schema_change" else f"{table}.{OP_NAMES[op]}"
    b.message(uid=uid, system="kafka", component=channel_component("kafka", topic),
              channel=topic, event_type=op_name, msg_key=key, produced_at=produced,
              status=Status.OK, headers=None, payload=text, location=where,
              detail={k: v for k, v in detail.items() if v is not None})
    # Snapshot reads all share the snapshot's transaction and position: keys from them would
    # merge every snapshotted row of every table into one execution.
    if not _is_snapshot(source, op):
        tx = transaction.get("id") or source.get(TRANSACTION_FIELDS.get(connector, ""))
        if tx not in (None, ""):
            b.key(uid, DB_TRANSACTION, f"{server}/{tx}")
        if position:
            b.key(uid, DB_POSITION, f"{server}/{position}")
    b.keys(uid, src.rules.payload(after if after is not None else before))
    if key:
        b.key(uid, KeyKind.MESSAGE_KEY, key)


def _topic(source: dict[str, Any], schema: dict[str, Any], connector: str, server: str,
           op: str) -> str:
    """The topic Debezium names for the event's table (``<server>`` for schema changes)."""
    if op == "schema_change":
        return server or "schema-changes"
    version = str(source.get("version") or "")
    parts = (TOPIC_PARTS_1X.get(connector) if version.startswith("1.") else None) or \
        TOPIC_PARTS.get(connector, DEFAULT_TOPIC_PARTS)
    names = [str(source[p]) for p in parts if source.get(p)]
    if server and names:
        return ".".join([server, *names])
    envelope = str(schema.get("name") or "")
    if envelope.endswith(".Envelope"):
        return envelope.removesuffix(".Envelope")
    return ".".join([server, *names]) or "unknown"


def _joined(source: dict[str, Any], fields: tuple[str, ...]) -> str:
    return ":".join(str(source[f]) for f in fields if source.get(f) not in (None, ""))


def _is_snapshot(source: dict[str, Any], op: str) -> bool:
    snap = source.get("snapshot")
    return op == "r" or snap is True or str(snap).lower() in SNAPSHOT_VALUES


def _row(value: Any) -> Any:
    """A row image; MongoDB 1.x writes documents as extended-JSON strings."""
    if isinstance(value, str) and value[:1] == "{":
        try:
            return loads(value)
        except ValueError:
            return value
    return value


#: Avro's type names as its JSON encoding writes them around a union's value (``{"long": 5}``).
AVRO_TYPES = frozenset({"string", "long", "int", "boolean", "double", "float", "bytes"})


def _union(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in AVRO_TYPES


def _avro_json(payload: dict[str, Any]) -> bool:
    """Whether the event is in Avro's JSON encoding (``kafka-avro-console-consumer`` prints
    AvroConverter records so): the optional ``ts_ms`` or a source field is a union object."""
    source = payload.get("source")
    return _union(payload.get("ts_ms")) or (
        isinstance(source, dict) and any(_union(v) for v in source.values()))


def _unwrap_avro(payload: dict[str, Any]) -> dict[str, Any]:
    """The event with Avro's union objects replaced by their values: ``{"long": 748}`` is 748,
    and ``before``/``after`` as ``{"<topic>.Value": {...}}`` (Debezium's record name) the row."""
    def value(v: Any) -> Any:
        return next(iter(v.values())) if _union(v) else v

    def row(v: Any) -> Any:
        if (isinstance(v, dict) and len(v) == 1 and next(iter(v)).endswith(".Value")
                and isinstance(next(iter(v.values())), dict)):
            v = next(iter(v.values()))
        return {k: value(x) for k, x in v.items()} if isinstance(v, dict) else v

    out = {k: value(v) for k, v in payload.items()}
    for name in ("before", "after"):
        out[name] = row(payload.get(name))
    for name in ("source", "transaction"):
        if isinstance(out.get(name), dict):
            out[name] = {k: value(v) for k, v in out[name].items()}
    return out


def _time(payload: dict[str, Any]) -> int | None:
    """The event time in µs, from the most precise of ``ts_ns``/``ts_us``/``ts_ms``."""
    if payload.get("ts_ns") not in (None, ""):
        return us_from_ns(payload["ts_ns"])
    if payload.get("ts_us") not in (None, ""):
        return int(payload["ts_us"])
    return us_from_ms(payload.get("ts_ms"))
