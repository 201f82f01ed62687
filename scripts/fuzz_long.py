"""Fuzz every ingestor with mutated fixtures, far longer than CI does (issue 9).

    python scripts/fuzz_long.py                      # 10,000 cases per format, 2 processes
    python scripts/fuzz_long.py --cases 500 --formats kafka_kcat,otlp_json --jobs 1
    python scripts/fuzz_long.py --no-load            # parse only (about 3x faster)

Each case takes one of the format's fixtures (tests/fixtures/<format>/), applies one mutation
from tests/fuzzing.py (truncation, byte flips, wrong types and enum strings, nesting 100k deep,
huge strings, invalid UTF-8, duplicate keys, dropped keys, duplicated elements, an empty file,
a cut .gz), parses it with ``ingest.get(fmt).parse`` and loads it into an in-memory store with
the format forced. A crash is an exception escaping either; a problem is a broken property
(counters that do not add up, an internal-error reject, an untouched line of a line format
rejected). Cases are seeded by (format, index): ``--replay FORMAT:INDEX`` reruns one and
prints its traceback. Prints one row per format: cases, crashes, distinct crash signatures,
problems, rejects share (rejected / records over all cases), file errors (cases where the
whole file was refused on purpose: a cut .gz, an empty file), wall time, and the columns
where ``base.frame`` had to fit a value of the wrong type (counted, kept as text).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import (  # noqa: E402 - after the path setup
    MUTATIONS,
    check,
    clean_rejects,
    fuzz_cases,
    mutate,
)
from tracemap.store import Store  # noqa: E402

CHUNK = 200


def _seed(fmt: str, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{fmt}:{index}".encode()).digest()[:8], "big")


def _case(fmt: str, index: int, fixtures: list[Path]) -> tuple[Path, random.Random, str]:
    rng = random.Random(_seed(fmt, index))
    fixture = fixtures[index % len(fixtures)]
    return fixture, rng, MUTATIONS[rng.randrange(len(MUTATIONS))]


def _run_chunk(task: tuple[str, int, int, bool]) -> dict:
    fmt, start, count, load = task
    fixtures = [p for f, p in fuzz_cases() if f == fmt]
    baselines = {p: clean_rejects(fmt, p) for p in fixtures}
    crashes: Counter[str] = Counter()
    first_case: dict[str, int] = {}
    problems: Counter[str] = Counter()
    coerced: Counter[str] = Counter()
    records = rejected = file_errors = 0
    store = Store(":memory:")
    with tempfile.TemporaryDirectory(prefix="tmfuzz") as tmp:
        for index in range(start, start + count):
            fixture, rng, mutation = _case(fmt, index, fixtures)
            mutant = mutate(fixture.read_bytes(), fixture, mutation, rng)
            target = Path(tmp) / fixture.name
            target.write_bytes(mutant.data)
            outcome = check(fmt, target, mutant, baselines[fixture], load=load, store=store)
            if outcome.crash:
                crashes[outcome.crash] += 1
                first_case.setdefault(outcome.crash, index)
            for problem in outcome.problems:
                key = problem.split(":")[0]
                problems[key] += 1
                first_case.setdefault(key, index)
            records += outcome.records
            rejected += outcome.rejected
            file_errors += outcome.file_error is not None
            coerced.update(outcome.coerced)
    store.close()
    return {"fmt": fmt, "count": count, "crashes": crashes, "problems": problems,
            "first": first_case, "records": records, "rejected": rejected,
            "file_errors": file_errors, "coerced": coerced}


def _replay(spec: str) -> None:
    fmt, _, index = spec.partition(":")
    fixtures = [p for f, p in fuzz_cases() if f == fmt]
    fixture, rng, mutation = _case(fmt, int(index), fixtures)
    mutant = mutate(fixture.read_bytes(), fixture, mutation, rng)
    with tempfile.TemporaryDirectory(prefix="tmfuzz") as tmp:
        target = Path(tmp) / fixture.name
        target.write_bytes(mutant.data)
        print(f"{fixture.name}: {mutation} {mutant.note} touched={mutant.touched}")
        import ingest
        from ingest.base import Source

        try:
            for _ in ingest.get(fmt).parse(Source(target)):
                pass
        except Exception:  # noqa: BLE001 - shown to the developer
            traceback.print_exc()
        outcome = check(fmt, target, mutant, clean_rejects(fmt, fixture))
        print(outcome)
        keep = Path(tempfile.gettempdir()) / f"fuzz-{fmt}-{index}-{fixture.name}"
        keep.write_bytes(mutant.data)
        print(f"mutated file kept at {keep}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per format")
    parser.add_argument("--formats", help="comma-separated formats (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--no-load", action="store_true", help="parse only, no store")
    parser.add_argument("--replay", help="FORMAT:INDEX: rerun one case with its traceback")
    args = parser.parse_args()
    if args.replay:
        _replay(args.replay)
        return 0
    formats = sorted({f for f, _ in fuzz_cases()})
    if args.formats:
        formats = [f for f in formats if f in args.formats.split(",")]
    totals: dict[str, dict] = {}
    wall: dict[str, float] = {}
    begin = time.monotonic()
    print(f"{'format':<20} {'cases':>7} {'crashes':>8} {'sigs':>5} {'problems':>8} "
          f"{'rejects':>8} {'file':>5} {'wall s':>7}  coerced values", flush=True)
    # spawn, not fork: a forked child can deadlock on the thread pools polars and DuckDB hold.
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        # One format at a time over all processes, so its wall time is its own.
        for fmt in formats:
            t0 = time.monotonic()
            tasks = [(fmt, start, min(CHUNK, args.cases - start), not args.no_load)
                     for start in range(0, args.cases, CHUNK)]
            t = totals[fmt] = {"count": 0, "crashes": Counter(), "problems": Counter(),
                               "first": {}, "records": 0, "rejected": 0, "file_errors": 0,
                               "coerced": Counter()}
            for part in pool.imap_unordered(_run_chunk, tasks):
                t["count"] += part["count"]
                t["crashes"].update(part["crashes"])
                t["problems"].update(part["problems"])
                for key, index in part["first"].items():
                    t["first"][key] = min(index, t["first"].get(key, index))
                t["records"] += part["records"]
                t["rejected"] += part["rejected"]
                t["file_errors"] += part["file_errors"]
                t["coerced"].update(part["coerced"])
            wall[fmt] = time.monotonic() - t0
            share = t["rejected"] / t["records"] if t["records"] else 0.0
            print(f"{fmt:<20} {t['count']:>7} {sum(t['crashes'].values()):>8} "
                  f"{len(t['crashes']):>5} {sum(t['problems'].values()):>8} {share:>8.1%} "
                  f"{t['file_errors']:>5} {wall[fmt]:>7.0f}  "
                  f"{', '.join(f'{k} x{n}' for k, n in t['coerced'].most_common())}",
                  flush=True)
            for counter in (t["crashes"], t["problems"]):  # as they come: a run takes hours
                for key, n in counter.items():
                    print(f"    {fmt}:{t['first'][key]}  x{n}  {key}", flush=True)
    print(f"\ntotal: {sum(t['count'] for t in totals.values())} cases in "
          f"{time.monotonic() - begin:.0f}s on {args.jobs} processes")
    findings = [(fmt, key, n, totals[fmt]["first"][key]) for fmt in formats
                for counter in (totals[fmt]["crashes"], totals[fmt]["problems"])
                for key, n in counter.items()]
    if findings:
        print("\nfindings (replay with --replay FORMAT:INDEX):")
        for fmt, key, n, index in findings:
            print(f"  {fmt}:{index}  x{n}  {key}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
