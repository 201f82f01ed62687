"""Diff: how the dependency graph changed between two periods.

Component edges are recomputed from the instance edges of each period (by the time the edge's
source started). An edge *appeared* when seen only after, *disappeared* when seen only before,
and *changed* when its volume moved by more than ``VOLUME_FACTOR``×, its p50 latency by more
than ``LATENCY_FACTOR``× (and ``MIN_LATENCY_MS``), or the failure rate of its target by more than
``FAILURE_POINTS`` percentage points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracemap.analyze.plain import plain
from tracemap.store import Store

VOLUME_FACTOR = 2.0
LATENCY_FACTOR = 1.5
MIN_LATENCY_MS = 10.0
FAILURE_POINTS = 10.0

_PERIOD_SQL = """
SELECT s.node AS source, d.node AS target, e.kind, count(*) AS count,
       quantile_cont(e.latency_ms, 0.5) AS latency_p50_ms,
       100.0 * count(*) FILTER (WHERE d.status IN ('failed', 'timed_out')) / count(*)
           AS failure_pct
FROM edges e JOIN entities s ON s.uid = e.src JOIN entities d ON d.uid = e.dst
WHERE s.node <> d.node AND s.started_at >= ? AND s.started_at < ?
GROUP BY ALL
"""


@dataclass(frozen=True, slots=True)
class DiffResult:
    before: tuple[str, str]
    after: tuple[str, str]
    appeared: list[dict[str, Any]]
    disappeared: list[dict[str, Any]]
    changed: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


def analyze(store: Store, *, before: tuple[datetime, datetime],
            after: tuple[datetime, datetime]) -> DiffResult:
    """Edges that appeared, disappeared or changed between the ``before`` and ``after`` periods."""
    old = _period(store, before)
    new = _period(store, after)
    appeared = [new[k] for k in sorted(new.keys() - old.keys())]
    disappeared = [old[k] for k in sorted(old.keys() - new.keys())]
    changed = []
    for key in sorted(old.keys() & new.keys()):
        reasons = _changes(old[key], new[key])
        if reasons:
            changed.append({"source": key[0], "target": key[1], "kind": key[2],
                            "before": old[key], "after": new[key], "changes": reasons})
    return DiffResult(before=(before[0].isoformat(), before[1].isoformat()),
                      after=(after[0].isoformat(), after[1].isoformat()),
                      appeared=appeared, disappeared=disappeared, changed=changed)


def _period(store: Store, period: tuple[datetime, datetime]) -> dict[tuple[str, str, str], dict]:
    return {(r["source"], r["target"], r["kind"]): r
            for r in store.rows(_PERIOD_SQL, list(period))}


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    ratio = new["count"] / old["count"]
    if ratio >= VOLUME_FACTOR or ratio <= 1 / VOLUME_FACTOR:
        out.append(f"volume {old['count']} -> {new['count']}")
    lo, hi = old["latency_p50_ms"], new["latency_p50_ms"]
    if lo is not None and hi is not None and abs(hi - lo) >= MIN_LATENCY_MS and (
            hi >= LATENCY_FACTOR * lo or lo >= LATENCY_FACTOR * hi):
        out.append(f"p50 latency {lo:.0f} ms -> {hi:.0f} ms")
    if abs(new["failure_pct"] - old["failure_pct"]) >= FAILURE_POINTS:
        out.append(f"target failure rate {old['failure_pct']:.0f}% -> {new['failure_pct']:.0f}%")
    return out
