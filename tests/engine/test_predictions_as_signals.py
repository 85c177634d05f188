"""AI proposes, rules decide: learned predictions are signals the catalog triggers, ranks and explains with."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.expressions import parse
from stepwise.engine.predictions import value_weighted_impact
from stepwise.engine.run import recommend
from stepwise.engine.training import train_predictors
from tests.builders import AS_OF, days_ago, make_data

DAY = pd.Timestamp(AS_OF, tz="UTC")


def wholesaler(n: int = 160, seed: int = 1):
    """Half the accounts order about weekly, half about every two months, with real-looking jitter."""
    rng = np.random.default_rng(seed)
    accounts, orders, lines = [], [], []
    for a in range(n):
        acc = f"ACC-{a:03d}"
        weekly = a % 2 == 0
        accounts.append(dict(account_id=acc, name=f"{'Weekly' if weekly else 'Slow'} {a}", segment="smb"))
        mean = 7 if weekly else 60
        t = float(rng.uniform(0, mean))
        k = 0
        while t < 700:
            oid = f"{acc}-{k}"
            orders.append(dict(order_id=oid, account_id=acc, ordered_at=days_ago(t), total=str(100 + a)))
            lines.append(dict(order_id=oid, product_id="P1", quantity="5", unit_price="20"))
            t += float(rng.gamma(2.0, mean / 2.0))
            k += 1
    products = [dict(product_id="P1", name="Paper", list_price="20", unit_cost="10")]
    return make_data(accounts=accounts, orders=orders, order_lines=lines, products=products,
                     stock=[dict(product_id="P1", available="1000")])


def calls(result):
    return [r for r in result.recommendations if r.action_id == "call_for_replenishment"]


def test_learned_order_probability_chooses_who_gets_the_replenishment_call_and_the_card_says_so(catalog):
    data = wholesaler()
    predictors = train_predictors(data, DAY)
    assert predictors.reorder.fitted_
    result = recommend(data, AS_OF, catalog, predictors=predictors)
    called = calls(result)
    assert len(called) >= 20
    # The weekly buyers are the likely orders: nearly all calls go to them.
    weekly = [c for c in called if c.account_id and int(c.account_id[-3:]) % 2 == 0]
    assert len(weekly) / len(called) >= 0.9
    card = called[0]
    assert card.extra["p_order_next_14d"] >= 0.5
    assert any(line.startswith("Learned from the order history:") for line in card.why)
    # The cadence facts still explain the card.
    assert any(line.startswith("Last order was") for line in card.why)


def test_without_a_model_the_catalog_thresholds_apply_and_the_card_says_it_is_a_cold_start(catalog):
    data = wholesaler()
    result = recommend(data, AS_OF, catalog)  # no predictors: cold start
    for card in calls(result):
        assert "p_order_next_14d" not in card.extra
        assert any(line.startswith("No reorder model yet") for line in card.why)


def test_a_large_likely_deal_gets_more_impact_than_a_small_unlikely_one():
    candidates = pd.DataFrame({"scope": ["deal", "deal", "deal"], "record_id": ["BIG", "SMALL", "COLD"],
                               "action_id": "schedule_follow_up", "impact": [50.0, 50.0, 50.0]})
    sig = {"deal": pd.DataFrame({"deal_value_index": [2.0, -2.0, np.nan]}, index=["BIG", "SMALL", "COLD"]),
           "account": pd.DataFrame(), "lead": pd.DataFrame()}
    out = value_weighted_impact(candidates, sig, pd.Series("engagement", index=candidates.index))
    impact = dict(zip(out["record_id"], out["impact"]))
    assert impact["BIG"] == 75.0 and impact["SMALL"] == 25.0  # ×1.5 and ×0.5, the caps
    assert impact["COLD"] == 50.0  # nothing predicted: the catalog's prior stands


def test_account_value_only_weighs_the_actions_about_the_next_order():
    candidates = pd.DataFrame({"scope": ["account", "account"], "record_id": ["A", "A"],
                               "action_id": ["call_for_replenishment", "resolve_overdue_payment"],
                               "impact": [60.0, 60.0]})
    sig = {"account": pd.DataFrame({"value_index": [1.0]}, index=["A"]), "deal": pd.DataFrame(), "lead": pd.DataFrame()}
    out = value_weighted_impact(candidates, sig, pd.Series(["replenishment", "finance"], index=candidates.index))
    assert out["impact"].tolist() == [round(60 * 2 ** 0.5, 1), 60.0]


def test_coalesce_reads_the_learned_value_where_known_and_the_fallback_elsewhere():
    expr = parse("coalesce(50 + 40 * p_order_next_14d, 90)", {"p_order_next_14d"})
    frame = pd.DataFrame({"p_order_next_14d": [0.5, np.nan]})
    assert expr.evaluate(frame).tolist() == [70.0, 90.0]


def test_predictions_are_listed_as_signals_a_catalog_may_use():
    from click.testing import CliRunner

    from stepwise.cli import main

    out = CliRunner().invoke(main, ["signals", "--scope", "account"]).output
    for name in ("p_order_next_14d", "churn_risk", "cross_sell_propensity", "expected_value"):
        assert name in out
    deal = CliRunner().invoke(main, ["signals", "--scope", "deal"]).output
    assert "win_probability" in deal
