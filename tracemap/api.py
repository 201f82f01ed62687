"""The library API: everything the CLI does, as calls a notebook can make.

    import tracemap
    tm = tracemap.open("tracemap.duckdb")
    tm.ingest(["exports/"])
    tm.status().counts
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from ingest.base import KeyRules
from tracemap import correlate as correlation
from tracemap import declarations, report
from tracemap import graph as graph_views
from tracemap.analyze import coverage as coverage_analysis
from tracemap.analyze import diff as diff_analysis
from tracemap.analyze import explain as explain_analysis
from tracemap.analyze import failures as failures_analysis
from tracemap.analyze import hidden as hidden_analysis
from tracemap.analyze import impact as impact_analysis
from tracemap.analyze import paths as paths_analysis
from tracemap.analyze import risks as risks_analysis
from tracemap.analyze import trace as trace_analysis
from tracemap.config import Config, load_config
from tracemap.errors import TracemapError
from tracemap.export import ocel as ocel_export
from tracemap.load import IngestResult, Progress, ingest_paths
from tracemap.store import Store, default_path


@dataclass(frozen=True, slots=True)
class StatusResult:
    """What the store holds: row counts, per-system counts, and every source."""

    counts: dict[str, int]
    systems: dict[str, dict[str, int]]
    sources: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "systems": self.systems, "sources": self.sources}


@dataclass(frozen=True, slots=True)
class RejectsResult:
    """Input records that could not be used, with where they were and why."""

    rejects: list[dict[str, Any]]
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"rejects": self.rejects, "total": self.total}

    def to_polars(self) -> pl.DataFrame:
        return pl.DataFrame(self.rejects)


class Tracemap:
    """A tracemap store and the operations on it.

    Opens the DuckDB file lazily: read-only for reads, read-write only while writing, so a
    notebook holding a Tracemap does not lock other readers out.
    """

    def __init__(self, db: str | os.PathLike[str] | None = None, *,
                 rules: KeyRules | None = None,
                 correlate_params: dict[str, Any] | None = None) -> None:
        self.db = str(db or default_path())
        self.rules = rules or KeyRules()
        #: Passed to ``correlate()`` when an analysis finds the correlation stale.
        self.correlate_params = dict(correlate_params or {})

    def writer(self) -> Store:
        """A read-write connection (close it when done, or use it in ``with``)."""
        return Store(self.db)

    def reader(self) -> Store:
        """A read-only connection."""
        return Store(self.db, read_only=True)

    def ingest(self, paths: Iterable[str], *, fmt: str | None = None, force: bool = False,
               options: dict[str, Any] | None = None, progress: Progress | None = None,
               debug: bool = False) -> IngestResult:
        """Ingest files, directories and globs; see ``tracemap.load.ingest_paths``."""
        with self.writer() as store:
            return ingest_paths(store, paths, fmt=fmt, force=force, options=options,
                                rules=self.rules, progress=progress, debug=debug)

    def status(self) -> StatusResult:
        """Row counts per table and per system, and the ingested sources."""
        with self.reader() as store:
            counts = store.counts()
            sources = [_source_status(s) for s in store.sources()]
            return StatusResult(
                counts={k: counts[k] for k in ("runs", "steps", "messages", "datasets", "keys",
                                               "links", "rejects", "declared", "logs")},
                systems=store.systems(), sources=sources)

    def rejects(self, limit: int | None = None) -> RejectsResult:
        """Rejected input records (first ``limit``), each with path, location and reason."""
        with self.reader() as store:
            total = store.counts()["rejects"]
            return RejectsResult(store.rejects(limit), total)


    # ------------------------------------------------------------------ correlation
    def correlate(self, **params: Any) -> correlation.CorrelateResult:
        """Rebuild executions and edges now (see ``tracemap.correlate.correlate``)."""
        with self.writer() as store:
            return correlation.correlate(store, **{**self.correlate_params, **params})

    def ensure_correlated(self) -> None:
        """Correlate when the input rows changed since the last correlation."""
        with self.reader() as store:
            stale = correlation.is_stale(store)
        if stale:
            self.correlate()

    def analysis_store(self) -> Store:
        """A read-only connection on an up-to-date correlation, for analyses."""
        self.ensure_correlated()
        return self.reader()

    # ------------------------------------------------------------------ analyses
    def hidden(self, declared: Iterable[str] = ()) -> hidden_analysis.HiddenResult:
        """Observed dependencies no declaration explains (``declared``: AsyncAPI/manifests)."""
        found = declarations.load(list(declared))
        with self.analysis_store() as store:
            return hidden_analysis.analyze(store, declarations=found)

    def failures(self, *, since: datetime | None = None, until: datetime | None = None,
                 baseline_since: datetime | None = None, baseline_until: datetime | None = None,
                 execution: str | None = None,
                 baseline_sources: Iterable[str] = ()) -> failures_analysis.FailuresResult:
        """Root causes and propagation of failures in a window or one execution
        (``baseline_sources``: ingested files/folders holding the fault-free baseline)."""
        with self.analysis_store() as store:
            return failures_analysis.analyze(
                store, since=since, until=until, baseline_since=baseline_since,
                baseline_until=baseline_until, execution=execution,
                baseline_sources=list(baseline_sources))

    def impact(self, target: str, *, upstream: bool = False,
               depth: int | None = None) -> impact_analysis.ImpactResult:
        """What a change to ``target`` (any unambiguous suffix of a component) reaches."""
        from tracemap.graph import resolve_component

        with self.analysis_store() as store:
            return impact_analysis.analyze(store, target=resolve_component(store, target),
                                           upstream=upstream, depth=depth)

    def report(self, path: str | os.PathLike[str], *, declared: Iterable[str] = (),
               title: str = "tracemap report") -> Path:
        """Write the self-contained HTML report to ``path``; returns where it is."""
        found = declarations.load(list(declared))
        with self.analysis_store() as store:
            page = report.build(store, title=title, declarations=found)
        out = Path(path)
        write_output(out, page)
        return out.resolve()

    def export(self, path: str | os.PathLike[str], *,
               fmt: str = "ocel-json") -> ocel_export.ExportResult:
        """Write the store as an OCEL 2.0 log (``fmt``: ocel-json or ocel-sqlite)."""
        with self.analysis_store() as store:
            return ocel_export.export(store, path, fmt)

    def diff(self, before: tuple[datetime, datetime],
             after: tuple[datetime, datetime]) -> diff_analysis.DiffResult:
        """Edges that appeared, disappeared or changed between two periods."""
        with self.analysis_store() as store:
            return diff_analysis.analyze(store, before=before, after=after)

    # ------------------------------------------------------------------ stitched views
    def trace(self, id: str) -> trace_analysis.TraceResult:  # noqa: A002 - the user's word
        """One execution, named by any key value, entity uid or execution id, as a timeline."""
        with self.analysis_store() as store:
            return trace_analysis.analyze(store, id=id)

    def timeline(self, id: str, path: str | os.PathLike[str]) -> Path:  # noqa: A002
        """Write one execution's waterfall (``trace`` as a self-contained page) to ``path``."""
        from tracemap.render import html, timeline

        out = Path(path)
        write_output(out, html.timeline_page(timeline.data(self.trace(id))))
        return out.resolve()

    def graph(self, *, level: str = "component",
              execution: str | None = None) -> graph_views.GraphResult:
        """The component graph, or one execution's instance graph (``execution``: any id)."""
        with self.analysis_store() as store:
            return graph_views.graph_result(store, level=level, execution=execution)

    def explain(self, src: str, dst: str) -> explain_analysis.ExplainResult:
        """Why tracemap believes the edge between two entities or two components."""
        with self.analysis_store() as store:
            return explain_analysis.analyze(store, src=src, dst=dst)

    def coverage(self) -> coverage_analysis.CoverageResult:
        """Where chains break: stitched share by method, unmatched messages, ignored keys."""
        with self.analysis_store() as store:
            return coverage_analysis.analyze(store)

    def risks(self, *, since: datetime | None = None,
              until: datetime | None = None) -> risks_analysis.RisksResult:
        """Hazards of mixed workflow/event systems: duplicates, reordering, retries, dead
        letters, spanning workflows, choreography, cascades, storms, compensations."""
        with self.analysis_store() as store:
            return risks_analysis.analyze(store, since=since, until=until)

    def paths(self, *, since: datetime | None = None, until: datetime | None = None,
              source: str | None = None,
              target: str | None = None) -> paths_analysis.PathsResult:
        """Distinct end-to-end pathways with latency per hop (``source``/``target``: any
        unambiguous suffix of a component, to focus on one route)."""
        from tracemap.graph import resolve_component

        with self.analysis_store() as store:
            return paths_analysis.analyze(
                store, since=since, until=until,
                source=resolve_component(store, source) if source else None,
                target=resolve_component(store, target) if target else None)


def _source_status(row: dict[str, Any]) -> dict[str, Any]:
    detail = row.get("detail")
    failed = isinstance(detail, str) and '"error"' in detail
    status = ("interrupted" if row["state"] == "loading" else "failed" if failed else "ingested")
    return {
        "path": row["path"], "format": row["format"], "status": status,
        "records": row["records"], "loaded": row["loaded"], "rejected": row["rejected"],
        "skipped": row["skipped"], "sha256": row["sha256"], "chosen_by": row["chosen_by"],
        "ingested_at": row["ingested_at"].isoformat() if row["ingested_at"] else None,
        "detail": detail,
    }


def open(db: str | os.PathLike[str] | None = None, *,  # noqa: A001 - mirrors builtins' idiom
         config: Config | str | os.PathLike[str] | None = None) -> Tracemap:
    """Open (or name, for creation on first write) a tracemap store.

    ``config`` is a ``Config`` or the path of a ``tracemap.toml``; by default
    ``$TRACEMAP_CONFIG`` or ``./tracemap.toml`` when there is one (see ``tracemap.config``).
    """
    settings = config if isinstance(config, Config) else load_config(config)
    return Tracemap(db, rules=settings.rules, correlate_params=settings.correlate_params)


def write_output(path: Path, text: str) -> None:
    """Write a report or graph; a path that cannot be written is a TracemapError, one line."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TracemapError(f"{path}: cannot write here ({exc.strerror or exc}); check that "
                            "the directory exists and is writable, or pass another -o.") from None
