"""The ``tracemap`` command: arguments → library call → renderer. Nothing else lives here.

One error boundary: a ``TracemapError`` prints ``error: <message>`` to stderr and exits 1;
usage errors exit 2 (typer); anything else is a bug and keeps its traceback. ``--debug``
shows tracebacks for everything.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

import ingest
import tracemap
from tracemap.api import write_output
from tracemap.errors import TracemapError
from tracemap.load import merged_text
from tracemap.render import json as render_json
from tracemap.render import text as render_text

# Piped output (CI logs, files) gets room for component names; a terminal keeps its width.
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # errors stay one line


#: click's UsageError, wherever this typer keeps click (recent ones vendor it).
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class _Group(TyperGroup):
    """Turns TracemapError into one red line and exit 1 (unless --debug); a usage error in a
    command's arguments into one line naming its --help, and exit 2."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TracemapError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            # One line even when a parser's message (YAML, TOML) spans several.
            err.print(render_text.cell(f"error: {' '.join(str(exc).split())}", "bold red"))
            raise typer.Exit(1) from None
        except _UsageError as exc:
            if (ctx.obj or {}).get("debug") or type(exc).__name__ == "NoArgsIsHelpError":
                raise
            _usage_error(exc, ctx.command_path)

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> typer.Context:
        # The group's own options (``tracemap --bogus``) fail here, before invoke.
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _UsageError as exc:
            if "--debug" in args or type(exc).__name__ == "NoArgsIsHelpError":
                raise
            _usage_error(exc, info_name or "tracemap")


def _usage_error(exc: Any, command_path: str) -> None:
    where = exc.ctx.command_path if exc.ctx else command_path
    message = " ".join(exc.format_message().split()).rstrip(".")
    err.print(render_text.cell(f"error: {message}. See `{where} --help`.", "bold red"))
    raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Group, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Stitch workflow histories, bus dumps, traces and lineage into one execution graph: "
         "hidden dependencies, failure propagation, change impact.",
)

DbOption = Annotated[str | None, typer.Option(
    "--db", envvar="TRACEMAP_DB", help="Store file (default ./tracemap.duckdb).",
    show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@app.callback()
def _main(ctx: typer.Context, debug: Annotated[bool, typer.Option(
        "--debug", help="Show tracebacks for errors.")] = False,
        config: Annotated[str | None, typer.Option(
            "--config", help="tracemap.toml to use (default: $TRACEMAP_CONFIG, else "
            "./tracemap.toml when there is one).", show_default=False)] = None) -> None:
    ctx.obj = {"debug": debug, "config": config}


def _open(ctx: typer.Context, db: str | None) -> tracemap.Tracemap:
    """The store ``db`` with the settings of ``tracemap --config`` (or the default lookup)."""
    return tracemap.open(db, config=(ctx.find_root().obj or {}).get("config"))


def _debug(ctx: typer.Context) -> bool:
    return bool((ctx.obj or {}).get("debug"))


def _print_json(result: Any) -> None:
    sys.stdout.write(render_json.render(result) + "\n")


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        col, sep, fld = pair.partition("=")
        if not sep or not col or not fld:
            raise typer.BadParameter(f"expected COLUMN=FIELD, got {pair!r}", param_hint="--map")
        mapping[col] = fld
    return mapping


@app.command("ingest")
def ingest_cmd(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Files, directories (recursive) and globs; "
                                               ".gz is read transparently.")],
    db: DbOption = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Force this format instead "
                                            "of detecting it (see `tracemap formats`).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-ingest sources already in the "
                                        "store, replacing their rows.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any record is "
                                         "rejected.")] = False,
    workflow_id: Annotated[str | None, typer.Option("--workflow-id", help="Workflow id for "
                           "histories that do not name their own.")] = None,
    column_map: Annotated[list[str] | None, typer.Option("--map", help="Tabular inputs: "
                          "COLUMN=FIELD (repeatable), e.g. --map svc=service.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Load exported files into the store (unchanged files are skipped by content hash).

    Every core parses: small files by the chunk, a large JSON-lines export by ranges of lines.
    TRACEMAP_WORKERS=0 parses in one process; TRACEMAP_MEMORY_LIMIT (1.6GB) bounds DuckDB.
    """
    options: dict[str, Any] = {}
    if workflow_id:
        options["workflow_id"] = workflow_id
    if column_map:
        options["column_map"] = _parse_map(column_map)
    tm = _open(ctx, db)
    if err.is_terminal and not as_json:
        with render_text.IngestProgress(err) as progress:
            result = tm.ingest(paths, fmt=fmt, force=force, options=options, progress=progress,
                               debug=_debug(ctx))
    else:
        result = tm.ingest(paths, fmt=fmt, force=force, options=options, debug=_debug(ctx))
    if as_json:
        _print_json(result)
    else:
        out.print(render_text.ingest_table(result))
        for note in filter(None, map(merged_text, result.sources)):
            out.print(render_text.cell(note, "yellow"))
        for source in result.failed + result.empty:
            err.print(render_text.cell(source.message, "red"))
    # A named file that gave nothing (not detected, unreadable, every record rejected) fails
    # the command; one found by walking a directory is reported but does not.
    hard_failures = [s for s in result.failed + result.empty if s.explicit]
    if hard_failures or (strict and result.totals["rejected"]):
        raise typer.Exit(1)


@app.command("formats")
def formats_cmd(as_json: JsonOption = False) -> None:
    """List the input formats tracemap reads, in the order files are sniffed."""
    rows = [(m.NAME, ingest.summary(m)) for m in ingest.INGESTORS]
    if as_json:
        _print_json({"formats": [{"name": n, "summary": s} for n, s in rows]})
    else:
        out.print(render_text.formats_table(rows))


@app.command("status")
def status_cmd(ctx: typer.Context, db: DbOption = None, as_json: JsonOption = False) -> None:
    """What the store holds: rows per table and per system, and every ingested source."""
    result = _open(ctx, db).status()
    if as_json:
        _print_json(result)
    else:
        out.print(render_text.status_table(result))


@app.command("rejects")
def rejects_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Input records that could not be used: file, location and reason."""
    result = _open(ctx, db).rejects(limit=limit)
    if as_json:
        _print_json(result)
    else:
        out.print(render_text.rejects_table(result))


FormatOption = Annotated[str, typer.Option(
    "--format", help="text (tables), json, or md (Markdown for pull requests).")]


def _emit(result: Any, fmt: str, as_json: bool) -> None:
    """Print an analyzer result in the chosen format."""
    from tracemap.render import markdown

    fmt = "json" if as_json else fmt
    if fmt == "json":
        _print_json(result)
    elif fmt == "md":
        sys.stdout.write(markdown.render(result))
    elif fmt == "text":
        out.print(render_text.sections_view(result))
    else:
        raise typer.BadParameter(f"expected text, json or md, got {fmt!r}", param_hint="--format")


def _when(value: str | None, option: str) -> datetime | None:
    """An ISO-8601 time (``Z``/offset optional, UTC assumed) from an option."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"expected an ISO-8601 time like 2026-11-02T08:00Z, got "
                                 f"{value!r}", param_hint=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _period(value: str, option: str) -> tuple[datetime, datetime]:
    start, sep, end = value.partition("..")
    if not sep:
        raise typer.BadParameter(f"expected START..END, got {value!r}", param_hint=option)
    return _when(start, option), _when(end, option)  # type: ignore[return-value]


@app.command("hidden")
def hidden_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    declared: Annotated[list[str] | None, typer.Option(
        "--declared", help="AsyncAPI document or YAML manifest declaring dependencies "
        "(repeatable).")] = None,
    fmt: FormatOption = "text",
    as_json: JsonOption = False,
) -> None:
    """Observed dependencies that nothing declares; fan-out, cycles, false completions."""
    _emit(_open(ctx, db).hidden(declared or []), fmt, as_json)


@app.command("failures")
def failures_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    execution: Annotated[str | None, typer.Option("--execution", help="One execution id.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Window start (ISO-8601).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Window end (ISO-8601).")] = None,
    baseline_since: Annotated[str | None, typer.Option(
        "--baseline-since", help="Baseline start (default: one window length before).")] = None,
    baseline_until: Annotated[str | None, typer.Option(
        "--baseline-until", help="Baseline end (default: the window's start).")] = None,
    baseline: Annotated[list[str] | None, typer.Option(
        "--baseline", help="An ingested file or folder of fault-free records to compare "
        "against (repeatable); the window is then everything else.")] = None,
    fmt: FormatOption = "text",
    as_json: JsonOption = False,
) -> None:
    """Where failures started, where they spread, ranked root causes with their evidence."""
    result = _open(ctx, db).failures(
        since=_when(since, "--since"), until=_when(until, "--until"),
        baseline_since=_when(baseline_since, "--baseline-since"),
        baseline_until=_when(baseline_until, "--baseline-until"), execution=execution,
        baseline_sources=baseline or [])
    _emit(result, fmt, as_json)


@app.command("impact")
def impact_cmd(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A component, or any unambiguous end of its "
                                          "name (OrderWorkflow, orders.placed).")],
    db: DbOption = None,
    upstream: Annotated[bool, typer.Option("--upstream", help="What the target depends on, "
                                           "instead of what depends on it.")] = False,
    depth: Annotated[int | None, typer.Option("--depth", help="At most this many hops.")] = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 3 if any impact reaches this risk: low, medium or high "
        "(for CI gates).")] = None,
    fmt: FormatOption = "text",
    as_json: JsonOption = False,
) -> None:
    """What a change to a component would touch, hop by hop, with a risk level."""
    from tracemap.analyze.impact import RISK_ORDER

    if fail_on is not None and fail_on not in RISK_ORDER:
        raise typer.BadParameter(f"expected low, medium or high, got {fail_on!r}",
                                 param_hint="--fail-on")
    result = _open(ctx, db).impact(target, upstream=upstream, depth=depth)
    _emit(result, fmt, as_json)
    if fail_on and result.max_risk and RISK_ORDER[result.max_risk] >= RISK_ORDER[fail_on]:
        raise typer.Exit(3)


@app.command("diff")
def diff_cmd(
    ctx: typer.Context,
    before: Annotated[str, typer.Option("--before", help="First period, START..END.")],
    after: Annotated[str, typer.Option("--after", help="Second period, START..END.")],
    db: DbOption = None,
    fmt: FormatOption = "text",
    as_json: JsonOption = False,
) -> None:
    """Dependencies that appeared, disappeared or changed between two periods."""
    result = _open(ctx, db).diff(_period(before, "--before"), _period(after, "--after"))
    _emit(result, fmt, as_json)


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    output: Annotated[str, typer.Option("-o", "--output", help="Where to write the HTML "
                                        "file.")] = "tracemap-report.html",
    declared: Annotated[list[str] | None, typer.Option(
        "--declared", help="AsyncAPI document or YAML manifest (repeatable).")] = None,
) -> None:
    """One self-contained HTML report: graph, hidden dependencies, failures, impacts."""
    path = _open(ctx, db).report(output, declared=declared or [])
    out.print(render_text.cell(f"report written to {path}"))


@app.command("demo")
def demo_cmd(
    db: Annotated[str | None, typer.Option(
        "--db", help="Store file (default: a new temporary file).", show_default=False)] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="Where to write the HTML "
                                        "report.")] = "tracemap-demo.html",
    as_json: JsonOption = False,
) -> None:
    """A guided tour on the bundled Acme Shop landscape: every analysis, checked against the
    planted answers."""
    import tempfile

    from tracemap.demo import Demo

    path = db or str(Path(tempfile.mkdtemp(prefix="tracemap-demo-")) / "demo.duckdb")
    demo = Demo(path)
    show = render_text.DemoView(out, quiet=as_json)
    show.step("Ingest", f"{demo.samples / 'exports'} into {path}")
    if err.is_terminal and not as_json:
        with render_text.IngestProgress(err) as progress:
            show.ingest(demo.ingest(progress))
    else:
        show.ingest(demo.ingest())
    show.step("Correlate", "stitch records of all systems into executions")
    show.correlation(demo.correlate())
    show.step("Hidden dependencies", "observed, against the landscape's AsyncAPI documents")
    show.analysis(demo.hidden(), demo.result.hidden_checks)
    for incident in demo.incidents():
        show.step(f"Incident: {incident.title}", incident.story)
        show.analysis(incident.result, incident.checks)
    show.step("Change impact", f"what depends on {demo.answers['impact']['target']}")
    show.analysis(demo.impact(), demo.result.impact_checks)
    show.step("Export conventions", "linked consumers, unexported services, Pipes, lineage")
    show.checks(demo.conventions())
    show.step("One stitched execution", "an order of the bad deployment, found by its order id")
    show.trace(demo.trace(), demo.result.trace_checks)
    show.step("Execution risks", "duplicates, reordering, retries, dead letters, coupling")
    show.analysis(demo.risks(), demo.result.risks_checks)
    show.step("Pathways", "the route of the loyalty event chain, hop by hop")
    show.analysis(demo.paths(), demo.result.paths_checks)
    show.step("Report", "one self-contained HTML file")
    report = demo.report(Path(output))
    show.summary(demo.result.checks, report)
    if as_json:
        _print_json(demo.result)
    if not all(c.ok for c in demo.result.checks):
        raise typer.Exit(1)


@app.command("correlate")
def correlate_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    skew: Annotated[float | None, typer.Option(
        "--skew", help="Clock-skew tolerance in seconds when ordering systems by time "
        "(default 2, or tracemap.toml).", show_default=False)] = None,
    min_confidence: Annotated[float | None, typer.Option(
        "--min-confidence", help="Keep no derived edge below this confidence (default 0.5).",
        show_default=False)] = None,
    max_key_fanout: Annotated[int | None, typer.Option(
        "--max-key-fanout", help="Ignore a key value shared by more entities than this "
        "(default 1000).", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Stitch records of all systems into executions and edges (analyses do it when needed)."""
    params = {name: value for name, value in (("skew_seconds", skew),
                                              ("min_confidence", min_confidence),
                                              ("max_key_fanout", max_key_fanout))
              if value is not None}
    result = _open(ctx, db).correlate(**params)
    if as_json:
        _print_json(result)
    else:
        out.print(render_text.correlate_table(result))


@app.command("trace")
def trace_cmd(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Any key value (correlation id, workflow id, trace "
                                      "id, message id, business id), entity uid or execution "
                                      "id.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    fmt: Annotated[str, typer.Option("--format", help="text (a tree), json, or html (a "
                                     "waterfall page; needs -o).")] = "text",
    output: Annotated[str | None, typer.Option("-o", "--output", help="Write the html page "
                                               "to this file.")] = None,
) -> None:
    """One stitched execution as a cross-system timeline, with its critical path."""
    if fmt not in ("text", "json", "html"):
        raise typer.BadParameter(f"expected text, json or html, got {fmt!r}",
                                 param_hint="--format")
    if fmt == "html" and not output:
        raise typer.BadParameter("html writes a page: pass -o FILE.html", param_hint="-o")
    if fmt == "html":
        page = _open(ctx, db).timeline(id, output or "")
        err.print(render_text.cell(f"timeline written to {page}"))
        return
    result = _open(ctx, db).trace(id)
    if as_json or fmt == "json":
        _print_json(result)
    else:
        out.print(render_text.trace_tree(result))


GRAPH_FORMATS = ("dot", "mermaid", "graphml", "json")


@app.command("graph")
def graph_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    level: Annotated[str, typer.Option("--level", help="component (the dependency graph) or "
                                       "instance (one execution).")] = "component",
    execution: Annotated[str | None, typer.Option(
        "--execution", help="The execution to draw at instance level: any id `trace` "
        "takes.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="dot (Graphviz), mermaid (GitHub "
                                     "Markdown), graphml (Gephi, yEd) or json.")] = "dot",
    output: Annotated[str | None, typer.Option("-o", "--output", help="Write to this file "
                                               "instead of standard output.")] = None,
) -> None:
    """The component graph (or one execution) for Graphviz, Markdown, Gephi/yEd or programs."""
    if fmt not in GRAPH_FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(GRAPH_FORMATS)}, got {fmt!r}",
                                 param_hint="--format")
    if level not in ("component", "instance"):
        raise typer.BadParameter(f"expected component or instance, got {level!r}",
                                 param_hint="--level")
    from tracemap.render import dot, graphml, mermaid

    result = _open(ctx, db).graph(level=level, execution=execution)
    renderers = {"dot": dot.render, "mermaid": mermaid.render, "graphml": graphml.render,
                 "json": lambda r: render_json.render(r) + "\n"}
    text = renderers[fmt](result)
    if output:
        write_output(Path(output), text)
        err.print(render_text.cell(f"{len(result.nodes)} nodes, {len(result.edges)} edges "
                                   f"written to {output}"))
    else:
        sys.stdout.write(text)


@app.command("explain")
def explain_cmd(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(help="Upstream entity uid or component (any "
                                       "unambiguous end of its name).")],
    dst: Annotated[str, typer.Argument(help="Downstream entity uid or component.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Why tracemap believes an edge: every piece of evidence and the file it came from."""
    result = _open(ctx, db).explain(src, dst)
    if as_json:
        _print_json(result)
    else:
        out.print(render_text.explain_view(result))


@app.command("coverage")
def coverage_cmd(ctx: typer.Context, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Where chains break and why, with a one-line fix for each."""
    result = _open(ctx, db).coverage()
    if as_json:
        _print_json(result)
    else:
        out.print(render_text.coverage_view(result))


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="ocel-json or ocel-sqlite (OCEL 2.0 "
                                     "object-centric event log, for pm4py and other "
                                     "process-mining tools).")],
    output: Annotated[str, typer.Option("-o", "--output", help="The file to write.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export the store for other tools: OCEL 2.0 (events, objects, their relationships)."""
    from tracemap.export import ocel

    if fmt not in ocel.FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(ocel.FORMATS)}, got {fmt!r}",
                                 param_hint="--format")
    result = _open(ctx, db).export(output, fmt=fmt)
    if as_json:
        _print_json(result)
    else:
        err.print(render_text.cell(
            f"{result.events:,} events, {result.objects:,} objects, {result.e2o:,} event-object "
            f"and {result.o2o:,} object-object relationships written to {output}"
            + (f" ({result.untimed:,} entities without a time left out)" if result.untimed
               else "")))


@app.command("risks")
def risks_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    since: Annotated[str | None, typer.Option("--since", help="Window start (ISO-8601).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Window end (ISO-8601).")] = None,
    fmt: FormatOption = "text",
    as_json: JsonOption = False,
) -> None:
    """Hazards of workflow/event systems: duplicates, reordering, retries, dead letters,
    spanning workflows, choreography, cascades, storms, compensations."""
    result = _open(ctx, db).risks(since=_when(since, "--since"), until=_when(until, "--until"))
    _emit(result, fmt, as_json)


@app.command("paths")
def paths_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    source: Annotated[str | None, typer.Option("--from", help="Only routes from this "
                                               "component (any unambiguous suffix).")] = None,
    target: Annotated[str | None, typer.Option("--to", help="Only routes to this "
                                               "component.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Window start (ISO-8601).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Window end (ISO-8601).")] = None,
    fmt: FormatOption = "text",
    as_json: JsonOption = False,
) -> None:
    """Distinct end-to-end pathways: count, latency p50/p95/p99, per-hop latency, failures."""
    result = _open(ctx, db).paths(since=_when(since, "--since"), until=_when(until, "--until"),
                                  source=source, target=target)
    _emit(result, fmt, as_json)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="tracemap")


if __name__ == "__main__":
    main()


