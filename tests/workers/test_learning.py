"""train / predict / evaluate: the predict contract, no peeking past the as-of day, stored versions, the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stepwise.engine.records import CanonicalData, coerce_table
from stepwise.integration.files import FilesConnector
from stepwise.integration.model_store import ModelStore
from stepwise.integration.sample_company import write_company
from stepwise.workers import learning

END = "2026-11-23"
DAY = "2026-09-24"  # the as-of day of the predictions: two months before the data ends


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> CanonicalData:
    folder = tmp_path_factory.mktemp("company")
    write_company(folder, as_of=END, accounts=150, seed=3)
    return FilesConnector(folder).pull()


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
    assert list(result) == ["model_version", "deals", "accounts", "leads"]
    assert result["deals"] and result["accounts"] and result["leads"]
    assert set(result["deals"][0]) == {"deal_id", "win_probability"}
    assert set(result["accounts"][0]) == {"account_id", "expected_next_order_at", "p_order_next_14d"}
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
    from stepwise.engine.models.training import train

    store.save("files", train(company, DAY))
    store.save("files", train(company, END))
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
