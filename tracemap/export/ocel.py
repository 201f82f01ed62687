"""OCEL 2.0 (object-centric event log) export, in its JSON and SQLite layouts.

Process-mining tools (pm4py, Celonis, OCPM, ocpa) read one log where every event is related to
the several objects it touched, instead of forcing one case id. From a correlated store:

- **events**: every run, step and message with a time (type: its component, e.g.
  ``temporal:activity:ChargePayment``; a message's is its channel) and every execution (type
  ``execution``, at its start). Attributes: entity, system, status, name, attempt, error,
  duration_ms. An entity with no time cannot be an OCEL event: it is counted in ``untimed``.
- **objects**: components (type ``component``), channels (``channel``: the components messages
  travel on), datasets (``dataset``), executions (``execution``: the stitched case) and business
  keys (type ``business:<name>``, e.g. ``business:order_id``, id ``business:<name>:<value>``).
- **E2O** (event → object, qualifier): ``component`` or ``channel`` (what the event is an instance
  of), ``execution`` (the case it belongs to), ``producer``/``consumer`` (a message's emitting and
  consuming components), ``reads``/``writes`` (datasets of a job), ``business key``.
- **O2O**: the observed component graph (qualifier: edge kind, e.g. ``calls``, ``emits``) and each
  execution's business keys (``business key``).

Layouts follow the OCEL 2.0 specification (ocel-standard.org): JSON ``objectTypes``,
``eventTypes``, ``objects``, ``events`` with ``relationships``; SQLite ``event``, ``object``,
``event_object``, ``object_object``, ``event_map_type``, ``object_map_type`` and one
``event_<type>``/``object_<type>`` table per type. Rows are streamed from DuckDB in batches.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tracemap.errors import TracemapError
from tracemap.model import CHANNEL_KINDS
from tracemap.store import Store

FORMATS = ("ocel-json", "ocel-sqlite")
BATCH = 20_000

#: Event attributes, the same for every event type (OCEL types: string, integer, float, time).
EVENT_ATTRIBUTES = (("entity", "string"), ("system", "string"), ("status", "string"),
                    ("name", "string"), ("attempt", "integer"), ("error", "string"),
                    ("duration_ms", "float"))
OBJECT_ATTRIBUTES = {
    "component": (("system", "string"), ("kind", "string")),
    "channel": (("system", "string"), ("kind", "string")),
    "dataset": (("system", "string"), ("kind", "string")),
    "execution": (("status", "string"), ("systems", "string"), ("entities", "integer")),
    "business": (("value", "string"),),
}
_CHANNEL_KINDS = sorted({*CHANNEL_KINDS.values(), "destination"})

_OBJECTS = """
WITH channels AS (SELECT DISTINCT component FROM entities WHERE kind = 'message'),
-- every component an entity names, also those the component graph leaves out (span operations)
comps AS (SELECT component, first(system ORDER BY rank) AS system, first(kind ORDER BY rank) AS kind
          FROM (SELECT component, system, kind, 0 AS rank FROM component_nodes
                UNION ALL SELECT DISTINCT component, system, split_part(component, ':', 2), 1
                FROM entities WHERE component IS NOT NULL)
          GROUP BY component)
SELECT component AS id,
       CASE WHEN system = 'dataset' THEN 'dataset'
            WHEN component IN (SELECT component FROM channels) OR kind IN ({kinds})
            THEN 'channel' ELSE 'component' END AS type,
       [system, kind] AS attrs
FROM comps
UNION ALL
SELECT execution_id, 'execution', [status, array_to_string(systems, ','), entities::VARCHAR]
FROM executions
UNION ALL
SELECT DISTINCT 'business:' || substr(kind, 10) || ':' || value, kind, [value]
FROM keys WHERE kind LIKE 'business:%'
"""

_E2O = """
SELECT n.uid AS event, n.component AS object,
       CASE WHEN n.kind = 'message' THEN 'channel' ELSE 'component' END AS qualifier
FROM entities n WHERE {timed}
UNION ALL SELECT n.uid, n.execution_id, 'execution' FROM entities n
WHERE n.execution_id IS NOT NULL AND {timed}
UNION ALL SELECT DISTINCT k.entity_uid, 'business:' || substr(k.kind, 10) || ':' || k.value,
                          'business key'
FROM keys k JOIN entities n ON n.uid = k.entity_uid WHERE k.kind LIKE 'business:%' AND {timed}
UNION ALL SELECT DISTINCT e.dst, s.component, 'producer'
FROM edges e JOIN entities s ON s.uid = e.src JOIN entities n ON n.uid = e.dst
WHERE e.kind = 'emits' AND n.kind = 'message' AND {timed}
UNION ALL SELECT DISTINCT e.src, d.component, 'consumer'
FROM edges e JOIN entities d ON d.uid = e.dst JOIN entities n ON n.uid = e.src
WHERE e.kind = 'triggers' AND n.kind = 'message' AND {timed}
UNION ALL SELECT DISTINCT e.dst, c.component, 'consumer'
FROM edges e JOIN entities c ON c.uid = e.src JOIN entities n ON n.uid = e.dst
WHERE e.kind = 'consumes' AND n.kind = 'message' AND {timed}
UNION ALL SELECT DISTINCT e.dst, d.component, 'reads'
FROM edges e JOIN entities d ON d.uid = e.src JOIN entities n ON n.uid = e.dst
WHERE e.kind = 'reads' AND d.kind = 'dataset' AND {timed}
UNION ALL SELECT DISTINCT e.src, d.component, 'writes'
FROM edges e JOIN entities d ON d.uid = e.dst JOIN entities n ON n.uid = e.src
WHERE e.kind = 'writes' AND d.kind = 'dataset' AND {timed}
UNION ALL SELECT 'execution:' || execution_id, execution_id, 'execution' FROM executions
WHERE started_at IS NOT NULL
""".format(timed="n.kind <> 'dataset' AND n.started_at IS NOT NULL")

_EVENTS = """
SELECT uid AS id, component AS type, started_at AS time,
       [kind, system, status, name, attempt::VARCHAR, error,
        ((epoch_us(ended_at) - epoch_us(started_at)) / 1000.0)::VARCHAR] AS attrs
FROM entities WHERE kind <> 'dataset' AND started_at IS NOT NULL
UNION ALL
SELECT 'execution:' || execution_id, 'execution', started_at,
       ['execution', array_to_string(systems, ','), status, execution_id, NULL, NULL,
        ((epoch_us(ended_at) - epoch_us(started_at)) / 1000.0)::VARCHAR]
FROM executions WHERE started_at IS NOT NULL
"""

_O2O = """
SELECT DISTINCT source, target, kind FROM component_edges
UNION ALL
SELECT DISTINCT n.execution_id, 'business:' || substr(k.kind, 10) || ':' || k.value, 'business key'
FROM keys k JOIN entities n ON n.uid = k.entity_uid WHERE k.kind LIKE 'business:%'
"""


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote: where, in which layout, and how many of each OCEL element."""

    path: str
    format: str
    events: int
    objects: int
    e2o: int
    o2o: int
    untimed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export(store: Store, path: str | Path, fmt: str) -> ExportResult:
    """Write the store as an OCEL 2.0 log at ``path`` (``fmt``: ocel-json or ocel-sqlite)."""
    if fmt not in FORMATS:
        raise TracemapError(f"unknown export format '{fmt}': expected one of "
                            f"{', '.join(FORMATS)}")
    out = Path(path)
    try:
        out.unlink(missing_ok=True)
        counts = (_json if fmt == "ocel-json" else _sqlite)(store, out)
    except OSError as exc:
        raise TracemapError(f"{out}: cannot write here ({exc.strerror or exc}); check that "
                            "the directory exists and is writable, or pass another -o.") from None
    untimed = store.sql("SELECT count(*) FROM entities WHERE kind <> 'dataset' AND "
                        "started_at IS NULL").fetchone()[0]
    return ExportResult(str(out), fmt, *counts, untimed=untimed)


def _batches(store: Store, sql: str) -> Any:
    cursor = store.sql(sql)
    while rows := cursor.fetchmany(BATCH):
        yield from rows


def _objects_sql() -> str:
    return _OBJECTS.format(kinds=", ".join(f"'{k}'" for k in _CHANNEL_KINDS))


def _object_kind(object_type: str) -> str:
    return "business" if object_type.startswith("business:") else object_type


def _event_types(store: Store) -> list[str]:
    return [r[0] for r in store.sql(f"SELECT DISTINCT type FROM ({_EVENTS}) ORDER BY 1").fetchall()]


def _object_types(store: Store) -> list[str]:
    return [r[0] for r in store.sql(
        f"SELECT DISTINCT type FROM ({_objects_sql()}) ORDER BY 1").fetchall()]


def _attr(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "integer":
        return int(value)
    if kind == "float":
        return float(value)
    return value


def _iso(value: datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------ JSON
def _json(store: Store, out: Path) -> tuple[int, int, int, int]:
    """The JSON layout, written object by object so a large store never sits in memory."""
    counts = [0, 0, 0, 0]
    with out.open("wb") as f:
        f.write(b'{"eventTypes":')
        f.write(orjson.dumps([{"name": t, "attributes": [{"name": n, "type": k}
                                                           for n, k in EVENT_ATTRIBUTES]}
                              for t in _event_types(store)]))
        f.write(b',"objectTypes":')
        f.write(orjson.dumps([{"name": t, "attributes": [
            {"name": n, "type": k} for n, k in OBJECT_ATTRIBUTES[_object_kind(t)]]}
            for t in _object_types(store)]))
        f.write(b',"objects":[')
        sql = f"""SELECT o.id, o.type, o.attrs, r.rels FROM ({_objects_sql()}) o
                  LEFT JOIN (SELECT source, list({{'objectId': target, 'qualifier': kind}}
                                                  ORDER BY target, kind) AS rels
                             FROM ({_O2O}) GROUP BY source) r ON r.source = o.id
                  ORDER BY o.type, o.id"""
        for i, (oid, otype, attrs, rels) in enumerate(_batches(store, sql)):
            spec = OBJECT_ATTRIBUTES[_object_kind(otype)]
            f.write((b"," if i else b"") + orjson.dumps({
                "id": oid, "type": otype,
                "attributes": [{"name": n, "time": "1970-01-01T00:00:00Z", "value": _attr(v, k)}
                               for (n, k), v in zip(spec, attrs, strict=True) if v is not None],
                "relationships": rels or []}))
            counts[1] += 1
            counts[3] += len(rels or [])
        f.write(b'],"events":[')
        sql = f"""SELECT e.id, e.type, e.time, e.attrs, r.rels FROM ({_EVENTS}) e
                  LEFT JOIN (SELECT event, list({{'objectId': object, 'qualifier': qualifier}}
                                                 ORDER BY object, qualifier) AS rels
                             FROM (SELECT DISTINCT * FROM ({_E2O})) GROUP BY event) r
                         ON r.event = e.id
                  ORDER BY e.time, e.id"""
        for i, (eid, etype, time, attrs, rels) in enumerate(_batches(store, sql)):
            f.write((b"," if i else b"") + orjson.dumps({
                "id": eid, "type": etype, "time": _iso(time),
                "attributes": [{"name": n, "value": _attr(v, k)}
                               for (n, k), v in zip(EVENT_ATTRIBUTES, attrs, strict=True)
                               if v is not None],
                "relationships": rels or []}))
            counts[0] += 1
            counts[2] += len(rels or [])
        f.write(b"]}\n")
    return counts[0], counts[1], counts[2], counts[3]


# ---------------------------------------------------------------------------------- SQLite
_SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "float": "REAL", "time": "TIMESTAMP"}


def _table_names(types: list[str]) -> dict[str, str]:
    """Each type's table suffix: its name as an identifier, made unique."""
    out: dict[str, str] = {}
    for t in types:
        base = re.sub(r"\W+", "_", t).strip("_") or "type"
        name, n = base, 1
        while name in out.values():
            n += 1
            name = f"{base}_{n}"
        out[t] = name
    return out


def _sqlite(store: Store, out: Path) -> tuple[int, int, int, int]:
    """The SQLite layout: the spec's six tables plus one attribute table per type."""
    event_types, object_types = _event_types(store), _object_types(store)
    event_tables, object_tables = _table_names(event_types), _table_names(object_types)
    db = sqlite3.connect(out)
    try:
        db.executescript("""
            CREATE TABLE event (ocel_id TEXT PRIMARY KEY, ocel_type TEXT);
            CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            CREATE TABLE object (ocel_id TEXT PRIMARY KEY, ocel_type TEXT);
            CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            CREATE TABLE event_object (ocel_event_id TEXT, ocel_object_id TEXT,
                ocel_qualifier TEXT);
            CREATE TABLE object_object (ocel_source_id TEXT, ocel_target_id TEXT,
                ocel_qualifier TEXT);
        """)
        db.executemany("INSERT INTO event_map_type VALUES (?, ?)", event_tables.items())
        db.executemany("INSERT INTO object_map_type VALUES (?, ?)", object_tables.items())
        event_columns = ", ".join(f'"{n}" {_SQL_TYPES[k]}' for n, k in EVENT_ATTRIBUTES)
        for table in event_tables.values():
            db.execute(f'CREATE TABLE "event_{table}" (ocel_id TEXT PRIMARY KEY, '
                       f"ocel_time TIMESTAMP, {event_columns})")
        for otype, table in object_tables.items():
            columns = ", ".join(f'"{n}" {_SQL_TYPES[k]}'
                                for n, k in OBJECT_ATTRIBUTES[_object_kind(otype)])
            db.execute(f'CREATE TABLE "object_{table}" (ocel_id TEXT, ocel_time TIMESTAMP, '
                       f"ocel_changed_field TEXT, {columns})")
        events = objects = 0
        cursor = store.sql(f"SELECT * FROM ({_EVENTS}) ORDER BY time, id")
        while batch := cursor.fetchmany(BATCH):
            db.executemany("INSERT INTO event VALUES (?, ?)", [(r[0], r[1]) for r in batch])
            by_table: dict[str, list[tuple[Any, ...]]] = {}
            for eid, etype, time, attrs in batch:
                by_table.setdefault(event_tables[etype], []).append(
                    (eid, _utc(time).strftime("%Y-%m-%d %H:%M:%S.%f"),
                     *(_attr(v, k) for (_, k), v in zip(EVENT_ATTRIBUTES, attrs, strict=True))))
            marks = ", ".join("?" * (2 + len(EVENT_ATTRIBUTES)))
            for table, rows in by_table.items():
                db.executemany(f'INSERT INTO "event_{table}" VALUES ({marks})', rows)
            events += len(batch)
        for oid, otype, attrs in _batches(store, f"SELECT * FROM ({_objects_sql()}) "
                                                 "ORDER BY type, id"):
            spec = OBJECT_ATTRIBUTES[_object_kind(otype)]
            values = [_attr(v, k) for (_, k), v in zip(spec, attrs, strict=True)]
            db.execute("INSERT INTO object VALUES (?, ?)", (oid, otype))
            db.execute(f'INSERT INTO "object_{object_tables[otype]}" VALUES '
                       f"(?, '1970-01-01 00:00:00', NULL, {', '.join('?' * len(values))})",
                       (oid, *values))
            objects += 1
        e2o = _insert(db, "event_object", _batches(store, f"SELECT DISTINCT * FROM ({_E2O})"))
        o2o = _insert(db, "object_object", _batches(store, f"SELECT DISTINCT * FROM ({_O2O})"))
        db.commit()
    finally:
        db.close()
    return events, objects, e2o, o2o


def _insert(db: sqlite3.Connection, table: str, rows: Any) -> int:
    """Rows come DISTINCT from DuckDB, so no key index is built while millions are inserted."""
    before = db.total_changes
    db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", rows)
    return db.total_changes - before
