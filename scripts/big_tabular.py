"""Write a large CSV of spans (tabular_spans input) to measure ingest speed and memory.

    python scripts/big_tabular.py /tmp/big.csv --rows 4000000     # about 1 GB
    python scripts/big_tabular.py /tmp/big.csv --size 1G
    /usr/bin/time -v tracemap ingest /tmp/big.csv --db /tmp/big.duckdb

Traces of five spans across three services (frontend -> orders -> payments, with a Kafka
producer/consumer pair and an occasional error), in the collector-like layout of
tests/fixtures/tabular_spans/otelcol_spans.csv. Rows are generated and written in chunks, so
the script's memory does not grow with the file. Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import polars as pl

HEADER = ["traceId", "spanId", "parentSpanId", "serviceName", "name", "kind", "statusCode",
          "statusMessage", "scopeName", "startTimeUnixNano", "endTimeUnixNano",
          "http.request.method", "http.route", "http.response.status_code",
          "messaging.system", "messaging.destination.name", "host.name", "service.version"]

#: One trace: (span index of parent or None, service, name, kind, start offset ms, length ms).
SHAPE = [
    (None, "frontend", "GET /checkout", "SPAN_KIND_SERVER", 0, 180),
    (0, "frontend", "POST", "SPAN_KIND_CLIENT", 10, 160),
    (1, "orders", "POST /api/orders", "SPAN_KIND_SERVER", 15, 150),
    (2, "orders", "orders.placed publish", "SPAN_KIND_PRODUCER", 70, 10),
    (3, "payments", "orders.placed process", "SPAN_KIND_CONSUMER", 250, 650),
]
CHUNK_TRACES = 50_000
START_NS = 1_717_430_400_000_000_000


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def chunk(rng: random.Random, first_trace: int, traces: int) -> pl.DataFrame:
    cols: dict[str, list[object]] = {h: [] for h in HEADER}
    for t in range(first_trace, first_trace + traces):
        tid = f"{rng.getrandbits(128):032x}"
        sids = [f"{rng.getrandbits(64):016x}" for _ in SHAPE]
        base = START_NS + t * 7_000_000  # a trace every 7 ms
        failed = rng.random() < 0.03
        for i, (parent, service, name, kind, off, length) in enumerate(SHAPE):
            start = base + off * 1_000_000 + rng.randrange(1_000_000)
            end = start + length * 1_000_000 + rng.randrange(5_000_000)
            http = kind in ("SPAN_KIND_SERVER", "SPAN_KIND_CLIENT")
            bad = failed and service == "payments"
            row = [tid, sids[i], sids[parent] if parent is not None else "", service, name, kind,
                   "STATUS_CODE_ERROR" if bad else "STATUS_CODE_UNSET",
                   "card declined by issuer" if bad else "",
                   f"io.opentelemetry.{service}", start, end,
                   ("GET" if i == 0 else "POST") if http else "",
                   "/checkout" if i == 0 else ("/api/orders" if i == 2 else ""),
                   (200 if i == 0 else 201) if http else "",
                   "kafka" if i >= 3 else "", "orders.placed" if i >= 3 else "",
                   f"{service}-{t % 7}", "2.0.0"]
            for h, v in zip(HEADER, row, strict=True):
                cols[h].append(v)
    return pl.DataFrame(cols, schema=dict.fromkeys(HEADER, pl.String), strict=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, help="spans to write (rounded up to whole traces)")
    ap.add_argument("--size", help="stop once the file is this big (e.g. 1G, 200M)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if not args.rows and not args.size:
        ap.error("give --rows or --size")
    limit_rows = args.rows or sys.maxsize
    limit_bytes = parse_size(args.size) if args.size else sys.maxsize
    rng = random.Random(args.seed)
    rows = traces = 0
    with open(args.out, "wb") as fh:
        fh.write((",".join(HEADER) + "\n").encode())
        while rows < limit_rows and fh.tell() < limit_bytes:
            n = min(CHUNK_TRACES, -(-(limit_rows - rows) // len(SHAPE)))
            chunk(rng, traces, n).write_csv(fh, include_header=False)
            traces += n
            rows += n * len(SHAPE)
        size = fh.tell()
    print(f"{args.out}: {rows} spans in {traces} traces, {size / (1 << 20):.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
