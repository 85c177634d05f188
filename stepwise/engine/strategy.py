"""Step 5: resolve conflicts and keep few but relevant actions.

In order: what the rep recently dismissed, snoozed or already did is held
back; weak signals are dropped (no notification beats a weak one); one action
per exclusive group; then the top N per record, the next few as alternatives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.catalog import Catalog
from stepwise.engine.rules import REMOVAL_COLUMNS

HISTORY_COLUMNS = ["record_id", "action_id", "status", "updated_at", "snooze_until"]


def _audit(rows: pd.DataFrame, rule: str, reason) -> pd.DataFrame:
    out = rows[["scope", "record_id", "account_id", "action_id"]].assign(product_id=None, rule=rule, reason=reason)
    return out[REMOVAL_COLUMNS]


def hold_back(candidates: pd.DataFrame, history: pd.DataFrame | None, catalog: Catalog,
              as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rep feedback wins over the engine: dismissed → quiet for N days, snoozed → until the date, done → cooldown."""
    if history is None or history.empty or candidates.empty:
        return candidates, pd.DataFrame(columns=REMOVAL_COLUMNS)
    latest = history.sort_values("updated_at").drop_duplicates(["record_id", "action_id"], keep="last")
    merged = candidates.reset_index().merge(latest, on=["record_id", "action_id"], how="left").set_index("index")
    age = (as_of - pd.to_datetime(merged["updated_at"], utc=True)) / pd.Timedelta(days=1)
    cooldown = merged["action_id"].map({a.id: a.cooldown_days for a in catalog.actions})
    dismissed = (merged["status"] == "dismissed") & (age < catalog.rules.dismissed_cooldown_days)
    snoozed = (merged["status"] == "snoozed") & (pd.to_datetime(merged["snooze_until"], utc=True) > as_of)
    done = (merged["status"] == "accepted") & (age < cooldown)
    removed = [
        _audit(merged[dismissed], "dismissed", f"dismissed by the rep less than {catalog.rules.dismissed_cooldown_days} days ago"),
        _audit(merged[snoozed], "snoozed", "snoozed by the rep until " + merged.loc[snoozed, "snooze_until"].astype(str).str[:10]),
        _audit(merged[done], "cooldown", "accepted " + age[done].round().astype(int).astype(str) + " days ago (cooldown)"),
    ]
    held = dismissed | snoozed | done
    return candidates[~held.reindex(candidates.index).fillna(False)], pd.concat(removed, ignore_index=True)


def select(scored: pd.DataFrame, catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(chosen with rank, alternatives with rank, audit of what was dropped here)."""
    rules = catalog.rules
    weak = scored["score"] < rules.weak_signal_cutoff
    removed = [_audit(scored[weak], "weak_signal",
                      "score " + scored.loc[weak, "score"].astype(str) + f" is below the weak-signal cut-off {rules.weak_signal_cutoff:g}")]
    strong = scored[~weak].sort_values(["record_id", "score", "action_id"], ascending=[True, False, True])
    groups = strong["action_id"].map({a.id: a.exclusive_group for a in catalog.actions})
    grouped = groups.notna()
    loser = grouped & strong.assign(group=groups).duplicated(["scope", "record_id", "group"], keep="first")
    winner_title = strong.assign(group=groups)[grouped & ~loser].set_index(["record_id", "group"])["action_id"]
    loser_rows = strong[loser]
    beaten_by = [winner_title.get((r, g), "another action") for r, g in zip(loser_rows["record_id"], groups[loser])]
    removed.append(_audit(loser_rows, "exclusive_group", [f"conflicts with {b}, which ranks higher" for b in beaten_by]))
    ranked = strong[~loser].copy()
    ranked["rank"] = ranked.groupby(["scope", "record_id"]).cumcount() + 1
    chosen = ranked[ranked["rank"] <= rules.max_per_record]
    alternatives = ranked[(ranked["rank"] > rules.max_per_record) & (ranked["rank"] <= rules.max_per_record + rules.alternatives)]
    chosen, over_limit = _rep_daily_limit(chosen, rules.max_per_rep_per_day)
    removed.append(over_limit)
    return chosen, alternatives, pd.concat(removed, ignore_index=True)


def _rep_daily_limit(chosen: pd.DataFrame, limit: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A rep sees at most `limit` actions a day, the highest-scored across all their records."""
    if limit is None:
        return chosen, pd.DataFrame(columns=REMOVAL_COLUMNS)
    owned = chosen["owner_id"].notna()
    order = chosen[owned].sort_values(["owner_id", "score", "record_id", "action_id"], ascending=[True, False, True, True])
    nth = order.groupby("owner_id").cumcount()
    over = order[nth >= limit]
    audit = _audit(over, "rep_daily_limit", over["owner_id"].astype(str) + f" already has {limit} higher-scored actions today")
    return chosen.drop(index=over.index), audit


def hold_back_by_reason(candidates: pd.DataFrame, history: pd.DataFrame | None, catalog: Catalog, as_of: pd.Timestamp,
                        account_of: pd.Series, wrong_timing_days: int, unsuitable_product_days: int,
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Dismissal reasons act differently (used when learned models are on and the history carries `reason`).

    wrong_timing → the same action on the same record comes back after `wrong_timing_days`;
    already_contacted → the action's cooldown, as if accepted (the rep did it);
    unsuitable_product → the action (and its products) leaves every record of that account for a long while.
    Returns (kept candidates, audit, the history left for the plain hold_back).
    """
    if history is None or history.empty or "reason" not in history or candidates.empty:
        return candidates, pd.DataFrame(columns=REMOVAL_COLUMNS), history
    latest = history.sort_values("updated_at").drop_duplicates(["record_id", "action_id"], keep="last")
    latest = latest[~(pd.to_datetime(latest["updated_at"], utc=True) > as_of)]
    by_reason = latest[(latest["status"] == "dismissed") & latest["reason"].isin(
        ["wrong_timing", "already_contacted", "unsuitable_product"])]
    age = (as_of - pd.to_datetime(by_reason["updated_at"], utc=True)) / pd.Timedelta(days=1)
    cooldown = by_reason["action_id"].map({a.id: a.cooldown_days for a in catalog.actions}).fillna(0)
    timing = by_reason[(by_reason["reason"] == "wrong_timing") & (age < wrong_timing_days)]
    contacted = by_reason[(by_reason["reason"] == "already_contacted") & (age < cooldown)]
    unsuitable = by_reason[(by_reason["reason"] == "unsuitable_product") & (age < unsuitable_product_days)]
    cand = candidates.reset_index()
    key = cand["record_id"] + "|" + cand["action_id"]
    hit_timing = key.isin(timing["record_id"] + "|" + timing["action_id"]).to_numpy()
    hit_contacted = key.isin(contacted["record_id"] + "|" + contacted["action_id"]).to_numpy()
    blocked = set(zip(unsuitable["record_id"].map(account_of), unsuitable["action_id"]))
    hit_unsuitable = np.array([(a, x) in blocked for a, x in zip(cand["account_id"], cand["action_id"])], dtype=bool)
    idx = candidates.index
    removed = [
        _audit(candidates[hit_timing], "wrong_timing", f"dismissed as wrong timing: offered again after {wrong_timing_days} days"),
        _audit(candidates[hit_contacted & ~hit_timing], "already_contacted", "the rep already contacted them (cooldown)"),
        _audit(candidates[hit_unsuitable & ~hit_timing & ~hit_contacted], "unsuitable_product",
               "the product was marked unsuitable for this account"),
    ]
    held = pd.Series(hit_timing | hit_contacted | hit_unsuitable, index=idx)
    rest = history.drop(index=history.index[history["record_id"].astype(str).str.cat(history["action_id"], sep="|")
                                            .isin(by_reason["record_id"] + "|" + by_reason["action_id"])])
    return candidates[~held], pd.concat(removed, ignore_index=True), rest
