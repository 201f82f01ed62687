"""Correlation benchmark: synthesize N spans + N messages straight into a store, time correlate.

    python benchmarks/correlate_bench.py --records 5000000 [--db /tmp/bench.duckdb] [--keep]

Data is generated in bulk by DuckDB itself (no per-row Python) in the shape ingestors write:
traces of 10 spans (an ``api`` server span, 3 producer spans, 3 consumer spans in ``worker-k``
services whose parent is the producer span, 3 internal spans under them), the local-root runs
the OTLP ingestor derives (4 per trace), and 10 Kafka records per trace: 3 carry the producer
span's ``traceparent`` (trace id + span id keys), 7 carry only the trace's ``correlation-id``
(their direction comes from time order). 2% of traces fail in a worker. Generation runs in a
child process so the peak RSS printed is correlation's own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracemap.correlate import correlate  # noqa: E402
from tracemap.store import Store  # noqa: E402

BASE_US = 1_714_557_600_000_000  # 2024-05-01T10:00:00Z

GENERATE = """
CREATE TEMP TABLE t AS
SELECT range AS t, lpad(printf('%x', range), 32, '0') AS tid, {base} + range * 10000 AS t0,
       range % 50 = 7 AS failing
FROM range({traces});

-- 10 spans per trace: i=0 api root; 1-3 producers; 4-6 consumers (parent 1-3); 7-9 internal.
CREATE TEMP TABLE sp AS
SELECT t.t, t.tid, i, lpad(printf('%x', t.t * 16 + i + 1), 16, '0') AS sid,
       CASE WHEN i = 0 THEN NULL
            WHEN i <= 3 THEN lpad(printf('%x', t.t * 16 + 1), 16, '0')
            ELSE lpad(printf('%x', t.t * 16 + i - 3 + 1), 16, '0') END AS psid,
       CASE WHEN i <= 3 THEN 'api' ELSE 'worker-' || ((i - 1) % 3) END AS service,
       CASE WHEN i = 0 THEN 'server' WHEN i <= 3 THEN 'producer' WHEN i <= 6 THEN 'consumer'
            ELSE 'internal' END AS kind,
       t.t0 + CASE WHEN i = 0 THEN 0 WHEN i <= 3 THEN i * 1000 WHEN i <= 6 THEN 20000 + i * 1000
                   ELSE 21000 + i * 1000 END AS s_us,
       CASE WHEN i = 0 THEN 60000 WHEN i <= 3 THEN 500 ELSE 5000 END AS d_us,
       t.failing AND i IN (6, 9) AS failed
FROM t, range(10) r(i);

INSERT INTO steps
SELECT 1, 'otel:span:' || tid || '/' || sid,
       CASE WHEN i = 0 OR (i BETWEEN 4 AND 6) THEN 'otel:run:' || tid || '/' || sid END,
       'otel', 'otel:operation:' || service || '/' || kind || '-' || (i % 4),
       kind || '-' || (i % 4),
       kind, CASE WHEN failed THEN 'failed' ELSE 'ok' END, make_timestamptz(s_us),
       make_timestamptz(s_us + d_us), NULL,
       CASE WHEN psid IS NOT NULL THEN 'otel:span:' || tid || '/' || psid END,
       CASE WHEN failed THEN 'boom' END, 'line ' || t,
       json_object('service.name', service, 'otel.kind', kind)
FROM sp;

INSERT INTO runs
SELECT 1, 'otel:run:' || tid || '/' || sid, 'otel', 'otel:service:' || service, kind,
       CASE WHEN failed THEN 'failed' ELSE 'ok' END, make_timestamptz(s_us),
       make_timestamptz(s_us + d_us), NULL,
       CASE WHEN psid IS NOT NULL THEN 'otel:span:' || tid || '/' || psid END, NULL,
       'line ' || t, json_object('service.name', service)
FROM sp WHERE i = 0 OR i BETWEEN 4 AND 6;

INSERT INTO links
SELECT 1, 'otel:span:' || tid || '/' || psid, 'otel:span:' || tid || '/' || sid,
       CASE WHEN i BETWEEN 4 AND 6 THEN 'follows_from' ELSE 'contains' END, 'parentSpanId',
       'line ' || t
FROM sp WHERE psid IS NOT NULL
UNION ALL
SELECT 1, 'otel:run:' || tid || '/' || sid, 'otel:span:' || tid || '/' || sid, 'contains',
       'local root span of the service', 'line ' || t
FROM sp WHERE i = 0 OR i BETWEEN 4 AND 6;

INSERT INTO keys
SELECT 1, 'otel:span:' || tid || '/' || sid, 'trace_id', tid FROM sp
UNION ALL SELECT 1, 'otel:span:' || tid || '/' || sid, 'span_id', sid FROM sp
UNION ALL SELECT 1, 'otel:run:' || tid || '/' || sid, 'trace_id', tid FROM sp
          WHERE i = 0 OR i BETWEEN 4 AND 6
UNION ALL SELECT 1, 'otel:span:' || tid || '/' || sid, 'channel',
                 'kafka:topic:topic-' || ((i - 1) % 3) FROM sp WHERE i BETWEEN 1 AND 6
UNION ALL SELECT 1, 'otel:span:' || tid || '/' || sid, 'correlation_id', 'c-' || t
          FROM sp WHERE i = 0;

-- 10 records per trace: j=0-2 from producer spans 1-3 (traceparent); 3-9 side events.
CREATE TEMP TABLE msg AS
SELECT t.t, t.tid, j, CASE WHEN j <= 2 THEN 'topic-' || j ELSE 'events-' || (t.t % 3) END AS topic,
       t.t * 10 + j AS off, t.t0 + CASE WHEN j <= 2 THEN (j + 1) * 1000 + 200
                                        ELSE 30000 + j * 2000 END AS p_us,
       lpad(printf('%x', t.t * 16 + j + 2), 16, '0') AS psid
FROM t, range(10) r(j);

INSERT INTO messages
SELECT 1, 'kafka:msg:' || topic || '/0/' || off, 'kafka', 'kafka:topic:' || topic, topic,
       'Event' || j, 'o-' || t, make_timestamptz(p_us), 'ok',
       CASE WHEN j <= 2 THEN json_object('traceparent', '00-' || tid || '-' || psid || '-01',
                                         'correlation-id', 'c-' || t)
            ELSE json_object('correlation-id', 'c-' || t) END,
       NULL, 'line ' || off, NULL
FROM msg;

INSERT INTO keys
SELECT 1, 'kafka:msg:' || topic || '/0/' || off, 'correlation_id', 'c-' || t FROM msg
UNION ALL SELECT 1, 'kafka:msg:' || topic || '/0/' || off, 'message_key', 'o-' || t FROM msg
UNION ALL SELECT 1, 'kafka:msg:' || topic || '/0/' || off, 'trace_id', tid FROM msg WHERE j <= 2
UNION ALL SELECT 1, 'kafka:msg:' || topic || '/0/' || off, 'span_id', psid FROM msg WHERE j <= 2;

UPDATE meta SET value = '1' WHERE name = 'data_version';
"""


def generate(db: str, records: int) -> None:
    traces = max(1, records // 20)
    with Store(db) as store:
        store.sql("INSERT INTO sources (id, path, sha256, size, mtime_ns, format, chosen_by, "
                  "ingested_at) VALUES (1, 'synthetic', '', 0, 0, 'bench', 'forced', now())")
        if "state" in {r[0] for r in store.sql("DESCRIBE sources").fetchall()}:
            store.sql("UPDATE sources SET state = 'done' WHERE id = 1")  # not a half-loaded one
        for statement in GENERATE.format(base=BASE_US, traces=traces).split(";\n"):
            if statement.strip():
                store.sql(statement)
        store.sql("CHECKPOINT")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000,
                    help="spans + messages (half each)")
    ap.add_argument("--db", default="/tmp/tracemap-correlate-bench.duckdb")
    ap.add_argument("--keep", action="store_true", help="reuse an existing generated store")
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_only:
        generate(args.db, args.records)
        return
    if not (args.keep and os.path.exists(args.db)):
        for suffix in ("", ".wal"):
            Path(args.db + suffix).unlink(missing_ok=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--records", str(args.records), "--db",
                        args.db, "--generate-only"], check=True)
        print(f"generated {args.records:,} records in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
    load_before = os.getloadavg()[0]
    with Store(args.db) as store:
        counts = store.counts()
        t0, c0 = time.perf_counter(), time.process_time()
        result = correlate(store)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "records": counts["steps"] + counts["messages"], "entities": result.entities,
        "keys": counts["keys"], "links": counts["links"], "seconds": round(seconds, 2),
        # CPU seconds of all threads: comparable across runs on a shared machine, unlike wall.
        "cpu_seconds": round(cpu, 2),
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "records_per_s": round((counts["steps"] + counts["messages"]) / seconds),
        "peak_rss_mb": round(rss_mb), "executions": result.executions, "edges": result.edges,
        "edges_by_rule": result.edges_by_rule, "iterations": result.iterations,
        "stages": {k: round(v, 2) for k, v in result.stages.items()},
        "cpus": os.cpu_count(),
    }, indent=1))


if __name__ == "__main__":
    main()
