"""CPU per record of one ingestor's ``parse`` alone, no store (issue 16).

    python benchmarks/decoders.py temporal_json /tmp/tm1m/data/exports/temporal --files 1500
    python benchmarks/decoders.py otlp_json /tmp/tm1m/data/exports/otel/traces.jsonl --lines 300
    python benchmarks/decoders.py stepfunctions_json /tmp/tm1m/data/exports/stepfunctions

Parses the first ``--files`` files of a folder (sorted; or the first ``--lines`` lines of one
JSON-lines file, copied to a temporary file) ``--repeat`` times and prints the best process CPU
time per input record, and how much of it is building the Polars frames (``Batch.tables``,
a frame per table per batch, as one process makes them; workers frame 16 files at once) rather
than mapping records to rows. Process CPU time, best of several: the machine may be shared.
``benchmarks/run.py`` measures the whole ingest, store included.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.base import Batch, Source  # noqa: E402


def _inputs(path: Path, files: int, lines: int, tmp: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())[:files]
    if not lines:
        return [path]
    cut = tmp / path.name
    with path.open("rb") as src, cut.open("wb") as out:
        out.writelines(itertools.islice(src, lines))
    return [cut]


def _cpu(parse: Callable[[Source], Iterable[Batch]], inputs: list[Path], repeat: int,
         frames: bool) -> tuple[float, int]:
    """Best CPU seconds of parsing every input, its rows framed (``Batch.tables``) or not."""
    best, records = float("inf"), 0
    for _ in range(repeat):
        start = time.process_time()
        records = 0
        for p in inputs:
            for batch in parse(Source(path=p)):
                if frames:
                    batch.tables  # noqa: B018 - framing is part of the cost measured
                records += batch.records
        best = min(best, time.process_time() - start)
    return best, records


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("format", help="ingestor name, e.g. temporal_json")
    ap.add_argument("path", type=Path, help="an export folder, or one JSON-lines file")
    ap.add_argument("--files", type=int, default=1500, help="first N files of a folder")
    ap.add_argument("--lines", type=int, default=300, help="first N lines of a file (0: all)")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is printed")
    args = ap.parse_args()
    parse = importlib.import_module(f"ingest.{args.format}").parse
    with tempfile.TemporaryDirectory(prefix="tmdecode") as tmp:
        inputs = _inputs(args.path, args.files, args.lines, Path(tmp))
        full, records = _cpu(parse, inputs, args.repeat, frames=True)
        mapping, _ = _cpu(parse, inputs, args.repeat, frames=False)
    per = 1e6 / max(records, 1)
    print(f"{args.format}: {len(inputs):,} file(s), {records:,} records: "
          f"{full * per:.1f} µs CPU/record ({(full - mapping) * per:.1f} of it frames), "
          f"best of {args.repeat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
