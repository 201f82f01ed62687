"""The exception tree. The CLI catches TracemapError; anything else is a bug.

TracemapError
 ├── IngestError
 │    ├── UnknownFormatError   no ingestor recognised a file, or --format names none
 │    ├── RecordError          one input record is unusable (becomes a reject, not a crash)
 │    └── ReconcileError       records != loaded + rejected + skipped: a bug, stops loudly
 ├── ConfigError              tracemap.toml cannot be used as written
 ├── StoreError
 │    └── StoreBusyError       another process holds the store for writing
 ├── AnalysisError
 └── UnknownComponentError     a component name matched nothing, or several things
"""

from __future__ import annotations


class TracemapError(Exception):
    """Base of every error a user can cause; the message names the next step."""


class IngestError(TracemapError):
    """An input could not be ingested."""


class UnknownFormatError(IngestError):
    """No ingestor recognised a file, or a format name matched no ingestor."""


class RecordError(IngestError):
    """One input record is unusable; the loader turns it into a reject row.

    Args:
        location: where in the input (``line 12``, ``byte 4096``, ``event 7``).
        reason: what was expected and what was found.
    """

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


class ReconcileError(IngestError):
    """An ingestor's counters do not add up; this is a bug in tracemap, never bad input."""


class ConfigError(TracemapError):
    """``tracemap.toml`` cannot be used as written; the message says where and why."""


class StoreError(TracemapError):
    """The DuckDB store cannot be opened or used."""


class StoreBusyError(StoreError):
    """Another process is writing to the store."""


class AnalysisError(TracemapError):
    """An analysis cannot run on what the store holds."""


class UnknownComponentError(TracemapError):
    """A component name matched no component, or several (the message lists them)."""
