"""Rank components by their anomaly signals: which one most likely started what changed.

A component's strength is that of its strongest signal (``tracemap.analyze.signals``), in one
unit: the surprise ``z`` for counts, and for latency ``LATENCY_UNIT`` x log2 of how many times
slower its typical call got (a surprise alone would rank a busy path's small drift above a
quiet service that got ten times slower). Localisation along calls: client-side latency goes
to the callee, unless the caller's own time (``self_latency``) grew at least ``SELF_GROWTH``
times while the callee's did not; then the caller, starved itself, is the one to blame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from tracemap.analyze.signals import Signal

#: Weight of each signal kind. Own time counts half: it mostly follows the client latency
#: into the component, and stands alone only where no caller is traced (an entry service).
WEIGHTS = {"client_latency": 1.0, "consumer_lag": 1.0, "error_logs": 1.0, "warn_logs": 0.5,
           "log_template": 1.0, "call_path": 0.5, "failed_status": 1.0, "error_codes": 1.0,
           "retries": 1.0, "self_latency": 0.5, "new_value": 0.5}
#: Strength of a latency that doubled, in surprise units.
LATENCY_UNIT = 3.0
#: A caller whose own time grew this many times keeps the latency of its calls.
SELF_GROWTH = 2.0
#: Share of its strength a suspect keeps when a callee's anomaly explains it.
EXPLAINED_KEEPS = 0.5
#: How far a change ranks above the strongest anomaly it reaches.
CHANGE_MARGIN = 1.0


@dataclass(frozen=True, slots=True)
class Suspect:
    component: str
    strength: float
    signals: list[Signal]
    explanation: str
    explained_by: str | None = None


def strength(s: Signal) -> float:
    if s.signal.endswith("latency"):
        return WEIGHTS[s.signal] * LATENCY_UNIT * math.log2(max(s.effect or 1.0, 1.0))
    if s.signal == "log_template" and s.effect is not None and s.effect < 1:
        # A line that stops is telling; one that halves mostly follows the request mix.
        return WEIGHTS["log_template"] * s.z * (1 - s.effect)
    if s.signal == "log_template" and s.severity == "warn":
        return WEIGHTS["warn_logs"] * s.z
    return WEIGHTS.get(s.signal, 0.0) * s.z


def rank(signals: list[Signal], calls: Iterable[tuple[str, str]] = (),
         reaches: Iterable[tuple[str, str]] = ()) -> list[Suspect]:
    """Suspects, strongest first (ties by name), each with the signals that name it.

    ``calls``: (caller, callee) component pairs. A caller whose strongest signal is that calls
    into it got slower is explained by a callee whose calls *from that caller* got slower by
    at least as much: it only waited, and keeps ``EXPLAINED_KEEPS`` of its strength, below the
    callee. ``reaches``: (u, v) pairs, "a change to u reaches v" (callee to caller, producer to
    channel to consumer). A component with a new version-like value (``new_value``) ranks
    ``CHANGE_MARGIN`` above the strongest anomaly it reaches, and explains it.
    """
    own = {s.component: s.effect or 1.0 for s in signals if s.signal == "self_latency"}
    credited: dict[str, list[tuple[float, Signal]]] = {}
    for s in signals:
        target = s.component
        if (s.signal == "client_latency" and s.peer and own.get(s.peer, 1.0) >= SELF_GROWTH
                and own.get(target, 1.0) < SELF_GROWTH):
            target = s.peer
        credited.setdefault(target, []).append((strength(s), s))
    for found in credited.values():
        found.sort(key=lambda p: (-p[0], p[1].signal, p[1].subject))
    slow_from = {(peer, s.component): LATENCY_UNIT * math.log2(max(effect, 1.0))
                 for s in signals if s.signal == "client_latency"
                 for peer, effect in s.by_peer.items()}
    callees: dict[str, set[str]] = {}
    for caller, callee in calls:
        callees.setdefault(caller, set()).add(callee)
    out = []
    for comp, found in credited.items():
        best, top = found[0]
        if best <= 0:
            continue
        by = None
        if top.signal == "client_latency" and top.component == comp:
            by = next((c for c in sorted(callees.get(comp, ()))
                       if slow_from.get((comp, c), 0.0) >= best), None)
        line = explain(comp, top)
        if by:
            best *= EXPLAINED_KEEPS
            line += f"; explained by {by}, whose calls from it slowed as much"
        out.append(Suspect(comp, round(best, 3), [s for w, s in found if w > 0], line, by))
    out = _credit_changes(out, reaches)
    out.sort(key=lambda x: (-x.strength, x.component))
    return out


def _credit_changes(suspects: list[Suspect], reaches: Iterable[tuple[str, str]]) -> list[Suspect]:
    """A change upstream of anomalies is their cause: it ranks above them, they below it."""
    after: dict[str, set[str]] = {}
    for u, v in reaches:
        after.setdefault(u, set()).add(v)
    by = {s.component: s for s in suspects}
    for change in [s for s in suspects if any(x.signal == "new_value" for x in s.signals)]:
        seen, todo = set(), [change.component]
        while todo:  # everything the change reaches, any number of hops away
            for nxt in after.get(todo.pop(), ()):
                if nxt not in seen and nxt != change.component:
                    seen.add(nxt)
                    todo.append(nxt)
        hit = [by[c] for c in sorted(seen) if c in by and by[c].explained_by is None]
        if not hit:
            continue
        top = max(h.strength for h in hit)
        sig = next(x for x in change.signals if x.signal == "new_value")
        by[change.component] = replace(
            by[change.component], strength=round(max(change.strength, top + CHANGE_MARGIN), 3),
            explanation=(f"changed: {sig.subject} is new in the window, and "
                         f"{len(hit)} anomalous component(s) it reaches follow it"))
        for h in hit:
            by[h.component] = replace(h, strength=round(h.strength * EXPLAINED_KEEPS, 3),
                                      explained_by=change.component)
    return list(by.values())


def explain(component: str, s: Signal) -> str:
    """One line saying what the strongest signal shows."""
    if s.signal == "client_latency":
        how = (f"calls into it take {s.effect:.3g}x their baseline median"
               f" (e.g. {s.subject}: {s.window:g} ms vs {s.baseline:g} ms)")
        if s.component != component:
            how = (f"its own time grew, and its calls into {s.component} take {s.effect:.3g}x "
                   "their baseline median")
        return how
    if s.signal == "self_latency":
        return f"its own time is {s.effect:.3g}x the baseline median ({s.subject})"
    if s.signal == "consumer_lag":
        return (f"messages of {s.subject} reach it {s.effect:.3g}x later than in the baseline "
                f"({s.window:g} ms vs {s.baseline:g} ms)")
    if s.signal == "log_template" and s.window < s.baseline:
        return (f"a log line it used to write fell to {s.window:g} "
                f"(baseline {s.baseline:g}): {s.subject}")
    if s.signal == "log_template":
        return f"log line {s.window:g} times (baseline {s.baseline:g}): {s.subject}"
    if s.signal == "new_value":
        return f"new value {s.subject} on {s.window:g} executions, never seen in the baseline"
    if s.signal == "call_path":
        return f"stopped calling {s.subject}: {s.window:g} calls vs {s.baseline:g} in the baseline"
    if s.signal == "error_codes":
        return f"{s.subject} {s.window:g} times vs {s.baseline:g} in the baseline"
    what = {"error_logs": "error log lines", "warn_logs": "warning log lines",
            "failed_status": "failed entities", "retries": "retried attempts"}[s.signal]
    return f"{s.window:g} {what} vs {s.baseline:g} in the baseline"
