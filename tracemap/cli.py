"""The ``tracemap`` command: arguments → library call → renderer. Nothing else lives here.

One error boundary: a ``TracemapError`` prints ``error: <message>`` to stderr and exits 1;
usage errors exit 2 (typer); anything else is a bug and keeps its traceback. ``--debug``
shows tracebacks for everything.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

import ingest
import tracemap
from tracemap.errors import TracemapError
from tracemap.render import json as render_json
from tracemap.render import text as render_text

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


class _Group(TyperGroup):
    """Turns TracemapError into one red line and exit 1 (unless --debug)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TracemapError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            err.print(render_text.cell(f"error: {exc}", "bold red"))
            raise typer.Exit(1) from None


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
        "--debug", help="Show tracebacks for errors.")] = False) -> None:
    ctx.obj = {"debug": debug}


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
    """Load exported files into the store (unchanged files are skipped by content hash)."""
    options: dict[str, Any] = {}
    if workflow_id:
        options["workflow_id"] = workflow_id
    if column_map:
        options["column_map"] = _parse_map(column_map)
    tm = tracemap.open(db)
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
    hard_failures = [s for s in result.failed if s.explicit]
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
def status_cmd(db: DbOption = None, as_json: JsonOption = False) -> None:
    """What the store holds: rows per table and per system, and every ingested source."""
    result = tracemap.open(db).status()
    if as_json:
        _print_json(result)
    else:
        out.print(render_text.status_table(result))


@app.command("rejects")
def rejects_cmd(
    db: DbOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Input records that could not be used: file, location and reason."""
    result = tracemap.open(db).rejects(limit=limit)
    if as_json:
        _print_json(result)
    else:
        out.print(render_text.rejects_table(result))


def main() -> None:
    """Console-script entry point."""
    app(prog_name="tracemap")


if __name__ == "__main__":
    main()


