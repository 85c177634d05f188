"""A rep's day on the sample company (issue #19): cards per rep, the length and make-up of "Today", the share
of HIGH, and how much "Today" changes between two syncs the same day and on the next day with nothing changed.

Usage: python bench/rep_day.py [--accounts 300] [--seed 7] [--as-of 2025-06-02] [--json]

Runs the real pipeline (files source, a SQLite store, no write-back) three times: day D, day D again (a
re-sync), day D+1 on the same files.  Run it against an older checkout (PYTHONPATH=<worktree>) for the
"before": without `today_rank` the list stands in as what a per-rep cap of the same size would give
(each rep's highest scores), which is what `max_per_rep_per_day` did.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

from stepwise.engine.catalog import load_catalog
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import Store
from stepwise.workers.pipeline import run_pipeline

SIZE = 15


def todays(recs: list) -> dict[str, list]:
    """Each rep's list in order: the run's today_rank, or (older code) their top scores."""
    by_owner: dict[str, list] = defaultdict(list)
    for rec in recs:
        if rec.owner_id:
            by_owner[rec.owner_id].append(rec)
    if any(getattr(r, "today_rank", None) for r in recs):
        return {o: sorted((r for r in rs if r.today_rank), key=lambda r: r.today_rank) for o, rs in by_owner.items()}
    return {o: sorted(rs, key=lambda r: (-r.score, r.id))[:SIZE] for o, rs in by_owner.items()}


def key(rec) -> str:
    return f"{rec.record_type}:{rec.record_id}|{rec.action_id}"  # the card across days (card_key may not exist)


def churn(a: dict[str, list], b: dict[str, list]) -> dict[str, float]:
    """Share of a rep's list that is new the second time, and share of reps whose list kept its exact order."""
    new, same_order = [], 0
    for owner in a:
        ka, kb = [key(r) for r in a[owner]], [key(r) for r in b.get(owner, [])]
        new.append(len(set(kb) - set(ka)) / max(len(kb), 1))
        same_order += ka == kb
    return {"new_share_mean": round(statistics.mean(new), 3), "new_share_max": round(max(new), 3),
            "reps_same_order": f"{same_order}/{len(a)}"}


def measure(accounts: int, seed: int, as_of: str) -> dict:
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "co"
        write_company(folder, as_of=as_of, accounts=accounts, seed=seed)
        store = Store(f"sqlite:///{tmp}/stepwise.db")
        day1 = run_pipeline(FilesConnector(folder, full=True), catalog, as_of, store=store, write_back=False)
        again = run_pipeline(FilesConnector(folder, full=True), catalog, as_of, store=store, write_back=False)
        next_day = (pd.Timestamp(as_of) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        day2 = run_pipeline(FilesConnector(folder, full=True), catalog, next_day, store=store, write_back=False)
        store.close()
    recs = day1.recommendations
    per_rep = Counter(r.owner_id for r in recs if r.owner_id)
    lists = todays(recs)
    urgency = Counter(r.urgency for r in recs)
    listed = [r for rs in lists.values() for r in rs]
    return {
        "cards": len(recs), "reps": len(per_rep),
        "cards_per_rep": {"min": min(per_rep.values()), "median": statistics.median(per_rep.values()),
                          "max": max(per_rep.values())},
        "high_share": round(urgency["HIGH"] / len(recs), 3),
        "urgency": dict(urgency.most_common()),
        "today_length": sorted({len(v) for v in lists.values()}),
        "today_high_share": round(sum(r.urgency == "HIGH" for r in listed) / max(len(listed), 1), 3),
        "action_types_per_list": _spread([len({r.action_id for r in rs}) for rs in lists.values()]),
        "max_of_one_action": max(max(Counter(r.action_id for r in rs).values()) for rs in lists.values() if rs),
        "accounts_per_list": _spread([len({r.account_id or key(r) for r in rs}) for rs in lists.values()]),
        "max_on_one_account": max(max(Counter(r.account_id or key(r) for r in rs).values())
                                  for rs in lists.values() if rs),
        "resync_same_day": churn(lists, todays(again.recommendations)),
        "next_day_nothing_changed": churn(lists, todays(day2.recommendations)),
        "example": [{"rank": i + 1, "urgency": r.urgency, "reason": getattr(r, "urgency_reason", ""),
                     "title": r.title, "account": r.account_id} for i, r in enumerate(lists[min(lists)])],
    }


def _spread(values: list[int]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", default="2025-06-02")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.accounts, args.seed, args.as_of)
    if args.json:
        print(json.dumps(result, indent=1, default=str))
        return
    example = result.pop("example")
    for name, value in result.items():
        print(f"{name:28} {value}")
    print("\nfirst rep's list:")
    for row in example:
        print(f"{row['rank']:>3} {row['urgency']:6} {row['title'][:60]:60} {row['reason']}")


if __name__ == "__main__":
    main()
