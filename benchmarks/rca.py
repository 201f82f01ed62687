"""Root-cause benchmark: `failures` on labelled fault-injection cases, scored by AC@k.

    python benchmarks/rca.py ../shared/rca/nezha-trainticket-dev [--score ../shared/rca/score.py]
                             [--work /tmp/rca-stores] [--out /tmp/rca-preds]

The folder holds ``labels.csv``, ``cases/<id>/case.json`` (incident time, the case's files,
its fault-free ``normal_reference`` folder) and ``normal/<day>/`` (see the folder's README).
For every case: ingest the case's files and its normal folder into one store (kept in
``--work``, reused when present), run ``failures`` from the incident time on with the normal
folder as the baseline (``--baseline``), and write the ranked components as predictions
(``case_id,rank,service``). The same script computes two single-signal baselines on the same
stores: the rise of callers' median client-span latency into a service, and the rise of a
service's ERROR lines per minute. Each method is scored with the folder's ``score.py``
(``--by fault_type``); the table prints AC@1/AC@3/AC@5/Avg@5 per fault type, then the time
`failures` took per case (the store already built), wall and CPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tracemap  # noqa: E402
from tracemap.model import split_component  # noqa: E402
from tracemap.store import Store  # noqa: E402

TOP = 10

# Window: the case's files from the incident on; baseline: the normal folder's files.
_SCOPE_SQL = (
    "CREATE OR REPLACE TEMP TABLE _base_src AS SELECT id FROM sources "
    "WHERE starts_with(path, ?)",
    "CREATE OR REPLACE TEMP TABLE _e AS SELECT *, source_id IN (SELECT id FROM _base_src) "
    "AS base FROM entities WHERE source_id IN (SELECT id FROM _base_src) OR started_at >= ?",
    "CREATE OR REPLACE TEMP TABLE _l AS SELECT *, source_id IN (SELECT id FROM _base_src) "
    "AS base FROM logs WHERE source_id IN (SELECT id FROM _base_src) OR time >= ?",
)

# Callers' median client-span latency into a service, window over baseline.
_LATENCY_SQL = """
WITH c AS (SELECT d.node AS service, s.base,
                  median(epoch_us(s.ended_at) - epoch_us(s.started_at)) AS p50
           FROM edges e JOIN _e s ON s.uid = e.src JOIN entities d ON d.uid = e.dst
           WHERE e.kind = 'calls' AND s.node <> d.node GROUP BY ALL)
SELECT w.service, w.p50 / greatest(b.p50, 1) AS score
FROM c w JOIN c b ON b.service = w.service AND b.base AND NOT w.base
ORDER BY score DESC, w.service
"""

# ERROR lines per minute of a service, window minus baseline.
_ERRORS_SQL = """
WITH span AS (SELECT base, greatest(epoch(max(time)) - epoch(min(time)), 1) / 60 AS minutes
              FROM _l GROUP BY ALL),
n AS (SELECT service, base, count(*) FILTER (WHERE severity IN ('error', 'fatal')) AS n
      FROM _l GROUP BY ALL)
SELECT n.service,
       sum(CASE WHEN n.base THEN -n.n ELSE n.n END / s.minutes) AS score
FROM n JOIN span s USING (base) GROUP BY ALL
ORDER BY score DESC, n.service
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--score", type=Path, help="score.py (default: FOLDER/../score.py)")
    ap.add_argument("--work", type=Path, help="where the stores are kept (default: a temp dir)")
    ap.add_argument("--out", type=Path, help="where predictions CSVs go (default: --work)")
    a = ap.parse_args()
    folder = a.folder.resolve()
    score = (a.score or folder.parent / "score.py").resolve()
    work = a.work or Path(tempfile.mkdtemp(prefix="tracemap-rca-"))
    out = a.out or work
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    labels = folder / "labels.csv"

    preds: dict[str, list[tuple[str, int, str]]] = {"tracemap": [], "client-latency": [],
                                                     "error-lines": []}
    seconds: list[float] = []
    cpu: list[float] = []
    for case_dir in sorted((folder / "cases").iterdir()):
        case = json.loads((case_dir / "case.json").read_text())
        cid = case["case_id"]
        normal = str((folder / case["normal_reference"]).resolve())
        since = datetime.fromtimestamp(case["incident_epoch_s"], UTC)
        db = work / f"{cid}.duckdb"
        tm = tracemap.open(db)
        if not db.exists():
            tm.ingest([str(case_dir / f) for f in case["files"]] + [normal])
        tm.ensure_correlated()
        t0, c0 = time.perf_counter(), time.process_time()
        result = tm.failures(since=since, baseline_sources=[normal])
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        names = list(dict.fromkeys(_service(c.component) for c in result.root_causes))
        preds["tracemap"] += [(cid, i, n) for i, n in enumerate(names[:TOP], start=1)]
        with Store(db, read_only=True) as store:
            for sql, param in zip(_SCOPE_SQL, (normal, since, since), strict=True):
                store.sql(sql, [param])
            for method, sql in (("client-latency", _LATENCY_SQL), ("error-lines", _ERRORS_SQL)):
                ranked = [_service(r[0]) for r in store.sql(sql).fetchall()]
                preds[method] += [(cid, i, n) for i, n in enumerate(ranked[:TOP], start=1)]
        print(f"{cid}: {', '.join(names[:3])}  ({seconds[-1]:.2f} s)", file=sys.stderr)

    results = {}
    for method, rows in preds.items():
        path = out / f"predictions-{method}.csv"
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["case_id", "rank", "service"])
            w.writerows(rows)
        done = subprocess.run([sys.executable, str(score), str(path), "--labels", str(labels),
                               "--by", "fault_type", "--json"], capture_output=True, text=True,
                              check=True)
        results[method] = json.loads(done.stdout)
    print(_table(results))
    seconds.sort()
    cpu.sort()
    print(f"\n`failures` per case ({len(seconds)} cases): wall median "
          f"{seconds[len(seconds) // 2]:.2f} s, max {seconds[-1]:.2f} s; CPU (all threads) "
          f"median {cpu[len(cpu) // 2]:.2f} s, max {cpu[-1]:.2f} s; predictions in {out}")


def _service(component: str) -> str:
    """``otel:service:ts-basic-service`` -> ``ts-basic-service`` (what the labels name)."""
    return split_component(component)[2] if component.count(":") >= 2 else component


def _table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| method | fault type | cases | AC@1 | AC@3 | AC@5 | Avg@5 |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for method, res in results.items():
        groups = {**res["by_fault_type"], "all": res["overall"]}
        for group, m in groups.items():
            lines.append(f"| {method} | {group} | {m['n_cases']} | {m['AC@1']:.2f} | "
                         f"{m['AC@3']:.2f} | {m['AC@5']:.2f} | {m['Avg@5']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
