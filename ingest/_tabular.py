"""Shared reading of tabular exports (CSV/TSV, Parquet) for ``tabular_spans`` and ``tabular_logs``.

Not an ingestor (the registry does not list it): the column vocabulary, the streaming readers
and the vectorized value normalizers both tabular ingestors use.

Columns are found by their common spellings, compared case- and punctuation-insensitively
(``traceId`` = ``trace_id`` = ``TraceID`` = ``trace.trace_id``), or named by the user with
``--map COLUMN=FIELD`` (``src.options["column_map"]``). A time column's unit comes from its
name's suffix (``_ms``, ``_us``, ``_ns``, ``UnixNano``, ``Millis``...) or, failing that, from
each value's magnitude (``base.us_auto``); ISO-8601 text works too.

CSV is read in blocks of whole records (a quoted field may hold newlines) through
``Source.open()``, so memory stays bounded, ``.gz`` works and the loader sees progress; each
block is parsed by Polars with every column as text. A block Polars cannot parse, or whose rows
do not line up with its lines, is re-read with the ``csv`` module, so one bad record costs one
reject, never the file. Parquet is read in record batches with pyarrow, types kept, except
that bytes become text: raw bytes (otlp2parquet's ``FixedSizeBinary`` trace and span ids,
ClickHouse ``FixedString``) as lowercase hex, UTF-8 text in a binary column (ClickHouse
``String``) as that text; and an OTLP ``AnyValue`` struct (otlp2parquet's ``Body``) as its value.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ingest.base import (
    SNIFF_BYTES,
    Source,
    UnreadableFile,
    b64_text,
    dumps,
    loads,
    us_from_iso,
)
from tracemap.errors import IngestError

#: The fields a column can be mapped to (``--map COLUMN=FIELD``), with what each holds.
FIELDS: dict[str, str] = {
    "trace_id": "trace id: hex, base64, decimal, raw bytes (Parquet binary), bytes as text "
                "(\\x..., 0x..., a UUID) or any text (hashed to a stable 32-hex id)",
    "span_id": "span id, same rules as trace_id (16 hex digits)",
    "parent_span_id": "parent span id; empty, 'root', 'null' or all zeros mean none",
    "service": "service name",
    "pod": "Kubernetes pod name; the service is the pod name without its generated suffix",
    "operation": "span name / operation",
    "kind": "span kind: server, SPAN_KIND_CLIENT, 3 ...",
    "status": "span status: ERROR, STATUS_CODE_OK, 2, true/false, HTTP 100-599 ...",
    "status_message": "status message / error text",
    "scope": "instrumentation scope (library) name",
    "start": "span start: epoch s/ms/µs/ns or ISO-8601",
    "end": "span end: epoch s/ms/µs/ns or ISO-8601",
    "duration": "span duration: a number (unit from the name or detected) or text like 12ms",
    "time": "log record time: epoch s/ms/µs/ns or ISO-8601",
    "level": "log level / severity",
    "message": "log message (Docker JSON and CRI log lines are unwrapped)",
}

#: Spellings of each field, normalized (lowercase, letters and digits only), best first.
ALIASES: dict[str, tuple[str, ...]] = {
    "trace_id": ("traceid", "tracetraceid", "ddtraceid", "traceidhex"),
    "span_id": ("spanid", "tracespanid", "ddspanid", "spanidhex"),
    "parent_span_id": ("parentspanid", "parentid", "traceparentid", "ddparentid",
                       "parentspan", "parent"),
    "service": ("servicename", "service", "resourceservicename", "processservicename",
                "application", "app"),
    "pod": ("podname", "k8spodname", "kubernetespodname", "pod", "cmdbid", "instance"),
    "operation": ("operationname", "spanname", "name", "operation", "endpoint", "interface",
                  "resource", "resourcename"),
    "kind": ("spankind", "kind"),
    "status": ("statuscode", "status", "otelstatuscode", "spanstatuscode", "spanstatus",
               "error", "iserror", "haserror", "httpstatuscode", "httpresponsestatuscode",
               "responsecode"),
    "status_message": ("statusmessage", "otelstatusdescription", "statusdescription",
                       "errormessage", "errormsg", "exceptionmessage"),
    "scope": ("scopename", "otelscopename", "otellibraryname", "instrumentationlibraryname",
              "scope", "library"),
    "start": ("starttime", "start", "starttimestamp", "startts", "startedat", "begin",
              "timestamp", "ts", "time", "date"),
    "end": ("endtime", "end", "endtimestamp", "endts", "endedat", "finishtime", "finish",
            "stoptime"),
    "duration": ("duration", "elapsed", "latency", "rt", "responsetime", "took"),
    "time": ("timestamp", "time", "ts", "datetime", "date", "eventtime", "logtime",
             "observedtimestamp", "observedtime"),
    "level": ("level", "severity", "severitytext", "loglevel", "lvl", "levelname", "loglvl"),
    "message": ("message", "msg", "body", "log", "logline", "line", "text", "content", "raw"),
}

#: Status columns that are an error flag (true/1 = failed) rather than a status code.
FLAG_COLUMNS = frozenset({"error", "iserror", "haserror"})

#: Unit suffixes of time-column names (normalized), longest first; ``None`` = no unit.
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("unixnano", "ns"), ("nanos", "ns"), ("nano", "ns"), ("ns", "ns"),
    ("micros", "us"), ("micro", "us"), ("us", "us"),
    ("millis", "ms"), ("milli", "ms"), ("ms", "ms"),
    ("seconds", "s"), ("secs", "s"), ("sec", "s"),
)
TIME_FIELDS = frozenset({"start", "end", "duration", "time"})

#: Multipliers to µs, as (numerator, denominator) so integers stay exact.
UNIT_TO_US: dict[str, tuple[int, int]] = {
    "s": (1_000_000, 1), "ms": (1000, 1), "us": (1, 1), "ns": (1, 1000),
    "m": (60_000_000, 1), "h": (3_600_000_000, 1),
}
#: Unit words found after a number in duration text (``12ms``, ``1.5 s``, ``300µs``).
DURATION_WORDS: dict[str, str] = {
    "ns": "ns", "nanos": "ns", "us": "us", "µs": "us", "μs": "us", "micros": "us",
    "ms": "ms", "millis": "ms", "s": "s", "sec": "s", "secs": "s", "m": "m", "min": "m",
    "h": "h",
}

#: Attribute-name prefixes that describe the process, not the span (OTel resource
#: semantic conventions): such columns go to the run's detail as well as the span's.
RESOURCE_PREFIXES = ("service.", "host.", "k8s.", "container.", "process.", "telemetry.",
                     "cloud.", "deployment.", "os.", "faas.", "device.")

#: Columns holding many attributes at once (normalized names), flattened to one attribute
#: each: ClickHouse ``SpanAttributes``/``LogAttributes``/``ResourceAttributes`` maps, Grafana
#: and Jaeger ``tags``/``serviceTags`` arrays of ``{key, value}``, JSON objects. Resource bags
#: describe the process, so their attributes go on the service run too.
SPAN_BAGS = frozenset({"spanattributes", "logattributes", "attributes", "attrs", "tags",
                       "spantags", "labels"})
RESOURCE_BAGS = frozenset({"resourceattributes", "resource", "servicetags", "processtags",
                           "resourcetags"})

#: Texts that mean "no id" in an id column.
NONE_IDS = frozenset({"", "root", "(root)", "null", "none", "nil", "-", "undefined", "nan"})

# Kubernetes pod names: <deployment>-<pod-template-hash>-<5>, <cronjob>-<minutes>-<5>,
# <statefulset>-<ordinal>, <daemonset or job>-<5>. Generated suffixes use the
# apimachinery SafeEncodeString alphabet (no vowels, no 0/1/3), which keeps real words.
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
POD_SUFFIXES: tuple[str, ...] = (
    rf"^(.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$",
    rf"^(.+)-\d{{8,10}}-{_SAFE}{{5}}$",
    r"^(.+)-\d+$",
    rf"^(.+)-{_SAFE}{{5}}$",
)

#: Bytes of CSV read at a time; a block is cut after the last whole record. Peak memory is
#: a few tens of times this (the rows a block becomes, in several tables).
BLOCK_BYTES = 4 << 20
#: A record that is still open (unbalanced quote) after this many bytes is cut at a newline.
MAX_RECORD_BYTES = 64 << 20
#: Parquet rows per batch.
PARQUET_ROWS = 32_768

#: Internal columns added to every chunk (names no export uses).
LOC = "_tm_loc"
ROW = "_tm_row"
INTERNAL = (LOC, ROW)


def norm_name(name: str) -> str:
    """A column name as compared with ``ALIASES``: lowercase letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def field_of(name: str, wanted: frozenset[str]) -> list[tuple[str, str | None, int]]:
    """``(field, unit, rank)`` for each wanted field this column name spells; rank 0 is best."""
    low = norm_name(name)
    out: list[tuple[str, str | None, int]] = []
    for fld in wanted:
        aliases = ALIASES.get(fld, ())
        if low in aliases:
            out.append((fld, None, aliases.index(low)))
            continue
        if fld in TIME_FIELDS:
            for suffix, unit in UNIT_SUFFIXES:
                stem = low.removesuffix(suffix)
                if stem != low and stem in aliases:
                    out.append((fld, unit, aliases.index(stem)))
                    break
    return out


@dataclass
class Columns:
    """Which source column feeds each field, and the rest (kept as attributes)."""

    by_field: dict[str, str] = field(default_factory=dict)
    units: dict[str, str | None] = field(default_factory=dict)
    extras: list[str] = field(default_factory=list)
    flag_status: bool = False

    def get(self, fld: str) -> str | None:
        return self.by_field.get(fld)

    def note(self) -> dict[str, Any]:
        """What was chosen, for ``sources.detail`` (so a user can check the mapping)."""
        return {f: (f"{c} ({self.units[f]})" if self.units.get(f) else c)
                for f, c in self.by_field.items()}


def resolve(names: list[str], wanted: frozenset[str], column_map: dict[str, str] | None,
            synonyms: dict[str, str], display: str) -> Columns:
    """Choose the column of each wanted field: the user's ``--map`` first, then spellings.

    ``synonyms`` folds map fields another tabular format uses (``time`` for spans means
    ``start``). A map naming an unknown field is an error; a mapped column this file lacks is
    ignored, since one ``--map`` serves every file of an ingest.
    """
    cols = Columns()
    for col, fld in (column_map or {}).items():
        fld = fld.strip()
        if fld not in FIELDS:
            close = difflib.get_close_matches(fld, FIELDS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise IngestError(f"{display}: --map {col}={fld}: unknown field '{fld}'.{hint} "
                              f"Fields: {', '.join(FIELDS)}.")
        fld = synonyms.get(fld, fld)
        if col in names and fld in wanted and fld not in cols.by_field:
            cols.by_field[fld] = col
            cols.units[fld] = _unit_of(col) if fld in TIME_FIELDS else None
    best: dict[str, tuple[int, int, str, str | None]] = {}
    taken = set(cols.by_field.values())
    for pos, name in enumerate(names):
        if name in taken:
            continue
        for fld, unit, rank in field_of(name, wanted):
            if fld in cols.by_field:
                continue
            if fld not in best or (rank, pos) < best[fld][:2]:
                best[fld] = (rank, pos, name, unit)
    # A column spells at most one field: the field it spells best (``timestamp`` is a start
    # alias of lower rank than ``starttime``, so it only wins when nothing better exists).
    used: set[str] = set(taken)
    for fld, (_, _, name, unit) in sorted(best.items(), key=lambda kv: kv[1][:2]):
        if name in used:
            continue
        cols.by_field[fld] = name
        cols.units[fld] = unit
        used.add(name)
    status = cols.by_field.get("status")
    cols.flag_status = status is not None and norm_name(status) in FLAG_COLUMNS
    cols.extras = [n for n in names if n not in used and n not in (LOC, ROW)]
    return cols


def _unit_of(name: str) -> str | None:
    low = norm_name(name)
    for suffix, unit in UNIT_SUFFIXES:
        if low.endswith(suffix) and low != suffix:
            return unit
    return None


# --------------------------------------------------------------------------------------------
# Sniffing


def header_of(head: bytes) -> tuple[list[str], str] | None:
    """Column names and separator of a CSV/TSV head, or None if it does not look like one."""
    text = head.lstrip(b"\xef\xbb\xbf")
    if not text or text[:1] in b"{[<#" or b"\x00" in text[:SNIFF_BYTES]:
        return None
    line = text.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        decoded = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    sep = max((",", "\t", ";", "|"), key=decoded.count)
    if decoded.count(sep) == 0:
        return None
    names = next(csv.reader([decoded], delimiter=sep), [])
    return [n.strip() for n in names], sep


def parquet_names(head: bytes, path: str) -> list[str] | None:
    """Top-level column names of a Parquet file, read from its footer (the head cannot say)."""
    if not head.startswith(b"PAR1"):
        return None
    try:
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - a sniff never raises: not readable means not ours
        return None


def spelled(names: list[str], fields: frozenset[str]) -> set[str]:
    """The fields among ``fields`` that some column name spells."""
    return {f for n in names for f, _, _ in field_of(n, fields)}


SHAPE_FIELDS = frozenset({"trace_id", "span_id", "parent_span_id", "duration", "end", "kind",
                          "message", "time", "level"})


def shape(names: list[str]) -> str | None:
    """``spans``, ``logs`` or None, from a table's column names.

    Spans need a trace-id and a span-id column, and either span structure (parent, end,
    duration, kind) or no message column; logs need a message column with a time, a level
    or a trace id. A log export carrying trace and span ids is still logs.
    """
    have = spelled(names, SHAPE_FIELDS)
    structure = bool(have & {"parent_span_id", "duration", "end", "kind"})
    if {"trace_id", "span_id"} <= have and (structure or "message" not in have):
        return "spans"
    if "message" in have and have & {"time", "level", "trace_id"}:
        return "logs"
    return None


def sniff_shape(head: bytes, path: str) -> str | None:
    """The tabular shape of a file (CSV/TSV header or Parquet schema); never raises."""
    try:
        names = parquet_names(head, path)
        if names is None:
            header = header_of(head)
            names = header[0] if header else None
        return shape(names) if names else None
    except Exception:  # noqa: BLE001 - a sniff must never raise
        return None


# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class Chunk:
    """Some data rows: every source column, plus ``_tm_loc`` (``line 12`` / ``row 12``) and
    ``_tm_row`` (index for ``raw``). ``records`` counts data rows (blank lines excluded)."""

    df: pl.DataFrame
    raw: Callable[[int], str]
    records: int
    #: Rows known to be unusable before any field is read (``_tm_row`` -> reason).
    bad: dict[int, str] = field(default_factory=dict)


def read_chunks(src: Source) -> tuple[list[str], Iterator[Chunk]]:
    """Column names and the chunks of a CSV/TSV or Parquet file."""
    with open(src.path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        return _parquet(src)
    if magic[:2] == b"\x1f\x8b" and src.head(4) == b"PAR1":
        raise IngestError(f"{src.display}: gzip-compressed Parquet; Parquet compresses "
                          "internally, so gunzip the file and ingest the .parquet")
    return _csv(src)


def _parquet(src: Source) -> tuple[list[str], Iterator[Chunk]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(src.path)
        names = list(pf.schema_arrow.names)
    except (OSError, ValueError, NotImplementedError) as exc:  # ArrowInvalid: ValueError
        raise UnreadableFile(f"not a readable Parquet file: {exc}") from None

    def batches() -> Iterator[Any]:
        # A corrupt row group (pyarrow reads lazily) refuses the file, not the process.
        it = pf.iter_batches(batch_size=PARQUET_ROWS)
        while True:
            try:
                rb = next(it)
            except StopIteration:
                return
            except (OSError, ValueError, NotImplementedError) as exc:
                raise UnreadableFile(f"Parquet data unreadable: {exc}") from None
            yield rb

    def chunks() -> Iterator[Chunk]:
        start = 1
        text_columns: dict[str, bool] = {}
        for rb in batches():
            # Metadata is of no use here, and Polars panics on a key that is not UTF-8.
            rb = _binary_as_text(_valid_text(rb.replace_schema_metadata(None)), text_columns)
            df = pl.from_arrow(rb)
            assert isinstance(df, pl.DataFrame)
            df = _plain_values(df)
            n = df.height
            df = df.with_columns(
                pl.format("row {}", pl.int_range(start, start + n, dtype=pl.Int64)).alias(LOC),
                pl.int_range(0, n, dtype=pl.Int64).alias(ROW),
            )
            yield Chunk(df, _row_text(df), n)
            start += n
        pf.close()

    return names, chunks()


def _valid_text(rb: Any) -> Any:
    """The record batch with invalid UTF-8 in text columns replaced by U+FFFD, as CSV is read.

    pyarrow does not check the text of a Parquet page, and Polars trusts Arrow's: invalid
    bytes there would abort the process (a Rust panic) when the column is first read.
    """
    import pyarrow as pa

    try:
        rb.validate(full=True)
        return rb
    except pa.ArrowInvalid:
        pass
    def lossy(arr: Any) -> Any:
        if pa.types.is_dictionary(arr.type):
            return pa.DictionaryArray.from_arrays(arr.indices, lossy(arr.dictionary))
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            return arr
        raw = arr.view(pa.large_binary() if pa.types.is_large_string(arr.type)
                       else pa.binary()).to_pylist()
        return pa.array([None if b is None else b.decode("utf-8", "replace") for b in raw],
                        type=arr.type)

    fixed = pa.RecordBatch.from_arrays([lossy(c) for c in rb.columns], schema=rb.schema)
    try:
        fixed.validate(full=True)
    except pa.ArrowInvalid as exc:  # e.g. bad text inside a struct or list column
        raise UnreadableFile(f"Parquet data invalid: {exc}") from None
    return fixed


def _binary_as_text(rb: Any, text_columns: dict[str, bool]) -> Any:
    """The record batch with its byte columns ready to be text: UTF-8 text as text, raw bytes
    as plain binary (``_plain_values`` writes them as lowercase hex).

    A fixed-size binary column holds raw bytes: OTLP trace and span ids as otlp2parquet writes
    them (``FixedSizeBinary(16)``/``(8)``), a ClickHouse ``FixedString(16)``. A variable-size
    binary column is text when every value is UTF-8 (ClickHouse writes ``String`` columns as
    Parquet BYTE_ARRAY unless ``output_format_parquet_string_as_string``), else raw bytes. The
    reading of a column is decided on its first batch (``text_columns``), so one file gets
    one reading.
    """
    import pyarrow as pa

    columns, changed = [], False
    for name, arr in zip(rb.schema.names, rb.columns, strict=True):
        if pa.types.is_fixed_size_binary(arr.type):
            text_columns.setdefault(name, False)
            arr, changed = arr.cast(pa.binary()), True
        elif pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
            if text_columns.setdefault(name, _utf8(arr)):
                try:
                    arr = arr.cast(pa.large_string() if pa.types.is_large_binary(arr.type)
                                   else pa.string())
                except pa.ArrowInvalid:  # a later batch holds bytes: replace what is not text
                    arr = pa.array([None if b is None else b.decode("utf-8", "replace")
                                    for b in arr.to_pylist()], type=pa.string())
                changed = True
        columns.append(arr)
    return pa.RecordBatch.from_arrays(columns, names=rb.schema.names) if changed else rb


def _utf8(arr: Any) -> bool:
    import pyarrow as pa

    try:
        arr.cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


#: Fields of an OTLP ``AnyValue`` written as a struct (otlp2parquet ``Body``, attribute map
#: values), normalized; the first one set is the value.
ANY_VALUE_FIELDS = ("stringvalue", "boolvalue", "intvalue", "doublevalue", "bytesvalue",
                    "jsonvalue", "arrayvalue", "kvlistvalue")


def _any_value_fields(fields: list[str]) -> list[str] | None:
    """The value fields of a struct that is an OTLP ``AnyValue``, in ``ANY_VALUE_FIELDS``
    order, or None when the struct is something else."""
    by_norm = {norm_name(f): f for f in fields}
    found = [by_norm[f] for f in ANY_VALUE_FIELDS if f in by_norm]
    rest = set(by_norm) - set(ANY_VALUE_FIELDS) - {"type"}
    return found if found and not rest else None


def _plain_values(df: pl.DataFrame) -> pl.DataFrame:
    """Byte columns as lowercase hex, and struct columns that are OTLP ``AnyValue``s as the
    text of the value they hold."""
    plain = []
    for name, dtype in df.schema.items():
        if dtype == pl.Binary:
            plain.append(df[name].bin.encode("hex"))
        if not isinstance(dtype, pl.Struct):
            continue
        fields = _any_value_fields([f.name for f in dtype.fields])
        if fields is not None:
            parts = [_text(df[name].struct.field(f)) for f in fields]
            plain.append(pl.DataFrame(parts).select(pl.coalesce(pl.all()).alias(name))
                         .to_series())
    return df.with_columns(plain) if plain else df


def _text(s: pl.Series) -> pl.Series:
    """A column as text, nulls kept: bytes as hex, nested values as JSON."""
    if s.dtype == pl.String:
        return s
    if s.dtype == pl.Binary:
        return s.bin.encode("hex")
    if s.dtype.is_nested() or s.dtype == pl.Object:
        # In Python: Polars cannot write bytes nested in a struct or list as JSON.
        return pl.Series(s.name, [None if v is None else dumps(v) for v in s.to_list()],
                         dtype=pl.String)
    return s.cast(pl.String, strict=False)


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` written as a dict (``{Type, StringValue, ...}``) as the value it
    holds; anything else as it is."""
    if not isinstance(value, dict) or _any_value_fields(list(value)) is None:
        return value
    by_norm = {norm_name(k): v for k, v in value.items()}
    for f in ANY_VALUE_FIELDS:
        if by_norm.get(f) is not None:
            v = by_norm[f]
            return v.hex() if isinstance(v, bytes) else v
    return None


def cell_text(s: pl.Series) -> pl.Series:
    """A column's cells as text whatever their type (nested values as JSON, bytes as hex)."""
    return _text(s)


def unusable_types(df: pl.DataFrame, exc: BaseException) -> str:
    """Why a chunk could not be read, for a column type no reader here expected: the column
    types, so the user can export those columns as text (a data shape, not a crash)."""
    types = ", ".join(f"{n}: {d}" for n, d in df.schema.items() if n not in INTERNAL)
    first = " ".join(str(exc).split())[:300]
    return (f"a column type this reader cannot use ({first}); columns: {types}. Export the "
            "odd columns as text (CSV, or cast them) and ingest again")


def _row_text(df: pl.DataFrame) -> Callable[[int], str]:
    def raw(i: int) -> str:
        row = {k: v for k, v in df.row(i, named=True).items() if k not in (LOC, ROW)}
        return str(row)

    return raw


def _csv(src: Source) -> tuple[list[str], Iterator[Chunk]]:
    head = src.head(1 << 20).removeprefix(b"\xef\xbb\xbf")
    # The header line alone: a NUL or a stray quote in a record below it is that record's
    # problem, not a reason to refuse the file.
    header = header_of(head.split(b"\n", 1)[0] + b"\n")
    if header is None:
        raise IngestError(f"{src.display}: expected a CSV/TSV header line naming the columns")
    return _unique(header[0]), _csv_chunks(src, _unique(header[0]), header[1])


def _unique(names: list[str]) -> list[str]:
    """Column names made unique and non-empty (Polars needs both)."""
    out: list[str] = []
    for i, name in enumerate(names):
        name = name or f"column_{i + 1}"
        base, n = name, 2
        while name in out:
            name, n = f"{base}_{n}", n + 1
        out.append(name)
    return out


def _csv_chunks(src: Source, names: list[str], sep: str) -> Iterator[Chunk]:
    """Blocks of whole records; the file is opened here, so it is closed with the generator."""
    line = 2  # the header is line 1
    with src.open() as fh:
        buf = fh.read(BLOCK_BYTES).removeprefix(b"\xef\xbb\xbf")
        end = buf.find(b"\n")
        buf = buf[end + 1 :] if end >= 0 else b""
        while True:
            data = fh.read(BLOCK_BYTES)
            eof = not data
            buf += data
            if eof:
                block, buf = buf, b""
            else:
                cut = record_end(buf)
                if cut == 0:
                    if len(buf) < MAX_RECORD_BYTES:
                        continue
                    cut = buf.rfind(b"\n") + 1 or len(buf)  # unbalanced quote: cut anyway
                block, buf = buf[:cut], buf[cut:]
            if block.strip():
                chunk = parse_block(block, line, names, sep)
                if eof and not block.endswith(b"\n"):
                    _check_cut(chunk, names, sep)
                if chunk.df.height:
                    yield chunk
            line += block.count(b"\n")
            if eof:
                return


def _check_cut(chunk: Chunk, names: list[str], sep: str) -> None:
    """Mark the file's last record bad when it has fewer fields than the header and no
    newline: the export was cut off mid-record, and its empty cells are not data."""
    if not chunk.df.height:
        return
    last = int(chunk.df[ROW][-1])
    text = chunk.raw(last)
    fields = next(csv.reader([text], delimiter=sep, strict=False), [])
    if len(fields) < len(names):
        chunk.bad[last] = (f"record cut short: expected {len(names)} fields, found "
                           f"{len(fields)} and no line end (file truncated?)")


def record_end(buf: bytes) -> int:
    """Index just past the last newline outside quotes (a record boundary), or 0."""
    odd = buf.count(b'"') & 1
    end = len(buf)
    pos = buf.rfind(b"\n")
    while pos >= 0:
        odd ^= buf.count(b'"', pos, end) & 1  # parity of the quotes before ``pos``
        if not odd:
            return pos + 1
        end = pos
        pos = buf.rfind(b"\n", 0, pos)
    return 0


def parse_block(block: bytes, first_line: int, names: list[str], sep: str) -> Chunk:
    """Whole CSV records starting at ``first_line`` as a chunk of text columns."""
    n_lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    try:
        df = pl.read_csv(block, has_header=False, new_columns=names,
                         schema=dict.fromkeys(names, pl.String), separator=sep,
                         truncate_ragged_lines=True, encoding="utf8-lossy",
                         raise_if_empty=False)
    except Exception:  # noqa: BLE001 - Polars refused the block: the csv module reads anything
        df = None
    if df is not None and df.height == n_lines:
        # One row per line (blank lines give all-null rows): row i starts at line first + i.
        lines: list[bytes] = []

        def raw(i: int) -> str:
            if not lines:
                lines.extend(block.split(b"\n"))
            return lines[i].rstrip(b"\r").decode("utf-8", "replace")

        df = df.with_columns(
            pl.format("line {}", pl.int_range(first_line, first_line + df.height,
                                              dtype=pl.Int64)).alias(LOC),
            pl.int_range(0, df.height, dtype=pl.Int64).alias(ROW),
        )
        df = df.filter(~pl.all_horizontal(pl.col(names).is_null()))
        return Chunk(df, raw, df.height)
    return _parse_block_slow(block, first_line, names, sep)


def _parse_block_slow(block: bytes, first_line: int, names: list[str], sep: str) -> Chunk:
    """The csv module's reading of a block: exact record start lines, any quoting."""
    text = block.decode("utf-8", "replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False)
    rows: list[list[str | None]] = []
    locs: list[str] = []
    raws: list[str] = []
    width = len(names)
    done = 0
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. NUL bytes: keep the record's text, let the caller reject
            rec = [f"\x00csv error: {exc}"]
        start, done = first_line + done, reader.line_num
        if not rec or all(v == "" for v in rec):
            continue
        cells: list[str | None] = [v if v != "" else None for v in rec[:width]]
        rows.append(cells + [None] * (width - len(cells)))
        locs.append(f"line {start}")
        raws.append(sep.join(rec))
    df = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), orient="row")
    df = df.with_columns(pl.Series(LOC, locs, dtype=pl.String),
                         pl.int_range(0, df.height, dtype=pl.Int64).alias(ROW))
    return Chunk(df, lambda i: raws[i], df.height)


# --------------------------------------------------------------------------------------------
# Values


def as_text(s: pl.Series) -> pl.Series:
    """A column as stripped text with empty cells null (any source dtype)."""
    if s.dtype == pl.Binary:
        s = s.bin.encode("hex")
    elif s.dtype.is_float():
        s = s.cast(pl.Int64, strict=False)  # float ids/times: the integer they hold
    if s.dtype != pl.String:
        s = s.cast(pl.String)
    t = pl.col("t").str.strip_chars()
    return pl.DataFrame({"t": s}).select(pl.when(t != "").then(t).alias(s.name)).to_series()


def jsonable(s: pl.Series) -> pl.Series:
    """A column in a type JSON can hold as is (times and bytes as text, categories as text);
    empty text is no value (a CSV cell written ``""`` is as empty as one written bare)."""
    if s.dtype == pl.String:
        return s.set((s == "").fill_null(False), None)  # type: ignore[arg-type]
    if s.dtype == pl.Binary:
        return s.bin.encode("hex")
    if isinstance(s.dtype, pl.Categorical | pl.Enum | pl.Datetime | pl.Date | pl.Time
                  | pl.Duration | pl.Decimal | pl.Object | pl.Null):
        return s.cast(pl.String)
    return s


_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
#: Raw id bytes written as text by a database: PostgreSQL's ``bytea`` hex output (``\x`` then
#: hex digits, the default ``bytea_output``) or a hex literal (``0x...``, as SQL Server and
#: MySQL clients print binary columns).
_BYTES_HEX_RE = re.compile(r"^(?:\\x|0[xX])([0-9a-fA-F]+)$")
#: A 16-byte id in the UUID text form (RFC 9562 8-4-4-4-12), as stores that keep trace ids in a
#: UUID column print it (Promscale, Uptrace).
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_INT_RE = re.compile(r"^-?\d+$")


class IdColumn:
    """Normalizes one id column to lowercase hex of ``nbytes`` bytes (``None`` = no id).

    Hex ids (any case, short ones left-padded like ``base.norm_id``) pass through. A column
    whose ids are all digits with lengths other than 16/32 (Datadog's decimal 64-bit ids,
    numbered spans) is read as decimal, decided once on the first values seen so one file
    gets one reading. Base64 of exactly ``nbytes`` bytes is decoded, and so are bytes written
    as ``\\x``/``0x`` hex (``_BYTES_HEX_RE``) and 16-byte ids written as UUIDs. Anything
    else (``T_123``, ``0.1.2``) becomes the first ``nbytes`` bytes of its SHA-256: stable, and
    joins across files that use the same text.
    """

    def __init__(self, nbytes: int, decimal: bool | None = None) -> None:
        self.nbytes = nbytes
        self.decimal = decimal

    def decide(self, text: pl.Series, numeric: bool) -> None:
        if self.decimal is not None:
            return
        vals = text.drop_nulls()
        vals = vals.filter(~vals.str.to_lowercase().is_in(list(NONE_IDS)))
        if numeric:
            self.decimal = True
        elif vals.len():
            self.decimal = bool(vals.str.contains(r"^\d+$").all()
                                and (~vals.str.len_chars().is_in([16, 32])).any())

    def __call__(self, s: pl.Series) -> tuple[pl.Series, pl.Series]:
        """(normalized ids, the source text where it was not plain hex, else null)."""
        numeric = s.dtype.is_numeric()
        text = as_text(s)
        self.decide(text, numeric)
        width = 2 * self.nbytes
        t = pl.col("t")
        is_hex = t.str.contains(f"^[0-9a-fA-F]{{1,{width}}}$")
        if self.decimal:
            is_hex = is_hex & ~t.str.contains(r"^\d+$")
        df = pl.DataFrame({"t": text}).with_columns(is_hex.fill_null(False).alias("h"))
        df = df.with_columns(
            pl.when("h").then(t.str.to_lowercase().str.pad_start(width, "0")).alias("id"))
        rest = df.filter(~pl.col("h") & t.is_not_null())["t"].unique().to_list()
        if rest:
            mapping = {v: slow_id(v, self.nbytes, bool(self.decimal)) for v in rest}
            df = df.with_columns(pl.col("id").fill_null(
                t.replace_strict(mapping, default=None, return_dtype=pl.String)))
        out = df.select(
            pl.when(pl.col("id").str.contains("^0+$")).then(None).otherwise("id").alias(s.name),
            pl.when(~pl.col("h") & ~t.str.to_lowercase().is_in(list(NONE_IDS))).then(t)
            .alias("source"),
        )
        return out[s.name], out["source"]


def slow_id(text: str, nbytes: int, decimal: bool) -> str | None:
    """One id that is not plain hex: decimal, base64 of the right size, or hashed text."""
    if text.lower() in NONE_IDS:
        return None
    width = 2 * nbytes
    if _INT_RE.match(text) and (decimal or len(text) > width):
        n = int(text)
        if -(1 << 63) <= n < 0:
            n += 1 << 64  # a signed int64 column holding an unsigned id
        if n == 0:
            return None
        if 0 < n < 1 << (8 * nbytes):
            return f"{n:0{width}x}"
    if _HEX_RE.match(text) and len(text) <= width:
        return text.lower().rjust(width, "0")
    m = _BYTES_HEX_RE.match(text)
    digits = m.group(1) if m and len(m.group(1)) <= width else None
    if digits is None and nbytes == 16 and _UUID_RE.match(text):
        digits = text.replace("-", "")
    if digits is not None:
        return digits.lower().rjust(width, "0") if digits.strip("0") else None
    if len(text) in (4 * ((nbytes + 2) // 3), (4 * nbytes + 2) // 3):  # padded, unpadded
        raw = b64_text(text)
        if raw is not None and len(raw) == nbytes:
            return raw.hex()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:width]


def _scale(v: pl.Expr, unit: str) -> pl.Expr:
    num, den = UNIT_TO_US[unit]
    return v * num if den == 1 else v // den


def _auto_int(v: pl.Expr) -> pl.Expr:
    """``base.us_auto`` on integers: the unit read off the magnitude."""
    return (pl.when(v <= 0).then(None)
            .when(v < 10**11).then(v * 1_000_000)
            .when(v < 10**14).then(v * 1000)
            .when(v < 10**17).then(v)
            .otherwise(v // 1000))


def _auto_float(v: pl.Expr) -> pl.Expr:
    return (pl.when(v <= 0).then(None)
            .when(v < 1e11).then(v * 1e6)
            .when(v < 1e14).then(v * 1e3)
            .when(v < 1e17).then(v)
            .otherwise(v / 1e3)).round(0).cast(pl.Int64, strict=False)  # past int64: null


def unit_of_magnitude(value: float) -> str:
    """The unit ``us_auto`` reads an epoch number in."""
    if value < 1e11:
        return "s"
    if value < 1e14:
        return "ms"
    if value < 1e17:
        return "us"
    return "ns"


def times_us(s: pl.Series, unit: str | None) -> tuple[pl.Series, pl.Series]:
    """Epoch µs of a time column, and a mask of cells that are present but unreadable.

    Numbers use ``unit`` or, without one, their magnitude; native Parquet times are exact;
    text that is not a number is read as ISO-8601 (Polars first, ``base.us_from_iso`` for
    what Polars leaves). Zero and negative epochs mean "not set", as in OTLP.
    """
    if isinstance(s.dtype, pl.Datetime):
        t = s.dt.replace_time_zone("UTC") if s.dtype.time_zone is None else s  # type: ignore[union-attr]
        return t.dt.epoch("us").alias(s.name), pl.Series([False] * s.len())
    if s.dtype == pl.Date:
        return s.cast(pl.Datetime("us")).dt.epoch("us"), pl.Series([False] * s.len())
    if s.dtype.is_numeric():
        df = pl.DataFrame({"v": s})
        if s.dtype.is_integer():
            v = pl.col("v").cast(pl.Int64)
            expr = _scale(v, unit) if unit else _auto_int(v)
            expr = pl.when(v > 0).then(expr)
        else:
            v = pl.col("v").cast(pl.Float64)
            expr = (pl.when(v > 0).then(_scale(v, unit).round(0).cast(pl.Int64, strict=False))
                    if unit else _auto_float(v))
        us = df.select(expr.alias(s.name)).to_series()
        return us, (s.fill_null(0) > 0) & us.is_null()  # past any time: unreadable
    text = as_text(s)
    df = pl.DataFrame({"t": text})
    i = pl.col("t").str.to_integer(strict=False)
    f = pl.col("t").cast(pl.Float64, strict=False)
    if unit:
        ie = _scale(i, unit)
        fe = _scale(f, unit).round(0).cast(pl.Int64, strict=False)
    else:
        ie, fe = _auto_int(i), _auto_float(f)
    out = df.select(
        pl.when(i.is_not_null()).then(pl.when(i > 0).then(ie))
        .when(f.is_not_null()).then(pl.when(f > 0).then(fe))
        .alias("us"),
        (i.is_not_null() | f.is_not_null()).alias("num"),
    )
    us, num = out["us"], out["num"]
    todo = text.is_not_null() & ~num
    if todo.any():
        iso = text.filter(todo).str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
        us = us.scatter(todo.arg_true(), iso.dt.epoch("us"))
        left = text.is_not_null() & ~num & us.is_null()
        if left.any():
            values = text.filter(left)
            mapping = {v: _iso_or_none(v) for v in values.unique().to_list()}
            us = us.scatter(left.arg_true(),
                            values.replace_strict(mapping, default=None, return_dtype=pl.Int64))
    # Unreadable: text that is no time, or a positive number past any time (1e20 s).
    positive = df.select((i > 0) | (f > 0)).to_series().fill_null(False)
    bad = text.is_not_null() & us.is_null() & (~num | positive)
    return us.alias(s.name), bad


def _iso_or_none(value: str) -> int | None:
    try:
        return us_from_iso(value)
    except (ValueError, TypeError, OverflowError):
        return None


def durations_us(s: pl.Series, unit: str) -> tuple[pl.Series, pl.Series]:
    """A duration column in µs, numbers in ``unit``, text like ``12ms``/``1.5 s`` by its own."""
    if isinstance(s.dtype, pl.Duration):
        return s.dt.total_microseconds(), pl.Series([False] * s.len())
    if s.dtype.is_numeric():
        v = s.cast(pl.Float64) if s.dtype.is_float() else s.cast(pl.Int64)
        df = pl.DataFrame({"v": v})
        e = _scale(pl.col("v"), unit)
        e = e.round(0).cast(pl.Int64, strict=False) if s.dtype.is_float() else e
        return df.select(e.alias(s.name)).to_series(), pl.Series([False] * s.len())
    text = as_text(s)
    parts = text.str.extract_groups(r"^([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*([a-zµμ]*)$")
    df = pl.DataFrame({"t": text, "n": parts.struct.field("1"),
                       "u": parts.struct.field("2").str.to_lowercase()})
    words = {**{k: k for k in UNIT_TO_US}, **DURATION_WORDS}
    u = pl.when(pl.col("u") == "").then(pl.lit(unit)).otherwise(
        pl.col("u").replace_strict(words, default=None, return_dtype=pl.String))
    num = pl.when(u.is_not_null()).then(u.replace_strict(
        {k: v[0] for k, v in UNIT_TO_US.items()}, default=None, return_dtype=pl.Float64))
    den = u.replace_strict({k: v[1] for k, v in UNIT_TO_US.items()}, default=None,
                           return_dtype=pl.Float64)
    i = pl.col("n").str.to_integer(strict=False)
    f = pl.col("n").cast(pl.Float64, strict=False)
    exact = (i * num.cast(pl.Int64)) // den.cast(pl.Int64)
    out = df.select(
        pl.when(i.is_not_null() & u.is_not_null()).then(exact)
        .otherwise((f * num / den).round(0).cast(pl.Int64, strict=False)).alias("us"))["us"]
    bad = text.is_not_null() & out.is_null()
    return out.alias(s.name), bad


def extra_columns(df: pl.DataFrame, names: list[str]
                  ) -> tuple[dict[str, pl.Series], set[str]]:
    """The extra columns as JSON-ready attributes (bag columns flattened, a column's own
    name winning over a bag's key), and which of them describe the resource."""
    out: dict[str, pl.Series] = {}
    resource: set[str] = set()
    bags: list[tuple[str, bool]] = []
    for name in names:
        kind = _bag_kind(name, df[name].dtype)
        if kind:
            bags.append((name, kind == "resource"))
        else:
            out[name] = jsonable(df[name])
            if name.startswith(RESOURCE_PREFIXES):
                resource.add(name)
    for name, is_resource in bags:
        for col in expand_bag(df[name]).iter_columns():
            if col.name not in out:
                out[col.name] = jsonable(col)
                if is_resource or col.name.startswith(RESOURCE_PREFIXES):
                    resource.add(col.name)
    return out, resource


def _bag_kind(name: str, dtype: pl.DataType) -> str | None:
    low = norm_name(name)
    if low in RESOURCE_BAGS:
        return "resource"
    if low in SPAN_BAGS or isinstance(dtype, pl.Map | pl.Struct):
        return "span"
    return None


def expand_bag(s: pl.Series) -> pl.DataFrame:
    """One column per attribute of a bag column. A cell that is no bag (text that is not a
    JSON object, a ``{key, value}`` array or a ClickHouse map) stays whole, under the
    column's own name."""
    rows = []
    for value in s.to_list():
        bag = _bag(value)
        rows.append(bag if bag is not None else {s.name: value})
    if not any(rows):
        return pl.DataFrame()
    return pl.from_dicts(rows, infer_schema_length=None, strict=False)


_CH_PAIR = re.compile(r"'((?:[^'\\]|\\.)*)':('(?:[^'\\]|\\.)*'|[^,}]*)")
_CH_ESC = re.compile(r"\\(.)")


def _bag(value: Any) -> dict[str, Any] | None:
    if value is None:
        return {}
    if isinstance(value, dict):
        plain = {str(k): any_value(v) for k, v in value.items()}
        return {k: v for k, v in plain.items() if v is not None}
    if isinstance(value, list):
        pairs = [p for p in value if isinstance(p, dict) and "key" in p]
        if len(pairs) == len(value):
            plain = {str(p["key"]): any_value(p.get("value")) for p in pairs}
            return {k: v for k, v in plain.items() if v is not None}
        return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return {}
    if text[0] in "{[":
        try:
            return _bag(loads(text))
        except ValueError:
            pass
    if text.startswith("{") and text.endswith("}") and "'" in text:
        # ClickHouse's text form of Map(String, String): {'k':'v','k2':'it\'s'}
        return {_CH_ESC.sub(r"\1", k): _CH_ESC.sub(r"\1", v[1:-1] if v.startswith("'") else v)
                for k, v in _CH_PAIR.findall(text)}
    return None


_CH_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")
_CH_MAP = re.compile(r"\{(?:[^{}'\\]|'(?:[^'\\]|\\.)*')*\}")


def array_cell(value: Any) -> list[Any]:
    """The elements of an array cell: a Parquet list, JSON array text, or ClickHouse array
    text (``['a','b']``, ``[{'k':'v'}]``); anything else is no elements."""
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        return []
    text = value.strip()
    if not text.startswith("[") or text == "[]":
        return []
    try:
        out = loads(text)
        return out if isinstance(out, list) else []
    except ValueError:
        pass
    if text[1:].lstrip().startswith("{"):
        return [_bag(m) or {} for m in _CH_MAP.findall(text)]
    return [_CH_ESC.sub(r"\1", m) for m in _CH_STRING.findall(text)]


def service_from_pod(pod: pl.Expr) -> pl.Expr:
    """A Kubernetes pod name without its generated suffix: ``checkout-7d9f8b6c5-x2kqz`` ->
    ``checkout``, ``kafka-0`` -> ``kafka``, ``fluentd-x2kqz`` -> ``fluentd``."""
    return pl.coalesce(*(pod.str.extract(p, 1) for p in POD_SUFFIXES), pod)


def fragment(df: pl.DataFrame, columns: list[str]) -> pl.Expr:
    """JSON members ``"col":value,...`` of the non-null cells of ``columns`` (null if none).

    Built as text so every row costs no Python: each cell is encoded on its own, so a null
    is left out rather than written as ``null`` (the OTLP rows have no such members either).
    """
    parts = []
    for name in columns:
        col = pl.col(name)
        parts.append(pl.when(col.is_not_null()).then(
            pl.struct(col).struct.json_encode().str.slice(1).str.head(-1)))
    if not parts:
        return pl.lit(None, pl.String)
    joined = pl.concat_str(parts, separator=",", ignore_nulls=True)
    return pl.when(joined == "").then(None).otherwise(joined)


def json_members(*parts: pl.Expr) -> pl.Expr:
    """``{`` + the non-null member lists, comma-joined + ``}``."""
    return pl.concat_str([pl.lit("{"), pl.concat_str(list(parts), separator=",",
                                                     ignore_nulls=True), pl.lit("}")])
