"""Ingest files into the store: expand paths → skip unchanged → detect → parse → load.

A crash or kill leaves either all of a source or none of it. A large file streams in committed
batches behind a ``loading`` marker (``Store.recover`` drops a half-loaded one); small files
(``SMALL_FILE``: Temporal histories, Step Functions executions, thousands of a few KB) are
parsed whole and committed many to a transaction, since a commit costs more than parsing one.
Unchanged files are told from one query of what the store holds (``Store.known_sources``),
then by size and mtime, then by content hash. A bad file never stops the batch: it is
reported ``failed`` and the next one loads. Every source must reconcile:
``records == loaded + rejected + skipped``.

Files are independent, so small ones are parsed ahead of their turn in worker processes (one
per core, ``workers``) while this process, the only writer, hashes, decides and commits them
in input order. A worker's result is used only for the bytes it parsed (the same content
hash), so the store, the source ids and the progress output are those of a one-process run.
A large JSON-lines file of a format whose lines are records of their own is cut into ranges of
whole lines that the workers parse alike, numbered as in the file.
"""

from __future__ import annotations

import collections
import glob
import hashlib
import itertools
import os
import pickle
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from polars.exceptions import PanicException

import ingest
from ingest.base import (
    Batch,
    DocumentTooLarge,
    KeyRules,
    LineRange,
    Source,
    dumps,
    frame,
    is_json_lines,
)
from tracemap.errors import IngestError, ReconcileError, UnknownFormatError
from tracemap.model import TABLES
from tracemap.store import SourceRow, Store

COUNTERS = ("records", "loaded", "rejected", "skipped")
#: Files up to this size (on disk) are parsed whole and committed together with others.
SMALL_FILE = 8 << 20
#: A large file's batches are committed together once they hold this many rows.
COMMIT_ROWS = 500_000
#: A group of small sources is committed when it holds this many rows, or sources.
GROUP_ROWS = 200_000
GROUP_SOURCES = 2_000
#: Pending frames of one table are folded into one when this many have gathered.
COMPACT_FRAMES = 64
#: Small files are parsed in worker processes only when at least this many are to be parsed:
#: starting a worker (a fresh interpreter importing Polars and DuckDB) costs about a second.
PARALLEL_FILES = 64
#: Small files go to a worker this many at a time (their rows travel as one frame per table:
#: a frame per file cost the worker and the writer more than parsing a small file), and each
#: worker holds at most two such chunks (what is parsed ahead and held in memory).
CHUNK_FILES = 16
AHEAD_PER_WORKER = 2
#: A large JSON-lines file whose format reads each line as a record of its own (its module's
#: ``LINE_RECORDS``) is parsed by the workers in ranges of whole lines of about this size,
#: when it holds two or more; the writer stores the ranges' rows in the file's order.
LINE_RANGE_BYTES = 16 << 20


@dataclass(slots=True)
class SourceResult:
    """How one input went: ``status`` is new, unchanged, replaced or failed."""

    path: str
    format: str | None
    status: str
    records: int = 0
    loaded: int = 0
    rejected: int = 0
    skipped: int = 0
    chosen_by: str | None = None
    message: str | None = None
    explicit: bool = True  # named by the user, not found by walking a directory
    #: The detection rule that chose the format (``start of file``, ``first record, line 3;
    #: after 1 shell prompt``); None when forced or not detected.
    rule: str | None = None
    #: For a file no format claimed: what each format looks for (why it declined).
    declined: dict[str, str] | None = None
    #: Rows of this source whose uid an earlier source holds too, by table, and which source:
    #: the same run or message exported twice is one entity (the first source's row is used).
    merged: dict[str, Any] | None = None
    source_id: int | None = field(default=None, repr=False)  # the store's id (not reported)


@dataclass(slots=True)
class IngestResult:
    """The outcome of one ``ingest`` call, source by source."""

    sources: list[SourceResult] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return {c: sum(getattr(s, c) for s in self.sources) for c in COUNTERS}

    @property
    def failed(self) -> list[SourceResult]:
        return [s for s in self.sources if s.status == "failed"]

    @property
    def empty(self) -> list[SourceResult]:
        """Sources read but nothing loaded from: every record was rejected."""
        return [s for s in self.sources
                if s.status != "failed" and not s.loaded and s.rejected]

    def to_dict(self) -> dict[str, Any]:
        return {"sources": [_source_dict(s) for s in self.sources], "totals": self.totals}


def _source_dict(s: SourceResult) -> dict[str, Any]:
    out = asdict(s)
    out.pop("explicit")
    out.pop("source_id")
    return out


class Progress(Protocol):
    """What the loader reports to a progress display (the CLI's rich bar, or nothing)."""

    def start(self, files: int, total_bytes: int) -> None: ...

    def file(self, display: str) -> None: ...

    def advance(self, nbytes: int) -> None: ...


class _NoProgress:
    def start(self, files: int, total_bytes: int) -> None:
        pass

    def file(self, display: str) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass


def expand(paths: Iterable[str]) -> Iterator[tuple[Path | None, str, bool | str]]:
    """``(file, display, explicit)`` for files, directories (recursive, sorted) and globs.

    What cannot be read yields ``(None, display, problem)``, the problem said in one line with
    the next step, so it is reported, not ignored: a path that matches nothing, a directory
    that cannot be listed, something that is not a regular file. Hidden files and
    directories met while walking are left out.
    """
    for path, display, explicit, _ in _targets(paths):
        yield (None if path is None else Path(path)), display, explicit


def _targets(paths: Iterable[str]) -> Iterator[tuple[str | None, str, bool | str, bool | None]]:
    """``expand`` as text, with whether a walked file is a symlink (None: not known).

    A re-run walks a hundred thousand unchanged files: paths stay strings (pathlib costs
    more than the stat), and a directory entry tells a symlink without a system call.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            yield raw, raw, True, None
        elif p.is_dir():
            unlisted: list[OSError] = []
            for f, link in _walk(str(p), unlisted):
                yield f, f, False, link
            for exc in unlisted:  # a directory that cannot be listed is skipped: say so
                where = exc.filename or raw
                yield None, str(where), (f"{where}: cannot list this directory "
                                         f"({exc.strerror or exc}); check its permissions "
                                         "or leave it out"), None
        elif glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))
            files = [m for m in matches if Path(m).is_file()]
            if not files:
                yield None, raw, (f"{raw}: no file matches this pattern; check the pattern "
                                  "(quote it so tracemap expands it, not the shell)"), None
            for m in files:
                yield m, m, True, None
        elif p.exists():
            yield None, raw, (f"{raw}: not a regular file (a pipe, socket or device); copy "
                              "the export to a file and ingest that"), None
        else:
            yield None, raw, f"{raw}: no such file or directory; check the path", None


def _walk(top: str, unlisted: list[OSError]) -> Iterator[tuple[str, bool]]:
    """``os.walk`` top-down, names sorted, hidden ones and symlinked directories left out:
    each file's path (as ``Path`` would join it) and whether it is a symlink."""
    try:
        with os.scandir(top) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")),
                             key=lambda e: e.name)
    except OSError as exc:
        unlisted.append(exc)
        return
    prefix = "" if top == "." else top if top.endswith(os.sep) else top + os.sep
    dirs = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            dirs.append(entry)
        else:
            yield prefix + entry.name, entry.is_symlink()
    for entry in dirs:
        if not entry.is_symlink():
            yield from _walk(prefix + entry.name, unlisted)


def file_sha256(path: Path) -> str:
    """Content hash of the file as stored (compressed bytes for .gz): one fast sequential read."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def ingest_paths(
    store: Store,
    paths: Iterable[str],
    *,
    fmt: str | None = None,
    force: bool = False,
    options: dict[str, Any] | None = None,
    rules: KeyRules | None = None,
    progress: Progress | None = None,
    debug: bool = False,
    workers: int | None = None,
) -> IngestResult:
    """Ingest every file under ``paths`` into ``store``.

    Args:
        fmt: force this format instead of sniffing.
        force: re-ingest sources whose content is already in the store (replacing their rows).
        options: ingestor options (``workflow_id``, ``column_map`` ...).
        rules: correlation-key rules (defaults plus ``tracemap.toml``).
        progress: where to report files and bytes.
        debug: let an ingestor's unexpected exception through instead of recording it
            (files are then parsed in this process).
        workers: processes parsing small files ahead of the writer; 0 parses here. Default:
            ``TRACEMAP_WORKERS``, else one per usable core.
    """
    forced = ingest.get(fmt) if fmt else None
    progress = progress or _NoProgress()
    rules = rules or KeyRules()
    _REAL_DIRS.clear()  # directories may have moved since the last call
    targets = list(_targets(paths))
    stats = [None if p is None else _stat(p) for p, _, _, _ in targets]
    progress.start(len(targets), sum(st.st_size for st in stats if st is not None))
    result = IngestResult()
    known = _Known(store.known_sources())
    group = _Group(store, known)
    keys = [None if t[0] is None else _real_path(t[0], t[3]) for t in targets]
    workers = 0 if debug else _workers(workers)
    ahead = _Ahead.start(targets, stats, keys, known, forced, force, options, rules, workers)
    ranges = _Ranges(workers, dict(options or {}), rules)
    try:
        for index, ((text, display, explicit, _), stat) in enumerate(
                zip(targets, stats, strict=True)):
            progress.file(display)
            if text is None:
                result.sources.append(SourceResult(display, None, "failed",
                                                   message=str(explicit)))
                continue
            key_path = keys[index]
            stored = known.unchanged(key_path, stat, force)
            if stored is not None:
                # Unchanged since it was loaded: the common case of a re-run, kept cheap.
                progress.advance(stat.st_size)
                outcome = _unchanged(stored[5], stored[6:10], display)
                outcome.explicit = bool(explicit)
                result.sources.append(outcome)
                continue
            path = Path(text)
            src = Source(path=path, display=display, options=dict(options or {}), rules=rules)
            try:
                outcome = _ingest_one(store, src, stat, key_path, forced, force, progress,
                                      debug, known, group, ahead.take(index), ranges)
                outcome.explicit = bool(explicit)
            except OSError as exc:
                # stat or hash failed, before anything was written. Unreadable loses its
                # records: a failure of the command even for a file found by walking.
                outcome = SourceResult(display, None, "failed",
                                       message=_unreadable(display, exc))
            result.sources.append(outcome)
        group.flush()
        _note_merged(store, result.sources)
    except BaseException:
        group.discard()
        ahead.close(wait=False)
        ranges.close()
        raise
    ahead.close(wait=True)
    ranges.close()
    return result


def _workers(workers: int | None) -> int:
    if workers is None:
        env = os.environ.get("TRACEMAP_WORKERS", "").strip()
        cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count() or 1)  # the cores this process may use (Linux), else all
        workers = int(env) if env.isdigit() else cores
    return workers if workers > 1 else 0  # one worker beside the writer gains nothing


def _unreadable(display: str, exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        step = "check its permissions, or leave it out"
    elif isinstance(exc, FileNotFoundError):
        step = "a broken link, or it was removed while ingesting; check the path"
    else:
        step = "check the file and the disk, or leave it out"
    return f"{display}: cannot read this file ({exc.strerror or exc}); {step}"


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None  # reported when its turn comes


_REAL_DIRS: dict[str, str] = {}


def _real_path(text: str, link: bool | None = None) -> str:
    """``Path(text).resolve()``, resolving each directory once: thousands of files share a
    few. ``link`` says whether the file is a symlink, when the walk already knows."""
    if link or (link is None and os.path.islink(text)):
        return str(Path(text).resolve())
    if not os.path.isabs(text) or "/." in text:
        text = os.path.abspath(text)
    head, _, name = text.rpartition(os.sep)
    head = head or os.sep
    real = _REAL_DIRS.get(head)
    if real is None:
        if len(_REAL_DIRS) > 10_000:
            _REAL_DIRS.clear()
        real = _REAL_DIRS[head] = os.path.realpath(head)
    return real + name if real.endswith(os.sep) else real + os.sep + name


class _Known:
    """What the store holds, by path (latest source) and by content hash (first source).

    Rows stay the tuples the query gave until one is asked for; the hash index is built the
    first time a changed file needs it (a re-run of unchanged files never does).
    """

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._by_path: dict[str, tuple[Any, ...]] = {row[1]: row for row in rows}
        self._by_hash: dict[str, tuple[Any, ...]] | None = None
        self._by_id: dict[int, tuple[Any, ...]] | None = None
        self._dropped: set[int] = set()

    def unchanged(self, path: str, stat: os.stat_result | None,
                  force: bool) -> tuple[Any, ...] | None:
        """The stored row of the file at ``path`` when it is unchanged since it was loaded, by
        size and mtime: a re-run asks it of every file, so it makes no ``SourceRow``."""
        row = self._by_path.get(path)
        if (row and stat and not force and row[3] == stat.st_size
                and row[4] == stat.st_mtime_ns):
            return row
        return None

    def path_row(self, path: str) -> SourceRow | None:
        row = self._by_path.get(path)
        return SourceRow(*row[:6]) if row else None

    def hash_row(self, sha256: str) -> SourceRow | None:
        if self._by_hash is None:
            self._by_hash = {}
            for row in self._rows:
                if row[0] not in self._dropped:
                    self._by_hash.setdefault(row[2], row)
        row = self._by_hash.get(sha256)
        return SourceRow(*row[:6]) if row else None

    def counts(self, source_id: int) -> tuple[int, int, int, int]:
        if self._by_id is None:
            self._by_id = {row[0]: row for row in self._rows if row[0] not in self._dropped}
        return tuple(self._by_id[source_id][6:10])  # type: ignore[return-value]

    def add(self, row: SourceRow, counts: tuple[int, ...]) -> None:
        self._dropped.discard(row.id)  # touched: the same source with a new stat
        full = (row.id, row.path, row.sha256, row.size, row.mtime_ns, row.format, *counts)
        self._rows.append(full)
        self._by_path[row.path] = full
        if self._by_hash is not None:
            self._by_hash.setdefault(row.sha256, full)
        if self._by_id is not None:
            self._by_id[row.id] = full

    def drop(self, row: SourceRow) -> None:
        self._dropped.add(row.id)
        if self._by_path.get(row.path, (row.id,))[0] == row.id:
            self._by_path.pop(row.path, None)
        if self._by_hash is not None and self._by_hash.get(row.sha256, (row.id,))[0] == row.id:
            self._by_hash.pop(row.sha256, None)
        if self._by_id is not None:
            self._by_id.pop(row.id, None)


def _ingest_one(store: Store, src: Source, stat: os.stat_result | None, key_path: str,
                forced: Any, force: bool, progress: Progress, debug: bool, known: _Known,
                group: _Group, parsed: _Parsed | None, ranges: _Ranges) -> SourceResult:
    stat = stat or src.path.stat()
    previous = known.path_row(key_path)
    if parsed is not None and parsed.seen == (stat.st_size, stat.st_mtime_ns):
        sha = parsed.sha256  # a worker hashed the file as the scan found it: not again here
    else:
        sha = file_sha256(src.path)
    same = known.hash_row(sha)
    if same and not force:
        if previous and previous.id == same.id:
            group.flush()  # the row may be pending
            store.touch_source(same.id, stat.st_size, stat.st_mtime_ns)
            known.add(SourceRow(same.id, same.path, sha, stat.st_size, stat.st_mtime_ns,
                                same.format), known.counts(same.id))
        progress.advance(stat.st_size)
        outcome = _unchanged(same.format, known.counts(same.id), src.display)
        if same.path != key_path:
            # A copy of a file already loaded (same bytes, another path): loading it again
            # would add nothing, but it must not pass for a file that was read.
            outcome.merged = {"identical_to": same.path}
        return outcome
    if parsed is not None and parsed.sha256 != sha:
        parsed = None  # the file changed after a worker read it: parse it again, here
    rule = None
    try:
        if parsed is not None:  # detected on the same bytes
            module, rule = ingest.get(parsed.module), parsed.rule
        elif forced:
            module = forced
        else:
            module, rule = ingest.detection(src)
    except UnknownFormatError as exc:
        progress.advance(stat.st_size)
        return SourceResult(src.display, None, "failed", message=str(exc),
                            declined=getattr(exc, "declined", None))
    replaced = [s for s in {previous, same} if s is not None]
    chosen_by = "forced" if forced else "detected"
    row = SourceRow(0, key_path, sha, stat.st_size, stat.st_mtime_ns, module.NAME)
    if stat.st_size <= SMALL_FILE:
        if parsed is None:
            parsed = _parse_whole(module, src, progress, debug)
        else:
            for n in parsed.advances:
                progress.advance(n)
        src.first_reject = parsed.first_reject
        counts, source_id = group.add(row, chosen_by, replaced, parsed)
        position = parsed.position
    else:
        group.flush()
        counts, source_id, position = _stream(store, row, chosen_by, replaced, module, src,
                                              progress, debug, known, ranges)
    progress.advance(stat.st_size - position)
    return SourceResult(src.display, module.NAME, "replaced" if replaced else "new",
                        chosen_by=chosen_by, rule=rule, message=_nothing_loaded(src, counts),
                        source_id=source_id, **counts)


#: Tables whose rows are entities with a natural uid, and the columns that tell whether two
#: sources' rows of one uid describe the same thing (identifiers from this allowlist only).
MERGE_TABLES: dict[str, tuple[str, ...]] = {
    "runs": ("status", "started_at", "ended_at"),
    "steps": ("status", "started_at", "ended_at"),
    "messages": ("produced_at", "event_type"),
}


#: How many of the earlier sources a merge note names (the rest are counted).
MERGE_NAMED = 10


def _note_merged(store: Store, sources: list[SourceResult]) -> None:
    """Say, for each source just loaded, which of its entities an earlier source holds too.

    The same uid in two sources (a re-export, a test snapshot with placeholder ids) is one
    entity: correlation uses the first source's row. That must not pass unseen, so each such
    source gets ``merged`` (rows per table, how many of them differ in status or times, and
    the earlier files), kept in its ``detail`` for ``tracemap status`` too.
    """
    fresh = {s.source_id: s for s in sources if s.source_id is not None and s.loaded}
    if not fresh:
        return
    found: dict[int, dict[str, Any]] = {}
    for table, cols in MERGE_TABLES.items():
        differ = " OR ".join(f"a.{c} IS DISTINCT FROM b.{c}" for c in cols)
        rows = store.sql(
            f"SELECT a.source_id, count(DISTINCT a.uid), "  # noqa: S608 - allowlisted names
            f"count(DISTINCT a.uid) FILTER (WHERE {differ}), list(DISTINCT b.source_id) "
            f"FROM {table} a JOIN {table} b ON a.uid = b.uid AND b.source_id < a.source_id "
            f"WHERE a.source_id IN (SELECT unnest(?::INTEGER[])) GROUP BY a.source_id",
            [list(fresh)]).fetchall()
        for source_id, n, differ_n, earlier in rows:
            note = found.setdefault(source_id, {"earlier": set()})
            note[table] = n
            if differ_n:
                note[f"{table}_differing"] = differ_n
            note["earlier"].update(earlier)
    if not found:
        return
    ids = sorted({i for note in found.values() for i in sorted(note["earlier"])[:MERGE_NAMED]})
    paths = dict(store.sql("SELECT id, path FROM sources WHERE id IN (SELECT unnest(?::INTEGER[]))",
                           [ids]).fetchall())
    with _transaction(store):
        for source_id, note in found.items():
            earlier = sorted(note.pop("earlier"))
            note["with"] = [paths.get(i, f"source {i}") for i in earlier[:MERGE_NAMED]]
            if len(earlier) > MERGE_NAMED:
                note["with_count"] = len(earlier)
            fresh[source_id].merged = note
            store.sql("UPDATE sources SET detail = json_merge_patch(coalesce(detail, '{}'), ?) "
                      "WHERE id = ?", [dumps({"merged": note}), source_id])


def merged_text(s: SourceResult) -> str | None:
    """One line on what of a source was merged with earlier sources (None: nothing)."""
    m = s.merged
    if not m:
        return None
    if "identical_to" in m:
        return (f"{s.path}: the same content as {m['identical_to']}, which is loaded already; "
                "not loaded twice (its counts are that file's)")
    parts = [f"{m[t]:,} {t if m[t] > 1 else t[:-1]}" for t in MERGE_TABLES if m.get(t)]
    differing = sum(m.get(f"{t}_differing", 0) for t in MERGE_TABLES)
    total = m.get("with_count", len(m["with"]))
    earlier = ", ".join(m["with"][:3]) + (f" and {total - 3} more" if total > 3 else "")
    text = (f"{s.path}: {', '.join(parts)} also in {earlier} (same uids): each is one entity, "
            "the first source's row is used")
    if differing:
        text += (f"; {differing:,} of them differ in status or times, so the ids may be "
                 "placeholders naming different runs")
    return text


def _nothing_loaded(src: Source, counts: dict[str, int]) -> str | None:
    """Why a file gave nothing, when every record of it was rejected (None otherwise)."""
    if counts["loaded"] or not counts["rejected"]:
        return None
    where, why = src.first_reject or ("", "")
    n = counts["rejected"]
    every = "its only record was" if n == 1 else f"all {n:,} records were"
    first = f" (first: {where}: {why})" if n > 1 else f": {where}: {why}"
    return (f"{src.display}: nothing loaded, {every} rejected{first}; `tracemap rejects` "
            "lists them, or pass --format NAME if the format was mistaken")


def _stream(store: Store, row: SourceRow, chosen_by: str, replaced: list[SourceRow],
            module: Any, src: Source, progress: Progress, debug: bool, known: _Known,
            ranges: _Ranges) -> tuple[dict[str, int], int, int]:
    """Load a large file batch by batch, committed every ``COMMIT_ROWS`` rows; returns its
    counts, source id and the bytes read (for progress)."""
    # The source row goes in first, marked loading, and its batches are committed as they
    # come: a transaction per file would hold the whole file in DuckDB's memory. A kill
    # leaves the marker, and the next writer to open the store drops the half-loaded rows
    # (Store.recover).
    with _transaction(store):
        for old in replaced:
            store.drop_source(old.id)
            known.drop(old)
        source_id = store.add_source(path=row.path, sha256=row.sha256, size=row.size,
                                     mtime_ns=row.mtime_ns, fmt=row.format, chosen_by=chosen_by)
        store.bump_data_version()

    # Batches are committed together once they hold COMMIT_ROWS rows: a commit rewrites the
    # tables' open row groups, so one per 50k-row batch cost more than parsing them.
    pending = {"open": False, "rows": 0}

    def settle(commit: bool) -> None:
        if pending["open"]:
            store.commit() if commit else store.rollback()
        pending.update(open=False, rows=0)

    def insert(batch: Batch, rejects: list[tuple[str, str, str | None]]) -> None:
        if not pending["open"]:
            store.begin()
            pending["open"] = True
        for table, df in batch.tables.items():
            if df.height:
                store.insert(table, df, source_id)
                pending["rows"] += df.height
        store.insert_rejects(source_id, rejects)
        if pending["rows"] + len(rejects) >= COMMIT_ROWS:
            settle(commit=True)

    def failed(reason: str) -> None:
        settle(commit=False)
        with _transaction(store):
            store.clear_source(source_id)
            store.insert_rejects(source_id, [("file", reason, None)])

    try:
        if ranges.usable(module, src, row.size):
            counts, detail = _load_ranges(ranges, module, src, progress, insert, failed)
            position = row.size
        else:
            counts, detail = _load(module, src, progress, debug, insert, failed)
            position = src.position()
        settle(commit=True)
        with _transaction(store):
            store.finish_source(source_id, detail=dumps(detail), **counts)
            store.bump_data_version()
    except BaseException:
        settle(commit=False)
        with _transaction(store):
            store.drop_source(source_id)
        raise
    known.add(SourceRow(source_id, *[getattr(row, f) for f in ("path", "sha256", "size",
                                                                "mtime_ns", "format")]),
              tuple(counts[c] for c in COUNTERS))
    return counts, source_id, position


class _Group:
    """Small sources parsed whole and held until one transaction commits them all."""

    def __init__(self, store: Store, known: _Known) -> None:
        self.store = store
        self.known = known
        self._ids: collections.deque[int] = collections.deque()
        self._reset()

    def _reset(self) -> None:
        self.sources: list[dict[str, Any]] = []
        self.pending: set[int] = set()
        self.tables: dict[str, pl.DataFrame] = {}  # folded, with source_id
        self.fresh: dict[str, list[tuple[int, pl.DataFrame]]] = {}  # (source id, rows)
        self.rejects: list[tuple[int, str, str, str | None]] = []
        self.drops: list[int] = []
        self.rows = 0

    def _next_id(self) -> int:
        if not self._ids:
            # a query per 2048 sources: nextval costs ~30 us an id
            self._ids = collections.deque(self.store.reserve_source_ids(2048))
        return self._ids.popleft()

    def add(self, row: SourceRow, chosen_by: str, replaced: list[SourceRow],
            parsed: _Parsed) -> tuple[dict[str, int], int]:
        if any(r.id in self.pending for r in replaced):
            self.flush()  # replacing a source still pending: commit it first
        source_id = self._next_id()
        rejects, counts, detail = parsed.rejects, parsed.counts, parsed.detail
        for old in replaced:
            self.drops.append(old.id)
            self.known.drop(old)
        self.pending.add(source_id)
        self.sources.append({"id": source_id, "path": row.path, "sha256": row.sha256,
                             "size": row.size, "mtime_ns": row.mtime_ns, "format": row.format,
                             "chosen_by": chosen_by, "detail": dumps(detail), **counts})
        for table, frames in parsed.tables.items():
            fresh = self.fresh.setdefault(table, [])
            fresh.extend((source_id, df) for df in frames)
            self.rows += sum(df.height for df in frames)
            if len(fresh) >= COMPACT_FRAMES:
                # Thousands of one-row frames cost far more memory than their rows (about
                # 150 KB per small source): fold them into one as they come.
                self.tables[table] = self._table(table)
                del self.fresh[table]
        self.rejects.extend((source_id, *r) for r in rejects)
        self.known.add(SourceRow(source_id, row.path, row.sha256, row.size, row.mtime_ns,
                                 row.format), tuple(counts[c] for c in COUNTERS))
        if self.rows >= GROUP_ROWS or len(self.sources) >= GROUP_SOURCES:
            self.flush()
        return counts, source_id

    def _table(self, table: str) -> pl.DataFrame:
        """The pending rows of ``table`` as one frame, each row with its source's id (one
        column built for all the frames: a column per frame cost more than the parsing)."""
        fresh = self.fresh.get(table, [])
        frames = [self.tables[table]] if table in self.tables else []
        if fresh:
            ids = pl.Series("source_id", list(itertools.chain.from_iterable(
                itertools.repeat(i, df.height) for i, df in fresh)), pl.Int32)
            stamped = pl.concat([df for _, df in fresh], rechunk=True)
            frames.append(stamped.with_columns(ids))
        return pl.concat(frames, rechunk=True) if len(frames) > 1 else frames[0]

    def flush(self) -> None:
        """Commit the pending sources and their rows in one transaction."""
        if not self.sources:
            return
        with _transaction(self.store):
            self.store.drop_sources(self.drops)
            self.store.insert_sources(self.sources)
            for table in [*self.tables, *(t for t in self.fresh if t not in self.tables)]:
                self.store.insert_rows(table, self._table(table))
            if self.rejects:
                self.store.insert_rows("rejects", pl.DataFrame(
                    self.rejects, orient="row", schema={
                        "source_id": pl.Int32, "location": pl.String, "reason": pl.String,
                        "raw": pl.String}))
            self.store.bump_data_version()
        self._reset()

    def discard(self) -> None:
        """Forget what is pending (the ingest is failing; nothing of it was written)."""
        self._reset()


@dataclass(slots=True)
class _Parsed:
    """A small file parsed whole, here or in a worker: what ``_Group.add`` stores of it."""

    module: str
    rule: str | None
    sha256: str
    counts: dict[str, int]
    detail: dict[str, Any]
    tables: dict[str, list[Any]]  # by table, in order: frames, or rows still dicts
    rejects: list[tuple[str, str, str | None]]
    first_reject: tuple[str, str] | None
    advances: list[int]  # the progress the parse reported, replayed at the file's turn
    position: int
    failure: str | None = None  # why the file could not be read at all (its one reject)
    seen: tuple[int, int] | None = None  # a worker's (size, mtime_ns) of the file it hashed


def _parse_whole(module: Any, src: Source, progress: Progress, debug: bool,
                 framed: bool = True) -> _Parsed:
    """Parse a small file into its tables (batches in order) and rejects. Without ``framed``
    (a worker's parse) rows the ingestor did not frame itself stay dicts, for
    ``_frame_together``."""
    tables: dict[str, list[Any]] = {}
    rejects: list[tuple[str, str, str | None]] = []

    def keep(batch: Batch, batch_rejects: list[tuple[str, str, str | None]]) -> None:
        for table, df in (batch.tables if framed else batch.framed).items():
            if df.height:
                tables.setdefault(table, []).append(df)
        for table, rows in ({} if framed else batch.rows).items():
            tables.setdefault(table, []).append(rows)
        rejects.extend(batch_rejects)

    failure: list[str] = []

    def failed(reason: str) -> None:
        tables.clear()
        rejects[:] = [("file", reason, None)]
        failure.append(reason)

    counts, detail = _load(module, src, progress, debug, keep, failed)
    return _Parsed(module.NAME, None, "", counts, detail, tables, rejects, src.first_reject,
                   [], src.position(), failure[0] if failure else None)


class _Recorder:
    """A worker's progress: what the parse advanced, replayed by the writer in order."""

    def __init__(self) -> None:
        self.advances: list[int] = []

    def start(self, files: int, total_bytes: int) -> None:
        pass

    def file(self, display: str) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        self.advances.append(nbytes)


def _parse_ahead(path: str, display: str, options: dict[str, Any], rules: KeyRules,
                 forced: str | None) -> _Parsed | None:
    """Worker side: hash, detect and parse one small file. None leaves the file to the
    writer's own pass (it could not be read, no format claims it, or tracemap failed on it),
    which then reports it exactly as a one-process run does."""
    try:
        src = Source(path=Path(path), display=display, options=dict(options), rules=rules)
        st = os.stat(path)
        sha = file_sha256(src.path)
        module, rule = (ingest.get(forced), None) if forced else ingest.detection(src)
        recorder = _Recorder()
        parsed = _parse_whole(module, src, recorder, False, framed=False)
    except Exception:  # noqa: BLE001 - the writer parses it again and reports what went wrong
        return None
    parsed.sha256, parsed.rule, parsed.advances = sha, rule, recorder.advances
    parsed.seen = (st.st_size, st.st_mtime_ns)
    return parsed


#: A worker's answer for a chunk: each file's result with its row count per table, and the
#: chunk's rows as one frame per table (None: each result holds its own frames).
_Answer = tuple[list[tuple[int, "_Parsed | None", dict[str, int]]], dict[str, pl.DataFrame] | None]


def _parse_chunk(files: list[tuple[int, str, str]], options: dict[str, Any],
                 rules: KeyRules, forced: str | None) -> _Answer:
    """Worker side: parse a chunk of small files; their rows as one frame per table."""
    done = [(i, _parse_ahead(path, display, options, rules, forced))
            for i, path, display in files]
    together = _frame_together([parsed for _, parsed in done if parsed])
    if together is None:
        return [(i, parsed, {}) for i, parsed in done], None
    joined, heights = together
    return [(i, parsed, heights.pop(0) if parsed else {}) for i, parsed in done], joined


def _frame_together(results: list[_Parsed]) -> tuple[dict[str, pl.DataFrame],
                                                      list[dict[str, int]]] | None:
    """The results' rows as one frame per table, in order, and each result's row count per
    table (their ``tables`` are emptied). Rows still dicts are framed here, all at once.

    None when some value does not fit its column: each result then frames its own rows as
    one process would, counting what had to be made to fit in its ``coerced_values`` note.
    """
    blocks: dict[str, list[Any]] = {}
    for parsed in results:
        for table, items in parsed.tables.items():
            blocks.setdefault(table, []).extend(items)
    try:
        joined = {table: _frame_blocks(table, items) for table, items in blocks.items()}
    except (Exception, PanicException):  # noqa: BLE001 - a value that does not fit, or worse
        for parsed in results:
            _frame_own(parsed)
        return None
    heights = []
    for parsed in results:
        heights.append({table: sum(len(x) for x in items)
                        for table, items in parsed.tables.items()})
        parsed.tables = {}
    return joined, heights


def _frame_blocks(table: str, items: list[Any]) -> pl.DataFrame:
    """Frames and row lists of one table as one frame; raises if a value does not fit."""
    if all(isinstance(x, list) for x in items):
        return pl.DataFrame([row for rows in items for row in rows], schema=TABLES[table])
    frames = [x if isinstance(x, pl.DataFrame) else pl.DataFrame(x, schema=TABLES[table])
              for x in items]
    return pl.concat(frames, rechunk=True) if len(frames) > 1 else frames[0]


def _frame_own(parsed: _Parsed) -> None:
    """Frame a result's rows on their own, each value fitted to its column (``frame``) and
    counted in the result's ``coerced_values`` note, placed as one process places it."""
    coerced: Counter[str] = Counter()
    parsed.tables = {table: [x if isinstance(x, pl.DataFrame) else frame(table, x, coerced)
                             for x in items]
                     for table, items in parsed.tables.items()}
    if coerced:
        skipped = parsed.detail.pop("skipped_types", None)
        _add_notes(parsed.detail, {"coerced_values": dict(coerced)})
        if skipped is not None:
            parsed.detail["skipped_types"] = skipped


@dataclass(frozen=True, slots=True)
class _RangeJob:
    """A worker's request to parse lines of a large file as ``module`` (``_Ranges``)."""

    path: str
    display: str
    module: str
    line_range: LineRange


def _parse_range(job: _RangeJob, options: dict[str, Any], rules: KeyRules) -> _Parsed | None:
    """Worker side: parse a range of lines; None leaves it to the writer, as for a file."""
    try:
        src = Source(path=Path(job.path), display=job.display, options=dict(options),
                     rules=rules, line_range=job.line_range)
        # Framed batch by batch: a range's rows held as dicts until its end took twice the
        # memory, and its batches are large enough for a frame's fixed cost not to count.
        return _parse_whole(ingest.get(job.module), src, _Recorder(), False)
    except Exception:  # noqa: BLE001 - the writer parses it again and reports what went wrong
        return None


def serve() -> None:
    """A worker's main loop (``python -c 'from tracemap.load import serve; serve()'``): the
    options, then requests on stdin, each answered on stdout in request order, until stdin
    closes (the writer is done or gone): a chunk of small files ``(index, path, display)``
    gets an ``_Answer``, a ``_RangeJob`` its ``_Parsed``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the writer decides when to stop
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        options, rules, forced = pickle.load(stdin)
        while True:
            job = pickle.load(stdin)
            answer = (_parse_range(job, options, rules) if isinstance(job, _RangeJob)
                      else _parse_chunk(job, options, rules, forced))
            pickle.dump(answer, stdout, protocol=pickle.HIGHEST_PROTOCOL)
            stdout.flush()
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass


class _Worker:
    """One worker process and the chunks of indexes it was asked to parse, oldest first."""

    def __init__(self, setup: bytes) -> None:
        env = dict(os.environ)
        roots = {str(Path(m.__file__).resolve().parents[1]) for m in (ingest, sys.modules[
            __name__])}  # where this tracemap is, installed or not
        env["PYTHONPATH"] = os.pathsep.join([*sorted(roots), env.get("PYTHONPATH", "")])
        # A process of its own, not a fork of this one (it holds DuckDB's and Polars' threads)
        # nor multiprocessing's spawn (which would run the caller's __main__ again); a session
        # of its own, so Ctrl-C reaches only the writer, which then closes the pipes.
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tracemap.load import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
        self.asked: collections.deque[list[int]] = collections.deque()
        self.send(setup)

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def receive(self) -> Any:
        """The answer to the oldest request."""
        assert self.proc.stdout is not None
        answer = pickle.load(self.proc.stdout)
        self.asked.popleft()
        return answer

    def answer(self) -> Iterator[tuple[int, _Parsed | None]]:
        """The results of the oldest chunk asked, each with its own rows."""
        done, joined = self.receive()
        offsets: dict[str, int] = {}
        for index, parsed, heights in done:
            if parsed is not None and joined is not None:
                for table, n in heights.items():
                    at = offsets.get(table, 0)
                    parsed.tables[table] = [joined[table].slice(at, n)]
                    offsets[table] = at + n
            yield index, parsed

    def close(self, wait: bool) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        if not wait:
            self.proc.kill()
        self.proc.wait()


def _start_workers(n: int, options: dict[str, Any], rules: KeyRules,
                   forced: str | None) -> list[_Worker]:
    """Up to ``n`` worker processes, each given the options, rules and forced format."""
    setup = pickle.dumps((options, rules, forced), protocol=pickle.HIGHEST_PROTOCOL)
    workers: list[_Worker] = []
    try:
        for _ in range(n):
            workers.append(_Worker(setup))
    except OSError:  # no process to be had: what started still helps
        pass
    return workers


class _Ahead:
    """Small files parsed by worker processes ahead of the writer, a few chunks per worker.

    The writer takes each file's result at its turn (``take``), in input order; a file it
    never asks for (found unchanged or identical to another by its hash) is dropped.
    Anything that goes wrong with a worker, up to a worker killed, only means the writer
    parses those files itself.
    """

    def __init__(self, jobs: list[tuple[int, str, str]], workers: int, options: dict[str, Any],
                 rules: KeyRules, forced: str | None) -> None:
        self.jobs = jobs
        self.next = 0
        self.owner: dict[int, _Worker] = {}
        self.ready: dict[int, _Parsed | None] = {}
        self.workers = _start_workers(workers if jobs else 0, options, rules, forced)

    @classmethod
    def start(cls, targets: list[tuple[str | None, str, bool | str, bool | None]],
              stats: list[os.stat_result | None], keys: list[str | None], known: _Known,
              forced: Any, force: bool, options: dict[str, Any] | None, rules: KeyRules,
              workers: int) -> _Ahead:
        """Workers for the small files that will need parsing, if there are enough of them."""
        jobs = [(i, t[0], t[1])
                for i, (t, stat, key) in enumerate(zip(targets, stats, keys, strict=True))
                if t[0] is not None and key is not None and stat is not None
                and stat.st_size <= SMALL_FILE
                and known.unchanged(key, stat, force) is None]
        if not workers or len(jobs) < PARALLEL_FILES:
            jobs, workers = [], 0
        return cls(jobs, workers, dict(options or {}), rules,
                   forced.NAME if forced else None)

    def take(self, index: int) -> _Parsed | None:
        """The worker's result for target ``index`` (None: parse it here)."""
        for passed in [i for i in self.ready if i < index]:
            del self.ready[passed]
        if not self.workers:
            return self.ready.pop(index, None)
        self._ask(index)
        worker = self.owner.get(index)
        try:
            while index not in self.ready and worker is not None and worker.asked:
                for done, parsed in worker.answer():
                    self.owner.pop(done, None)
                    if done >= index:
                        self.ready[done] = parsed
        except (OSError, EOFError, pickle.UnpicklingError):  # the worker died
            self._drop(worker)
        self._ask(index)
        return self.ready.pop(index, None)

    def _ask(self, index: int) -> None:
        """Keep every worker busy with the next files from ``index`` on."""
        while self.next < len(self.jobs) and self.workers:
            worker = min(self.workers, key=lambda w: len(w.asked))
            if len(worker.asked) >= AHEAD_PER_WORKER:
                return
            chunk = [job for job in self.jobs[self.next:self.next + CHUNK_FILES]
                     if job[0] >= index]
            self.next += CHUNK_FILES
            if not chunk:
                continue
            try:
                worker.send(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
            except OSError:
                self._drop(worker)
                continue
            worker.asked.append([i for i, _, _ in chunk])
            self.owner.update((i, worker) for i, _, _ in chunk)

    def _drop(self, worker: _Worker) -> None:
        worker.close(wait=False)
        self.workers.remove(worker)
        for i in [i for i, w in self.owner.items() if w is worker]:
            del self.owner[i]

    def close(self, wait: bool) -> None:
        for worker in self.workers:
            worker.close(wait=wait and not worker.asked)
        self.workers, self.owner, self.ready = [], {}, {}


class _Ranges:
    """Worker processes parsing large JSON-lines files in ranges of lines, started for the
    first such file and kept for the next ones. A range no worker could parse (it died, or
    tracemap failed on it) is parsed by the writer, so the outcome is a one-process run's.
    """

    def __init__(self, workers: int, options: dict[str, Any], rules: KeyRules) -> None:
        self.wanted = workers
        self.options, self.rules = options, rules
        self.workers: list[_Worker] = []

    def usable(self, module: Any, src: Source, size: int) -> bool:
        """Whether to parse this file in ranges: its format's lines are records of their own,
        it is JSON lines, uncompressed (a gzip stream is read from its start) and holds two
        ranges or more."""
        if not (self.wanted and size >= 2 * LINE_RANGE_BYTES
                and getattr(module, "LINE_RECORDS", False)):
            return False
        return not src.gzipped() and is_json_lines(src)

    def parse(self, module: Any, src: Source) -> Iterator[tuple[LineRange, _Parsed]]:
        """Each range of the file with its parse, in the file's order."""
        if not self.workers:
            self.workers = _start_workers(self.wanted, self.options, self.rules, None)
        todo = _line_ranges(src.path, LINE_RANGE_BYTES)
        asked: collections.deque[tuple[LineRange, _Worker | None]] = collections.deque()
        try:
            while True:
                self._ask(todo, asked, module.NAME, src)
                if not asked:
                    line_range = next(todo, None)
                    if line_range is None:
                        return
                    asked.append((line_range, None))
                line_range, worker = asked.popleft()
                parsed = None
                if worker is not None and worker in self.workers:
                    try:
                        parsed = worker.receive()
                    except (OSError, EOFError, pickle.UnpicklingError):  # the worker died
                        self._drop(worker)
                if parsed is None:
                    parsed = _parse_whole(module, replace(src, line_range=line_range), _Recorder(),
                                          False)
                yield line_range, parsed
        finally:
            if asked:  # stopped early: the answers still coming must not reach the next file
                self.close()

    def _ask(self, todo: Iterator[LineRange],
             asked: collections.deque[tuple[LineRange, _Worker | None]],
             module: str, src: Source) -> None:
        """Keep every worker busy with the next ranges, ``AHEAD_PER_WORKER`` at most each."""
        while self.workers:
            worker = min(self.workers, key=lambda w: len(w.asked))
            if len(worker.asked) >= AHEAD_PER_WORKER:
                return
            line_range = next(todo, None)
            if line_range is None:
                return
            try:
                worker.send(pickle.dumps(_RangeJob(str(src.path), src.display, module,
                                                   line_range),
                                         protocol=pickle.HIGHEST_PROTOCOL))
            except OSError:
                self._drop(worker)
                asked.append((line_range, None))
                continue
            worker.asked.append([])
            asked.append((line_range, worker))

    def _drop(self, worker: _Worker) -> None:
        worker.close(wait=False)
        self.workers.remove(worker)

    def close(self) -> None:
        for worker in self.workers:
            worker.close(wait=not worker.asked)
        self.workers = []


def _line_ranges(path: Path, step: int) -> Iterator[LineRange]:
    """The file in ranges of whole lines of about ``step`` bytes, each with the number of its
    first line (newlines counted at the speed of reading the file)."""
    with open(path, "rb") as fh:
        start, line = 0, 1
        while data := fh.read(step):
            newlines = data.count(b"\n")
            if not data.endswith(b"\n"):
                while more := fh.readline(1 << 20):  # the rest of the line cut at ``step``
                    if more.endswith(b"\n"):
                        newlines += 1
                        break
            end = fh.tell()
            yield LineRange(start, end, line)
            start, line = end, line + newlines


@contextmanager
def _transaction(store: Store) -> Iterator[None]:
    store.begin()
    try:
        yield
    except BaseException:
        store.rollback()
        raise
    store.commit()


def _unchanged(fmt: str, counts: tuple[int, ...], display: str) -> SourceResult:
    out = SourceResult(display, fmt, "unchanged", *counts)
    if out.rejected and not out.loaded:
        out.message = (f"{display}: nothing loaded when it was ingested, all {out.rejected:,} "
                       "records were rejected; `tracemap rejects` lists them")
    return out


def _load(module: Any, src: Source, progress: Progress, debug: bool,
          store_batch: Callable[[Batch, list[tuple[str, str, str | None]]], None],
          failed: Callable[[str], None]) -> tuple[dict[str, int], dict[str, Any]]:
    """Run the ingestor, handing each batch (and its rejects) to ``store_batch``; returns the
    counters and source notes. A file that cannot be read at all becomes one reject, after
    ``failed`` removed what was stored of it."""
    counts = dict.fromkeys(COUNTERS, 0)
    skipped_types: Counter[str] = Counter()
    notes: dict[str, Any] = {}
    seen = 0
    try:
        for batch in module.parse(src):
            # Over-long lines were rejected below the ingestor: records it never saw.
            oversized = [(loc, why, raw.decode("utf-8", "replace"))
                         for loc, why, raw in src.oversized]
            src.oversized.clear()
            if src.first_reject is None and (batch.rejects or oversized):
                src.first_reject = (batch.rejects + oversized)[0][:2]
            store_batch(batch, batch.rejects + oversized)
            counts["records"] += batch.records + len(oversized)
            counts["loaded"] += batch.loaded
            counts["rejected"] += len(batch.rejects) + len(oversized)
            counts["skipped"] += batch.skipped
            skipped_types.update(batch.skipped_types)
            _add_notes(notes, batch.notes)
            pos = src.position()
            progress.advance(pos - seen)
            seen = pos
    # A Rust panic in Polars (PanicException is a BaseException) is that file's failure too.
    except (Exception, PanicException) as exc:  # noqa: BLE001 - one file never stops the batch
        if debug:
            raise
        # The file as a whole could not be read: its rows so far go, one reject says why.
        reason = _file_error(module.NAME, exc)
        src.first_reject = ("file", reason)
        failed(reason)
        return {"records": 1, "loaded": 0, "rejected": 1, "skipped": 0}, {"error": reason}
    if counts["records"] != counts["loaded"] + counts["rejected"] + counts["skipped"]:
        raise ReconcileError(
            f"{src.display}: {module.NAME} read {counts['records']} records but accounted for "
            f"{counts['loaded']} loaded + {counts['rejected']} rejected + {counts['skipped']} "
            "skipped. This is a bug in tracemap; please report it with the file."
        )
    if skipped_types:
        notes["skipped_types"] = dict(sorted(skipped_types.items()))
    return counts, notes


def _load_ranges(ranges: _Ranges, module: Any, src: Source, progress: Progress,
                 store_batch: Callable[[Batch, list[tuple[str, str, str | None]]], None],
                 failed: Callable[[str], None]) -> tuple[dict[str, int], dict[str, Any]]:
    """``_load`` for a file parsed in ranges: each range's rows stored in the file's order,
    its counters and notes added up; a range that could not be read fails the whole file, as
    it does when one process reads it."""
    counts = dict.fromkeys(COUNTERS, 0)
    notes: dict[str, Any] = {}
    size = src.path.stat().st_size
    for line_range, parsed in ranges.parse(module, src):
        if parsed.failure is not None:
            src.first_reject = ("file", parsed.failure)
            failed(parsed.failure)
            progress.advance(max(size - line_range.start, 0))
            return parsed.counts, parsed.detail
        tables = {table: pl.concat(frames, rechunk=True) if len(frames) > 1 else frames[0]
                  for table, frames in parsed.tables.items()}
        store_batch(Batch(framed=tables), parsed.rejects)
        for name in COUNTERS:
            counts[name] += parsed.counts[name]
        _add_notes(notes, parsed.detail)
        src.first_reject = src.first_reject or parsed.first_reject
        progress.advance(line_range.end - line_range.start)
    if "skipped_types" in notes:  # last, as one process writes it
        notes["skipped_types"] = dict(sorted(notes.pop("skipped_types").items()))
    return counts, notes


#: Notes that count (values coerced by column, records skipped by type): a file's note is the
#: sum over its batches and ranges.
COUNTED_NOTES = ("coerced_values", "skipped_types")


def _add_notes(notes: dict[str, Any], more: dict[str, Any]) -> None:
    for name, value in more.items():
        if name in COUNTED_NOTES and name in notes:
            total = Counter(notes[name])
            total.update(value)
            notes[name] = dict(total)
        else:
            notes[name] = value


#: Exceptions that mean "this file is not readable as that format", not "tracemap has a bug".
_INPUT_ERRORS = (IngestError, DocumentTooLarge, OSError, EOFError, UnicodeError, ValueError,
                 RecursionError, MemoryError)


def _file_error(fmt: str, exc: Exception) -> str:
    text = " ".join(str(exc).split())  # one line: parser messages may span several
    if isinstance(exc, _INPUT_ERRORS):
        return f"not readable as {fmt}: {text}"
    return (f"not readable as {fmt}: internal error {type(exc).__name__}: {text} "
            "(a bug in tracemap; rerun with --debug and report it)")
