"""Where an ingest spends its time: a pyinstrument profile of ``tracemap ingest`` on some paths.

    pip install -e '.[bench]'
    python benchmarks/profile_ingest.py /tmp/tm1m/data/exports/temporal --top 15
    python benchmarks/profile_ingest.py traces.jsonl --html profile.html

Prints the functions with the most time of their own (not counting what they call) and the
time under each stage of the loader (parse, frames, insert, commit), as shares of the whole.
The store is a new temporary file, so nothing is skipped as unchanged.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Functions whose time, with all they call, makes a stage of the loader.
STAGES = {
    "parse": ("parse", "ingest/"),
    "JSON decoding (orjson)": ("loads", "ingest/base.py"),
    "frames (rows to Polars)": ("frame", "ingest/base.py"),
    "insert into DuckDB": ("insert|insert_rows", "tracemap/store.py"),
    "commit": ("commit", "tracemap/store.py"),
}


def _is_self(frame: Any) -> bool:
    return frame.identifier.startswith("[self]")


def _name(frame: Any) -> str:
    path = frame.file_path or ""
    short = path.split("site-packages/")[-1] if "site-packages" in path else \
        str(Path(path).relative_to(ROOT)) if path.startswith(str(ROOT)) else Path(path).name
    return f"{frame.function}  {short}:{frame.line_no}"


def own_times(root: Any) -> Counter[str]:
    """Seconds per function, not counting the functions it calls."""
    own: Counter[str] = Counter()
    stack = [root]
    while stack:
        frame = stack.pop()
        children = [c for c in frame.children if not _is_self(c)]
        own[_name(frame)] += frame.time - sum(c.time for c in children)
        stack.extend(children)
    return own


def stage_times(root: Any) -> dict[str, float]:
    """Seconds under each of ``STAGES``, a recursive call counted once."""
    out = dict.fromkeys(STAGES, 0.0)
    stack: list[tuple[Any, frozenset[str]]] = [(root, frozenset())]
    while stack:
        frame, inside = stack.pop()
        if _is_self(frame):
            continue
        path = frame.file_path or ""
        now = set(inside)
        for stage, (function, where) in STAGES.items():
            if (frame.function in function.split("|") and where in path
                    and stage not in inside):
                out[stage] += frame.time
                now.add(stage)
        stack.extend((c, frozenset(now)) for c in frame.children)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", help="files, directories or globs, as for ingest")
    ap.add_argument("--format", help="force this format")
    ap.add_argument("--top", type=int, default=20, help="how many functions to list")
    ap.add_argument("--html", metavar="FILE", help="also write pyinstrument's HTML view")
    args = ap.parse_args()
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pyinstrument is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    import tracemap

    with tempfile.TemporaryDirectory(prefix="tm-profile-") as tmp:
        tm = tracemap.open(Path(tmp) / "profile.duckdb")
        profiler = Profiler(interval=0.001)
        profiler.start()
        result = tm.ingest(args.paths, fmt=args.format)
        profiler.stop()
    root = profiler.last_session.root_frame()
    total = root.time
    records = sum(s.records for s in result.sources)
    print(f"{records:,} records in {len(result.sources):,} sources, {total:.2f} s profiled "
          f"(the profiler adds to it)\n")
    print("stage                          seconds  share")
    for stage, seconds in stage_times(root).items():
        print(f"{stage:<30} {seconds:>7.2f} {seconds / total:>6.1%}")
    print("\nown time                       seconds  share   function")
    for name, seconds in own_times(root).most_common(args.top):
        print(f"{'':<30} {seconds:>7.2f} {seconds / total:>6.1%}   {name}")
    if args.html:
        Path(args.html).write_text(profiler.output_html(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
