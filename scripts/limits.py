"""Hostile sizes at full scale: wall time and peak RSS of ``tracemap ingest`` on each (issue 9).

    python scripts/limits.py                         # every scenario, in a temp folder
    python scripts/limits.py --only bomb-line,files-100k --keep /tmp/limits

Scenarios (the fast variants are in tests/test_limits.py and tests/test_robustness.py):

- ``bomb-document``: a .gz of one OTLP JSON document that inflates to 1 GiB (about 1 MB on
  disk): refused at the 512 MiB document limit, one reject.
- ``bomb-line``: a .gz kcat dump whose middle line inflates to 1 GiB: that line is one reject
  (read past in 1 MiB chunks), the lines around it load.
- ``bomb-lines``: a .gz of 3 million small valid kcat lines: just big input.
- ``line-500mb``: a plain kcat dump with one 500 MB line between valid ones.
- ``deep-100k``: nesting 100,000 deep in one record, for every format that reads JSON, YAML
  or JSON5 (one ingest each; the worst time and RSS are shown, every outcome is checked).
- ``files-100k``: a directory of 100,000 one-record kcat files.

Each ingest runs in its own process (``python -m tracemap.cli ingest ... --json``); its peak
RSS comes from ``wait4``. Prints one row per scenario: input, wall time, peak RSS, outcome.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MiB = 1 << 20


def _kcat(i: int) -> bytes:
    return (json.dumps({"topic": "orders", "partition": 0, "offset": i, "tstype": "create",
                        "ts": 1767261600000 + i, "headers": ["correlation-id", f"c{i}"],
                        "key": f"k{i}", "payload": json.dumps({"orderId": i})}) + "\n").encode()


def make_bomb_document(path: Path) -> None:
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b'{"resourceSpans": [')
        block = b" " * MiB
        for _ in range(1024):
            fh.write(block)
        fh.write(b"]}\n")


def make_bomb_line(path: Path) -> None:
    with gzip.open(path, "wb", compresslevel=9) as fh:
        for i in range(10):
            fh.write(_kcat(i))
        fh.write(b'{"topic": "orders", "payload": "')
        block = b"x" * MiB
        for _ in range(1024):
            fh.write(block)
        fh.write(b'"}\n')
        for i in range(10, 20):
            fh.write(_kcat(i))


def make_bomb_lines(path: Path, n: int = 3_000_000) -> None:
    with gzip.open(path, "wb", compresslevel=6) as fh:
        for start in range(0, n, 10_000):
            fh.write(b"".join(_kcat(i) for i in range(start, min(n, start + 10_000))))


def make_line_500mb(path: Path) -> None:
    with open(path, "wb") as fh:
        for i in range(10):
            fh.write(_kcat(i))
        fh.write(b'{"topic": "orders", "payload": "')
        block = b"y" * MiB
        for _ in range(500):
            fh.write(block)
        fh.write(b'"}\n')
        for i in range(10, 20):
            fh.write(_kcat(i))


def make_files(folder: Path, n: int = 100_000) -> None:
    for i in range(n):
        sub = folder / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"m{i:06d}.jsonl").write_bytes(_kcat(i))


def make_deep(folder: Path) -> list[tuple[str, Path]]:
    """One file per structured format with a value nested 100k deep (as tests/test_limits)."""
    from tests.test_limits import DEEP_CASES, deep_variant

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt, fixture, _ in DEEP_CASES:
        target = folder / f"{fmt}-{fixture.name}"
        target.write_bytes(deep_variant(fixture))
        out.append((fmt, target))
    return out


def run(paths: list[Path], db: Path, fmt: str | None = None) -> dict[str, Any]:
    """One ``tracemap ingest`` process: wall time, peak RSS (MB), its JSON result."""
    for leftover in (db, Path(f"{db}.wal")):
        leftover.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "tracemap.cli", "ingest", *map(str, paths), "--db", str(db),
           "--json", *(["--format", fmt] if fmt else [])]
    out = db.with_suffix(".json")
    started = time.monotonic()
    with open(out, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    try:
        result = json.loads(out.read_text())
    except ValueError:
        result = {"error": stderr[-500:] or f"exit status {status}"}
    result["rejects"] = _rejects(db)
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "result": result}


def _rejects(db: Path) -> list[tuple[str, str]]:
    import duckdb

    if not db.exists():
        return []
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute("SELECT location, reason FROM rejects ORDER BY rowid LIMIT 3"
                            ).fetchall()


def outcome(r: dict[str, Any]) -> str:
    res = r["result"]
    if "error" in res:
        return f"ERROR {res['error'][:120]}"
    t = res["totals"]
    text = f"{len(res['sources'])} sources, {t['records']:,} records, {t['loaded']:,} loaded, " \
           f"{t['rejected']:,} rejected"
    if res["rejects"]:
        loc, reason = res["rejects"][0]
        text += f"; {loc}: {reason[:110]}"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated scenarios")
    parser.add_argument("--keep", type=Path, help="work here and keep the inputs")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tmlimits"))
    work.mkdir(parents=True, exist_ok=True)
    makers = {
        "bomb-document": ("bomb-document.json.gz", make_bomb_document),
        "bomb-line": ("bomb-line.jsonl.gz", make_bomb_line),
        "bomb-lines": ("bomb-lines.jsonl.gz", make_bomb_lines),
        "line-500mb": ("line-500mb.jsonl", make_line_500mb),
        "files-100k": ("files-100k", make_files),
    }
    chosen = args.only.split(",") if args.only else [*makers, "deep-100k"]
    print(f"{'scenario':<14} {'on disk':>9} {'wall s':>7} {'peak RSS':>9}  outcome", flush=True)
    failed = False
    for name in chosen:
        if name == "deep-100k":
            worst = {"wall": 0.0, "rss_mb": 0.0}
            bad = []
            cases = make_deep(work / "deep")
            for fmt, path in cases:
                r = run([path], work / "deep.duckdb", fmt)
                worst = {k: max(worst[k], r[k]) for k in worst}
                reasons = " ".join(reason for _, reason in r["result"].get("rejects", []))
                if "nest" not in reasons:
                    bad.append(f"{fmt}: {outcome(r)}")
            size = sum(p.stat().st_size for _, p in cases)
            text = (f"{len(cases)} formats, each one reject saying the nesting is too deep"
                    if not bad else f"{len(bad)} formats without a nesting reject: {bad[:2]}")
            failed |= bool(bad)
            print(f"{name:<14} {size / MiB:>7.1f}MB {worst['wall']:>7.1f} "
                  f"{worst['rss_mb']:>7.0f}MB  (worst of each) {text}", flush=True)
            continue
        filename, make = makers[name]
        target = work / filename
        if not target.exists():
            make(target)
        size = (sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
                if target.is_dir() else target.stat().st_size)
        fmt = "kafka_kcat" if name in ("bomb-line", "bomb-lines", "line-500mb") else None
        r = run([target], work / f"{name}.duckdb", fmt)
        failed |= "error" in r["result"]
        print(f"{name:<14} {size / MiB:>7.1f}MB {r['wall']:>7.1f} {r['rss_mb']:>7.0f}MB  "
              f"{outcome(r)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
