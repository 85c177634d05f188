"""The holdout on the run path: hold control cards back as a chunk is scored, read outcomes as a run plans.

Only a run that keeps its results holds cards back: a run on a scratch store (`stepwise score` without
`--store`) could never measure them, so it shows everything (README, "Measured lift").
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from stepwise.engine import holdout, outcomes
from stepwise.engine.catalog import Catalog
from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import CanonicalData
from stepwise.store import HoldoutLog, Store

log = logging.getLogger(__name__)

_TABLES = ("orders", "order_lines", "invoices")


def hold_back(recs: list[Recommendation], catalog: Catalog, store: Store, run_id: str) -> list[Recommendation]:
    """The cards to show (and store, and write back): control cards are stored apart, with their score,
    rank and mark; shown ones carry their mark in extra.holdout."""
    rules = catalog.rules.holdout
    if rules.share <= 0 or not recs:
        return recs
    families = catalog.families
    split = holdout.split(recs, rules, holdout.policy_version(catalog, recs[0].model_version),
                          families.family_of, families.outcomes_of)
    for rec in split.shown:
        rec.extra["holdout"] = split.marks[rec.id]
    if split.control:
        HoldoutLog(store).record_controls(run_id, split.control, split.marks)
    return split.shown


def track_outcomes(store: Store, source: str, data: CanonicalData, day: str) -> dict[str, int]:
    """Record the stages this pull shows, gather the cards proposed so far into units, and read the open
    units' outcomes from the pull (events up to `day` only)."""
    log_ = HoldoutLog(store)
    deals, leads = data.table("deals"), data.table("leads")
    seen = [("deal", str(d), str(s)) for d, s in zip(deals["deal_id"], deals["stage"])]
    if "status" in leads:
        seen += [("lead", str(lid), str(s)) for lid, s in zip(leads["lead_id"], leads["status"]) if isinstance(s, str)]
    moved = log_.record_stages(source, day, seen)
    gathered = log_.gather_units(source, day)
    open_ = log_.open_units(source)
    if open_.empty:
        # Nothing left to read, but the reading happened: units settled early by an event mature with the day.
        log_.settle(source, [], day)
        return {"stages_recorded": moved, "units_gathered": gathered, "units_settled": 0}
    missing = open_["products"].isna()
    open_ = log_.fill_products(source, open_)
    open_["filled"] = missing & open_["products"].notna()
    per_kind = _per_kind(open_)
    tables = {name: data.table(name) for name in (*_TABLES, "deals")}
    seen_events = outcomes.observe(per_kind, tables, log_.stage_history(source), day)
    per_kind = per_kind.assign(event_day=seen_events["event_day"].to_numpy(), settled=seen_events["settled"].to_numpy())
    changes = _changes(open_, per_kind)
    log_.settle(source, changes, day)
    return {"stages_recorded": moved, "units_gathered": gathered, "units_settled": sum(not c["open"] for c in changes)}


def _per_kind(frame: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for i, unit in enumerate(frame.itertuples(index=False)):
        for kind, days in outcomes.parse_outcomes(unit.outcomes):
            rows.append({"unit_id": i, "record_type": unit.record_type, "record_id": unit.record_id,
                         "deal_id": unit.deal_id, "account_id": unit.account_id, "lead_id": unit.lead_id,
                         "first_day": unit.first_day, "kind": kind, "days": days, "products": unit.products})
    return pd.DataFrame(rows, columns=list(outcomes.UNIT_COLUMNS))


def _changes(frame: pd.DataFrame, per_kind: pd.DataFrame) -> list[dict[str, Any]]:
    """Only the units whose events or open flag changed: the update touches what moved."""
    found = per_kind[per_kind["event_day"].notna()]
    events_of: dict[int, dict[str, str]] = {}
    for uid, kind, at in zip(found["unit_id"], found["kind"], found["event_day"]):
        events_of.setdefault(int(uid), {})[kind] = pd.Timestamp(at).strftime("%Y-%m-%d")
    still_open = per_kind.groupby("unit_id")["settled"].all().map(lambda settled: not settled)
    out = []
    for i, unit in enumerate(frame.itertuples(index=False)):
        before = dict(unit.events or {})
        events = {**before, **events_of.get(i, {})}
        is_open = bool(still_open.get(i, False))
        if events != before or not is_open or unit.filled:
            out.append({"record_type": unit.record_type, "record_id": unit.record_id, "action_id": unit.action_id,
                        "period": unit.period, "events": events, "open": is_open, "products": unit.products})
    return out


def measured_lift(store: Store, source: str | None = None) -> dict[str, Any]:
    """The lift report (engine/lift.report) on what the store has measured so far: for the CLI, the API
    and the dashboard."""
    from stepwise.engine import lift

    log_ = HoldoutLog(store)
    out = lift.report(log_.units(source), log_.responses(source))
    out["source"] = source
    return out
