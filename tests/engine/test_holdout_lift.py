"""The holdout's assignment, the outcome readers and the lift intervals (engine/holdout, outcomes, lift)."""

from __future__ import annotations

import pandas as pd
import pytest

from stepwise.engine import holdout, lift, outcomes
from stepwise.engine.catalog import CatalogError, load_catalog
from stepwise.engine.recommendation import card_key


def test_assignment_is_a_fixed_share_stable_and_per_month():
    rules = holdout.HoldoutRules(share=0.05)
    keys = [card_key("files", "deal", f"D{i}", "schedule_follow_up") for i in range(20000)]
    arms = [holdout.arm_of(k, "schedule_follow_up", "2026-11", rules) for k in keys]
    share = arms.count("control") / len(arms)
    assert 0.045 < share < 0.055
    assert arms == [holdout.arm_of(k, "schedule_follow_up", "2026-11", rules) for k in keys]
    december = [holdout.arm_of(k, "schedule_follow_up", "2026-12", rules) for k in keys]
    assert december != arms  # a new month draws again
    assert holdout.period_of("2026-11-23") == holdout.period_of("2026-11-01") == "2026-11"


def test_always_show_zero_share_and_unmeasured_actions_are_never_held_back():
    rules = holdout.HoldoutRules(share=0.5)
    keys = [card_key("files", "account", f"A{i}", "resolve_overdue_payment") for i in range(500)]
    assert {holdout.arm_of(k, "resolve_overdue_payment", "2026-11", rules) for k in keys} == {"excluded"}
    off = holdout.HoldoutRules(share=0)
    assert {holdout.arm_of(k, "x", "2026-11", off) for k in keys} == {"excluded"}
    assert {holdout.arm_of(k, "x", "2026-11", rules, eligible=False) for k in keys} == {"excluded"}
    assert holdout.propensity_shown("shown", rules) == 0.5 and holdout.propensity_shown("excluded", rules) == 1.0


def test_the_rules_file_and_catalog_carry_the_holdout_and_families(tmp_path):
    catalog = load_catalog()
    assert catalog.rules.holdout.share == 0.05
    assert "resolve_overdue_payment" in catalog.rules.holdout.always_show
    fam = catalog.families
    assert fam.family_of["call_for_replenishment"] == "replenishment"
    assert fam.family_of["propose_bundle"] == "cross_sell"
    assert fam.family_of["schedule_follow_up"] == "deal" and fam.outcomes_of["deal"] == "stage_advance:14,won:90"
    assert fam.family_of["lead_nurture"] == "lead"
    bad = tmp_path / "rules.yaml"
    bad.write_text("holdout: {share: 0.9}\n")
    with pytest.raises(CatalogError, match="share"):
        load_catalog(rules_path=bad)


def _units(**cols):
    base = {"unit_id": [0], "record_type": ["account"], "record_id": ["A1"], "deal_id": [None], "account_id": ["A1"],
            "lead_id": [None], "first_day": ["2026-11-02"], "kind": ["order"], "days": [14], "products": [None]}
    base.update(cols)
    return pd.DataFrame(base)


NO_STAGES = pd.DataFrame(columns=["record_type", "record_id", "day", "stage"])


def test_an_order_counts_only_inside_the_window_and_not_after_the_run_day():
    orders = pd.DataFrame({"order_id": ["O1", "O2"], "account_id": ["A1", "A1"],
                           "ordered_at": pd.to_datetime(["2026-11-02T10:00Z", "2026-11-20T10:00Z"])})
    tables = {"orders": orders, "order_lines": pd.DataFrame(columns=["order_id", "product_id"])}
    seen = outcomes.observe(_units(), tables, NO_STAGES, "2026-11-30")
    assert seen["event_day"].isna().all() and bool(seen["settled"].iloc[0])  # same day and day 18: both outside
    inside = orders.assign(ordered_at=pd.to_datetime(["2026-11-02T10:00Z", "2026-11-10T10:00Z"]))
    assert outcomes.observe(_units(), {**tables, "orders": inside}, NO_STAGES, "2026-11-09")["event_day"].isna().all()
    found = outcomes.observe(_units(), {**tables, "orders": inside}, NO_STAGES, "2026-11-12")
    assert str(found["event_day"].iloc[0])[:10] == "2026-11-10" and bool(found["settled"].iloc[0])
    pending = outcomes.observe(_units(), {**tables, "orders": orders.iloc[:1]}, NO_STAGES, "2026-11-12")
    assert not bool(pending["settled"].iloc[0])  # window not over, nothing yet


def test_cross_sell_needs_an_offered_product_and_stage_advance_a_higher_stage():
    orders = pd.DataFrame({"order_id": ["O1", "O2"], "account_id": ["A1", "A1"],
                           "ordered_at": pd.to_datetime(["2026-11-05", "2026-11-08"], utc=True)})
    lines = pd.DataFrame({"order_id": ["O1", "O2"], "product_id": ["P9", "P2"]})
    units = _units(kind=["order_with_offered_product"], days=[30], products=["P1 P2"])
    seen = outcomes.observe(units, {"orders": orders, "order_lines": lines}, NO_STAGES, "2026-12-30")
    assert str(seen["event_day"].iloc[0])[:10] == "2026-11-08"
    stages = pd.DataFrame({"record_type": ["deal"] * 3, "record_id": ["D1"] * 3,
                           "day": ["2026-10-01", "2026-11-04", "2026-11-09"],
                           "stage": ["proposal", "closed_lost", "negotiation"]})
    deal = _units(record_type=["deal", "deal"], record_id=["D1", "D1"], unit_id=[0, 1], kind=["stage_advance", "won"],
                  days=[14, 90], first_day=["2026-11-02"] * 2, account_id=["A1"] * 2, deal_id=["D1"] * 2,
                  lead_id=[None] * 2, products=[None] * 2)
    seen = outcomes.observe(deal, {}, stages, "2026-11-30")
    assert str(seen["event_day"].iloc[0])[:10] == "2026-11-09" and pd.isna(seen["event_day"].iloc[1])
    assert list(seen["settled"]) == [True, False]


def test_newcombe_matches_the_published_example_and_small_counts_say_not_enough():
    # Newcombe (1998), table II example (a): 56/70 vs 48/80 → −0.0524 to 0.3339 (method 10).
    low, high = lift.newcombe(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=5e-4) and high == pytest.approx(0.3339, abs=5e-4)
    few = lift.compare("deal", "won", 4, 40, 1, 6, weeks_observed=2)
    assert not few.enough and few.weeks_more == 8  # control: 3 a week, 24 more to 30; the events need only 2
    assert few.message.startswith("Not enough data yet (40 shown, 6 control; about")
    ok = lift.compare("deal", "won", 300, 1000, 20, 100)
    assert ok.enough and ok.lift == pytest.approx(0.1) and ok.low < 0.1 < ok.high
    assert ok.relative == pytest.approx(0.5)
