"""What the holdout costs a run: the assignment and marks (engine/holdout.split) and the control cards'
store write, against the engine's own time on the same cards.  Target: ≤ 3 % of engine time at 100k deals.

    .venv/bin/python bench/holdout_cost.py --accounts 20000   # ~100k deals
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stepwise.engine import holdout  # noqa: E402
from stepwise.engine.catalog import load_catalog  # noqa: E402
from stepwise.engine.run import recommend  # noqa: E402
from stepwise.integration.files import FilesConnector  # noqa: E402
from stepwise.sample.company import write_company  # noqa: E402
from stepwise.store import HoldoutLog, Store  # noqa: E402

AS_OF = "2026-11-23"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        write_company(Path(tmp) / "co", as_of=AS_OF, accounts=args.accounts, seed=3)
        data = FilesConnector(Path(tmp) / "co").pull().data
        started = time.perf_counter()
        recs = recommend(data, AS_OF, catalog).recommendations
        engine = time.perf_counter() - started
        fam = catalog.families
        split_times, write_times = [], []
        for i in range(args.repeat):
            started = time.perf_counter()
            split = holdout.split(recs, catalog.rules.holdout, holdout.policy_version(catalog, recs[0].model_version),
                                  fam.family_of, fam.outcomes_of)
            for rec in split.shown:
                rec.extra["holdout"] = split.marks[rec.id]
            split_times.append(time.perf_counter() - started)
            store = Store(f"sqlite:///{Path(tmp) / f'h{i}.db'}")
            store.counts()  # the tables exist before the clock starts
            started = time.perf_counter()
            HoldoutLog(store).record_controls("run", split.control, split.marks)
            write_times.append(time.perf_counter() - started)
            store.close()
    deals = len(data.table("deals"))
    split_s, write_s = sorted(split_times)[len(split_times) // 2], sorted(write_times)[len(write_times) // 2]
    print(f"deals {deals:,}  cards {len(recs):,}  control {len(split.control):,}  engine {engine:.2f} s")
    print(f"assignment + marks {split_s:.3f} s ({split_s / engine:.2%} of engine)  "
          f"control cards stored {write_s:.3f} s ({write_s / engine:.2%})  "
          f"together {(split_s + write_s) / engine:.2%}")


if __name__ == "__main__":
    main()
