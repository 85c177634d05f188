"""CDNOW (real repeat-purchase history shipped inside the `lifetimes` package) in the public CSV contract.

23,570 customers who first bought in Q1 1997, every purchase until June 1998.  The
file carries no products, so it benchmarks reorder timing only.  `lifetimes` is a dev
dependency; its data file is read straight from the installed distribution (importing
the package itself is not needed, and on recent pandas it is not possible).

    python bench/cdnow.py DIR                # writes DIR/accounts.csv and DIR/orders.csv
    python bench/cdnow.py DIR --scorecard    # …then the out-of-time scorecard of the cards, 4 as-of days
    stepwise evaluate --source files:DIR --as-of 1998-06-30
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

END = "1998-06-30"  # the last purchase in the file


def cdnow_path() -> Path:
    try:
        dist = metadata.distribution("lifetimes")
    except metadata.PackageNotFoundError:
        sys.exit("CDNOW ships inside the `lifetimes` package: pip install -e '.[dev]'")
    return Path(dist.locate_file("lifetimes/datasets/CDNOW_master.txt"))


def cdnow_tables() -> dict[str, pd.DataFrame]:
    raw = pd.read_csv(cdnow_path(), sep=r"\s+", dtype={"customer_id": str, "date": str})
    # One order per customer and day: the file has a row per purchase line.
    daily = raw.groupby(["customer_id", "date"], as_index=False)["dollar_value"].sum()
    daily["ordered_at"] = pd.to_datetime(daily["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    accounts = pd.DataFrame({"account_id": "C" + raw["customer_id"].drop_duplicates()})
    accounts["name"] = "Customer " + accounts["account_id"].str[1:]
    orders = pd.DataFrame({
        "order_id": [f"O{i:06d}" for i in range(len(daily))], "account_id": "C" + daily["customer_id"],
        "ordered_at": daily["ordered_at"], "total": daily["dollar_value"].round(2), "status": "delivered"})
    return {"accounts": accounts, "orders": orders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--scorecard", action="store_true", help="also score the cards against what customers did")
    parser.add_argument("--days", type=int, default=4, help="as-of days of the scorecard, two weeks apart")
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    for name, frame in cdnow_tables().items():
        frame.to_csv(args.directory / f"{name}.csv", index=False)
        print(f"{name}: {len(frame):,} rows → {args.directory / (name + '.csv')}")
    if args.scorecard:
        import time

        from stepwise.engine.catalog import load_catalog
        from stepwise.engine.scorecard import evaluation_days, scorecard, to_markdown
        from stepwise.integration.files import FilesConnector

        started = time.perf_counter()
        data = FilesConnector(args.directory).pull().data
        card = scorecard(data, evaluation_days(data, END, count=args.days), load_catalog())
        print(to_markdown(card))
        print(f"{time.perf_counter() - started:.0f} s for {args.days} as-of days (training included)")


if __name__ == "__main__":
    main()
