"""Helpers for correlation landscapes: ingest real-format files, correlate, score the edges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tracemap


def correlate(tmp_path: Path, *paths: Path | str, **params: Any) -> tracemap.Tracemap:
    """A store with ``paths`` ingested (none rejected) and correlated."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    tm = tracemap.open(tmp_path / "store.duckdb")
    result = tm.ingest([str(p) for p in paths])
    assert result.totals["rejected"] == 0, [s.message for s in result.sources]
    tm.correlate(**params)
    return tm


def rows(tm: tracemap.Tracemap, sql: str, params: list[Any] | None = None) -> list[dict]:
    with tm.reader() as store:
        return store.rows(sql, params)


def component_edges(tm: tracemap.Tracemap) -> set[tuple[str, str, str]]:
    return {(r["source"], r["target"], r["kind"])
            for r in rows(tm, "SELECT source, target, kind FROM component_edges")}


def score(tm: tracemap.Tracemap, expected: set[tuple[str, str, str]], name: str
          ) -> tuple[float, float]:
    """Precision and recall of the component edges against ``expected`` (printed)."""
    got = component_edges(tm)
    hit = len(got & expected)
    precision = hit / len(got) if got else 1.0
    recall = hit / len(expected) if expected else 1.0
    print(f"{name}: precision {precision:.2f} recall {recall:.2f} "
          f"(extra {sorted(got - expected)}, missing {sorted(expected - got)})")
    return precision, recall
