"""How close the sample company's ERP order history is to real B2B wholesale data.

Three figures, over accounts with at least three orders, next to the ones
measured on a real distributor's order history:

- per account, the coefficient of variation of the days between orders
  (median and interquartile range across accounts);
- the median number of distinct products per order;
- the share of order lines whose product the account had bought in an earlier
  order (the rest are products new to that account).

Usage: python bench/sample_realism.py [--accounts 300] [--seed 7] [--as-of 2026-11-23]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from stepwise.sample.company import generate_company

AS_OF = "2026-11-23"
# Measured on a real wholesale distributor's ERP history.
REAL = {"cv_median": 0.65, "cv_q1": 0.47, "cv_q3": 0.86, "products_per_order": 15.0, "repeat_share": 0.31}
TOLERANCE = 0.25  # the sample company should sit within ±25% of each real figure


def realism(orders: pd.DataFrame, lines: pd.DataFrame) -> dict[str, float]:
    """The three figures from the orders and order_lines tables (as generated: strings)."""
    o = pd.DataFrame({"order_id": orders["order_id"].to_numpy(), "account_id": orders["account_id"].to_numpy(),
                      "day": pd.to_datetime(orders["ordered_at"]).to_numpy()})
    per_account = o.groupby("account_id")["order_id"].transform("size")
    o = o[per_account >= 3].sort_values(["account_id", "day", "order_id"], kind="stable")
    gaps = o.groupby("account_id")["day"].diff().dt.days.astype(float)
    stats = gaps.groupby(o["account_id"]).agg(["mean", "std"])
    cv = (stats["std"] / stats["mean"]).replace([np.inf, -np.inf], np.nan).dropna()

    ln = lines[["order_id", "product_id"]].drop_duplicates().merge(o, on="order_id")
    per_order = ln.groupby("order_id").size()
    # A line repeats when the account bought the product in an earlier order (an earlier day, or the
    # same day but an earlier order id).
    rank = o.assign(seq=np.arange(len(o)))[["order_id", "seq"]]
    ln = ln.merge(rank, on="order_id")
    first = ln.groupby(["account_id", "product_id"])["seq"].transform("min")
    repeat = float((ln["seq"] > first).mean())
    return {"cv_median": float(cv.median()), "cv_q1": float(cv.quantile(0.25)), "cv_q3": float(cv.quantile(0.75)),
            "products_per_order": float(per_order.median()), "repeat_share": repeat,
            "accounts": int(o["account_id"].nunique())}


def within(measured: dict[str, float], key: str) -> bool:
    return abs(measured[key] - REAL[key]) <= TOLERANCE * REAL[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", default=AS_OF)
    args = parser.parse_args()

    start = time.perf_counter()
    company = generate_company(args.as_of, accounts=args.accounts, seed=args.seed)
    seconds = time.perf_counter() - start
    m = realism(company["orders"], company["order_lines"])

    def mark(key: str) -> str:
        return "ok" if within(m, key) else "OUT"

    print(f"sample company: {args.accounts} accounts, seed {args.seed}, as of {args.as_of}; "
          f"{m['accounts']} accounts with >= 3 orders")
    print(f"{'figure':<40}{'sample':>18}{'real':>18}   within ±{TOLERANCE:.0%}")
    print(f"{'inter-order CV per account, median (IQR)':<40}"
          f"{m['cv_median']:>6.2f} ({m['cv_q1']:.2f}-{m['cv_q3']:.2f})"
          f"{REAL['cv_median']:>6.2f} ({REAL['cv_q1']:.2f}-{REAL['cv_q3']:.2f})   {mark('cv_median')}")
    print(f"{'distinct products per order, median':<40}{m['products_per_order']:>18.1f}"
          f"{REAL['products_per_order']:>18.1f}   {mark('products_per_order')}")
    print(f"{'repeat-line share':<40}{m['repeat_share']:>18.1%}{REAL['repeat_share']:>18.1%}   {mark('repeat_share')}")
    print(f"orders {len(company['orders']):,}  order_lines {len(company['order_lines']):,}  "
          f"products {len(company['products']):,}  generated in {seconds:.1f} s")


if __name__ == "__main__":
    main()
