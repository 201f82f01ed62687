"""Benchmark tracemap end to end on the sample landscape, stage by stage (issue 8).

    python benchmarks/run.py --scale 150                     # about 1M records
    python benchmarks/run.py --scale 750 --keep /tmp/tm5m    # about 5M records, kept

Writes the exports with ``tracemap.samples.generate`` (``--scale`` multiplies the day's
traffic: 1 is about 6.7k records), then runs every stage in a child process of its own, so
the peak RSS printed is that stage's: DuckDB's own ``read_json_objects`` of every export file
into a table (the reference for ingest + correlate, issue 16) and ``read_json`` of each
JSON-lines export (the physical limit for that input), ingest of each export folder (its
parsing workers' CPU seconds included), re-ingest of
the unchanged tree, correlate, the component graph, ``hidden``, ``failures`` over one hour,
``impact``, ``trace``, ``risks`` and ``paths``. Prints one table (wall and CPU seconds: the
machine may be shared, and CPU time shows what a stage costs even when it waits for a core;
``× ref`` is the ingest's wall/CPU time over the reference's) and checks the issue's targets.
``--json FILE`` also writes the rows. Nothing here is a test: timings belong here, not in the
test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Export folders in ingest order, and whether DuckDB's read_json can load them as they are.
FOLDERS = ("kafka", "otel", "eventbridge", "openlineage", "stepfunctions", "temporal")
JSON_LINES = ("kafka", "otel", "eventbridge", "openlineage")
#: What the analyses are asked (the sample's own names).
IMPACT_TARGET = "orders.placed"
TRACE_CANDIDATES = ("order-1001", "ORD-1001")


# ------------------------------------------------------------------------------------ stages
# Each runs in a child process and returns {"records": n, "note": ...}; the child adds its
# wall and CPU seconds and peak RSS.


def stage_generate(data: Path, scale: float) -> dict[str, Any]:
    from tracemap.samples import generate

    result = generate(data, scale=scale)
    formats = {f: result.records[f] for f in sorted(result.records) if f != "asyncapi"}
    return {"records": sum(formats.values()), "note": formats, "files": sum(result.files.values())}


def stage_reference(data: Path, folder: str, work: Path) -> dict[str, Any]:
    """DuckDB's read_json of a folder's JSON-lines files into a table of a new database file,
    with the store's memory limit: what loading that input costs DuckDB itself."""
    files = sorted(str(p) for p in (data / "exports" / folder).rglob("*.jsonl"))
    rows = _duckdb_table(work / f"reference-{folder}.duckdb", files, "read_json(?, format = "
                         "'newline_delimited', union_by_name = true)")
    return {"records": rows, "note": f"{len(files)} files, {rows:,} lines"}


def stage_reference_objects(data: Path, work: Path) -> dict[str, Any]:
    """DuckDB's read_json_objects of every export file (documents and lines) into a table of
    a new database file: what reading, parsing and storing the whole landscape costs DuckDB
    (issue 16's reference for ingest + correlate)."""
    files = sorted(str(p) for p in (data / "exports").rglob("*")
                   if p.is_file() and p.suffix in (".json", ".jsonl"))
    rows = _duckdb_table(work / "reference-objects.duckdb", files,
                         "read_json_objects(?, format = 'auto', filename = true)")
    return {"records": rows, "files": len(files), "note": f"{len(files)} files, {rows:,} objects"}


def _duckdb_table(db: Path, files: list[str], reader: str) -> int:
    """Rows DuckDB's ``reader`` (over ``files``) stores into a table of a new database file,
    with the store's memory limit and checkpointed; the file is removed after."""
    import duckdb

    from tracemap.store import DEFAULT_MEMORY_LIMIT

    db.unlink(missing_ok=True)
    conn = duckdb.connect(str(db))
    conn.execute("SET enable_progress_bar = false")
    conn.execute("SET memory_limit = ?", [DEFAULT_MEMORY_LIMIT])
    conn.execute(f"CREATE TABLE t AS SELECT * FROM {reader}", [files])
    conn.execute("CHECKPOINT")
    rows = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    conn.close()
    db.unlink()
    return rows


def stage_ingest(data: Path, db: Path, folder: str) -> dict[str, Any]:
    from tracemap.load import ingest_paths
    from tracemap.store import Store

    with Store(db) as store:
        result = ingest_paths(store, [str(data / "exports" / folder)])
    formats = sorted({s.format for s in result.sources if s.format})
    statuses = sorted({s.status for s in result.sources})
    fast = 0
    with Store(db, read_only=True) as store:
        for (detail,) in store.sql(
                "SELECT detail FROM sources WHERE detail LIKE '%fast_path%' AND starts_with("
                "path, ?)", [str((data / "exports" / folder).resolve())]).fetchall():
            fast += json.loads(detail).get("fast_path", {}).get("duckdb_records", 0)
    totals = result.totals
    return {"records": totals["records"], "files": len(result.sources),
            "note": {"formats": formats, "status": statuses, "rejected": totals["rejected"],
                     "duckdb_fast_path_records": fast}}


def stage_reingest(data: Path, db: Path) -> dict[str, Any]:
    from tracemap.load import ingest_paths
    from tracemap.store import Store

    with Store(db) as store:
        result = ingest_paths(store, [str(data / "exports")])
    statuses: dict[str, int] = {}
    for s in result.sources:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    return {"records": result.totals["records"], "files": len(result.sources), "note": statuses}


def stage_correlate(db: Path) -> dict[str, Any]:
    from tracemap.correlate import correlate
    from tracemap.store import Store

    with Store(db) as store:
        result = correlate(store)
    slowest = sorted(result.stages.items(), key=lambda kv: -kv[1])[:4]
    return {"records": result.entities,
            "note": {"executions": result.executions, "edges": result.edges,
                     "slowest stages (s)": {k: round(v, 2) for k, v in slowest}}}


def _entities(db: Path) -> int:
    from tracemap.store import Store

    with Store(db, read_only=True) as store:
        return store.sql("SELECT count(*) FROM entities").fetchone()[0]


def stage_graph(db: Path) -> dict[str, Any]:
    from tracemap.graph import component_graph
    from tracemap.store import Store

    with Store(db, read_only=True) as store:
        g = component_graph(store)
    return {"records": _entities(db),
            "note": {"nodes": g.number_of_nodes(), "edges": g.number_of_edges()}}


def stage_hidden(data: Path, db: Path) -> dict[str, Any]:
    import tracemap

    declared = sorted(str(p) for p in (data / "declared").rglob("*.yaml"))
    result = tracemap.open(db).hidden(declared=declared)
    found = result.to_dict()
    return {"records": _entities(db),
            "note": {k: len(v) for k, v in found.items() if isinstance(v, list)}}


def stage_failures(data: Path, db: Path) -> dict[str, Any]:
    import tracemap

    answers = json.loads((data / "answers.json").read_text())
    since = datetime.fromisoformat(answers["incidents"][0]["window"]["since"])
    result = tracemap.open(db).failures(since=since, until=since + timedelta(hours=1))
    found = result.to_dict()
    return {"records": _entities(db),
            "note": {"window": f"{since.isoformat()} +1h",
                     **{k: len(v) for k, v in found.items() if isinstance(v, list)}}}


def stage_impact(db: Path) -> dict[str, Any]:
    import tracemap

    result = tracemap.open(db).impact(IMPACT_TARGET)
    found = result.to_dict()
    return {"records": _entities(db),
            "note": {"target": IMPACT_TARGET,
                     **{k: len(v) for k, v in found.items() if isinstance(v, list)}}}


def stage_trace(db: Path) -> dict[str, Any]:
    import tracemap
    from tracemap.errors import AnalysisError

    tm = tracemap.open(db)
    for candidate in TRACE_CANDIDATES:
        try:
            result = tm.trace(candidate)
        except AnalysisError:
            continue
        found = result.to_dict()
        return {"records": _entities(db),
                "note": {"id": candidate,
                         **{k: len(v) for k, v in found.items() if isinstance(v, list)}}}
    return {"records": _entities(db), "note": "no candidate id resolved to one execution"}


def stage_risks(db: Path) -> dict[str, Any]:
    import tracemap

    result = tracemap.open(db).risks()
    found: dict[str, int] = {}
    for f in result.findings:
        found[f.hazard] = found.get(f.hazard, 0) + 1
    return {"records": _entities(db), "note": {"findings": found}}


def stage_paths(db: Path) -> dict[str, Any]:
    import tracemap

    result = tracemap.open(db).paths()
    return {"records": _entities(db),
            "note": {"executions": result.executions, "paths listed": len(result.paths)}}


def run_stage(args: argparse.Namespace) -> None:
    """Child side: run one stage, print its measurements as one JSON line."""
    data, db, work = Path(args.data), Path(args.db), Path(args.work)
    name, _, arg = args.stage.partition(":")
    calls = {
        "generate": lambda: stage_generate(data, args.scale),
        "reference": lambda: stage_reference(data, arg, work),
        "objects": lambda: stage_reference_objects(data, work),
        "ingest": lambda: stage_ingest(data, db, arg),
        "reingest": lambda: stage_reingest(data, db),
        "correlate": lambda: stage_correlate(db),
        "graph": lambda: stage_graph(db),
        "hidden": lambda: stage_hidden(data, db),
        "failures": lambda: stage_failures(data, db),
        "impact": lambda: stage_impact(db),
        "trace": lambda: stage_trace(db),
        "risks": lambda: stage_risks(db),
        "paths": lambda: stage_paths(db),
    }
    # Imports are not the stage's cost: load them before the clock starts.
    import tracemap.api  # noqa: F401
    import tracemap.correlate  # noqa: F401
    import tracemap.graph  # noqa: F401
    import tracemap.load  # noqa: F401

    def children_cpu() -> float:  # the ingest's parsing workers, once they have exited
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    wall, cpu, workers = time.perf_counter(), time.process_time(), children_cpu()
    out = calls[name]()
    out["seconds"] = time.perf_counter() - wall
    out["cpu"] = time.process_time() - cpu + children_cpu() - workers
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["workers_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(out, default=str))


# ------------------------------------------------------------------------------------ parent


class StageFailed(Exception):
    """A stage's process ended with an error (its last line of stderr is the message)."""


def child(stage: str, data: Path, db: Path, work: Path, scale: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--data", str(data),
           "--db", str(db), "--work", str(work), "--scale", str(scale)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        errors = [line for line in lines if "Error" in line or "Exception" in line]
        raise StageFailed((errors or lines or [f"exit status {proc.returncode}"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    import duckdb
    import polars

    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = 0.0
    return {"cpus": os.cpu_count(), "ram_gib": round(mem, 1),
            "python": platform.python_version(), "duckdb": duckdb.__version__,
            "polars": polars.__version__, "load_avg": [round(x, 1) for x in os.getloadavg()],
            "platform": platform.platform()}


def row_text(label: str, r: dict[str, Any], ratio: str = "") -> str:
    rate = r["records"] / r["seconds"] if r["seconds"] > 0 else 0
    return (f"{label:<34} {r['records']:>11,} {r['seconds']:>9.2f} {r['cpu']:>9.2f} "
            f"{rate:>12,.0f} {r['rss_mb']:>9.0f} {ratio:>9}")


HEADER = (f"{'stage':<34} {'records':>11} {'wall s':>9} {'cpu s':>9} {'records/s':>12} "
          f"{'peak MB':>9} {'× ref w/c':>9}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=150.0,
                    help="sample traffic multiplier (150: ~1M records, 750: ~5M)")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the exports and the store in DIR (reused if it holds them)")
    ap.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")
    ap.add_argument("--stages", metavar="LIST",
                    help="comma-separated stages to run, in their usual order (default: all; "
                         "e.g. risks,paths on a store kept with --keep)")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        run_stage(args)
        return 0

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tracemap-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data, db = work / "data", work / "bench.duckdb"
    stages = ["objects", *(f"reference:{f}" for f in JSON_LINES),
              *(f"ingest:{f}" for f in FOLDERS),
              "reingest", "correlate", "graph", "hidden", "failures", "impact", "trace",
              "risks", "paths"]
    if args.stages:
        wanted = set(args.stages.split(","))
        unknown = wanted - set(stages) - {s.partition(":")[0] for s in stages}
        if unknown:
            ap.error(f"unknown stages {sorted(unknown)}; choose from {', '.join(stages)}")
        stages = [s for s in stages if s in wanted or s.partition(":")[0] in wanted]
    if any(s.startswith("ingest:") for s in stages):  # a kept store is measured, not rebuilt
        for stale in (db, Path(f"{db}.wal")):
            stale.unlink(missing_ok=True)
    info = machine()
    print(f"tracemap benchmark, scale {args.scale:g}, {datetime.now().date()}: {info['cpus']} "
          f"CPUs, {info['ram_gib']} GiB, Python {info['python']}, DuckDB {info['duckdb']}, "
          f"Polars {info['polars']}, load average {info['load_avg']}")
    results: dict[str, Any] = {"scale": args.scale, "machine": info, "stages": {}}
    try:
        if not (data / "answers.json").exists() or not args.keep:
            gen = child("generate", data, db, work, args.scale)
            results["generate"] = gen
            print(f"generated {gen['records']:,} records in {gen['files']:,} files "
                  f"({gen['seconds']:.0f} s): {gen['note']}")
        print()
        print(HEADER)
        print("-" * len(HEADER))
        for stage in stages:
            try:
                r = child(stage, data, db, work, args.scale)
            except StageFailed as failed:  # a reference that DuckDB cannot load loses nothing else
                print(f"{stage}: FAILED, {failed}", flush=True)
                results.setdefault("failed", {})[stage] = str(failed)
                continue
            results["stages"][stage] = r
            ratio = ""
            name, _, folder = stage.partition(":")
            ref = results["stages"].get(f"reference:{folder}")
            if name == "ingest" and ref:
                ratio = f"{r['seconds'] / ref['seconds']:.1f}/{r['cpu'] / ref['cpu']:.1f}×"
            label = {"reference": f"read_json → table: {folder}",
                     "objects": "read_json_objects → table: all",
                     "ingest": f"ingest {folder}"}.get(name, stage)
            print(row_text(label, r, ratio), flush=True)
        print()
        for stage, r in results["stages"].items():
            print(f"  {stage}: {r.get('note')}")
        print()
        for line in verdicts(results):
            print(line)
        results["verdicts"] = verdicts(results)
    finally:
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def verdicts(results: dict[str, Any]) -> list[str]:
    """The issue's targets, each met or not, with the numbers."""
    s = results["stages"]
    out = []

    def check(ok: bool, text: str) -> None:
        out.append(f"{'met    ' if ok else 'NOT MET'}  {text}")

    k, kr = s.get("ingest:kafka"), s.get("reference:kafka")
    if k and kr:
        ratio = k["seconds"] / kr["seconds"]
        check(ratio <= 1.2, f"kcat ingest {ratio:.2f}× DuckDB read_json of the same files "
                            f"({k['cpu'] / kr['cpu']:.2f}× in CPU seconds; target ≤ 1.2×)")
    o = s.get("ingest:otel")
    if o:
        rate = o["records"] / o["seconds"]
        check(rate >= 150_000, f"OTLP JSON ingest {rate:,.0f} spans/s (target ≥ 150,000)")
    ingest = [r for name, r in s.items() if name.startswith("ingest:")]
    if ingest and "correlate" in s:
        records = sum(r["records"] for r in ingest)
        seconds = sum(r["seconds"] for r in ingest) + s["correlate"]["seconds"]
        peak = max(r["rss_mb"] for r in [*ingest, s["correlate"]])
        cpu = sum(r["cpu"] for r in ingest) + s["correlate"]["cpu"]
        out.append(f"         cost per input record: {seconds / records * 1e6:.1f} µs wall, "
                   f"{cpu / records * 1e6:.1f} µs CPU (workers included): "
                   "flat from 1M to 5M is the target")
        ref = s.get("objects")
        if ref:
            ratio = seconds / ref["seconds"]
            check(ratio <= 1.5, f"ingest + correlate {ratio:.2f}× DuckDB read_json_objects of "
                                f"the same {ref['files']:,} files ({ref['seconds']:.1f} s; "
                                "target ≤ 1.5×)")
        if records >= 4_000_000:
            check(seconds <= 120, f"{records:,} records: ingest + correlate {seconds:.0f} s "
                                  "(target ≤ 120 s)")
        check(peak <= 2 * 1024, f"peak RSS of ingest and correlate {peak:,.0f} MB "
                                "(target ≤ 2 GB)")
    for name, limit in (("impact", 0.2), ("failures", 2.0), ("risks", 10.0),
                        ("paths", 10.0)):
        if name in s:
            check(s[name]["seconds"] <= limit,
                  f"{name} {s[name]['seconds']:.2f} s (target ≤ {limit} s)")
    if "reingest" in s:
        check(s["reingest"]["seconds"] <= 2.0,
              f"re-ingest of {s['reingest']['files']:,} unchanged files "
              f"{s['reingest']['seconds']:.2f} s (target ≤ 2 s)")
    return out


if __name__ == "__main__":
    sys.exit(main())
