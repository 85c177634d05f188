"""train / predict / evaluate: the predict contract, no peeking past the as-of day, stored versions, the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stepwise.engine.records import CanonicalData, coerce_table
from stepwise.integration.files import FilesConnector
from stepwise.learning import jobs as learning
from stepwise.sample.company import write_company
from stepwise.store import ModelStore

END = "2026-11-23"
DAY = "2026-09-24"  # the as-of day of the predictions: two months before the data ends


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> CanonicalData:
    folder = tmp_path_factory.mktemp("company")
    write_company(folder, as_of=END, accounts=150, seed=3)
    return FilesConnector(folder).pull().data


def _plant_the_future(data: CanonicalData) -> CanonicalData:
    """The same company up to DAY; after it, everything that could have happened differently did."""
    cut = pd.Timestamp(DAY, tz="UTC")
    later = pd.Timedelta(days=20)
    out = CanonicalData(**{name: getattr(data, name).copy() for name in data.present()})
    deals = out.deals
    closed_later = deals["is_closed"] & (deals["stage_changed_at"] > cut)
    deals.loc[closed_later, "is_won"] = ~deals.loc[closed_later, "is_won"]  # every later outcome flipped
    deals.loc[closed_later, "stage"] = np.where(deals.loc[closed_later, "is_won"], "closed_won", "closed_lost")
    still_open = ~deals["is_closed"] & (deals["created_at"] < cut)
    won_now = deals.index[still_open][:20]  # and some deals open on the day are won after it
    deals.loc[won_now, ["stage", "is_closed", "is_won"]] = ["closed_won", True, True]
    deals.loc[won_now, "stage_changed_at"] = cut + later
    orders = out.orders
    out.orders = orders[~(orders["ordered_at"] > cut)]  # no order after the day at all …
    extra, _ = coerce_table("orders", pd.DataFrame({      # … except a burst from accounts that had none
        "order_id": [f"LATE-{i}" for i in range(30)], "account_id": out.accounts["account_id"].iloc[-30:].to_numpy(),
        "ordered_at": (cut + later).isoformat()}))
    out.orders = pd.concat([out.orders, extra], ignore_index=True)
    invoices = out.invoices
    invoices["paid_at"] = invoices["paid_at"].where(~(invoices["paid_at"] > cut), pd.NaT)  # later payments undone
    unpaid = invoices["paid_at"].isna()
    invoices.loc[unpaid, "paid_at"] = cut + later  # and later payments made
    leads = out.leads
    touched_later = leads["lead_id"].isin(out.activities.loc[out.activities["occurred_at"] > cut, "lead_id"])
    flip = leads["status"].isin(["converted", "disqualified"]) & touched_later
    leads.loc[flip, "status"] = leads.loc[flip, "status"].map({"converted": "disqualified", "disqualified": "converted"})
    extra_leads, _ = coerce_table("leads", pd.DataFrame({
        "lead_id": [f"LATE-L{i}" for i in range(10)], "created_at": (cut + later).isoformat(), "status": "converted"}))
    out.leads = pd.concat([leads, extra_leads], ignore_index=True)
    # Activity after the day is kept: it is the only trace that a lead's status was decided later (no date).
    return out


def test_predict_follows_the_contract(company):
    result = learning.predict(company, END)
    # The contract's keys first and unchanged; later keys only extend it.
    assert list(result)[:4] == ["model_version", "deals", "accounts", "leads"]
    assert result["deals"] and result["accounts"] and result["leads"]
    assert set(result["deals"][0]) == {"deal_id", "win_probability"}
    assert set(result["accounts"][0]) == {"account_id", "expected_next_order_at", "p_order_next_14d", "churn_risk"}
    assert set(result["account_products"][0]) == {"account_id", "product_id", "kind", "propensity", "bought_with"}
    assert {p["kind"] for p in result["account_products"]} == {"reorder", "cross_sell"}
    assert set(result["leads"][0]) == {"lead_id", "conversion_probability"}
    open_deals = set(company.deals.loc[~company.deals["is_closed"], "deal_id"])
    assert {d["deal_id"] for d in result["deals"]} == open_deals
    assert {a["account_id"] for a in result["accounts"]} == set(company.orders["account_id"])
    assert all(0 <= d["win_probability"] <= 1 for d in result["deals"])
    json.dumps(result)  # plain JSON types only


def test_predict_reads_nothing_after_the_day(company):
    planted = _plant_the_future(company)
    assert learning.predict(planted, END) != learning.predict(company, END)  # the planted records matter if read …
    assert learning.predict(planted, DAY) == learning.predict(company, DAY)  # … and are not read as of the day


def test_absent_tables_give_empty_lists(company):
    only_accounts = CanonicalData(accounts=company.accounts)
    result = learning.predict(only_accounts, END)
    assert result["deals"] == [] and result["accounts"] == [] and result["leads"] == []


def test_stored_versions_never_come_from_the_future(company, tmp_path):
    store = ModelStore(f"sqlite:///{tmp_path / 'models.db'}")
    from stepwise.engine.training import train_quick

    # The schedule `predict` learns on by itself when nothing is stored: a stored model reads the same.
    store.save("files", train_quick(company, DAY))
    store.save("files", train_quick(company, END))
    assert store.latest("files", DAY).trained_as_of == DAY
    assert store.latest("files").trained_as_of == END
    assert store.latest("files", "2026-01-01") is None
    bundle = store.latest("files", DAY)
    assert learning.predict(company, DAY, bundle) == learning.predict(company, DAY)
    with pytest.raises(ValueError, match="seen the future"):
        learning.predict(company, DAY, store.latest("files"))


def test_evaluate_writes_the_report_with_baselines(company, tmp_path):
    path = learning.evaluate(company, END, tmp_path)
    text = path.read_text()
    for needle in ("days since last order ≥ mean interval", "order frequency", "stage base rate", "source base rate",
                   "Brier", "Bias audit", "precision@k"):
        assert needle in text
    for png in ("calibration.png", "gain.png", "reorder_precision_at_k.png", "acceptance_by_action.png"):
        assert (tmp_path / png).stat().st_size > 1000


def test_training_learns_success_rates_and_the_cards_use_them(company):
    """After `train`, common actions carry a success rate from history and their impact moves with it."""
    from stepwise.engine.catalog import load_catalog
    from stepwise.engine.models.apply import COLD_START_NOTE, EngineModels
    from stepwise.engine.run import recommend
    from stepwise.engine.training import train

    bundle = train(company, END)
    eff = bundle.metrics["effectiveness"]
    assert bundle.effectiveness is not None and eff["actions_with_rate"] >= 10
    assert {"book_feature_demo", "follow_up_quote", "call_for_replenishment"} <= set(eff["rates"])

    catalog = load_catalog()
    before = {(r.record_id, r.action_id): r for r in recommend(company, END, catalog).recommendations}
    after = recommend(company, END, catalog, models=EngineModels(effectiveness=bundle.effectiveness,
                                                                  exploration_share=0)).recommendations
    learned = set(eff["rates"])
    with_rate = [r for r in after if r.action_id in learned]
    assert with_rate and all(r.success_rate is not None and 0 < r.success_rate < 1 for r in with_rate)
    assert all(COLD_START_NOTE not in r.why for r in with_rate)
    # Actions history says little about keep the catalog's impact, and say so.
    cold = [r for r in after if r.action_id not in learned and r.record_type != "lead"]
    assert all(r.success_rate is None for r in cold)
    assert any(COLD_START_NOTE in r.why for r in cold)
    # Impact follows the rate: above-average actions gain, below-average ones lose.
    moved = [(r.factors.impact - before[(r.record_id, r.action_id)].factors.impact, r.success_rate)
             for r in with_rate if (r.record_id, r.action_id) in before]
    overall = eff["overall_rate"]
    assert any(d > 0 for d, rate in moved if rate > overall * 1.05)
    assert any(d < 0 for d, rate in moved if rate < overall * 0.95)


def test_train_and_store_learns_from_accepted_recommendations(company, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    from stepwise.engine.catalog import load_catalog
    from stepwise.engine.run import recommend
    from stepwise.store import Store

    store = Store(url)
    run = store.start_run("files", DAY, "priors-1")
    recs = [r for r in recommend(company, DAY, load_catalog(), source="files").recommendations
            if r.record_type == "deal"][:5]
    store.upsert_recommendations(run, recs)
    for r in recs:
        store.record_feedback(r.id, "accepted", "rep_01")
    feedback = learning.accepted_feedback(url, "files")
    assert set(feedback["status"]) == {"accepted"} and len(feedback) == 5
    # Accepted just now: until their 90-day window has passed they wait (no invented outcomes) …
    bundle = learning.train_and_store(company, "files", END, url)
    assert "accepted" not in bundle.metrics["effectiveness"]["from"]
    # … and once it has, they count (deals still open after 90 days: not won within the window).
    later = (pd.to_datetime(feedback["updated_at"], utc=True).max() + pd.Timedelta(days=91)).strftime("%Y-%m-%d")
    bundle = learning.train_and_store(company, "files", later, url)
    assert bundle.metrics["effectiveness"]["from"]["accepted"] >= 1
    assert ModelStore(url).latest("files").effectiveness is not None


def test_a_stored_model_of_an_older_family_is_skipped_and_the_run_learns_its_own(company, tmp_path, caplog):
    from stepwise.engine.training import MODEL_FAMILY, train_quick
    from stepwise.store import Store
    from stepwise.workers.run_models import predictors_for

    url = f"sqlite:///{tmp_path / 'models.db'}"
    store = Store(url)
    stored = train_quick(company, DAY)
    stored.version = f"{MODEL_FAMILY}@{DAY}"
    ModelStore(url).save("files", stored)
    assert predictors_for(company, "files", pd.Timestamp(DAY, tz="UTC"), store).version == f"{MODEL_FAMILY}@{DAY}"

    old = train_quick(company, DAY)
    old.version = f"learned-1@{DAY}"  # an artifact from before the calibrated estimators: not readable as predictions
    ModelStore(url).save("other", old)
    with caplog.at_level("WARNING"):
        learned = predictors_for(company, "other", pd.Timestamp(DAY, tz="UTC"), store)
    assert learned.version == f"{MODEL_FAMILY}-auto@{DAY}"
    assert "predates" in caplog.text
