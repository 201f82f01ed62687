"""Analyzers: one module per analysis, each ``analyze(store, *, options) -> XResult``.

Every analyzer reads the correlated tables (``tracemap.correlate``) through a read-only store
and returns a frozen dataclass with ``to_dict()``; renderers draw it. ``ANALYZERS`` lists them
by name.
"""

from __future__ import annotations

from tracemap.analyze import (
    coverage,
    diff,
    explain,
    failures,
    hidden,
    impact,
    paths,
    risks,
    trace,
)

#: Name -> module; each module has ``analyze(store, **options)``.
ANALYZERS = {
    "coverage": coverage,
    "diff": diff,
    "explain": explain,
    "failures": failures,
    "hidden": hidden,
    "impact": impact,
    "paths": paths,
    "risks": risks,
    "trace": trace,
}
