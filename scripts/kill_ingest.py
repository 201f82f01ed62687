"""Kill ``tracemap ingest`` with SIGKILL at random points, re-run it, and check the store.

    python scripts/kill_ingest.py                    # 20 kill points, data in a temp folder
    python scripts/kill_ingest.py --kills 5 --scale 5 --keep /tmp/killrun

The input is the sample landscape (``python -m tracemap.samples``: Temporal histories, Step
Functions executions, kcat dumps, OTLP JSON lines, EventBridge, OpenLineage; thousands of
small files) plus a large kcat dump, gzipped, and a large OTLP JSON-lines file, so kills land
in small-file groups and in the middle of big files. A clean ingest gives the reference.

Each trial starts from an empty store: ingest, SIGKILL after a random delay (seeded, spread
over the reference's duration), then the same command again; every third trial is killed a
second time during the re-run before the final run. The store must then equal the reference:

- the same sources (by path), every one finished (``state = 'done'``) and reconciling
  (``records = loaded + rejected + skipped``) with the reference's counters;
- per source and table, the same number of rows (no half-loaded source, nothing twice);
- per table, the same number of rows and of distinct uids (no duplicates);
- no row whose source is gone.

Prints one line per trial and exits 1 if any trial broke a property.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("runs", "steps", "messages", "datasets", "keys", "links", "declared", "logs",
          "rejects")
UID_TABLES = ("runs", "steps", "messages", "datasets", "logs")


def make_data(folder: Path, scale: float, big_lines: int) -> None:
    """The sample landscape plus a large gzipped kcat dump and a large OTLP JSON-lines file."""
    subprocess.run([sys.executable, "-m", "tracemap.samples", "--out", str(folder),
                    "--scale", str(scale)], check=True, cwd=ROOT, capture_output=True)
    big = folder / "exports" / "big"
    big.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    with gzip.open(big / "orders-dump.jsonl.gz", "wt", compresslevel=1) as fh:
        for i in range(big_lines):
            fh.write(json.dumps({
                "topic": "orders.placed", "partition": i % 6, "offset": i // 6,
                "tstype": "create", "ts": 1767261600000 + i,
                "headers": ["correlation-id", f"order-{i}", "traceparent",
                            f"00-{i:032x}-{rng.getrandbits(64):016x}-01"],
                "key": f"order-{i}", "payload": json.dumps({"orderId": i, "pad": "x" * 200}),
            }) + "\n")
    with open(big / "spans.jsonl", "w") as fh:
        for i in range(big_lines // 10):
            spans = [{"traceId": f"{i:032x}", "spanId": f"{i * 4 + j + 1:016x}",
                      "parentSpanId": f"{i * 4 + 1:016x}" if j else "",
                      "name": f"op-{j}", "kind": 2 if j == 0 else 3,
                      "startTimeUnixNano": str(1767261600000000000 + i * 1000 + j),
                      "endTimeUnixNano": str(1767261600000500000 + i * 1000 + j),
                      "status": {"code": 2 if i % 50 == 0 else 0}} for j in range(4)]
            fh.write(json.dumps({"resourceSpans": [{
                "resource": {"attributes": [{"key": "service.name",
                                             "value": {"stringValue": f"svc-{i % 7}"}}]},
                "scopeSpans": [{"spans": spans}]}]}) + "\n")


def command(data: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "tracemap.cli", "ingest", str(data / "exports"),
            "--db", str(db), "--json"]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def ingest(data: Path, db: Path) -> float:
    started = time.monotonic()
    proc = subprocess.run(command(data, db), capture_output=True, text=True, env=env())
    if proc.returncode not in (0, 1):  # 1: some file failed, which the reference shares
        raise SystemExit(f"ingest failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.monotonic() - started


def kill_after(data: Path, db: Path, delay: float) -> bool:
    """Start an ingest and SIGKILL it after ``delay`` s; False if it finished first."""
    proc = subprocess.Popen(command(data, db), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env())
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def snapshot(db: Path) -> dict[str, Any]:
    """What the checks compare: per source, per table and per-table uid counts."""
    with duckdb.connect(str(db), read_only=True) as conn:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return conn.execute(sql).fetchall()

        sources = {p: (state, rec, lo, rej, sk) for p, state, rec, lo, rej, sk in rows(
            "SELECT path, state, records, loaded, rejected, skipped FROM sources")}
        per_source: dict[tuple[str, str], int] = {}
        orphans = 0
        for table in TABLES:
            for path, n in rows(f"SELECT s.path, count(*) FROM {table} t JOIN sources s "
                                f"ON s.id = t.source_id GROUP BY 1"):
                per_source[(path, table)] = n
            orphans += rows(f"SELECT count(*) FROM {table} WHERE source_id NOT IN "
                            "(SELECT id FROM sources)")[0][0]
        uids = {t: rows(f"SELECT count(*), count(DISTINCT uid) FROM {t}")[0] for t in UID_TABLES}
        n_paths = rows("SELECT count(*), count(DISTINCT path) FROM sources")[0]
    return {"sources": sources, "per_source": per_source, "uids": uids, "orphans": orphans,
            "paths": n_paths}


def compare(got: dict[str, Any], ref: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if set(got["sources"]) != set(ref["sources"]):
        missing = set(ref["sources"]) - set(got["sources"])
        extra = set(got["sources"]) - set(ref["sources"])
        problems.append(f"sources differ: {len(missing)} missing, {len(extra)} extra")
    if got["paths"][0] != got["paths"][1]:
        problems.append(f"a path is in the store twice: {got['paths']}")
    for path, (state, rec, lo, rej, sk) in got["sources"].items():
        if state != "done":
            problems.append(f"{path}: state {state}")
        if rec != lo + rej + sk:
            problems.append(f"{path}: {rec} records != {lo} + {rej} + {sk}")
        if path in ref["sources"] and ref["sources"][path][1:] != (rec, lo, rej, sk):
            problems.append(f"{path}: counters {(rec, lo, rej, sk)} != reference "
                            f"{ref['sources'][path][1:]}")
    for key in set(got["per_source"]) | set(ref["per_source"]):
        a, b = got["per_source"].get(key, 0), ref["per_source"].get(key, 0)
        if a != b:
            problems.append(f"{key[0]}: {a} rows in {key[1]}, reference {b}")
    if got["uids"] != ref["uids"]:
        problems.append(f"rows/distinct uids {got['uids']} != reference {ref['uids']}")
    if got["orphans"]:
        problems.append(f"{got['orphans']} rows whose source is gone")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="trials (kill points)")
    parser.add_argument("--scale", type=float, default=10, help="sample landscape scale")
    parser.add_argument("--big-lines", type=int, default=300_000,
                        help="records in the large kcat dump (a tenth as OTLP lines)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: temp)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tmkill"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    if not (data / "exports").is_dir():
        make_data(data, args.scale, args.big_lines)
    files = sum(1 for p in (data / "exports").rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in (data / "exports").rglob("*") if p.is_file())
    ref_db = work / "reference.duckdb"
    ref_db.unlink(missing_ok=True)
    took = ingest(data, ref_db)
    ref = snapshot(ref_db)
    print(f"reference: {files} files, {size / 1e6:.0f} MB, {len(ref['sources'])} sources, "
          f"ingest {took:.1f}s", flush=True)
    rng = random.Random(args.seed)
    failures = 0
    for trial in range(1, args.kills + 1):
        db = work / f"trial{trial}.duckdb"
        for leftover in (db, db.with_suffix(".duckdb.wal")):
            leftover.unlink(missing_ok=True)
        delay = rng.uniform(0.05, 0.95) * took
        killed = kill_after(data, db, delay)
        second = None
        if trial % 3 == 0:  # kill the re-run too
            second = rng.uniform(0.05, 0.6) * took
            kill_after(data, db, second)
        rerun = ingest(data, db)
        problems = compare(snapshot(db), ref)
        failures += bool(problems)
        kills = f"killed at {delay:5.1f}s" if killed else f"finished before {delay:5.1f}s"
        if second is not None:
            kills += f", re-run killed at {second:5.1f}s"
        print(f"trial {trial:2}: {kills}; final run {rerun:5.1f}s: "
              + ("OK" if not problems else f"{len(problems)} problems: {problems[:3]}"),
              flush=True)
        db.unlink(missing_ok=True)
    print(f"{args.kills - failures} of {args.kills} trials consistent")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
