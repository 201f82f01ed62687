"""tracemap: stitch workflow histories, bus dumps, traces and lineage into one execution graph."""

from __future__ import annotations

from tracemap.api import RejectsResult, StatusResult, Tracemap, open
from tracemap.errors import TracemapError
from tracemap.load import IngestResult

__all__ = [
    "IngestResult",
    "RejectsResult",
    "StatusResult",
    "Tracemap",
    "TracemapError",
    "open",
]
