"""A believable store for the dashboard: the sample company scored on a few days, with simulated
rep feedback and deal outcomes (simulated). `fill` runs the real pipeline and makes the dashboard screenshot;
`seed_small` builds a small history by hand for the browser tests, so they do not depend on the engine."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from stepwise.engine.catalog import load_catalog
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import Store
from stepwise.workers.pipeline import run_pipeline

DAYS = ("2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23")
REASONS = ("wrong_timing", "unsuitable_product", "already_contacted", "not_relevant", "other")
# How likely a rep accepts each category (simulated, so the charts have shape).
ACCEPT = {"engagement": 0.55, "content": 0.6, "process": 0.45, "risk": 0.5, "replenishment": 0.75,
          "cross-sell": 0.35, "renewal": 0.7, "finance": 0.4}


def fill(store: Store, sample_dir: Path, *, accounts: int = 300, seed: int = 7, days: tuple[str, ...] = DAYS) -> None:
    rng = random.Random(seed)
    if not (sample_dir / "accounts.csv").exists():
        write_company(sample_dir, as_of=days[-1], accounts=accounts, seed=seed)
    catalog = load_catalog()
    rep_skill = {f"rep_{i:02d}": rng.uniform(-0.2, 0.2) for i in range(1, 41)}
    responses: dict[str, list[str]] = {}  # deal → what its cards got: "shown", "accepted", "dismissed", …
    for k, day in enumerate(days):
        result = run_pipeline(FilesConnector(str(sample_dir)), catalog, day, store=store)
        drift = -0.12 if k == len(days) - 1 else 0.0  # the last week drops: the warning has something to say
        for rec in result.recommendations:
            status = "shown"
            if rng.random() <= 0.55:
                p = ACCEPT.get(rec.category, 0.5) + rep_skill.get(rec.owner_id or "", 0.0) + drift
                roll = rng.random()
                if roll < p:
                    status = "accepted"
                    store.record_feedback(rec.id, "accepted", user=rec.owner_id or "rep")
                elif roll < p + 0.1:
                    store.record_feedback(rec.id, "snoozed", user=rec.owner_id or "rep", snooze_until="2026-12-15")
                else:
                    status = "dismissed"
                    reason = rng.choices(REASONS, weights=(5, 3, 4, 2, 1))[0]
                    store.record_feedback(rec.id, "dismissed", user=rec.owner_id or "rep", reason=reason)
            if rec.deal_id:
                responses.setdefault(rec.deal_id, []).append(status)
    _outcomes(store, sample_dir, rng, {deal: _best(statuses) for deal, statuses in responses.items()})


def _best(statuses: list[str]) -> str:
    """A deal's group on the dashboard: accepted if any card was, else dismissed if any was, else shown."""
    return next(s for s in ("accepted", "dismissed", "shown") if s in statuses or s == "shown")


def _outcomes(store: Store, sample_dir: Path, rng: random.Random, responded: dict[str, str]) -> None:
    deals = pd.read_csv(sample_dir / "deals.csv", dtype=str)
    rows = []
    for d in deals.itertuples():
        closed = str(d.is_closed).lower() == "true"
        won = str(d.is_won).lower() == "true"
        group = responded.get(d.deal_id)
        if not closed and group is not None and rng.random() < 0.45:  # simulated: some recommended deals closed since
            closed = True
            won = rng.random() < {"accepted": 0.52, "dismissed": 0.31, "shown": 0.38}[group]
        rows.append({"deal_id": d.deal_id, "stage": d.stage if not closed else ("closed_won" if won else "closed_lost"),
                     "is_closed": closed, "is_won": won})
    store.upsert_deal_outcomes("files", rows)


def seed_small(store: Store, seed: int = 3) -> str:
    """A small hand-built history (no engine): three run days, four reps, feedback and outcomes.

    The browser tests use this so they test the pages, not whatever state the engine is in.
    Returns a deal that has cards on the last day.
    """
    from stepwise.engine.recommendation import Alternative, Factors, Recommendation, recommendation_id

    rng = random.Random(seed)
    actions = [("send_roi_calculator", "content"), ("schedule_follow_up", "engagement"),
               ("engage_economic_buyer", "risk"), ("propose_replenishment", "replenishment")]
    days = ("2026-11-09", "2026-11-16", "2026-11-23")
    for day in days:
        run_id = store.start_run("files", day, "priors-1")
        recs = []
        for n in range(40):
            deal = f"DEAL-{n:04d}"
            action, category = actions[n % len(actions)]
            recs.append(Recommendation(
                id=recommendation_id("files", deal, action, day), source="files", record_type="deal", record_id=deal,
                deal_id=deal, account_id=f"ACC-{n // 2:03d}", lead_id=None, action_id=action, category=category,
                title=f"{action.replace('_', ' ').capitalize()} on {deal}", score=60 + n % 35,
                factors=Factors(80, 60, 70, 90), urgency=("HIGH", "MEDIUM", "LOW")[n % 3],
                expected_impact="Stage advance", why=(f"Budget came up {1 + n % 4} times in the last 30 days.",),
                how=("Open the ROI calculator.", "Send it with two time slots for a call."),
                offer={"max_discount_pct": 10.0}, constraints=("Keep the margin above 15%.",), best_before=day,
                success_rate=None, alternatives=(Alternative("schedule_follow_up", "Schedule a follow-up", 55, "MEDIUM"),),
                removed=(), model_version="priors-1", as_of=day, owner_id=f"rep_{n % 4 + 1:02d}",
            ))
        store.upsert_recommendations(run_id, recs)
        store.finish_run(run_id, {"recommendations": len(recs),
                                  "removed_by_rule": {"exclusive_group": 12, "min_margin": 5, "stock": 3}})
        for rec in recs[: 30 if day != days[-1] else 20]:
            roll = rng.random()
            if roll < 0.5:
                store.record_feedback(rec.id, "accepted", user=rec.owner_id or "rep")
            else:
                store.record_feedback(rec.id, "dismissed", user=rec.owner_id or "rep", reason=rng.choice(REASONS))
    store.upsert_deal_outcomes("files", [
        {"deal_id": f"DEAL-{n:04d}", "stage": "closed_won" if n % 3 else "closed_lost", "is_closed": n % 2 == 0,
         "is_won": n % 3 != 0} for n in range(50)
    ])
    return "DEAL-0039"
