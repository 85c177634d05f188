"""Training time on the realistic sample company: what `stepwise score` learns for itself, and `stepwise train`.

Per size: the read, then each model of the quick schedule a scoring run uses when no trained model is
stored (reorder, products, win, lead: engine/training.train_quick), then the full `stepwise train`
schedule, each timed alone, with the process's peak RSS.  The target (issue 14): ≤ 5 minutes for 20,000
accounts' history on 2 cores.

    python bench/training.py --accounts 20000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from stepwise.engine import training
from stepwise.engine.history import as_known_on
from stepwise.engine.models.products import ProductModel
from stepwise.engine.models.reorder import ReorderModel
from stepwise.engine.models.win import WinModel
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company

AS_OF = "2026-11-23"


def timed(label: str, fn):
    started = time.perf_counter()
    out = fn()
    print(f"  {label:44} {time.perf_counter() - started:7.1f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[20000])
    parser.add_argument("--full", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the full `stepwise train` schedule")
    args = parser.parse_args()
    for n in args.accounts:
        with tempfile.TemporaryDirectory() as tmp:
            bench_size(Path(tmp), n, args.full)


def bench_size(folder: Path, n: int, full: bool) -> None:
    write_company(folder, AS_OF, accounts=n)
    print(f"{n:,} accounts")
    data = timed("read the CSV folder", lambda: FilesConnector(folder).pull().data)
    day = pd.Timestamp(AS_OF, tz="UTC")
    known = as_known_on(data, day)
    print(f"  {len(known.table('orders')):,} orders, {len(known.table('order_lines')):,} lines, "
          f"{len(known.table('deals')):,} deals, {len(known.table('leads')):,} leads")
    q = training.QUICK_SCHEDULE
    horizon = 14
    step = training.reorder_step(known)
    Xr, yr = timed(f"reorder snapshots (every {step} days, 1 year)", lambda: training.reorder_set(
        known, training._days(day - pd.Timedelta(days=365), day - pd.Timedelta(days=horizon), step), horizon))
    timed(f"reorder model fit ({len(yr):,} rows, ≤150k used)", lambda: ReorderModel().fit(Xr, yr))
    timed("product model fit (2 cut days)", lambda: ProductModel().fit(known, day))
    start = day - pd.Timedelta(days=q["window_days"])
    Xw, yw = timed(f"win snapshots (every 8 weeks, 2 years, ≤{q['max_win_accounts']:,} accounts)",
                   lambda: training.win_set(training.sample_accounts(known, q["max_win_accounts"]),
                                            training._days(start, day - pd.Timedelta(days=1), q["step_days"])))
    timed(f"win model fit ({len(yw):,} rows)", lambda: WinModel().fit(Xw, yw))
    timed("quick schedule, all models (what score runs)", lambda: training.train_quick(known, day))
    if full:
        timed("full `stepwise train` schedule", lambda: training.train(known, day))
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
