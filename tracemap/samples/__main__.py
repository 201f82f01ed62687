"""``python -m tracemap.samples --out DIR [--scale N] [--seed S]``: write the sample landscape."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tracemap.samples import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tracemap.samples",
        description="Write Acme Shop's sample landscape (exports, declarations, answers).")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the traffic (1 = the committed sample; 200 = millions "
                             "of records)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    began = time.monotonic()
    result = generate(args.out, scale=args.scale, seed=args.seed)
    took = time.monotonic() - began
    print(f"wrote {args.out} (scale {result.scale:g}, seed {result.seed}): {result.orders} orders "
          f"in {took:.1f}s")
    width = max(len(f) for f in result.files)
    for fmt in result.files:
        print(f"  {fmt:<{width}}  {result.files[fmt]:>7} files  {result.records[fmt]:>10} records"
              f"  {result.bytes[fmt] / 1e6:>9.2f} MB")
    print(f"  {'total':<{width}}  {sum(result.files.values()):>7} files  "
          f"{sum(result.records.values()):>10} records  {result.total_bytes / 1e6:>9.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
