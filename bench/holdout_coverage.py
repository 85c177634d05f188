"""Does the holdout measure what it claims?  A simulated company where one action truly raises its
outcome rate by a known amount and another has no effect, over many seeds: how often the 95 % interval
covers the true lift (and 0 for the null).  Target: 93–97 % for both.

Each seed: `--accounts` accounts, each proposed a replenishment card (true effect: +EFFECT on a BASE
order rate within 14 days) and a cross-sell card (no effect: the offered product is bought at the same
rate shown or not), over three monthly periods.  The arms come from the real assignment
(engine/holdout.arm_of at a 5 % share), the outcomes are read back from simulated order tables by the
real readers (engine/outcomes.observe), and the interval is the real one (engine/lift.compare).

    .venv/bin/python bench/holdout_coverage.py --seeds 200
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stepwise.engine import holdout, lift, outcomes  # noqa: E402
from stepwise.engine.recommendation import card_key  # noqa: E402

BASE, EFFECT = 0.20, 0.10   # replenishment: 20 % order within 14 days without the card, 30 % with it
NULL_BASE = 0.15            # cross-sell: 15 % buy the offered product within 30 days either way
PERIODS = ("2026-09", "2026-10", "2026-11")


def simulate(seed: int, accounts: int, share: float = 0.05) -> dict[str, lift.Lift]:
    rng = np.random.default_rng(seed)
    rules = holdout.HoldoutRules(share=share)
    units, orders, lines = [], [], []
    for period in PERIODS:
        start = pd.Timestamp(f"{period}-05")
        for i in range(accounts):
            account = f"S{seed}-A{i}"
            for action, kind, days, base, effect in (
                    ("call_for_replenishment", "order", 14, BASE, EFFECT),
                    ("propose_complementary_products", "order_with_offered_product", 30, NULL_BASE, 0.0)):
                first = start + pd.Timedelta(days=int(rng.integers(0, 20)))
                arm = holdout.arm_of(card_key("sim", "account", account, action), action, period, rules)
                hit = rng.random() < base + (effect if arm == "shown" else 0.0)
                uid = len(units)
                units.append({"unit_id": uid, "record_type": "account", "record_id": account, "deal_id": None,
                              "account_id": account, "lead_id": None, "first_day": first.strftime("%Y-%m-%d"),
                              "kind": kind, "days": days, "products": "P1", "arm": arm, "action": action})
                if hit:
                    order = f"O{seed}-{uid}"
                    orders.append({"order_id": order, "account_id": account,
                                   "ordered_at": first + pd.Timedelta(days=int(rng.integers(1, days + 1)), hours=9)})
                    lines.append({"order_id": order, "product_id": "P1" if kind != "order" else "P7"})
    frame = pd.DataFrame(units)
    # Orders for one action must not read as the other's outcome: each action's orders on its own account id.
    results = {}
    for action, part in frame.groupby("action"):
        part = part.reset_index(drop=True).assign(unit_id=lambda f: range(len(f)))
        mine = [o for o, u in zip(orders, _owner(orders, frame)) if u == action]
        tables = {"orders": pd.DataFrame(mine, columns=["order_id", "account_id", "ordered_at"]).assign(
                      ordered_at=lambda f: pd.to_datetime(f["ordered_at"], utc=True)),
                  "order_lines": pd.DataFrame(lines, columns=["order_id", "product_id"])}
        seen = outcomes.observe(part, tables, pd.DataFrame(columns=["record_type", "record_id", "day", "stage"]),
                                "2027-01-31")
        part = part.assign(hit=seen["event_day"].notna().to_numpy())
        shown, control = part[part["arm"] == "shown"], part[part["arm"] == "control"]
        results[str(action)] = lift.compare(str(action), str(part["kind"].iloc[0]), int(shown["hit"].sum()),
                                            len(shown), int(control["hit"].sum()), len(control), weeks_observed=13)
    return results


def _owner(orders: list[dict], frame: pd.DataFrame) -> list[str]:
    actions = frame["action"].tolist()
    return [actions[int(o["order_id"].rsplit("-", 1)[1])] for o in orders]


def coverage(seeds: int, accounts: int, first_seed: int = 0) -> dict[str, float]:
    covered = {"effect": 0, "null": 0}
    counted = 0
    for seed in range(first_seed, first_seed + seeds):
        res = simulate(seed, accounts)
        effect, null = res["call_for_replenishment"], res["propose_complementary_products"]
        if not (effect.enough and null.enough):
            continue
        counted += 1
        covered["effect"] += effect.low <= EFFECT <= effect.high
        covered["null"] += null.low <= 0.0 <= null.high
    return {"seeds": counted, "effect": covered["effect"] / max(counted, 1), "null": covered["null"] / max(counted, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=2000)
    args = parser.parse_args()
    result = coverage(args.seeds, args.accounts)
    print(f"seeds {result['seeds']}  accounts {args.accounts}  true lift +{EFFECT:.0%} on {BASE:.0%}  null on {NULL_BASE:.0%}")
    print(f"coverage of the true lift: {result['effect']:.1%}")
    print(f"coverage of 0 for the null: {result['null']:.1%}")


if __name__ == "__main__":
    main()
