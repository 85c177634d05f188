"""Engine throughput: `stepwise score` stages on the sample company at two sizes.

Prints, per size: CSV read time (the I/O floor), engine time, deals/s of the
engine, total ÷ read ratio, and the growth ratio between the sizes.  Ratios
within one run are what to compare; absolute times on a shared 2-core machine
are noisy.  Usage: python bench/engine_throughput.py [--accounts 2000 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stepwise.engine.catalog import load_catalog
from stepwise.engine.run import recommend
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company

AS_OF = "2026-11-23"


def measure(folder: Path, repeat: int) -> dict[str, float]:
    catalog = load_catalog()
    reads, engines, open_deals, recs = [], [], 0, 0
    for _ in range(repeat):
        started = time.perf_counter()
        data = FilesConnector(folder).pull().data
        reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = recommend(data, AS_OF, catalog)
        engines.append(time.perf_counter() - started)
        open_deals, recs = result.stats["records"]["deal"], len(result.recommendations)
        deals, activities = len(data.deals), len(data.activities)
        # Let the run go before the next one: holding two runs at once doubled the peak RSS reported.
        del data, result
        gc.collect()
    read, engine = statistics.median(reads), statistics.median(engines)
    return {"deals": deals, "open_deals": open_deals, "activities": activities,
            "read_s": read, "engine_s": engine, "deals_per_s": deals / engine,
            "total_over_read": (read + engine) / read, "recommendations": recs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child mode: one folder, JSON out
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for accounts in sorted(args.accounts):
            folder = Path(tmp) / str(accounts)
            write_company(folder, as_of=AS_OF, accounts=accounts, seed=7)
            # A child process per size: its peak RSS is the scoring run's alone, not the generator's.
            child = subprocess.run([sys.executable, __file__, "--measure", str(folder), "--repeat", str(args.repeat)],
                                   capture_output=True, text=True, check=True)
            row = json.loads(child.stdout.strip().splitlines()[-1])
            row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            rows.append(row)
    print(f"{'deals':>8} {'open':>7} {'activities':>10} {'read s':>7} {'engine s':>8} {'deals/s':>8} {'total/read':>10} "
          f"{'recs':>7} {'peak MB':>8}")
    for r in rows:
        print(f"{r['deals']:>8} {r['open_deals']:>7} {r['activities']:>10} {r['read_s']:>7.2f} {r['engine_s']:>8.2f} "
              f"{r['deals_per_s']:>8.0f} {r['total_over_read']:>10.2f} {r['recommendations']:>7} {r['peak_rss_mb']:>8.0f}")
    if len(rows) >= 2:
        print(f"growth: engine time ratio {rows[-1]['engine_s'] / rows[0]['engine_s']:.1f} "
              f"for {rows[-1]['deals'] / rows[0]['deals']:.1f}× the deals")


if __name__ == "__main__":
    main()
