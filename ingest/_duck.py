"""DuckDB as a parser: the fast path for large JSON-lines inputs (kafka_kcat, otlp_json).

Python spends microseconds on every record it touches; a day of exports is millions of them.
An ingestor with a fast path gives ``read_json_lines`` its SQL instead. DuckDB, in its own
in-memory connection (never the store: ingestors never open it), reads the file with
``read_json`` (explicit JSON-typed columns, in parallel), the ingestor's SQL turns each line
into model columns, and Arrow batches come back in file order, straight into Polars.

The SQL computes the rows for the common shape of a record and flags every line it cannot
vouch for (an unexpected JSON type, a value DuckDB's JSON writer would spell differently than
``base.dumps``). Flagged lines go through the ingestor's Python code with their raw bytes and
line number (read back in one pass at the end), so the two paths are one mapping, which
``tests/ingest/test_fast_paths.py`` checks row for row.

Line numbers: DuckDB yields one row per non-blank line, in order, so row n is line n once a
scan (``usable``) has found no blank or whitespace-only line before the last one. Files with
one, or a byte order mark, go the Python way. When DuckDB cannot read the file from some point
on (a line that is not a JSON object, invalid UTF-8, a duplicate key), ``read_json_lines``
raises ``Stopped`` with the number of lines already delivered, and the ingestor continues from
the next line in Python: nothing is read twice, nothing lost, rejects keep their exact reasons.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from ingest.base import KeyRules, Source, path_steps
from tracemap.model import TABLES, KeyKind

#: Environment switch for the fast paths (``0`` forces the Python path; the parity tests and
#: the benchmark use it to compare both).
ENV = "TRACEMAP_FAST"
#: Files smaller than this go the Python way: the parser's start-up is not worth it.
MIN_BYTES = 256 << 10
#: Rows per Arrow batch handed back (each becomes one loader batch).
BATCH_ROWS = 100_000
#: DuckDB's limit on one line; a longer one stops the fast path (Python reads it).
MAX_OBJECT_BYTES = 16 << 20
#: The parser's memory: DuckDB spills past it, so a huge file never grows the process.
MEMORY_LIMIT = "1GB"

#: Every character ``str.isspace()`` and ``str.strip()`` treat as whitespace (Unicode's White_Space
#: and the four ASCII separators; written out, since finding them costs every command 0.3 s
#: at import; tests/ingest/test_fast_paths.py checks the list against Python's own).
PY_SPACES = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
             "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
#: ``PY_SPACES`` as a RE2 class.
SPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in PY_SPACES) + "]"
#: ``str.strip()`` as a regexp_replace pattern, and a test for whether it would change anything.
STRIP = f"^{SPACE_CLASS}+|{SPACE_CLASS}+$"
EDGE_SPACE = f"^{SPACE_CLASS}|{SPACE_CLASS}$"
#: ``base.parse_traceparent``'s pattern in RE2 (its ``\\s`` is Unicode whitespace; re.I).
TRACEPARENT = (f"^{SPACE_CLASS}*([0-9a-fA-F]{{2}})-([0-9a-fA-F]{{32}})-([0-9a-fA-F]{{16}})"
               "-([0-9a-fA-F]{2})")

#: A line DuckDB's reader skips but ``Source.lines`` counts: empty, or JSON whitespace only.
_BLANK_LINE = re.compile(rb"\n[\n \t\r]")


class Stopped(Exception):
    """DuckDB could not read past some line; the caller continues in Python after ``lines``."""

    def __init__(self, lines: int, reason: str) -> None:
        super().__init__(reason)
        self.lines = lines


def enabled() -> bool:
    """Whether fast paths are on (``TRACEMAP_FAST=0`` turns them off)."""
    return os.environ.get(ENV, "1") != "0"


def usable(src: Source, *, min_bytes: int | None = None) -> bool:
    """Whether DuckDB's n-th row of this file is its n-th line (see the module docstring).

    One sequential read (gunzipped when gzip) with a regex that C scans at memory speed.
    """
    if not enabled():
        return False
    try:
        if src.path.stat().st_size < (MIN_BYTES if min_bytes is None else min_bytes):
            return False
        with src.open() as fh:
            first = fh.read(1 << 20)
            if first[:1] in (b"\n", b" ", b"\t", b"\r") or first.startswith(b"\xef\xbb\xbf"):
                return False
            chunk = first
            while chunk:
                nxt = fh.read(8 << 20)
                # A blank line only shifts numbers when a record follows it: the file's last
                # newlines may be blank.
                probe = chunk + nxt[:1] if nxt else chunk.rstrip(b"\n \t\r")
                if _BLANK_LINE.search(probe):
                    return False
                chunk = nxt
    except (OSError, EOFError, ValueError):
        return False
    return True


def connect() -> duckdb.DuckDBPyConnection:
    """The parser: an in-memory connection with bounded memory, output in input order."""
    conn = duckdb.connect(":memory:")
    for setting in ("SET enable_progress_bar = false", "SET preserve_insertion_order = true",
                    f"SET memory_limit = '{MEMORY_LIMIT}'", "SET TimeZone = 'UTC'"):
        conn.execute(setting)
    return conn


def json_lines(columns: dict[str, str]) -> str:
    """A ``read_json`` call over ``$path`` with these explicit column types (a constant)."""
    cols = ", ".join(f"'{name}': '{dtype}'" for name, dtype in columns.items())
    return (f"read_json($path, format = 'newline_delimited', columns = {{{cols}}}, "
            f"compression = $compression, maximum_object_size = {MAX_OBJECT_BYTES})")


#: What reading a file can raise (bad bytes, a line that is not an object, a duplicate key, an
#: over-long line). Binder and parser errors are bugs in the SQL and propagate.
_READ_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException,
                duckdb.OutOfMemoryException, OSError)


def read_json_lines(src: Source, sql: str, params: dict[str, Any],
                    batch_rows: int = BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """Run ``sql`` over the file; yield its rows in batches, in order, each with ``line``.

    The SQL reads the file through the ``$path``/``$compression`` parameters (``json_lines``)
    and returns one row per line. Raises ``Stopped`` when DuckDB fails part-way, after the
    lines already yielded.
    """
    conn = connect()
    done = 0
    try:
        values = {"path": str(src.path), "compression": "gzip" if src.gzipped() else "none",
                  **params}
        try:
            reader = conn.sql(sql, params=values).to_arrow_reader(batch_rows)
            for batch in reader:
                df = pl.from_arrow(batch)
                assert isinstance(df, pl.DataFrame)
                yield df.with_columns(
                    pl.int_range(done + 1, done + 1 + df.height, dtype=pl.Int64).alias("line"))
                done += df.height
        except _READ_ERRORS as exc:
            raise Stopped(done, str(exc).splitlines()[0]) from None
    finally:
        conn.close()


def lines_at(src: Source, wanted: set[int], after: int | None) -> Iterator[tuple[int, bytes]]:
    """``Source.lines`` restricted to the numbers in ``wanted`` and, if given, those past
    ``after``: one pass for every line the fast path left to Python."""
    if not wanted and after is None:
        return
    last = max(wanted, default=0)
    for number, line in src.lines():
        if number in wanted or (after is not None and number > after):
            yield number, line
        elif after is None and number >= last:
            return


# ---------------------------------------------------------------------------------------------
# Shared SQL pieces


def json_path(path: str) -> str:
    """A ``KeyRules`` payload path (``a.b[0].c``, ``items[*].id``) as a DuckDB JSONPath."""
    return "$" + "".join(f'."{name}"' if name else f"[{index}]" for name, index in path_steps(path))


@dataclass(frozen=True, slots=True)
class PayloadSQL:
    """What an ingestor's SQL needs to read fields and key rules off a decoded payload.

    ``paths`` (bind as ``$paths``) are extracted at once: ``json_extract(doc, $paths)`` gives
    ``fields`` first, then the plain rule paths. ``keys`` is select-list SQL with one column
    per rule (``kinds`` maps column to key kind, for ``key_columns``). ``duplicates`` is a
    condition true where a name on one of those paths may occur twice in an object: orjson
    keeps the last value, DuckDB's JSONPath the first, so such a payload is left to Python.
    """

    paths: list[str]
    keys: str
    kinds: dict[str, str]
    duplicates: str


def payload_sql(doc: str, extracted: str, fields: tuple[str, ...], rules: KeyRules,
                params: dict[str, Any]) -> PayloadSQL:
    """Build ``PayloadSQL`` for ``doc`` (JSON text) and ``extracted`` (its multi-path
    extract); values go into ``params``. Raises ValueError for a rule path DuckDB cannot
    express as ``select_path`` reads it (a quote in a name): the file then goes to Python."""
    plain: list[tuple[str, str]] = []
    wild: list[tuple[str, str]] = []
    for path, kind in rules.payload_keys.items():
        if '"' in path:
            raise ValueError(f"payload path {path!r} has a quote")
        (wild if "[*]" in json_path(path) else plain).append((path, str(kind)))
    paths = [json_path(f) for f in fields] + [json_path(p) for p, _ in plain]
    names: dict[str, str] = {}

    def repeated(path: str) -> str:
        """SQL: some name on ``path`` occurs twice in one of the objects holding it."""
        cheap, exact = [], []
        tokens = path_steps(path)
        for k, (name, _) in enumerate(tokens):
            if not name:
                continue
            ref = names.setdefault(name, f"name_{len(names)}")
            params[ref], params[f"{ref}_q"] = name, f'"{name}"'
            # Cheap: the quoted name occurs twice anywhere in the text. Exact (only then):
            # count it among the keys of each object on the path that holds it.
            cheap.append(f"strlen({doc}) - strlen(replace({doc}, ${ref}_q, '')) "
                         f">= {2 * len(params[f'{ref}_q'].encode())}")
            parent = "$" + "".join(f'."{n}"' if n else f"[{i}]" for n, i in tokens[:k])
            pref = f"parent_{len(params)}"
            params[pref] = parent
            holders = (f"json_extract({doc}, ${pref})" if "[*]" in parent
                       else f"[json_extract({doc}, ${pref})]")
            exact.append(f"list_bool_or(list_transform({holders}, lambda o: CASE WHEN "
                         f"json_type(o) = 'OBJECT' THEN list_count(list_filter(json_keys(o), "
                         f"lambda n: n = ${ref})) > 1 ELSE false END))")
        if not cheap:
            return "false"
        return (f"CASE WHEN {' OR '.join(cheap)} THEN coalesce({' OR '.join(exact)}, false) "
                "ELSE false END")

    cols, kinds, dups = [], {}, []
    for i, path in enumerate([*fields, *(p for p, _ in plain)]):
        value = f"{extracted}[{i + 1}]"
        # CASE: only a decoded payload (value found) may reach the JSON functions.
        dups.append(f"(CASE WHEN {value} IS NOT NULL THEN {repeated(path)} ELSE false END)")
        if i >= len(fields):
            col = f"k_p_{i - len(fields)}"
            cols.append(f"{PY_STR.format(v=value)} AS {col}")
            kinds[col] = plain[i - len(fields)][1]
    for i, (path, kind) in enumerate(wild):
        params[f"k_path_w{i}"] = json_path(path)
        found = f"coalesce(json_extract({doc}, $k_path_w{i}), [])"
        cols.append(f"CASE WHEN {extracted} IS NOT NULL THEN list_filter(list_transform("
                    f"{found}, lambda v: {PY_STR.format(v='v')}), lambda v: v IS NOT NULL) "
                    f"END AS k_w_{i}")
        kinds[f"k_w_{i}"] = kind
        dups.append(f"(CASE WHEN {extracted} IS NOT NULL AND len({found}) > 0 "
                    f"THEN {repeated(path)} ELSE false END)")
    return PayloadSQL(paths, ",\n    ".join(cols) or "NULL AS k_none", kinds,
                      "(" + " OR ".join(dups) + ")" if dups else "false")


#: A JSON value (text) as ``str()`` of the Python value ``select_path`` would return, or NULL
#: for what a key never takes (null, objects, arrays, ""). ``{v}`` is the JSON expression.
PY_STR = """CASE json_type({v})
    WHEN 'VARCHAR' THEN nullif(json_extract_string({v}, '$'), '')
    WHEN 'BIGINT' THEN {v}::VARCHAR WHEN 'UBIGINT' THEN {v}::VARCHAR
    WHEN 'BOOLEAN' THEN CASE WHEN {v}::BOOLEAN THEN 'True' ELSE 'False' END
    WHEN 'DOUBLE' THEN {v}::DOUBLE::VARCHAR END"""


def key_columns(df: pl.DataFrame, kinds: dict[str, str]) -> pl.DataFrame:
    """Key rows (entity_uid, kind, value) from key columns (scalar or list) of ``df``."""
    parts = []
    for column, kind in kinds.items():
        part = df.select(pl.col("uid").alias("entity_uid"), pl.lit(kind).alias("kind"),
                         pl.col(column).alias("value"))
        if isinstance(df.schema[column], pl.List):
            part = part.explode("value")
        parts.append(part.filter(pl.col("value").is_not_null() & (pl.col("value") != "")))
    return pl.concat(parts) if parts else pl.DataFrame(schema=TABLES["keys"])


_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


@dataclass(frozen=True, slots=True)
class HeaderPairs:
    """A batch's headers one per row (``line, name, lname, value``), and the lines whose
    headers the fast path leaves to Python (names colliding once lower-cased, non-ASCII
    names: Python's dict and ``str.lower`` decide those)."""

    table: pl.DataFrame
    odd_lines: pl.Series


def header_pairs(df: pl.DataFrame) -> HeaderPairs:
    """Explode ``names``/``vals`` list columns of a fast-path batch into header rows."""
    pairs = (df.select("line", pl.col("names").alias("name"), pl.col("vals").alias("value"))
             .explode(["name", "value"]).filter(pl.col("name").is_not_null())
             .with_columns(pl.col("name").str.to_lowercase().alias("lname")))
    odd = pairs.filter(pl.struct("line", "lname").is_duplicated()
                       | (pl.col("name").str.len_bytes() != pl.col("name").str.len_chars()))
    return HeaderPairs(pairs, odd["line"].unique())


def first_header(pairs: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    """``line, header_type``: the value of the first of ``names`` (lower-case) a line has with
    a non-empty value, as ``kafka_kcat.event_type`` picks it."""
    rank = pl.DataFrame({"lname": list(names), "rank": list(range(len(names)))})
    return (pairs.filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
            .join(rank, on="lname").sort("line", "rank")
            .group_by("line").agg(pl.col("value").first().alias("header_type")))


def header_keys(pairs: pl.DataFrame, rules: KeyRules) -> pl.DataFrame:
    """``rules.headers(headers)`` for header rows ``uid, lname, value`` (names unique)."""
    pairs = pairs.filter(pl.col("value").is_not_null())
    tp = (pairs.filter(pl.col("lname") == "traceparent")
          .select("uid", pl.col("value").str.extract_groups(TRACEPARENT).alias("g"))
          .unnest("g")
          .select("uid", pl.col("2").str.to_lowercase().alias("trace"),
                  pl.col("3").str.to_lowercase().alias("span"))
          .filter(pl.col("trace").is_not_null() & (pl.col("trace") != _ZERO_TRACE)
                  & (pl.col("span") != _ZERO_SPAN)))
    named = [(n, str(k)) for n, k in rules.header_keys.items() if n != "traceparent"]
    kinds = pl.DataFrame({"lname": [n for n, _ in named], "kind": [k for _, k in named]},
                         schema={"lname": pl.String, "kind": pl.String})
    found = (pairs.join(kinds, on="lname")
             .select("uid", "kind", pl.col("value").str.strip_chars(PY_SPACES))
             .filter(pl.col("value") != ""))
    return pl.concat([
        tp.select(pl.col("uid").alias("entity_uid"), pl.lit(str(KeyKind.TRACE_ID)).alias("kind"),
                  pl.col("trace").alias("value")),
        tp.select(pl.col("uid").alias("entity_uid"), pl.lit(str(KeyKind.SPAN_ID)).alias("kind"),
                  pl.col("span").alias("value")),
        found.select(pl.col("uid").alias("entity_uid"), "kind", "value")])


def model_frame(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """``df`` as ``base.frame`` would build it: the model's columns, order and dtypes (times
    given as epoch µs), missing columns null."""
    cols = []
    for name, dtype in TABLES[table].items():
        col = pl.col(name) if name in df.columns else pl.lit(None)
        if isinstance(dtype, pl.Datetime):
            col = col.cast(pl.Int64).cast(dtype)
        cols.append(col.cast(dtype).alias(name))
    return df.select(cols)
