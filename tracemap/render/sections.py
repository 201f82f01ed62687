"""Analyzer results as titled tables: what every renderer (text, Markdown, HTML) draws.

Keeping the choice of columns here means a finding looks the same on a terminal, in a pull
request and in the HTML report; renderers only decide how to draw a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def impact(result: Any) -> list[Section]:
    title = f"Change impact of {result.target} ({result.direction})"
    if not result.impacted:
        return [Section(title, "Nothing observed depends on it.")]
    counts = {r: sum(1 for i in result.impacted if i.risk == r) for r in ("high", "medium", "low")}
    summary = ", ".join(f"{n} {r}" for r, n in counts.items() if n)
    return [Section(
        title, f"{len(result.impacted)} components reached: {summary}.",
        ["risk", "component", "hops", "path", "volume", "failure coupling", "latency p50"],
        [[i.risk, i.component, i.hops, " → ".join(i.path), i.count, _pct(i.failure_coupling),
          "–" if i.latency_ms is None else f"{i.latency_ms:.0f} ms"] for i in result.impacted])]


def false_completions(rows: list[dict[str, Any]]) -> Section:
    return Section(
        "False completions", "Runs that reported success while something they started failed.",
        ["run", "component", "failed downstream"],
        [[r["run"], r["component"], ", ".join(dict.fromkeys(
            f"{d['component']} ({d['status']})" for d in r["downstream_failures"]))]
         for r in rows])


def hidden(result: Any) -> list[Section]:
    out = [Section(
        "Hidden dependencies",
        f"{len(result.hidden)} observed dependencies that no declaration explains "
        f"({result.observed} observed, {result.declarations} declared).",
        ["source", "target", "kind", "count", "confidence", "why"],
        [[h.source, h.target, h.kind, h.count, h.confidence, h.why] for h in result.hidden])]
    if result.declared_unobserved:
        out.append(Section("Declared but never observed", "",
                           ["source", "target", "kind", "declared in"],
                           [[d["source"], d["target"], d["kind"], d["evidence"]]
                            for d in result.declared_unobserved]))
    if result.fan_out:
        out.append(Section("Implicit fan-out", "One channel and event type, several consumers.",
                           ["channel", "event type", "consumers", "messages"],
                           [[f["channel"], f["event_type"], ", ".join(f["consumers"]),
                             f["messages"]] for f in result.fan_out]))
    if result.dataset_dependencies:
        out.append(Section("Dependencies carried by datasets", "",
                           ["writer", "dataset", "reader", "declared"],
                           [[d["writer"], d["dataset"], d["reader"],
                             "yes" if d["declared"] else "no"]
                            for d in result.dataset_dependencies]))
    if result.cycles:
        out.append(Section("Cross-system cycles", "", ["cycle"],
                           [[" → ".join([*c, c[0]])] for c in result.cycles]))
    if result.false_completions:
        out.append(false_completions(result.false_completions))
    if result.notes:
        out.append(Section("Notes", "", ["note"], [[n] for n in result.notes]))
    return out


def failures(result: Any) -> list[Section]:
    w = result.window
    scope = (f"execution {w.execution}" if w.execution
             else f"{w.since:%Y-%m-%d %H:%M:%S} – {w.until:%Y-%m-%d %H:%M:%S} UTC")
    out = [Section(
        f"Failures in {scope}",
        f"{result.failed_entities} failed entities in {result.failed_executions} executions.",
        ["rank", "component", "score", "explains", "evidence"],
        [[i, c.component, c.score, ", ".join(c.explains), "; ".join(
            [*c.evidence, *(f"{a.name}={a.value} ({a.failed_share:.0%} of failed vs "
                            f"{a.healthy_share:.0%} of healthy)" for a in c.attributes[:2])])]
         for i, c in enumerate(result.root_causes[:10], start=1)])]
    if result.propagation:
        out.append(Section("Propagation", "Where each failure was handed on from.",
                           ["from", "to", "via", "count"],
                           [[p["from"], p["to"], p["via"], p["count"]]
                            for p in result.propagation]))
    if result.silent:
        out.append(Section(f"Silent failures ({len(result.silent)})",
                           "Messages their usual consumers never picked up.",
                           ["message", "channel", "expected consumer"],
                           [[s["message"], s["channel"], s["expected_consumer"]]
                            for s in result.silent[:50]]))
    if result.partial:
        out.append(Section("Partial failures", "One consumer succeeded, another failed.",
                           ["message", "channel", "ok", "failed"],
                           [[p["message"], p["channel"], ", ".join(p["ok"]),
                             ", ".join(p["failed"])] for p in result.partial[:50]]))
    if result.false_completions:
        out.append(false_completions(result.false_completions))
    return out


def diff(result: Any) -> list[Section]:
    out = [Section("Dependency diff", f"before {result.before[0]} – {result.before[1]}, "
                                      f"after {result.after[0]} – {result.after[1]}")]
    for title, rows in (("Appeared", result.appeared), ("Disappeared", result.disappeared)):
        if rows:
            out.append(Section(title, "", ["source", "target", "kind", "count"],
                               [[r["source"], r["target"], r["kind"], r["count"]]
                                for r in rows]))
    if result.changed:
        out.append(Section("Changed", "", ["source", "target", "kind", "changes"],
                           [[c["source"], c["target"], c["kind"], "; ".join(c["changes"])]
                            for c in result.changed]))
    return out


def coverage(result: Any) -> list[Section]:
    s = result.summary
    return [
        Section("Coverage",
                f"{s['stitched_share']:.1%} of {s['entities']:,} entities are stitched to others; "
                f"{s['cross_system_share']:.1%} are in executions spanning several systems.",
                ["method", "entities", "share", "runs", "steps", "messages", "datasets"],
                [[m["method"], m["entities"], f"{m['share']:.1%}", m["runs"], m["steps"],
                  m["messages"], m["datasets"]] for m in result.methods]),
        Section(f"Where chains break ({len(result.findings)})", "",
                ["issue", "where", "count", "examples", "fix"],
                [[f["issue"].replace("_", " "), f["where"],
                  f"{f['count']:,}" + (f" of {f['total']:,}" if f["total"] else ""),
                  ", ".join(f["examples"][:3]),
                  f["hint"] + (f" ({f['detail']})" if f["detail"] else "")]
                 for f in result.findings]),
    ]


def _examples(examples: list[dict[str, Any]], n: int = 3) -> str:
    return ", ".join(f"{e['uid']} ({_short(e.get('path'))}:{e.get('location') or '?'})"
                     for e in examples[:n])


def _short(path: str | None) -> str:
    return "?" if not path else path.rsplit("/", 1)[-1]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def risks(result: Any) -> list[Section]:
    if not result.findings:
        return [Section("Execution risks", "No hazard found.")]
    found = sorted({f.hazard for f in result.findings})
    text = f"{len(result.findings)} findings: {', '.join(h.replace('_', ' ') for h in found)}."
    return [Section(
        "Execution risks", text,
        ["hazard", "component", "count", "detail", "examples", "what to do"],
        [[f.hazard.replace("_", " "), f.component, f"{f.count:,} of {f.total:,}", f.detail,
          _examples(f.examples), f.what_to_do] for f in result.findings])]


def paths(result: Any) -> list[Section]:
    route = "".join(f" {word} {c}" for word, c in (("from", result.source), ("to", result.target))
                    if c)
    if not result.paths:
        return [Section(f"Pathways{route}", f"No pathway over {result.executions:,} executions.")]
    out = [Section(
        f"Pathways{route}",
        f"{len(result.paths)} distinct pathways over {result.executions:,} executions.",
        ["hash", "executions", "p50", "p95", "p99", "failed", "components"],
        [[p.hash, p.count, _ms(p.p50_ms), _ms(p.p95_ms), _ms(p.p99_ms), _pct(p.failure_rate),
          " → ".join(p.components)] for p in result.paths])]
    for p in result.paths[:5]:
        out.append(Section(f"Hops of pathway {p.hash} ({p.count} executions)", "",
                           ["from", "to", "kind", "p50", "p95"],
                           [[h.source, h.target, h.kind, _ms(h.p50_ms), _ms(h.p95_ms)]
                            for h in p.hops]))
    return out


#: Result type name -> its sections, for renderers that take any analyzer result.
SECTIONS = {"ImpactResult": impact, "HiddenResult": hidden, "FailuresResult": failures,
            "DiffResult": diff, "CoverageResult": coverage, "RisksResult": risks,
            "PathsResult": paths}


def of(result: Any) -> list[Section]:
    """The sections of any analyzer result."""
    return SECTIONS[type(result).__name__](result)
