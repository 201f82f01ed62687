"""Ingest files into the store: expand paths → skip unchanged → detect → parse → load.

Each source is loaded in one transaction, so a crash or kill leaves either all of a source or
none of it. A bad file never stops the batch: it is reported ``failed`` and the next one loads.
Every source must reconcile: ``records == loaded + rejected + skipped``.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ingest
from ingest.base import DocumentTooLarge, KeyRules, Source, dumps
from tracemap.errors import IngestError, ReconcileError, UnknownFormatError
from tracemap.store import Store

COUNTERS = ("records", "loaded", "rejected", "skipped")


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

    def to_dict(self) -> dict[str, Any]:
        return {"sources": [_source_dict(s) for s in self.sources], "totals": self.totals}


def _source_dict(s: SourceResult) -> dict[str, Any]:
    out = asdict(s)
    out.pop("explicit")
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
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            yield p, raw, True
        elif p.is_dir():
            unlisted: list[OSError] = []
            for root, dirs, names in os.walk(p, onerror=unlisted.append):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if not name.startswith("."):
                        f = Path(root) / name
                        yield f, str(f), False
            for exc in unlisted:  # os.walk skips a directory it cannot list: say so
                where = exc.filename or raw
                yield None, str(where), (f"{where}: cannot list this directory "
                                         f"({exc.strerror or exc}); check its permissions "
                                         "or leave it out")
        elif glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))
            files = [m for m in matches if Path(m).is_file()]
            if not files:
                yield None, raw, (f"{raw}: no file matches this pattern; check the pattern "
                                  "(quote it so tracemap expands it, not the shell)")
            for m in files:
                yield Path(m), m, True
        elif p.exists():
            yield None, raw, (f"{raw}: not a regular file (a pipe, socket or device); copy "
                              "the export to a file and ingest that")
        else:
            yield None, raw, f"{raw}: no such file or directory; check the path"


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
) -> IngestResult:
    """Ingest every file under ``paths`` into ``store``.

    Args:
        fmt: force this format instead of sniffing.
        force: re-ingest sources whose content is already in the store (replacing their rows).
        options: ingestor options (``workflow_id``, ``column_map`` ...).
        rules: correlation-key rules (defaults plus ``tracemap.toml``).
        progress: where to report files and bytes.
        debug: let an ingestor's unexpected exception through instead of recording it.
    """
    forced = ingest.get(fmt) if fmt else None
    progress = progress or _NoProgress()
    rules = rules or KeyRules()
    targets = list(expand(paths))
    progress.start(len(targets), sum(_size(p) for p, _, _ in targets if p is not None))
    result = IngestResult()
    for path, display, explicit in targets:
        progress.file(display)
        if path is None:
            result.sources.append(SourceResult(display, None, "failed", message=str(explicit)))
            continue
        src = Source(path=path, display=display, options=dict(options or {}), rules=rules)
        try:
            outcome = _ingest_one(store, src, forced, force, progress, debug)
            outcome.explicit = bool(explicit)
        except OSError as exc:
            # stat or hash failed, before anything was written. Unreadable loses its records:
            # a failure of the command even for a file found by walking (explicit stays True).
            outcome = SourceResult(display, None, "failed", message=_unreadable(display, exc))
        result.sources.append(outcome)
    return result


def _unreadable(display: str, exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        step = "check its permissions, or leave it out"
    elif isinstance(exc, FileNotFoundError):
        step = "a broken link, or it was removed while ingesting; check the path"
    else:
        step = "check the file and the disk, or leave it out"
    return f"{display}: cannot read this file ({exc.strerror or exc}); {step}"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reported when its turn comes


def _ingest_one(store: Store, src: Source, forced: Any, force: bool, progress: Progress,
                debug: bool) -> SourceResult:
    stat = src.path.stat()
    key_path = str(src.path.resolve())
    previous = store.source_by_path(key_path)
    if (previous and not force and previous.size == stat.st_size
            and previous.mtime_ns == stat.st_mtime_ns):
        progress.advance(stat.st_size)
        return _unchanged(store, previous, src.display)
    sha = file_sha256(src.path)
    same = store.source_by_hash(sha)
    if same and not force:
        if previous and previous.id == same.id:
            store.touch_source(same.id, stat.st_size, stat.st_mtime_ns)
        progress.advance(stat.st_size)
        return _unchanged(store, same, src.display)
    try:
        module = forced or ingest.detect(src)
    except UnknownFormatError as exc:
        progress.advance(stat.st_size)
        return SourceResult(src.display, None, "failed", message=str(exc))
    replaced = [s for s in {previous, same} if s is not None]
    # The source row goes in first, marked loading, and its batches are committed one by one:
    # a transaction per file would hold the whole file in DuckDB's memory. A kill leaves the
    # marker, and the next writer to open the store drops the half-loaded rows (Store.recover).
    with _transaction(store):
        for old in replaced:
            store.drop_source(old.id)
        source_id = store.add_source(path=key_path, sha256=sha, size=stat.st_size,
                                     mtime_ns=stat.st_mtime_ns, fmt=module.NAME,
                                     chosen_by="forced" if forced else "detected")
        store.bump_data_version()
    try:
        counts, detail = _load(store, source_id, module, src, progress, debug)
        with _transaction(store):
            store.finish_source(source_id, detail=dumps(detail), **counts)
            store.bump_data_version()
    except BaseException:
        with _transaction(store):
            store.drop_source(source_id)
        raise
    progress.advance(stat.st_size - src.position())
    status = "replaced" if replaced else "new"
    return SourceResult(src.display, module.NAME, status,
                        chosen_by="forced" if forced else "detected", **counts)


@contextmanager
def _transaction(store: Store) -> Iterator[None]:
    store.begin()
    try:
        yield
    except BaseException:
        store.rollback()
        raise
    store.commit()


def _unchanged(store: Store, row: Any, display: str) -> SourceResult:
    counts = store.sql("SELECT records, loaded, rejected, skipped FROM sources WHERE id = ?",
                       [row.id]).fetchone()
    return SourceResult(display, row.format, "unchanged", *counts)


def _load(store: Store, source_id: int, module: Any, src: Source, progress: Progress,
          debug: bool) -> tuple[dict[str, int], dict[str, Any]]:
    """Stream the ingestor's batches into the store; returns the counters and source notes."""
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
            with _transaction(store):
                for table, df in batch.tables.items():
                    if df.height:
                        store.insert(table, df, source_id)
                store.insert_rejects(source_id, batch.rejects + oversized)
            counts["records"] += batch.records + len(oversized)
            counts["loaded"] += batch.loaded
            counts["rejected"] += len(batch.rejects) + len(oversized)
            counts["skipped"] += batch.skipped
            skipped_types.update(batch.skipped_types)
            notes.update(batch.notes)
            pos = src.position()
            progress.advance(pos - seen)
            seen = pos
    except Exception as exc:  # noqa: BLE001 - one file never stops the batch
        if debug:
            raise
        # The file as a whole could not be read: its rows so far go, one reject says why.
        reason = _file_error(module.NAME, exc)
        with _transaction(store):
            store.clear_source(source_id)
            store.insert_rejects(source_id, [("file", reason, None)])
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


#: Exceptions that mean "this file is not readable as that format", not "tracemap has a bug".
_INPUT_ERRORS = (IngestError, DocumentTooLarge, OSError, EOFError, UnicodeError, ValueError,
                 RecursionError, MemoryError)


def _file_error(fmt: str, exc: Exception) -> str:
    text = " ".join(str(exc).split())  # one line: parser messages may span several
    if isinstance(exc, _INPUT_ERRORS):
        return f"not readable as {fmt}: {text}"
    return (f"not readable as {fmt}: internal error {type(exc).__name__}: {text} "
            "(a bug in tracemap; rerun with --debug and report it)")
