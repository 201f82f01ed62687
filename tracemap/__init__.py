"""tracemap: stitch workflow histories, bus dumps, traces and lineage into one execution graph.

The public names are loaded on first use, so ``ingest`` modules can import ``tracemap.model``
without pulling in the whole library (which itself imports ``ingest``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "IngestResult",
    "RejectsResult",
    "StatusResult",
    "Tracemap",
    "TracemapError",
    "open",
]

_HOMES = {
    "IngestResult": "tracemap.load",
    "RejectsResult": "tracemap.api",
    "StatusResult": "tracemap.api",
    "Tracemap": "tracemap.api",
    "TracemapError": "tracemap.errors",
    "open": "tracemap.api",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'tracemap' has no attribute {name!r}")
