"""The DuckDB store: the only module that opens the database.

One file (default ``./tracemap.duckdb``, or ``--db``/``TRACEMAP_DB``). Commands that only read
open it read-only; a second writer gets ``StoreBusyError`` instead of waiting or corrupting.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from tracemap.errors import StoreBusyError, StoreError
from tracemap.model import ENTITY_TABLES, TABLES

DEFAULT_DB = "tracemap.duckdb"
#: DuckDB's own default is 80 % of RAM, and it keeps what it inserted cached up to that: memory
#: would grow with the input. Past this limit it evicts and spills to a temporary directory.
#: 1.6 GB (1.49 GiB) keeps a whole process, interpreter and Polars included, under 2 GB at
#: every stage of a 5M-record store; 2 GB let correlate, `failures` and `risks` reach 2.2.
DEFAULT_MEMORY_LIMIT = "1.6GB"
#: The store layout this tracemap writes (``meta.schema_version``); a newer one is refused.
SCHEMA_VERSION = 1

#: Tables holding rows that came from a source (dropped together with it).
SOURCE_TABLES = (*TABLES, "rejects")
#: What ``insert_sources`` takes for each source.
_SOURCE_COLUMNS = {"id": pl.Int32, "path": pl.String, "sha256": pl.String, "size": pl.Int64,
                   "mtime_ns": pl.Int64, "format": pl.String, "chosen_by": pl.String,
                   "records": pl.Int64, "loaded": pl.Int64, "rejected": pl.Int64,
                   "skipped": pl.Int64, "detail": pl.String}


def default_path() -> str:
    """``$TRACEMAP_DB`` or ``./tracemap.duckdb``."""
    return os.environ.get("TRACEMAP_DB") or DEFAULT_DB


@dataclass(frozen=True, slots=True)
class SourceRow:
    """What the store remembers of an ingested file."""

    id: int
    path: str
    sha256: str
    size: int
    mtime_ns: int
    format: str


class Store:
    """A connection to one store file, with the operations tracemap needs of it."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self.path = str(path or default_path())
        self.read_only = read_only
        if read_only and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(
                f"{self.path}: no store here yet. Run `tracemap ingest PATH...` first, "
                "or point --db / TRACEMAP_DB at an existing store."
            )
        try:
            self.conn = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                holder = _lock_holder(str(exc))
                raise StoreBusyError(
                    f"{self.path}: store is in use by another tracemap process{holder}. "
                    "Wait for it to finish, or use another --db."
                ) from None
            if "not a valid DuckDB database" in str(exc):
                raise StoreError(
                    f"{self.path}: not a tracemap store (the file is not a DuckDB database). "
                    "Point --db at a store, or at a new file name to create one."
                ) from None
            raise StoreError(
                f"{self.path}: cannot open the store ({_first_line(exc)}); check that it is a "
                "writable file in an existing directory, or use another --db."
            ) from None
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: not a tracemap store ({_first_line(exc)}). Point "
                             "--db at a store, or at a new file name to create one.") from None
        self._check_schema()
        self.conn.execute("SET TimeZone = 'UTC'")
        limit = os.environ.get("TRACEMAP_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
        try:
            self.conn.execute("SET memory_limit = ?", [limit])
        except duckdb.Error as exc:
            raise StoreError(f"TRACEMAP_MEMORY_LIMIT={limit!r} is not a size DuckDB accepts "
                             f"(e.g. 2GB, 512MB): {exc}") from None
        if not read_only:
            self.conn.execute(files("tracemap").joinpath("schema.sql").read_text())
            self.recover()

    def _check_schema(self) -> None:
        """Refuse a store written by a newer tracemap, or a DuckDB file that is no store."""
        tables = {r[0] for r in self.conn.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        if not tables:
            return  # new: schema.sql creates it
        if "meta" not in tables:
            self.conn.close()
            raise StoreError(f"{self.path}: not a tracemap store (a DuckDB database without "
                             "tracemap's tables). Use another --db; tracemap will not write "
                             "into it.")
        row = self.conn.execute("SELECT value FROM meta WHERE name = 'schema_version'"
                                ).fetchone()
        version = int(row[0]) if row and str(row[0]).isdigit() else 0
        if version > SCHEMA_VERSION:
            self.conn.close()
            raise StoreError(
                f"{self.path}: written by a newer tracemap (store schema {version}; this one "
                f"reads {SCHEMA_VERSION}). Upgrade tracemap (pip install -U tracemap), or use "
                "another --db.")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- queries
    def sql(self, query: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Run one statement with bound parameters."""
        return self.conn.execute(query, params or [])

    def frame(self, query: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a query and return its result as a Polars DataFrame."""
        return pl.from_arrow(self.conn.sql(query, params=params or None).to_arrow_table())

    def rows(self, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts."""
        cur = self.conn.execute(query, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def has_table(self, name: str) -> bool:
        return bool(self.sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()[0])

    # ---------------------------------------------------------------- sources
    def source_by_path(self, path: str) -> SourceRow | None:
        row = self.sql(
            "SELECT id, path, sha256, size, mtime_ns, format FROM sources WHERE path = ? "
            "ORDER BY id DESC LIMIT 1", [path]).fetchone()
        return SourceRow(*row) if row else None

    def source_by_hash(self, sha256: str) -> SourceRow | None:
        row = self.sql(
            "SELECT id, path, sha256, size, mtime_ns, format FROM sources WHERE sha256 = ? "
            "ORDER BY id LIMIT 1", [sha256]).fetchone()
        return SourceRow(*row) if row else None

    def known_sources(self) -> list[tuple[Any, ...]]:
        """Every loaded source as ``(id, path, sha256, size, mtime_ns, format, records, loaded,
        rejected, skipped)``, in id order: one query, so the loader can tell unchanged files
        without a query per file."""
        return self.sql(
            "SELECT id, path, sha256, size, mtime_ns, format, records, loaded, rejected, skipped "
            "FROM sources WHERE state = 'done' ORDER BY id").fetchall()

    def reserve_source_ids(self, n: int) -> list[int]:
        """``n`` new source ids, for ``insert_sources``."""
        return [r[0] for r in self.sql("SELECT nextval('source_ids') FROM range(?)",
                                       [n]).fetchall()]

    def insert_sources(self, rows: list[dict[str, Any]]) -> None:
        """Add finished sources in one statement (``id`` from ``reserve_source_ids``)."""
        if not rows:
            return
        df = pl.DataFrame(rows, schema=_SOURCE_COLUMNS).with_columns(
            pl.lit("done").alias("state"), pl.lit(datetime.now(UTC)).alias("ingested_at"))
        self._insert_arrow("sources", df)

    def insert_rows(self, table: str, df: pl.DataFrame) -> None:
        """Append rows that carry their own ``source_id`` (many sources in one statement)."""
        if table not in SOURCE_TABLES:
            raise StoreError(f"unknown table {table!r}")
        self._insert_arrow(table, df)

    def _insert_arrow(self, table: str, df: pl.DataFrame) -> None:
        self.conn.register("_tm_rows", df.to_arrow())
        try:
            self.conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _tm_rows")  # noqa: S608
        finally:
            self.conn.unregister("_tm_rows")

    def touch_source(self, source_id: int, size: int, mtime_ns: int) -> None:
        """Remember a file's new stat after a hash check found its content unchanged."""
        self.sql("UPDATE sources SET size = ?, mtime_ns = ? WHERE id = ?",
                 [size, mtime_ns, source_id])

    def add_source(self, *, path: str, sha256: str, size: int, mtime_ns: int, fmt: str,
                   chosen_by: str) -> int:
        return self.sql(
            "INSERT INTO sources (path, sha256, size, mtime_ns, format, chosen_by, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [path, sha256, size, mtime_ns, fmt, chosen_by, datetime.now(UTC)],
        ).fetchone()[0]

    def finish_source(self, source_id: int, *, records: int, loaded: int, rejected: int,
                      skipped: int, detail: str) -> None:
        self.sql(
            "UPDATE sources SET records = ?, loaded = ?, rejected = ?, skipped = ?, detail = ?, "
            "state = 'done' WHERE id = ?", [records, loaded, rejected, skipped, detail, source_id])

    def recover(self) -> list[str]:
        """Drop sources an interrupted ingest left half-loaded; returns their paths."""
        stale = self.sql("SELECT id, path FROM sources WHERE state = 'loading' ORDER BY id"
                         ).fetchall()
        if stale:
            self.begin()
            for source_id, _ in stale:
                self.drop_source(source_id)
            self.bump_data_version()
            self.commit()
        return [path for _, path in stale]

    def clear_source(self, source_id: int) -> None:
        """Remove every row that came from a source, keeping the source itself."""
        for table in SOURCE_TABLES:
            self.sql(f"DELETE FROM {table} WHERE source_id = ?", [source_id])  # noqa: S608

    def drop_sources(self, source_ids: list[int]) -> None:
        """``drop_source`` for many at once (a statement per table, not per source)."""
        if not source_ids:
            return
        for table in SOURCE_TABLES:
            self.sql(f"DELETE FROM {table} WHERE list_contains(?, source_id)",  # noqa: S608
                     [source_ids])
        self.sql("DELETE FROM sources WHERE list_contains(?, id)", [source_ids])

    def drop_source(self, source_id: int) -> None:
        """Remove a source and every row that came from it."""
        self.clear_source(source_id)
        self.sql("DELETE FROM sources WHERE id = ?", [source_id])

    # ---------------------------------------------------------------- writes
    def insert(self, table: str, df: pl.DataFrame, source_id: int) -> None:
        """Append a batch to ``table`` in one bulk statement (Arrow, no row loop)."""
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}")
        batch = df.with_columns(pl.lit(source_id, pl.Int32).alias("source_id")).to_arrow()
        self.conn.register("_tm_batch", batch)
        try:
            self.conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _tm_batch")  # noqa: S608
        finally:
            self.conn.unregister("_tm_batch")

    def insert_rejects(self, source_id: int, rejects: list[tuple[str, str, str | None]]) -> None:
        if not rejects:
            return
        df = pl.DataFrame(rejects, schema={"location": pl.String, "reason": pl.String,
                                           "raw": pl.String}, orient="row")
        batch = df.with_columns(pl.lit(source_id, pl.Int32).alias("source_id")).to_arrow()
        self.conn.register("_tm_rejects", batch)
        try:
            self.conn.execute("INSERT INTO rejects BY NAME SELECT * FROM _tm_rejects")
        finally:
            self.conn.unregister("_tm_rejects")

    def begin(self) -> None:
        self.conn.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def bump_data_version(self) -> None:
        """Mark the input rows as changed, so correlation tables are known to be stale."""
        self.sql("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) "
                 "WHERE name = 'data_version'")

    def meta(self, name: str) -> str | None:
        row = self.sql("SELECT value FROM meta WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self.sql("INSERT OR REPLACE INTO meta VALUES (?, ?)", [name, value])

    # ---------------------------------------------------------------- reads
    def counts(self) -> dict[str, int]:
        """Row counts of the model tables."""
        out = {}
        for table in (*ENTITY_TABLES, "keys", "links", "declared", "logs", "rejects"):
            out[table] = self.sql(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        return out

    def systems(self) -> dict[str, dict[str, int]]:
        """Runs, steps and messages per system."""
        out: dict[str, dict[str, int]] = {}
        for table in ("runs", "steps", "messages"):
            for system, n in self.sql(
                f"SELECT system, count(*) FROM {table} GROUP BY 1 ORDER BY 1"  # noqa: S608
            ).fetchall():
                entry = out.setdefault(system or "unknown", {"runs": 0, "steps": 0, "messages": 0})
                entry[table] = n
        return dict(sorted(out.items()))

    def sources(self) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT id, path, sha256, format, chosen_by, records, loaded, rejected, skipped, "
            "ingested_at, detail, state FROM sources ORDER BY id")

    def rejects(self, limit: int | None = None) -> list[dict[str, Any]]:
        query = ("SELECT s.path, r.location, r.reason, r.raw FROM rejects r "
                 "JOIN sources s ON s.id = r.source_id ORDER BY s.id, r.rowid")
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        return self.rows(query)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


_PID = re.compile(r"PID (\d+)")


def _lock_holder(message: str) -> str:
    m = _PID.search(message)
    return f" (pid {m.group(1)})" if m else ""
