"""An execution as waterfall data: rows grouped by system, nested by the strongest incoming edge.

``rows(result)`` decides the order and indentation of the bars from a ``TraceResult`` (so the
drawing code in ``assets/report.js`` only scales and paints); ``data(result)`` is the JSON the
page embeds for one execution. The page reads from the execution's root (``TraceResult.root``,
its earliest cause): the root's system is the first lane and its subtree is walked first, then
the other systems follow in order of their first entity (a clock running behind must not put a
consumer's lane above the request that caused it). Inside a lane the entities follow the display
tree (``TraceResult.parents``) depth first, indented by how many of their ancestors are in the
same lane, so a consumer sits under the run that handled it while the message that started it
stays in its bus's lane, joined to both by arrows. Entities the trace folded into another (a
service's root span into its run) are not bars of their own: the bar they were folded into lists
their uids (``folded``), so an id from another tool still finds its bar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracemap.analyze.trace import TraceResult

#: Bars drawn for one execution; the rest are counted on the page (critical path always kept).
MAX_BARS = 1500
#: Edge kinds drawn as arrows between bars (``contains``/``precedes`` show as nesting instead).
ARROW_KINDS = frozenset({"emits", "triggers", "consumes", "calls", "child", "signals",
                         "follows_from", "retry_of", "reads", "writes"})


def rows(result: TraceResult) -> list[dict[str, Any]]:
    """The bars in drawing order: ``uid``, ``lane`` (system), ``depth`` and ``parent``."""
    by_uid = {e["uid"]: e for e in result.entities}
    children = result.children()
    order: list[str] = []
    seen: set[str] = set()

    def walk(uid: str) -> None:
        stack = [uid]
        while stack:  # iterative depth first: deep chains of spans must not hit recursion limits
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            order.append(current)
            stack.extend(reversed(children.get(current, [])))

    roots = children.get(None, [])
    for root in sorted(roots, key=lambda uid: uid != result.root):  # stable: time order after
        walk(root)
    for e in result.entities:  # anything a cut cycle left unreachable
        walk(e["uid"])
    lanes: dict[str, list[str]] = {}
    for uid in order:
        lanes.setdefault(str(by_uid[uid].get("system") or "unknown"), []).append(uid)
    first = {lane: min((_start(by_uid[u]) for u in members), default=float("inf"))
             for lane, members in lanes.items()}
    root_lane = str(by_uid[result.root].get("system") or "unknown") \
        if result.root in by_uid else None
    out = []
    for lane in sorted(lanes, key=lambda name: (name != root_lane, first[name], name)):
        for uid in lanes[lane]:
            depth, node = 0, result.parents.get(uid)
            while node is not None and depth < 50:
                if str(by_uid.get(node, {}).get("system") or "unknown") == lane:
                    depth += 1
                node = result.parents.get(node)
            out.append({"uid": uid, "lane": lane, "depth": depth,
                        "parent": result.parents.get(uid)})
    return out


def _start(entity: dict[str, Any]) -> float:
    when = entity.get("started_at")
    return when.timestamp() if isinstance(when, datetime) else float("inf")


def data(result: TraceResult, *, max_bars: int = MAX_BARS) -> dict[str, Any]:
    """One execution's timeline as the page's JSON: summary, bars, arrows, critical path."""
    order = rows(result)
    keep = set(result.critical_path)
    for row in order:
        if len(keep) >= max_bars:
            break
        keep.add(row["uid"])
    drawn = [r for r in order if r["uid"] in keep]
    by_uid = {e["uid"]: e for e in result.entities}
    hidden: dict[str, list[str]] = {}
    for uid, shown in sorted(result.folded.items()):
        hidden.setdefault(shown, []).append(uid)
    bars = []
    for r in drawn:
        e = by_uid[r["uid"]]
        bars.append({**r, "component": e.get("component"), "name": e.get("name"),
                     "kind": e.get("kind"), "status": e.get("status"),
                     "attempt": e.get("attempt"), "error": e.get("error"),
                     "started_at": _iso(e.get("started_at")), "ended_at": _iso(e.get("ended_at")),
                     "offset_ms": e.get("offset_ms"), "duration_ms": e.get("duration_ms"),
                     "critical": bool(e.get("critical")), "inferred": e.get("inferred"),
                     "folded": hidden.get(r["uid"], [])})
    arrows = [{"src": e["src"], "dst": e["dst"], "kind": e["kind"], "rule": e.get("rule"),
               "confidence": e.get("confidence"), "latency_ms": e.get("latency_ms"),
               "evidence": e.get("evidence")}
              for e in result.edges if e["src"] in keep and e["dst"] in keep]
    summary = result.summary
    notes = []
    if len(drawn) < len(order):
        notes.append(f"{len(drawn):,} of {len(order):,} entities drawn (the critical path and "
                     "the first ones in display order); `tracemap trace --json` lists all.")
    return {"execution": result.execution,
            "summary": {"entities": summary.get("entities"), "systems": summary.get("systems"),
                        "status": summary.get("status"),
                        "started_at": _iso(summary.get("started_at")),
                        "ended_at": _iso(summary.get("ended_at")),
                        "root_uid": result.root},
            "bars": bars, "arrows": arrows, "arrow_kinds": sorted(ARROW_KINDS),
            "critical_path": [u for u in result.critical_path if u in keep], "notes": notes}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
