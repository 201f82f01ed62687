"""Terminal rendering with rich: tables, trees and the ingest progress bar.

Strings from inputs are data: control characters and escape sequences are stripped and rich
markup is never interpreted (every cell is a ``Text``), so a log line cannot repaint the terminal.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI sequences (colours, cursor moves)
    r"|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?"  # OSC sequences (titles, hyperlinks)
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # other C0/C1 controls; tab and newline stay
)


def clean(value: Any) -> str:
    """Input text made safe for a terminal: escape sequences and control characters removed."""
    return _CONTROL.sub("", "" if value is None else str(value))


def cell(value: Any, style: str = "") -> Text:
    """A table cell that shows the text as it is (no markup), cleaned."""
    return Text(clean(value), style=style)


STATUS_STYLES = {"new": "green", "replaced": "yellow", "unchanged": "dim", "failed": "bold red",
                 "ok": "green", "failed_run": "red", "ingested": "green"}


def ingest_table(result: Any) -> RenderableType:
    table = Table(title="ingest", show_lines=False)
    for col in ("file", "format", "status", "records", "loaded", "rejected", "skipped"):
        table.add_column(col, justify="right" if col in ("records", "loaded", "rejected",
                                                         "skipped") else "left")
    for s in result.sources:
        fmt = s.format or "-"
        if s.chosen_by == "detected":
            fmt += f" (detected: {s.rule})" if getattr(s, "rule", None) else " (detected)"
        table.add_row(cell(s.path), cell(fmt), cell(s.status, STATUS_STYLES.get(s.status, "")),
                      *(cell(getattr(s, c)) for c in ("records", "loaded", "rejected", "skipped")))
    totals = result.totals
    table.add_section()
    table.add_row(cell("total", "bold"), cell(""), cell(""),
                  *(cell(totals[c], "bold") for c in ("records", "loaded", "rejected", "skipped")))
    return table


def status_table(result: Any) -> RenderableType:
    counts = Table(title="store")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, n in result.counts.items():
        counts.add_row(cell(name), cell(f"{n:,}"))
    systems = Table(title="systems")
    for col in ("system", "runs", "steps", "messages"):
        systems.add_column(col, justify="left" if col == "system" else "right")
    for name, c in result.systems.items():
        systems.add_row(cell(name), cell(f"{c['runs']:,}"), cell(f"{c['steps']:,}"),
                        cell(f"{c['messages']:,}"))
    sources = Table(title=f"sources ({len(result.sources)})")
    for col in ("path", "format", "records", "loaded", "rejected", "skipped"):
        sources.add_column(col, justify="left" if col in ("path", "format") else "right")
    for s in result.sources:
        sources.add_row(cell(s["path"]), cell(s["format"]),
                        *(cell(s[c]) for c in ("records", "loaded", "rejected", "skipped")))
    merged = [note for note in map(_merged_note, result.sources) if note]
    return Group(counts, systems, sources, *(cell(note, "yellow") for note in merged))


def _merged_note(source: dict[str, Any]) -> str | None:
    """What of a source is held by earlier sources too (``detail.merged``, set by ingest)."""
    try:
        merged = json.loads(source.get("detail") or "{}").get("merged")
    except (ValueError, AttributeError):
        return None
    if not isinstance(merged, dict):
        return None
    rows = ", ".join(f"{merged[t]:,} {t if merged[t] > 1 else t[:-1]}"
                     for t in ("runs", "steps", "messages") if merged.get(t))
    return f"{source['path']}: {rows} also in {', '.join(merged.get('with', []))} (merged by uid)"


def rejects_table(result: Any) -> RenderableType:
    table = Table(title=f"rejects ({len(result.rejects)} of {result.total})")
    for col in ("path", "location", "reason"):
        table.add_column(col, overflow="fold")
    for r in result.rejects:
        table.add_row(cell(r["path"]), cell(r["location"]), cell(r["reason"]))
    return table


def formats_table(rows: list[tuple[str, str]]) -> RenderableType:
    table = Table(title="formats (in sniff order)")
    table.add_column("format", style="bold")
    table.add_column("what it reads")
    for name, summary in rows:
        table.add_row(cell(name), cell(summary))
    return table


class IngestProgress:
    """A rich progress bar over files and bytes (the loader's Progress protocol)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[current]}", style="dim"),
            console=console, transient=True)
        self._bytes = self._progress.add_task("ingest", total=0, current="", visible=False)
        self._files = 0

    def __enter__(self) -> IngestProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, files: int, total_bytes: int) -> None:
        self._total_files = files
        self._progress.update(self._bytes, total=total_bytes, visible=True)

    def file(self, display: str) -> None:
        self._files += 1
        self._progress.update(self._bytes, current=clean(display)[-60:],
                              description=f"ingest {self._files}/{self._total_files}")

    def advance(self, nbytes: int) -> None:
        if nbytes > 0:
            self._progress.advance(self._bytes, nbytes)


RISK_STYLES = {"high": "bold red", "medium": "yellow", "low": "dim"}


def sections_view(result: Any) -> RenderableType:
    """Any analyzer result as rich tables, one per section (see render/sections.py)."""
    from tracemap.render import sections

    parts: list[RenderableType] = []
    for s in sections.of(result):
        if not s.headers:
            parts.append(Text(clean(s.title), style="bold"))
            if s.text:
                parts.append(cell(s.text))
            continue
        table = Table(title=clean(s.title), caption=clean(s.text) or None, title_justify="left")
        for h in s.headers:
            table.add_column(h, overflow="fold")
        for row in s.rows:
            style = RISK_STYLES.get(str(row[0]), "") if s.headers[0] == "risk" else ""
            table.add_row(*(cell(c, style) for c in row))
        parts.append(table)
    return Group(*parts)


class DemoView:
    """How ``tracemap demo`` shows each step of its tour."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.number = 0

    def _print(self, *items: RenderableType) -> None:
        if not self.quiet:
            self.console.print(*items)

    def step(self, title: str, text: str = "") -> None:
        from rich.rule import Rule

        self.number += 1
        self._print(Text(""), Rule(Text(f"{self.number}. {clean(title)}", style="bold cyan"),
                                   align="left"))
        if text:
            self._print(Text(clean(text), style="dim"))

    def ingest(self, result: Any) -> None:
        totals = result.totals
        by_format: dict[str, int] = {}
        for s in result.sources:
            by_format[s.format or "?"] = by_format.get(s.format or "?", 0) + s.records
        self._print(Text(f"{len(result.sources)} files, {totals['records']:,} records, "
                         f"{totals['rejected']} rejected: " + ", ".join(
                             f"{clean(k)} {v:,}" for k, v in sorted(by_format.items()))))

    def correlation(self, stats: dict[str, Any]) -> None:
        rules = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.get("edges_by_rule", {}).items()))
        self._print(Text(f"{stats['executions']:,} executions "
                         f"({stats['multi_system_executions']:,} span several systems), "
                         f"{stats['edges']:,} edges ({rules}), "
                         f"{stats['component_edges']:,} component edges, "
                         f"in {stats['seconds']:.1f} s"))

    def analysis(self, result: Any, checks: list[Any]) -> None:
        self._print(sections_view(result))
        self._checks(checks)

    def trace(self, result: Any, checks: list[Any]) -> None:
        self._print(trace_tree(result))
        self._checks(checks)

    def checks(self, checks: list[Any]) -> None:
        """Checks that have no analysis of their own to show."""
        self._checks(checks)

    def _checks(self, checks: list[Any]) -> None:
        for c in checks:
            mark = Text("✓ ", style="bold green") if c.ok else Text("✗ ", style="bold red")
            self._print(mark + cell(f"{c.what}: found {c.found!r}"
                                    + ("" if c.ok else f", planted {c.expected!r}")))

    def summary(self, checks: list[Any], report: Any) -> None:
        ok = sum(1 for c in checks if c.ok)
        style = "bold green" if ok == len(checks) else "bold red"
        self._print(Text(""), Text(f"{ok} of {len(checks)} planted answers found.", style=style),
                    cell(f"HTML report: {report}"))


# ------------------------------------------------------------------------------------------
# Correlation: correlate summary, trace tree, explain and coverage tables.

#: Terminal colours for systems (stable by name).
_SYSTEM_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta",
                  "bright_green", "bright_blue", "bright_yellow")
#: Entities a trace tree shows before it says how many it left out.
MAX_TREE_NODES = 400


def system_style(system: str | None) -> str:
    import hashlib

    digest = hashlib.md5((system or "").encode(), usedforsecurity=False).digest()
    return _SYSTEM_STYLES[digest[0] % len(_SYSTEM_STYLES)]


def correlate_table(result: Any) -> RenderableType:
    table = Table(title="correlate", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [("executions", f"{result.executions:,}"),
            ("  spanning several systems", f"{result.multi_system_executions:,}"),
            ("entities", f"{result.entities:,}"), ("edges", f"{result.edges:,}")]
    rows += [(f"  {rule}", f"{n:,}") for rule, n in sorted(result.edges_by_rule.items())]
    rows += [("component edges", f"{result.component_edges:,}"),
             ("key values ignored as too common", f"{result.ignored_keys:,}"),
             ("union-find rounds", ", ".join(f"{k} {v}" for k, v in result.iterations.items())),
             ("seconds", f"{result.seconds:.2f}")]
    for what, value in rows:
        table.add_row(cell(what), cell(value))
    return table


def _offset(ms: float | None) -> str:
    if ms is None:
        return "      ?"
    return f"{ms / 1000:+7.2f}s" if abs(ms) >= 10_000 else f"{ms:+7.1f}ms"


def _trace_label(e: dict[str, Any], via: str | None) -> Text:
    failed = e["status"] in ("failed", "timed_out")
    text = Text()
    text.append("▶ " if e.get("critical") else "  ", style="bold yellow")
    text.append(_offset(e.get("offset_ms")) + " ", style="dim")
    text.append(clean(e["system"] or "?"), style=system_style(e["system"]))
    text.append(" " + clean(e["component"]), style="bold" if e.get("critical") else "")
    if e.get("name") and e["name"] not in (e["component"] or ""):
        text.append(" " + clean(e["name"]))
    text.append(f" [{clean(e['status'] or 'unknown')}]", style="bold red" if failed else "dim")
    if e.get("duration_ms") is not None and e["kind"] != "message":
        text.append(f" {e['duration_ms']:.1f} ms", style="dim")
    if e.get("inferred"):
        text.append(" (inferred)", style="dim italic")
    if via:
        text.append(f"  ←{clean(via)}", style="dim")
    if failed and e.get("error"):
        text.append(f"  {clean(e['error'])[:120]}", style="red")
    return text


def trace_tree(result: Any) -> RenderableType:
    """One execution as a tree: entities under their strongest parent, in time order."""
    from rich.tree import Tree

    s = result.summary
    title = Text(f"execution {clean(result.execution)}", style="bold")
    title.append(f"  {clean(s['status'])}", style="bold red" if s["status"] == "failed"
                 else "green")
    title.append(f"  {s['entities']} entities · {', '.join(clean(x) for x in s['systems'])}")
    if s["keys"]:
        title.append("  " + ", ".join(clean(k) for k in s["keys"]), style="dim")
    tree = Tree(title)
    by_uid = {e["uid"]: e for e in result.entities}
    via = {e["dst"]: e["kind"] for e in result.edges if result.parents.get(e["dst"]) == e["src"]}
    children = result.children()
    shown = 0
    stack: list[tuple[Any, str]] = [(tree, uid) for uid in reversed(children.get(None, []))]
    while stack:
        branch, uid = stack.pop()
        if shown >= MAX_TREE_NODES:
            break
        shown += 1
        node = branch.add(_trace_label(by_uid[uid], via.get(uid)))
        stack.extend((node, c) for c in reversed(children.get(uid, [])))
    parts: list[RenderableType] = [tree]
    if shown < len(result.entities):
        parts.append(Text(f"… {len(result.entities) - shown} more entities (--json has all)",
                          style="dim"))
    parts.append(Text("▶ critical path: " + " → ".join(
        clean(by_uid[u]["component"]) for u in result.critical_path), style="yellow"))
    return Group(*parts)


def _short_path(path: str | None) -> str:
    """A path relative to the working directory when it lies under it."""
    import os

    if not path:
        return "?"
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if rel.startswith("..") else rel


def _records(records: list[dict[str, Any]]) -> str:
    return "\n".join(f"{_short_path(r.get('path'))}:{r.get('location') or '?'}"
                     for r in records)


def explain_view(result: Any) -> RenderableType:
    table = Table(title=f"why {clean(result.src)} → {clean(result.dst)}", title_justify="left")
    for col in ("rule", "kind", "confidence", "what", "basis", "from"):
        table.add_column(col, overflow="fold")
    for p in result.evidence:
        conf = "" if p["confidence"] is None else f"{p['confidence']:.2f}"
        table.add_row(cell(p["rule"]), cell(p["kind"]), cell(conf), cell(p["what"]),
                      cell(p["basis"]), cell(_records(p["records"])))
    parts: list[RenderableType] = [table]
    if result.same_execution is not None:
        parts.append(cell("same execution" if result.same_execution
                          else "different executions", "dim"))
    parts += [cell(n, "yellow") for n in result.notes]
    return Group(*parts)


def coverage_view(result: Any) -> RenderableType:
    s = result.summary
    head = Text.assemble(
        ("stitched: ", "bold"), f"{s['stitched_share']:.1%} of {s['entities']:,} entities "
        f"are in an execution with others; {s['cross_system_share']:.1%} in one that spans "
        f"several systems. {s['executions']:,} executions ({s['multi_system']:,} multi-system, "
        f"{s['singletons']:,} alone), {s['edges']:,} edges, {s['inferred_messages']:,} "
        "inferred messages.")
    methods = Table(title="entities by strongest method", title_justify="left")
    for col in ("method", "entities", "share", "runs", "steps", "messages", "datasets"):
        methods.add_column(col, justify="left" if col == "method" else "right")
    for m in result.methods:
        methods.add_row(cell(m["method"]), cell(f"{m['entities']:,}"), cell(f"{m['share']:.1%}"),
                        *(cell(f"{m[k]:,}") for k in ("runs", "steps", "messages", "datasets")))
    findings = Table(title=f"where chains break ({len(result.findings)})", title_justify="left")
    for col in ("issue", "where", "count", "examples", "fix"):
        findings.add_column(col, overflow="fold")
    for f in result.findings:
        count = f"{f['count']:,}" + (f" of {f['total']:,}" if f["total"] else "")
        examples = "\n".join(clean(x) for x in f["examples"])
        fix = f["hint"] + (f" ({f['detail']})" if f["detail"] else "")
        findings.add_row(cell(f["issue"].replace("_", " ")), cell(f["where"]), cell(count),
                         cell(examples), cell(fix))
    return Group(head, methods, findings)
