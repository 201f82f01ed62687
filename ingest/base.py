"""The ingestor protocol, and the helpers every format module shares.

An ingestor is a module with three names (the registry in ``ingest/__init__.py`` lists them):

- ``NAME``: the registry key, equal to the module name (``temporal_json``).
- ``sniff(head: bytes, path: str) -> bool``: does the start of the file (first ``SNIFF_BYTES``,
  after transparent gunzip) look like this format? Must never raise. When no sniffer claims
  the head, detection shows them the file's first records instead (``record_view``: noise
  lines and log prefixes cut, long strings shortened), so a sniffer judges a record's shape,
  not where it starts.
- ``parse(src: Source) -> Iterator[Batch]``: yield batches of normalized rows. Never prints,
  never opens DuckDB. Every input record is accounted for exactly once: loaded, rejected
  (``BatchBuilder.reject`` with location and reason) or skipped (well-formed but of no use,
  counted by type). The loader checks ``records == loaded + rejected + skipped``.

``Source``'s readers raise ``UnreadableFile`` when the file as a whole cannot be read (a cut or
corrupt .gz, a document over the size limit); ``parse`` lets it through and the loader records
the file as one rejected record. Anything else escaping ``parse`` is a bug in the ingestor.

The first line of a module's docstring is what ``tracemap formats`` prints.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
import polars as pl

from tracemap.model import PAYLOAD_CAP, TABLES, KeyKind

#: How much of a file ``sniff`` sees.
SNIFF_BYTES = 4096
#: Single-document formats are read whole; past this size they are refused with a clear
#: message (export as JSON lines instead) rather than exhausting memory. It also bounds what
#: a gzip bomb can cost.
MAX_DOCUMENT_BYTES = 512 << 20
#: A line longer than this is rejected without being held in memory whole.
MAX_LINE_BYTES = 64 << 20
#: orjson's nesting limit; deeper documents are refused, not recursed into.
MAX_JSON_DEPTH = 1024
#: Rows per table kept before a batch is handed to the loader.
BATCH_ROWS = 50_000
#: A reject keeps at most this much of the offending input.
RAW_CAP = 2048
#: What handling a record of an unexpected shape raises (a list where a string was, a string
#: where an object was, a number out of range). An ingestor catches these around one record,
#: ``restore``s the builder to before it and rejects it: the record, not the file, is lost.
SHAPE_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, ArithmeticError,
                RecursionError)


class Ingestor(Protocol):
    """What the registry expects of a format module."""

    NAME: str

    def sniff(self, head: bytes, path: str) -> bool: ...

    def parse(self, src: Source) -> Iterator[Batch]: ...


# --------------------------------------------------------------------------------------------
# Correlation-key rules


#: Header names (lower-cased) that carry a correlation key, and the key kind they give.
DEFAULT_HEADER_KEYS: dict[str, str] = {
    "correlation-id": KeyKind.CORRELATION_ID,
    "correlation_id": KeyKind.CORRELATION_ID,
    "correlationid": KeyKind.CORRELATION_ID,
    "x-correlation-id": KeyKind.CORRELATION_ID,
    "x-request-id": KeyKind.CORRELATION_ID,
    "request-id": KeyKind.CORRELATION_ID,
    "causation-id": KeyKind.CAUSATION_ID,
    "causationid": KeyKind.CAUSATION_ID,
    "x-causation-id": KeyKind.CAUSATION_ID,
    "message-id": KeyKind.MESSAGE_ID,
    "messageid": KeyKind.MESSAGE_ID,
    "x-message-id": KeyKind.MESSAGE_ID,
}

#: Span/log attribute names that carry a correlation key.
DEFAULT_ATTRIBUTE_KEYS: dict[str, str] = {
    "messaging.message.id": KeyKind.MESSAGE_ID,
    "messaging.message_id": KeyKind.MESSAGE_ID,
    "messaging.message.conversation_id": KeyKind.CORRELATION_ID,
    "messaging.conversation_id": KeyKind.CORRELATION_ID,
    "correlation_id": KeyKind.CORRELATION_ID,
    "correlation.id": KeyKind.CORRELATION_ID,
    "temporal.workflow_id": KeyKind.WORKFLOW_ID,
    "temporalworkflowid": KeyKind.WORKFLOW_ID,
    "temporal.run_id": KeyKind.RUN_ID,
    "temporalrunid": KeyKind.RUN_ID,
}

#: Paths into decoded payloads that carry a correlation key.
DEFAULT_PAYLOAD_KEYS: dict[str, str] = {
    "correlationId": KeyKind.CORRELATION_ID,
    "correlation_id": KeyKind.CORRELATION_ID,
    "causationId": KeyKind.CAUSATION_ID,
    "causation_id": KeyKind.CAUSATION_ID,
}


@dataclass(frozen=True, slots=True)
class KeyRules:
    """Which headers, attributes and payload paths yield correlation keys.

    Built from defaults plus ``[correlation]`` in ``tracemap.toml``; every ingestor applies
    the same rules through ``headers()``, ``attributes()`` and ``payload()``.
    """

    header_keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_HEADER_KEYS))
    attribute_keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ATTRIBUTE_KEYS))
    payload_keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PAYLOAD_KEYS))

    def headers(self, headers: dict[str, Any]) -> list[tuple[str, str]]:
        """Keys from message headers; ``traceparent`` gives trace and span ids."""
        out: list[tuple[str, str]] = []
        for name, value in headers.items():
            if value is None:
                continue
            low = name.lower()
            if low == "traceparent":
                out.extend(traceparent_keys(str(value)))
            elif low in self.header_keys:
                text = str(value).strip()
                if text:
                    out.append((self.header_keys[low], text))
        return out

    def attributes(self, attrs: dict[str, Any]) -> list[tuple[str, str]]:
        """Keys from span or log attributes; names match case-insensitively, because SDKs
        spell the same attribute differently (``temporalWorkflowID``, ``temporalWorkflowId``)."""
        wanted = _derived(self.attribute_keys, _lowered)
        out: list[tuple[str, str]] = []
        for name, value in attrs.items():
            kind = wanted.get(name.lower())
            if (kind and value is not None and not isinstance(value, dict | list)
                    and str(value) != ""):
                out.append((kind, str(value)))
        return out

    def payload(self, doc: Any) -> list[tuple[str, str]]:
        """Keys found at the configured paths of a decoded payload."""
        if not isinstance(doc, dict | list):
            return []
        out: list[tuple[str, str]] = []
        for path, kind in self.payload_keys.items():
            for value in select_path(doc, path):
                if value is not None and not isinstance(value, dict | list) and value != "":
                    out.append((kind, str(value)))
        return out


#: What is made from a rule table once rather than once per record (its names lower-cased),
#: by the table's id and the maker: (a copy of the table, what was made).
#: The copy tells a table changed since (``load_config`` fills the rules after making them).
_DERIVED: dict[tuple[int, Callable[[dict[str, str]], Any]], tuple[dict[str, str], Any]] = {}


def _derived(table: dict[str, str], make: Callable[[dict[str, str]], Any]) -> Any:
    """``make(table)``, made again only when the table changed."""
    known = _DERIVED.get((id(table), make))
    if known is not None and known[0] == table:
        return known[1]
    made = make(table)
    if len(_DERIVED) > 64:
        _DERIVED.clear()
    _DERIVED[(id(table), make)] = (dict(table), made)
    return made


def _lowered(table: dict[str, str]) -> dict[str, str]:
    """An attribute rule table with its names lower-cased."""
    return {name.lower(): kind for name, kind in table.items()}


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\*|\d+)\]")
#: Paths already split into ``(name, index)`` steps (the configured rules: a handful), bounded.
_PATH_STEPS: dict[str, list[tuple[str, str]]] = {}


def path_steps(path: str) -> list[tuple[str, str]]:
    """A path's ``(name, index)`` steps (``$.`` or ``payload.`` before it cut); shared, so
    never to be changed by the caller."""
    steps = _PATH_STEPS.get(path)
    if steps is None:
        text = path
        for prefix in ("$.", "payload."):
            if text.startswith(prefix):
                text = text[len(prefix) :]
        if len(_PATH_STEPS) > 1024:
            _PATH_STEPS.clear()
        steps = _PATH_STEPS[path] = _PATH_TOKEN.findall(text)
    return steps


def select_path(doc: Any, path: str) -> list[Any]:
    """Values at a JSONPath-like path: ``a.b[0].c``, ``a.items[*].id`` (``$.`` optional)."""
    steps = path_steps(path)
    if len(steps) == 1 and steps[0][0]:  # one name: the usual rule (``correlationId``)
        name = steps[0][0]
        return [doc[name]] if isinstance(doc, dict) and name in doc else []
    current = [doc]
    for name, index in steps:
        nxt: list[Any] = []
        for node in current:
            if name and isinstance(node, dict) and name in node:
                nxt.append(node[name])
            elif index == "*" and isinstance(node, list):
                nxt.extend(node)
            elif index and index != "*" and isinstance(node, list) and int(index) < len(node):
                nxt.append(node[int(index)])
        current = nxt
    return current


# --------------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True, slots=True)
class LineRange:
    """Whole lines of a JSON-lines file: bytes ``start`` to ``end``, the first of them line
    ``first_line`` of the file. A worker parses one so a large file uses every core."""

    start: int
    end: int
    first_line: int


@dataclass
class Source:
    """One input file as an ingestor sees it: bytes (gunzipped), a name for messages, options.

    Attributes:
        path: the file on disk.
        display: how messages name it (the path as the user gave it).
        options: ingestor options (``workflow_id``, ``column_map`` ...), by name.
        rules: the correlation-key rules in force.
        line_range: only these lines of an uncompressed JSON-lines file (``open`` and
            ``lines`` read them, numbered as in the file); ``head`` is still the file's, so
            what a reader decides from it holds for each range of the file alike.
    """

    path: Path
    display: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    rules: KeyRules = field(default_factory=KeyRules)
    line_range: LineRange | None = None

    def __post_init__(self) -> None:
        self.display = self.display or str(self.path)
        self._raw: IO[bytes] | None = None
        self._gzipped: bool | None = None  # by magic, found at the first open
        #: Rejects found below the ingestor (over-long lines): ``(location, reason, raw)``.
        self.oversized: list[tuple[str, str, bytes]] = []
        #: The loader's note of the first reject, ``(location, reason)``: what it tells when
        #: nothing of the file loaded.
        self.first_reject: tuple[str, str] | None = None

    def position(self) -> int:
        """Bytes of the file on disk consumed so far by the last ``open()`` (for progress)."""
        try:
            return self._raw.tell() if self._raw is not None and not self._raw.closed else 0
        except (OSError, ValueError):
            return 0

    def open(self) -> IO[bytes]:
        """The file's bytes, gunzipped when the file is gzip (by magic, not by name), or its
        ``line_range``'s.

        Reading a cut or corrupt gzip stream raises ``UnreadableFile``.
        """
        if self.line_range is not None:
            with open(self.path, "rb") as fh:
                fh.seek(self.line_range.start)
                data = fh.read(self.line_range.end - self.line_range.start)
            self._raw = io.BytesIO(data)
            return self._raw
        return self._open_file()

    def gzipped(self) -> bool:
        """Whether the file is gzip, by its magic (probed once: readers open a small file
        several times)."""
        if self._gzipped is None:
            with open(self.path, "rb") as probe:
                self._gzipped = probe.read(2) == b"\x1f\x8b"
        return self._gzipped

    def _open_file(self) -> IO[bytes]:
        if self.gzipped():
            gz = _GzipReader(self.path, "rb")
            self._raw = gz.fileobj  # the compressed file: its position drives progress
            return gz  # type: ignore[return-value]
        raw = self._raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller
        return raw

    def head(self, size: int = SNIFF_BYTES) -> bytes:
        """The first ``size`` bytes after gunzip (what there is, if the gzip stream breaks off
        sooner); empty if the file cannot be opened."""
        data = bytearray()
        try:
            with self._open_file() as fh:
                while len(data) < size:
                    chunk = fh.read1(size - len(data))
                    if not chunk:
                        break
                    data += chunk
        except (OSError, EOFError, UnreadableFile):
            pass
        return bytes(data)

    def read_document(self) -> bytes:
        """The whole (gunzipped) file, for single-document formats; refuses huge ones.

        The size is checked before reading where the file says it (its size on disk; a
        gzip's trailer, which holds the size modulo 4 GiB), and the read stops at the limit,
        so a gzip bomb costs at most ``MAX_DOCUMENT_BYTES`` of memory, usually none.
        """
        if self._claimed_size() > MAX_DOCUMENT_BYTES:
            raise self._too_large()
        data = bytearray()
        with self.open() as fh:
            while len(data) <= MAX_DOCUMENT_BYTES:
                chunk = fh.read(min(16 << 20, MAX_DOCUMENT_BYTES + 1 - len(data)))
                if not chunk:
                    return bytes(data)
                data += chunk
        raise self._too_large()

    def _claimed_size(self) -> int:
        """The uncompressed size the file states: its size, or a gzip's ISIZE trailer."""
        with open(self.path, "rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                return fh.seek(0, 2)
            if fh.seek(0, 2) < 20:
                return 0
            fh.seek(-4, 2)
            return int.from_bytes(fh.read(4), "little")

    def _too_large(self) -> DocumentTooLarge:
        return DocumentTooLarge(
            f"document over {MAX_DOCUMENT_BYTES >> 20} MiB; export it as JSON lines "
            "(one record per line) so it can be streamed")

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """``(line number, line)`` for each non-blank line, 1-based, newline stripped.

        A line over ``MAX_LINE_BYTES`` is never held whole: it is read past in chunks and put
        in ``oversized`` as a reject the loader records (the ingestor never sees it). So is a
        gzip stream that breaks off: the lines before it load.
        """
        with self.open() as fh:
            number = self.line_range.first_line - 1 if self.line_range else 0
            while True:
                try:
                    line = fh.readline(MAX_LINE_BYTES)
                except UnreadableFile as exc:
                    self.oversized.append((f"line {number + 1}", str(exc), b""))
                    return
                if not line:
                    return
                number += 1
                if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
                    try:
                        size = len(line) + _skip_line(fh)
                    except UnreadableFile as exc:
                        self.oversized.append((f"line {number}", str(exc), line[:RAW_CAP]))
                        return
                    self.oversized.append((
                        f"line {number}",
                        f"line of {size:,} bytes is over the {MAX_LINE_BYTES >> 20} MiB limit "
                        "for one record; split the record or export it another way",
                        line[:RAW_CAP]))
                    continue
                line = line.strip()
                if line:
                    yield number, line


def _skip_line(fh: IO[bytes]) -> int:
    """Read past the rest of a line in bounded chunks; returns how many bytes it had."""
    skipped = 0
    while True:
        chunk = fh.readline(1 << 20)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def is_json_lines(src: Source) -> bool:
    """Whether a JSON file is JSON lines: its first line alone is a complete JSON value.

    A pretty-printed document opens with a line (``{``) that is not. The first line is read
    whole (up to ``MAX_LINE_BYTES``): exporters write lines far longer than a sniff head. A
    first line that is not JSON (a record cut or garbled) still makes JSON lines when the next
    two lines (or the only next one) are each a whole object or array: no pretty-printed
    document has such lines, and reading the file as one document would lose every record.
    A ``line_range`` is JSON lines: it is cut only from a file found to be.
    """
    if src.line_range is not None:
        return True
    lines: list[bytes] = []
    try:
        with src.open() as fh:
            while len(lines) < 3:
                line = fh.readline(MAX_LINE_BYTES)
                if not line or (len(line) == MAX_LINE_BYTES and not line.endswith(b"\n")):
                    break  # the end, or a line over the limit: no whole value, read no further
                if line.strip():
                    lines.append(line)
                    if len(lines) == 1 and is_json(line):
                        return True
    except UnreadableFile:
        pass
    rest = lines[1:]
    return bool(rest) and all(line.lstrip()[:1] in (b"{", b"[") and is_json(line)
                              for line in rest)


def is_json(data: bytes) -> bool:
    """Whether ``data`` is one whole JSON value."""
    try:
        loads(data)
    except ValueError:
        return False
    return True


class UnreadableFile(ValueError):
    """The file as a whole cannot be read: the loader records it as one rejected record."""


class _GzipReader(gzip.GzipFile):
    """A GzipFile whose read errors (cut stream, bad CRC, corrupt data) say what to do."""

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(size)
        except (EOFError, OSError, zlib.error) as exc:
            raise UnreadableFile(_gzip_reason(exc)) from None

    def read1(self, size: int = -1) -> bytes:
        try:
            return super().read1(size)
        except (EOFError, OSError, zlib.error) as exc:
            raise UnreadableFile(_gzip_reason(exc)) from None

    def readline(self, size: int | None = -1) -> bytes:
        try:
            return super().readline(size)
        except (EOFError, OSError, zlib.error) as exc:
            raise UnreadableFile(_gzip_reason(exc)) from None


def _gzip_reason(exc: BaseException) -> str:
    return (f"gzip stream broken off or corrupt ({exc or type(exc).__name__}); the file was "
            "cut short or damaged in transit: copy or export it again")


class DocumentTooLarge(UnreadableFile):
    """A single-document file is too large to read whole."""


# --------------------------------------------------------------------------------------------
# Batches


@dataclass
class Batch:
    """Normalized rows for some tables, and the accounting for the records they came from.

    ``rows`` are the rows as an ingestor built them (dicts), made DataFrames (``tables``) when
    first asked: a worker parsing many small files frames their rows together instead
    (``tracemap.load``), since a frame per table per file cost a fifth of parsing them.
    """

    framed: dict[str, pl.DataFrame] = field(default_factory=dict)
    records: int = 0
    loaded: int = 0
    skipped: int = 0
    rejects: list[tuple[str, str, str | None]] = field(default_factory=list)
    skipped_types: Counter[str] = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pl.DataFrame]:
        """The rows in the model's schema, by table; values that did not fit their column are
        counted in ``notes["coerced_values"]`` (see ``frame``)."""
        if self.rows:
            coerced: Counter[str] = Counter()
            self.framed.update({t: frame(t, rows, coerced) for t, rows in self.rows.items()})
            if coerced:
                self.notes["coerced_values"] = dict(coerced)
            self.rows = {}
        return self.framed


def frame(table: str, rows: list[dict[str, Any]],
          coerced: Counter[str] | None = None) -> pl.DataFrame:
    """Rows (dicts; times as epoch µs) as a DataFrame in the model's schema for ``table``.

    A value that does not fit its column (an object where text belongs, a number past the
    column's range, a lone surrogate) is made to fit (text) or dropped (numbers), and counted
    in ``coerced`` by ``table.column``: a batch is never lost to one odd value, and the count
    (kept in the source's detail) shows an ingestor that should have checked it.
    """
    schema = TABLES[table]
    try:
        # Polars reads epoch µs straight into the model's Datetime columns; building Int64
        # columns and casting them cost four times as much (a lazy query per frame, which
        # small files pay many times over).
        return pl.DataFrame(rows, schema=schema)
    except Exception:  # noqa: BLE001 - some value does not fit its column: find and fix it
        pass
    raw_schema = {
        name: (pl.Int64 if isinstance(dtype, pl.Datetime) else dtype)
        for name, dtype in schema.items()
    }
    counts = coerced if coerced is not None else Counter()
    df = pl.DataFrame([_fit_row(table, row, raw_schema, counts) for row in rows],
                      schema=raw_schema)
    casts = [pl.col(n).cast(d) for n, d in schema.items() if isinstance(d, pl.Datetime)]
    return df.with_columns(casts) if casts else df


_INT_RANGES = {pl.Int32: 2**31, pl.Int64: 2**63}


def _fit_row(table: str, row: dict[str, Any], schema: dict[str, Any],
             counts: Counter[str]) -> dict[str, Any]:
    out = {}
    for name, value in row.items():
        dtype = schema.get(name)
        fitted = value
        if value is None or dtype is None:
            pass
        elif dtype == pl.String:
            if isinstance(value, dict | list | tuple):
                fitted = dumps(value)
            elif isinstance(value, bytes):
                fitted = value.decode("utf-8", "replace")
            elif isinstance(value, str):
                fitted = _valid_text(value)
            elif isinstance(value, int) and not -2**63 <= value < 2**64:
                fitted = str(value)
        elif dtype in _INT_RANGES:
            limit = _INT_RANGES[dtype]
            if isinstance(value, bool) or not isinstance(value, int) or not -limit <= value < limit:
                fitted = None
        elif dtype == pl.Float64:
            fitted = float(value) if isinstance(value, int | float) and not isinstance(
                value, bool) and abs(value) < 2**1023 else None
        elif dtype == pl.Boolean and not isinstance(value, bool):
            fitted = None
        if fitted is not value and fitted != value:
            counts[f"{table}.{name}"] += 1
        out[name] = fitted
    return out


@dataclass(frozen=True, slots=True)
class Skipped:
    """What an add function given to ``BatchBuilder.record`` returns for a record that is
    well-formed but of no use: it is counted as skipped, under ``what``."""

    what: str


class BatchBuilder:
    """Collects rows and accounting while an ingestor walks its input.

    Call ``read()`` once per input record, then exactly one of ``loaded()``, ``skip()`` or
    ``reject()`` for it; ``record()`` does all of that for one record. ``ready()`` says when a
    batch is worth yielding; ``take()`` returns it and starts afresh.
    """

    def __init__(self, batch_rows: int = BATCH_ROWS) -> None:
        self._batch_rows = batch_rows
        self._reset()

    def _reset(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        self.batch = Batch()

    # accounting
    def read(self, n: int = 1) -> None:
        self.batch.records += n

    def loaded(self, n: int = 1) -> None:
        self.batch.loaded += n

    def skip(self, what: str, n: int = 1) -> None:
        self.batch.skipped += n
        self.batch.skipped_types[what] += n

    def reject(self, location: str, reason: str, raw: bytes | str | None = None) -> None:
        if isinstance(raw, bytes):
            raw = raw[:RAW_CAP].decode("utf-8", "replace")
        elif isinstance(raw, str):
            raw = _valid_text(raw[:RAW_CAP])
        # One line each: parser messages (YAML's) span several, and reasons print as rows.
        self.batch.rejects.append((_one_line(location), _one_line(reason), raw))

    def record(self, add: Callable[[Any, str], str | Skipped | None], item: Any, where: str, *,
               raw: Callable[[Any], str], catch: bool = False) -> None:
        """Account for one input record: ``read()`` it, then ``add(item, where)`` its rows.

        ``add`` returns None when the record loaded, a ``Skipped``, or why the record is
        unusable: then it is rejected at ``where`` with that reason and ``raw(item)``. With
        ``catch``, ``add`` raising one of ``SHAPE_ERRORS`` rejects the record as well, without
        the rows it added before it raised; without ``catch`` the error goes up to the caller.
        """
        self.read()
        if catch:
            mark = self.mark()
            try:
                outcome = add(item, where)
            except SHAPE_ERRORS as exc:
                self.restore(mark)  # none of a half-added record's rows stay
                outcome = f"a field has an unexpected type or value: {exc}"
        else:
            outcome = add(item, where)
        if isinstance(outcome, Skipped):
            self.skip(outcome.what)
        elif outcome:
            self.reject(where, outcome, raw(item))
        else:
            self.loaded()

    def mark(self) -> tuple[Any, ...]:
        """Where the builder is now: ``restore`` goes back here if a record fails half-way."""
        batch = self.batch
        return (batch, batch.records, batch.loaded, batch.skipped, len(batch.rejects),
                Counter(batch.skipped_types), {t: len(r) for t, r in self.rows.items()})

    def restore(self, mark: tuple[Any, ...]) -> None:
        """Forget the rows and counts added since ``mark`` (taken in the same batch).

        For a record that raised half-way: the ingestor restores, then calls ``read()`` and
        ``reject()`` for it, so none of its rows load and the counts still add up.
        """
        batch, records, loaded, skipped, rejects, types, sizes = mark
        if batch is not self.batch:
            raise RuntimeError("BatchBuilder.restore: the batch was taken since mark()")
        batch.records, batch.loaded, batch.skipped = records, loaded, skipped
        del batch.rejects[rejects:]
        batch.skipped_types = types
        for table, size in sizes.items():
            del self.rows[table][size:]

    def note(self, name: str, value: Any) -> None:
        """Record something about the whole source (kept in ``sources.detail``)."""
        self.batch.notes[name] = value

    # rows
    def add(self, table: str, **row: Any) -> None:
        self._append(table, row)

    def _append(self, table: str, row: dict[str, Any]) -> None:
        for col in ("detail", "headers", "payload"):
            value = row.get(col)
            if value is not None and not isinstance(value, str):
                row[col] = dumps(value)
        self.rows[table].append(row)

    def run(self, **row: Any) -> None:
        self._append("runs", row)

    def step(self, **row: Any) -> None:
        self._append("steps", row)

    def message(self, **row: Any) -> None:
        self._append("messages", row)

    def dataset(self, **row: Any) -> None:
        self._append("datasets", row)

    def log(self, **row: Any) -> None:
        self._append("logs", row)

    def key(self, entity_uid: str, kind: str, value: Any) -> None:
        if value is None or value == "":
            return
        self.rows["keys"].append({"entity_uid": entity_uid, "kind": str(kind), "value": str(value)})

    def keys(self, entity_uid: str, pairs: Iterable[tuple[str, str]]) -> None:
        for kind, value in pairs:
            self.key(entity_uid, kind, value)

    def link(self, src_uid: str, dst_uid: str, kind: str, evidence: str,
             location: str = "") -> None:
        self.rows["links"].append(
            {"src_uid": src_uid, "dst_uid": dst_uid, "kind": str(kind),
             "evidence": evidence, "location": location}
        )

    def declare(self, src: str, dst: str, kind: str, evidence: str) -> None:
        self.rows["declared"].append(
            {"src": src, "dst": dst, "kind": str(kind), "evidence": evidence})

    def ready(self) -> bool:
        return any(len(rows) >= self._batch_rows for rows in self.rows.values())

    def take(self) -> Batch:
        batch = self.batch
        batch.rows = {t: rows for t, rows in self.rows.items() if rows}
        self._reset()
        return batch


# --------------------------------------------------------------------------------------------
# Values: JSON, ids, times


_SURROGATE = re.compile(r"[\ud800-\udfff]|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def loads(data: bytes | str) -> Any:
    """Parse JSON fast; fall back to the stdlib for what orjson refuses (NaN, >64-bit ints).

    Raises ValueError for anything that is not JSON, including nesting deeper than
    ``MAX_JSON_DEPTH`` (never RecursionError), invalid UTF-8 and lone surrogates (the stdlib
    would let those through as text no column can store).
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "recursion" in str(exc).lower():
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        try:
            text = bytes(data).decode("utf-8") if not isinstance(data, str) else data
            value = json.loads(text)
            if _SURROGATE.search(text):
                json.dumps(value, ensure_ascii=False).encode("utf-8")
            return value
        except RecursionError:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        except (json.JSONDecodeError, UnicodeError):
            raise exc from None


def dumps(value: Any) -> str:
    """Compact JSON text for ``detail``/``headers``/``payload`` columns."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        pass
    # What orjson refuses: integers past 64 bits and lone surrogates (from the stdlib fallback
    # of ``loads``, or YAML), nesting past 255. Big integers are kept as text.
    try:
        return json.dumps(_storable(value), ensure_ascii=False, separators=(",", ":"),
                          default=str)
    except RecursionError:
        return '"(a value nested too deep to store)"'


def _storable(value: Any) -> Any:
    """``value`` with what orjson cannot write turned into what the stdlib writes as JSON."""
    if isinstance(value, dict):
        return {(_valid_text(k) if isinstance(k, str) else str(k)): _storable(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    if isinstance(value, str):
        return _valid_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**64:
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", _valid_text(text)).strip()


def _valid_text(text: str) -> str:
    """``text`` with lone surrogates replaced, so it can be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def cap_payload(value: Any) -> tuple[str | None, bool]:
    """A payload as JSON text capped at ``PAYLOAD_CAP``; returns (text, was_cut)."""
    if value is None:
        return None, False
    text = value if isinstance(value, str) and _is_json_text(value) else dumps(value)
    if len(text) <= PAYLOAD_CAP:
        return text, False
    return dumps({"truncated": True, "size": len(text), "head": text[:1024]}), True


def _is_json_text(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


_HEX = re.compile(r"^[0-9a-fA-F]+$")


def norm_id(value: Any, nbytes: int) -> str | None:
    """A trace/span id as lowercase hex of ``nbytes`` bytes, from hex or base64 or raw bytes.

    OTLP/JSON writes hex, protobuf-JSON (jsonpb) writes base64, Jaeger/Zipkin may write
    64-bit trace ids (16 hex digits): those are left-padded to the 128-bit form so they join.
    All-zero ids mean "none" and give ``None``.
    """
    cache = _NORM_IDS.get(nbytes)
    if cache is None or type(value) is not str:
        return _norm_id(value, nbytes)
    out = cache.get(value, _UNSEEN)  # ids repeat (a trace's spans, parents): read each once
    if out is _UNSEEN:
        if len(cache) >= 1 << 16:
            cache.clear()
        out = cache[value] = _norm_id(value, nbytes)
    return out  # type: ignore[return-value]


#: ``norm_id`` results for trace and span ids (16 and 8 bytes), by spelling; bounded.
_NORM_IDS: dict[int, dict[str, str | None]] = {16: {}, 8: {}}
_UNSEEN = object()


def _norm_id(value: Any, nbytes: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        if _HEX.match(text) and len(text) <= nbytes * 2:
            out = text.lower().rjust(nbytes * 2, "0")
            return None if set(out) == {"0"} else out
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
    if not raw or len(raw) > nbytes:
        return None
    out = raw.hex().rjust(nbytes * 2, "0")
    return None if set(out) == {"0"} else out


def trace_id(value: Any) -> str | None:
    """A trace id as 32 lowercase hex digits (see ``norm_id``)."""
    return norm_id(value, 16)


def span_id(value: Any) -> str | None:
    """A span id as 16 lowercase hex digits (see ``norm_id``)."""
    return norm_id(value, 8)


_TRACEPARENT = re.compile(r"^\s*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})", re.I)


def parse_traceparent(value: str) -> tuple[str, str] | None:
    """``(trace id, parent span id)`` from a W3C ``traceparent``, or None if malformed."""
    m = _TRACEPARENT.match(value or "")
    if not m:
        return None
    tid, sid = trace_id(m.group(2)), span_id(m.group(3))
    return (tid, sid) if tid and sid else None


def traceparent_keys(value: str) -> list[tuple[str, str]]:
    """Keys from a ``traceparent``: its trace id and the span id of the sender."""
    parsed = parse_traceparent(value)
    if not parsed:
        return []
    return [(KeyKind.TRACE_ID, parsed[0]), (KeyKind.SPAN_ID, parsed[1])]


_XRAY_ROOT = re.compile(r"Root=1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})")
_XRAY_PARENT = re.compile(r"Parent=([0-9a-fA-F]{16})")


def xray_keys(header: Any) -> list[tuple[str, str]]:
    """Trace and parent span ids from an X-Ray trace header, in the W3C (OTel) form.

    ``Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8`` -> trace id
    ``5759e988bd862e3fe1be46a994272793`` (X-Ray puts the epoch seconds in the first 8 hex
    digits), span id ``53995c3f42cd8ad8``: the keys join OpenTelemetry spans of the request.
    """
    if not isinstance(header, str):
        return []
    out: list[tuple[str, str]] = []
    root = _XRAY_ROOT.search(header)
    if root and (tid := trace_id(root.group(1) + root.group(2))):
        out.append((KeyKind.TRACE_ID, tid))
    parent = _XRAY_PARENT.search(header)
    if parent and (sid := span_id(parent.group(1))):
        out.append((KeyKind.SPAN_ID, sid))
    return out


#: Epoch µs of 10000-01-01: later "times" are garbage (and past what a timestamp column holds).
MAX_US = 253_402_300_800_000_000


def _in_range(us: int, value: Any) -> int:
    if us >= MAX_US:
        raise ValueError(f"time {str(value)[:40]!r} is after the year 9999")
    return us


def us_from_ns(value: Any) -> int | None:
    """Epoch µs from epoch ns given as int or numeric string (no float on the way).

    Raises ValueError for what is not a number, or is after the year 9999.
    """
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except OverflowError:  # float infinity
        raise ValueError(f"time {str(value)[:40]!r} is not a finite number") from None
    return None if n <= 0 else _in_range(n // 1000, value)


def us_from_ms(value: Any) -> int | None:
    """Epoch µs from epoch ms (int, float or numeric string); None for non-numeric text.

    Raises ValueError for NaN, infinity and times after the year 9999.
    """
    if value is None or value == "":
        return None
    d = _decimal(value)
    return None if d is None or d <= 0 else _in_range(int(d * 1000), value)


def us_from_s(value: Any) -> int | None:
    """Epoch µs from epoch seconds (int, float or string such as ``1.59e9``); exact for strings."""
    if value is None or value == "":
        return None
    d = _decimal(value)
    return None if d is None or d <= 0 else _in_range(int(d * 1_000_000), value)


def _decimal(value: Any) -> Decimal | None:
    """A number as Decimal; None for what is not one; ValueError for NaN and infinity."""
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    if not d.is_finite():
        raise ValueError(f"time {str(value)[:40]!r} is not a finite number")
    if d.adjusted() > 30:  # past any unit's year 9999; keeps int() of it cheap
        raise ValueError(f"time {str(value)[:40]!r} is after the year 9999")
    return d


_FRACTION = re.compile(r"(\.\d{6})\d+")
#: The spellings most exporters write (``2026-11-02T11:12:00.975771Z``, boto3's
#: ``2026-11-02T11:12:00.975771+00:00``), read without datetime.
_ISO_UTC = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                      r"(?:\.([0-9]{1,6})[0-9]*)?(?:Z|\+00:00)")
#: Epoch µs of the dates seen (a file's times share a few), bounded.
_DAY_US: dict[str, int] = {}
_EPOCH_DAY = datetime(1970, 1, 1).toordinal()


def us_from_iso(value: Any) -> int | None:
    """Epoch µs from an ISO-8601/RFC 3339 string (``Z`` or offset; fractions past µs cut).

    A time without an offset is taken as UTC.
    """
    if type(value) is str and (m := _ISO_UTC.fullmatch(value)):
        date, hour, minute, second, fraction = m.groups()
        day = _DAY_US.get(date)
        if day is None:
            day = _day_us(date)
        h, mi, sec = int(hour), int(minute), int(second)
        if day is not None and h < 24 and mi < 60 and sec < 60:
            us = day + ((h * 60 + mi) * 60 + sec) * 1_000_000
            return us + int(fraction.ljust(6, "0")) if fraction else us
    return _us_from_iso(value)


def _day_us(date: str) -> int | None:
    """Epoch µs of a ``YYYY-MM-DD`` date; None if it is no date (``_us_from_iso`` says why)."""
    try:
        day = (datetime.fromisoformat(date).toordinal() - _EPOCH_DAY) * 86_400_000_000
    except ValueError:
        return None
    if len(_DAY_US) > 4096:
        _DAY_US.clear()
    _DAY_US[date] = day
    return day


def _us_from_iso(value: Any) -> int | None:
    if not value or not isinstance(value, str):
        return None
    text = _FRACTION.sub(r"\1", value.strip().replace(" ", "T", 1))
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def us_auto(value: Any) -> int | None:
    """Epoch µs from a number whose unit is read off its magnitude (s, ms, µs or ns)."""
    if value is None or value == "":
        return None
    d = _decimal(value)
    if d is None or d <= 0:
        return None
    if d < Decimal(10) ** 11:  # seconds until year 5138
        return int(d * 1_000_000)
    if d < Decimal(10) ** 14:
        return int(d * 1000)
    if d < Decimal(10) ** 17:
        return int(d)
    return _in_range(int(d) // 1000, value)


def b64_text(value: str) -> bytes | None:
    """Decode base64 (standard or URL-safe, padding optional), or None if it is not."""
    if not isinstance(value, str):
        return None
    padded = value + "=" * (-len(value) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_" if ("-" in value or "_" in value) else None,
                                validate=True)
    except (binascii.Error, ValueError):
        return None


def json_or_text(data: bytes) -> Any:
    """Decoded bytes as JSON when they are JSON, else as text (invalid UTF-8 replaced)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")


def first_json_value(head: bytes) -> bytes:
    """The head with leading whitespace, BOM and ``/* */`` or ``#``/``//`` comment lines cut."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    while True:
        if text.startswith(b"/*"):
            end = text.find(b"*/")
            if end < 0:
                return b""
            text = text[end + 2 :].lstrip()
        elif text.startswith((b"#", b"//")):
            nl = text.find(b"\n")
            if nl < 0:
                return b""
            text = text[nl + 1 :].lstrip()
        else:
            return text


def proto_fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Top-level ``(field number, wire type, value)`` of protobuf bytes, tolerant of a cut.

    For sniffing only: it reads as far as the bytes go and stops at the first thing that is
    not well-formed, so a file's head can be recognised without parsing the whole file.
    Length-delimited values come back as bytes (possibly cut short); varints as ints.
    """
    out: list[tuple[int, int, Any]] = []
    i, n = 0, len(buf)
    while i < n:
        tag, i = read_varint(buf, i)
        if tag is None or tag >> 3 == 0:
            break
        field_no, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = read_varint(buf, i)
            if value is None:
                break
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            size, i = read_varint(buf, i)
            if size is None:
                break
            value, i = buf[i : i + size], i + size
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            break
        out.append((field_no, wire, value))
    return out


def read_varint(buf: bytes, i: int) -> tuple[int | None, int]:
    """The protobuf varint at ``buf[i]`` and the index after it; None if it is cut short."""
    result = shift = 0
    while i < len(buf) and shift < 64:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7
    return None, i


def proto_first(buf: bytes, *path: int) -> bytes | None:
    """The first length-delimited value at a path of field numbers, e.g. ``(1, 2, 2)``."""
    for number in path:
        for field_no, wire, value in proto_fields(buf):
            if field_no == number and wire == 2:
                buf = value
                break
        else:
            return None
    return buf


# --------------------------------------------------------------------------------------------
# Sniffing past the head: noise lines, log prefixes, the first complete record


#: How much detection reads, at most, to find a file's first complete record when the first
#: ``SNIFF_BYTES`` did not settle it (a long first line, noise before the records).
RECORD_SNIFF_BYTES = 1 << 20
#: What sniffers are shown of the records found there (after long strings are shortened).
RECORD_VIEW_BYTES = 256 << 10
#: Detection gives up on a file with more noise lines than this before its first record.
MAX_NOISE_LINES = 40
#: A JSON string longer than this is shortened in the record view: it is a value (an escaped
#: input document, a payload), never what a sniffer recognises a format by.
LONG_STRING = 200

#: Lines that are obviously not records, and what they are counted as when skipped. A shell
#: prompt is a command line as terminals show it (``$ kcat -C ...``, ``user@host:~$ ...``,
#: ``[user@host dir]$ ...``, ``bash-5.2$ ...``, macOS ``host:~ user$ ...``, ``PS C:\\> ...``; a
#: bare ``# `` is a comment, not a root prompt), or a bare command line (a tool whose output
#: tracemap reads, run with an option); ``% `` lines are kcat's stderr.
NOISE_LINES: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("kcat status line", re.compile(rb"^% ")),
    # kafka-console-consumer's last words on stderr (ConsoleConsumer: "Processed a total of %d
    # messages"), in a dump captured with 2>&1
    ("console consumer summary", re.compile(rb"^Processed a total of \d+ messages?\s*$")),
    ("shell prompt", re.compile(
        rb"^(?:(?:[\w.-]+@[\w.-]+(?::[^\s$#]*)?\s?|\[[^\]\n]{1,120}\]\s?|[\w.-]+-\d[\d.]*|"
        rb"[\w.-]+:\S* [\w.-]+|\([\w.-]+\)\s?|PS [A-Za-z]:\\[^>\n]*)[$#>]|[$>]) \S")),
    # The command without a prompt, as docs print it above its output (``kcat -C -b ... -J |
    # jq .``): a line that runs one of the tools whose output tracemap reads.
    ("command line", re.compile(
        rb"^(?:sudo )?(?:kcat|kafkacat|kafka-(?:avro-)?console-consumer(?:\.sh)?|aws|temporal|"
        rb"tctl|cadence|argo|kubectl|curl) -")),
)
#: A log viewer's prefix before a record: ``sam logs`` writes ``<log stream> <time> <message>``
#: (``samcli/lib/observability/cw_logs/cw_log_formatters.py``), ``aws logs tail`` writes
#: ``<time> <log stream> <message>``; the time is ISO 8601, with or without a zone.
_LOG_TIME = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
_LOG_PREFIX_HEAD = (rb"^(?:(?P<stream1>[^\s{\[]\S*) " + _LOG_TIME + rb"|" + _LOG_TIME
                    + rb"(?: (?P<stream2>[^\s{\[]\S*))?) ")
LOG_PREFIX = re.compile(_LOG_PREFIX_HEAD + rb"(?=[{\[])")
_LOG_TEXT_PREFIX = re.compile(_LOG_PREFIX_HEAD + rb"(?=\S)")
#: What a log event whose message is not JSON is counted as when skipped: a runtime's
#: START/REPORT line, or the message CloudWatch Logs writes to the first stream of a vended log
#: group (``log_stream_created_by_aws_to_validate_log_delivery_subscriptions Permissions are
#: set correctly ...``), which ``aws logs tail`` prints before a state machine's events.
LOG_TEXT_MESSAGE = "log message that is not JSON"
_LONG_STRING = re.compile(rb'"(?:[^"\\\n]|\\.){%d,}"' % LONG_STRING)
_JSON_START = re.compile(rb"[{\[]")


def noise_kind(line: bytes) -> str | None:
    """What an input line that is not a record is (``shell prompt``, ``kcat status line``),
    when it is obviously one; None for anything that may be data."""
    if line[:1] == b"{":
        return None
    for kind, pattern in NOISE_LINES:  # a line that opens with "[" may be a prompt: [u@h d]$
        if pattern.match(line):
            return kind
    return None


def strip_log_prefix(line: bytes) -> bytes | None:
    """A line's record without its log viewer prefix (``LOG_PREFIX``); None without one."""
    m = LOG_PREFIX.match(line)
    return line[m.end():] if m else None


def log_message(line: bytes) -> bytes | None:
    """A log viewer line's message, JSON or text, without its prefix; None without one. A text
    message needs the log stream in its prefix too: a time alone may start any prose."""
    record = strip_log_prefix(line)
    if record is not None:
        return record
    m = _LOG_TEXT_PREFIX.match(line)
    return line[m.end():] if m and (m.group("stream1") or m.group("stream2")) else None


@dataclass(frozen=True, slots=True)
class RecordView:
    """The start of a file's records as sniffers are shown them when its head did not settle
    the format: noise lines before them and log prefixes cut, long strings shortened.

    Attributes:
        head: what the sniffers see.
        line: the line the first record starts on (1-based).
        noise: the noise lines passed over before it, by kind.
        prefixed: whether the records carry a log viewer prefix (cut in ``head``).
        shortened: whether long strings were shortened (they hid the record's keys).
    """

    head: bytes
    line: int
    noise: dict[str, int]
    prefixed: bool
    shortened: bool = False

    def rule(self) -> str:
        """How the format was found, for the ingest report."""
        parts = [f"first record, line {self.line}"]
        if self.noise:
            parts.append("after " + ", ".join(
                f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in self.noise.items()))
        if self.prefixed:
            parts.append("log prefix cut")
        if self.shortened:
            parts.append("long strings shortened")
        return "; ".join(parts)


def record_view(src: Source) -> RecordView | None:
    """The file's first records past noise lines and log prefixes (a bounded read of
    ``RECORD_SNIFF_BYTES``); None for a binary or empty file. Never raises."""
    try:
        return _record_view(src.head(RECORD_SNIFF_BYTES))
    except Exception:  # noqa: BLE001 - detection must go on whatever the bytes are
        return None


def _record_view(data: bytes) -> RecordView | None:
    if not data or b"\x00" in data[:SNIFF_BYTES]:
        return None
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    noise: Counter[str] = Counter()
    in_comment = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        if in_comment or line.startswith(b"/*"):
            in_comment = b"*/" not in line
            if not in_comment and line.split(b"*/", 1)[1].strip():
                return None  # a record after a comment on the same line: the head's business
            continue
        if not line or line.startswith((b"#", b"//")):
            continue  # blank and comment lines: as ``first_json_value`` passes over them
        kind = noise_kind(line)
        record = strip_log_prefix(line)
        if kind is None and record is None and log_message(line) is not None:
            kind = LOG_TEXT_MESSAGE
        if kind is None and not _JSON_START.match(line) and record is None:
            if "shell prompt" not in noise and "command line" not in noise:
                return None  # prose, markup: not a file of records
            kind = "text line"  # a captured terminal: the command's banner before the records
        if kind:
            noise[kind] += 1
            if sum(noise.values()) > MAX_NOISE_LINES:
                return None
            continue
        rest = lines[i + 1:] if i + 1 < len(lines) else []
        if record is not None:
            # The following lines are the same record's (pretty-printed) or carry the prefix.
            rest = [strip_log_prefix(r.strip()) or r for r in rest]
        body = b"\n".join([record if record is not None else line, *rest])
        short = _LONG_STRING.sub(b'"..."', body)
        return RecordView(short[:RECORD_VIEW_BYTES], i + 1, dict(noise), record is not None,
                          len(short) != len(body))
    return None
