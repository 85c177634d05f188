"""Learned predictions as signals: AI proposes (README, "Learned predictions"), through the same catalog triggers as any fact.

`Predictors` holds what was learned from the company's own history as of a day (the
reorder, win and lead-conversion models and the product model); `prediction_signals`
turns them into columns of the account, deal and lead signal frames:

| scope   | column                    | meaning                                                            |
|---------|---------------------------|--------------------------------------------------------------------|
| account | p_order_next_14d          | P(an order in the next 14 days), calibrated out of time            |
| account | reorder_lift              | that probability ÷ the base rate (2 = twice as likely as usual)    |
| account | days_to_predicted_order   | days until the expected next order (0 = due now)                   |
| account | churn_risk                | 0–1: how far the expected order is missing against the account's usual rhythm |
| account | expected_order_value      | the account's mean order value over 365 days                       |
| account | expected_value            | p_order_next_14d × expected_order_value                            |
| account | cross_sell_propensity     | the best never-bought product's chance of being bought within 30 days |
| deal    | win_probability           | P(won), calibrated and shrunk to the base rate where signal is thin |
| deal    | expected_value            | win_probability × amount                                           |
| lead    | conversion_probability    | P(converted)                                                       |
| lead    | expected_value            | conversion_probability × estimated value                           |
| all     | value_index               | log2(expected value ÷ the typical one at training): 0 = typical    |
| all     | predicted                 | true where a trained model scored the record (false = cold start)  |

With no trained model (too little history, or none passed), the columns are unknown, the
catalog's threshold triggers apply (`missing(p_order_next_14d) and …`) and the card says so.
Pure: frames and fitted estimators in, frames out; the day is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stepwise.engine.models.features import account_order_features, deal_features, lead_features
from stepwise.engine.models.lead import LeadConversionModel
from stepwise.engine.models.products import ProductModel, order_lines_until
from stepwise.engine.models.reorder import ReorderModel
from stepwise.engine.models.win import WinModel
from stepwise.engine.records import CanonicalData

HORIZON_DAYS = 14
CROSS_SELL_PER_ACCOUNT = 8  # never-bought products scored per account: the cards' two, spares for the rules

ACCOUNT_PREDICTIONS: dict[str, str] = {
    "p_order_next_14d": "learned P(an order in the next 14 days)",
    "reorder_lift": "P(order in 14 days) ÷ the base rate (2 = twice as likely as a typical account)",
    "days_to_predicted_order": "days until the expected next order (0 = due now)",
    "churn_risk": "0–1: the expected order is missing against the account's usual rhythm",
    "expected_order_value": "mean order value over 365 days",
    "expected_value": "P(order in 14 days) × expected order value",
    "cross_sell_propensity": "learned chance the best never-bought product is bought within 30 days",
    "value_index": "log2(expected value ÷ the typical one): 0 = typical, 1 = twice",
    "predicted": "a trained model scored the account (false = cold start: thresholds apply)",
    "prediction_note": "one line saying what the prediction is and what it stands on",
}
DEAL_PREDICTIONS: dict[str, str] = {
    "win_probability": "learned P(won), calibrated out of time",
    "deal_expected_value": "win probability × amount",
    "deal_value_index": "log2(deal expected value ÷ the typical one): 0 = typical",
    "deal_predicted": "a trained win model scored the deal",
}
LEAD_PREDICTIONS: dict[str, str] = {
    "conversion_probability": "learned P(the lead converts)",
    "lead_expected_value": "conversion probability × estimated value",
    "lead_value_index": "log2(lead expected value ÷ the typical one): 0 = typical",
    "lead_predicted": "a trained lead model scored the lead",
}


@dataclass
class Predictors:
    """What was learned as of `trained_as_of`; any part may be None (not enough history for it)."""

    version: str
    trained_as_of: str
    reorder: ReorderModel | None = None
    win: WinModel | None = None
    lead: LeadConversionModel | None = None
    products: ProductModel | None = None
    # Typical expected values at training (the value_index's 0), per scope: chunk-independent.
    reference_value: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class ProductScores:
    """The product model's output for one run, computed once: due products and never-bought ones per account."""

    due: pd.DataFrame  # account_id, product_id, propensity
    new: pd.DataFrame  # account_id, product_id, because_id, propensity
    alternatives: pd.DataFrame  # for_product_id (out of stock) → product_id (in stock, same category, bought alike)


def product_scores(data: CanonicalData, as_of: pd.Timestamp, predictors: Predictors | None) -> ProductScores | None:
    model = predictors.products if predictors is not None else None
    if model is None or data.orders is None or data.order_lines is None:
        return None
    stock = data.table("stock").groupby("product_id")["available"].sum()
    products = data.table("products")
    out = pd.Index(products.loc[~products["product_id"].map(stock).gt(0), "product_id"])
    categories = products.drop_duplicates("product_id").set_index("product_id")["category"]
    lines = order_lines_until(data, as_of, model.history_days)
    return ProductScores(due=model.due_products(data, as_of, lines),
                         new=model.new_products(data, as_of, per_account=CROSS_SELL_PER_ACCOUNT, lines=lines),
                         alternatives=model.alternatives(out, pd.Index(stock[stock > 0].index), categories))


def _fitted(model: Any) -> bool:
    return model is not None and bool(getattr(model, "fitted_", False))


def _weight(model: Any) -> float:
    """How far the model's own out-of-time check trusts it (0 = no better than the base rate there)."""
    return float((getattr(model, "validation_", None) or {}).get("weight", 1.0))


def _value_index(value: pd.Series, reference: float | None) -> pd.Series:
    if not reference or not np.isfinite(reference) or reference <= 0:
        return pd.Series(np.nan, index=value.index)
    return np.log2(value.clip(lower=reference / 64) / reference).round(2)


def account_predictions(data: CanonicalData, as_of: pd.Timestamp, predictors: Predictors | None,
                        index: pd.Index, products: ProductScores | None = None) -> pd.DataFrame:
    out = pd.DataFrame(index=index, columns=list(ACCOUNT_PREDICTIONS), dtype=float)
    out["predicted"] = False
    out["prediction_note"] = None
    model = predictors.reorder if predictors is not None else None
    if data.orders is None:
        return out
    X = account_order_features(data, as_of)
    X = X[X.index.isin(index)]
    if not _fitted(model) or X.empty or _weight(model) == 0:
        out["prediction_note"] = out["prediction_note"].astype(object)
        out.loc[X.index, "prediction_note"] = (
            "No reorder model yet (too little order history): triggered by the ordering rhythm." if not _fitted(model)
            else "The reorder model found no reliable signal in this history: triggered by the ordering rhythm.")
        return out
    p = pd.Series(model.predict_proba(X), index=X.index)
    base = max(float(model.base_rate_), 1e-6)
    value = _order_value(data, as_of).reindex(X.index)
    # The usual chance of an order in any 14 days, from the account's own 365-day frequency.
    usual = 1 - np.exp(-HORIZON_DAYS * X["orders_365d"].clip(lower=0) / 365)
    nxt = model.expected_next_order(X, as_of)
    out.loc[X.index, "p_order_next_14d"] = p.round(4)
    out.loc[X.index, "reorder_lift"] = (p / base).round(2)
    out.loc[X.index, "days_to_predicted_order"] = ((nxt - as_of) / pd.Timedelta(days=1)).clip(lower=0).round(0)
    out.loc[X.index, "churn_risk"] = (1 - p / usual.where(usual > 0)).clip(0, 1).where(usual >= 0.2).round(3)
    out.loc[X.index, "expected_order_value"] = value.round(2)
    ev = p * value
    out.loc[X.index, "expected_value"] = ev.round(2)
    out.loc[X.index, "value_index"] = _value_index(ev, predictors.reference_value.get("account"))
    out.loc[X.index, "predicted"] = True
    pct = (100 * p).round(0).astype(int).astype(str)
    out["prediction_note"] = out["prediction_note"].astype(object)
    out.loc[X.index, "prediction_note"] = (
        "Learned from the order history: " + pct + "% chance of an order in the next 14 days (a typical account: "
        + f"{100 * base:.0f}%).")
    if products is not None and not products.new.empty:
        best = products.new.groupby("account_id")["propensity"].max()
        out.loc[best.index.intersection(index), "cross_sell_propensity"] = best.round(4)
    out["predicted"] = out["predicted"].astype(bool)
    return out


def _order_value(data: CanonicalData, as_of: pd.Timestamp) -> pd.Series:
    orders = data.table("orders")
    recent = orders[(orders["ordered_at"] <= as_of) & (orders["ordered_at"] > as_of - pd.Timedelta(days=365))]
    if "total" not in recent:
        return pd.Series(dtype=float)
    return pd.to_numeric(recent["total"], errors="coerce").groupby(recent["account_id"]).mean()


def deal_predictions(data: CanonicalData, as_of: pd.Timestamp, predictors: Predictors | None,
                     index: pd.Index) -> pd.DataFrame:
    out = pd.DataFrame(index=index, columns=list(DEAL_PREDICTIONS), dtype=float)
    out["deal_predicted"] = False
    model = predictors.win if predictors is not None else None
    if not _fitted(model) or len(index) == 0:
        return out
    X = deal_features(data, as_of)
    X = X[X.index.isin(index)]
    if X.empty:
        return out
    p = pd.Series(model.predict_proba(X), index=X.index)
    return _with_value(out, p, X["amount"].astype(float), predictors.reference_value.get("deal"),
                       list(DEAL_PREDICTIONS))


def lead_predictions(data: CanonicalData, as_of: pd.Timestamp, predictors: Predictors | None,
                     index: pd.Index, open_leads: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=index, columns=list(LEAD_PREDICTIONS), dtype=float)
    out["lead_predicted"] = False
    model = predictors.lead if predictors is not None else None
    if not _fitted(model) or len(index) == 0:
        return out
    X = lead_features(data, as_of, open_leads)
    X = X[X.index.isin(index)]
    if X.empty:
        return out
    p = pd.Series(model.predict_proba(X), index=X.index)
    value = open_leads.drop_duplicates("lead_id").set_index("lead_id")["estimated_value"].reindex(X.index)
    return _with_value(out, p, pd.to_numeric(value, errors="coerce"), predictors.reference_value.get("lead"),
                       list(LEAD_PREDICTIONS))


def _with_value(out: pd.DataFrame, p: pd.Series, value: pd.Series, reference: float | None,
                columns: list[str]) -> pd.DataFrame:
    """`columns` = probability, expected value, value index, predicted flag (the *_PREDICTIONS order)."""
    probability, expected, index, flag = columns
    ev = p * value
    out.loc[p.index, probability] = p.round(4)
    out.loc[p.index, expected] = ev.round(2)
    out.loc[p.index, index] = _value_index(ev, reference)
    out.loc[p.index, flag] = True
    out[flag] = out[flag].astype(bool)
    return out


def reference_values(predictors: Predictors, deal_rows: pd.DataFrame, account_rows: pd.DataFrame,
                     lead_rows: pd.DataFrame) -> dict[str, float]:
    """The median expected value per scope on the training rows' latest snapshot: what value_index measures
    against (read off rows training already built: no second pass over the data)."""
    out: dict[str, float] = {}

    def latest(rows: pd.DataFrame) -> pd.DataFrame:
        return rows[rows["snapshot"] == rows["snapshot"].max()] if "snapshot" in rows and len(rows) else rows

    def median(p, value) -> float | None:
        ev = np.asarray(p, dtype=float) * np.asarray(value, dtype=float)
        ev = ev[np.isfinite(ev) & (ev > 0)]
        return float(np.median(ev)) if len(ev) else None

    parts = [("deal", predictors.win, latest(deal_rows), lambda X: X["amount"]),
             ("account", predictors.reorder, latest(account_rows),
              lambda X: np.expm1(X["log_value_365d"]) / X["orders_365d"].clip(lower=1)),
             ("lead", predictors.lead, lead_rows, lambda X: np.expm1(X["log_estimated_value"]))]
    for scope, model, X, value in parts:
        if _fitted(model) and len(X):
            found = median(model.predict_proba(X), value(X))
            if found is not None:
                out[scope] = found
    return out


__all__ = ["Predictors", "account_predictions", "deal_predictions", "lead_predictions", "reference_values",
           "ACCOUNT_PREDICTIONS", "DEAL_PREDICTIONS", "LEAD_PREDICTIONS"]


VALUE_INDEX_COLUMN = {"account": "value_index", "deal": "deal_value_index", "lead": "lead_value_index"}
ACCOUNT_VALUE_CATEGORIES = frozenset({"replenishment", "cross-sell", "risk"})


def value_weighted_impact(candidates: pd.DataFrame, sig: dict[str, pd.DataFrame],
                          categories: pd.Series) -> pd.DataFrame:
    """Impact × √(expected value ÷ the typical one), within ×0.5–×1.5, where a model predicted the value.

    Expected value = win probability × amount (deals), P(order) × order value (accounts), P(convert) ×
    estimated value (leads).  A large, likely deal then outranks a small, unlikely one with the same
    action; account actions only where the next order is what they are about (`categories`: each
    candidate's action category).  Adds `value_multiplier` (1 where nothing was predicted).
    """
    if candidates.empty:
        return candidates.assign(value_multiplier=pd.Series(dtype=float))
    index = pd.Series(np.nan, index=candidates.index)
    for scope, column in VALUE_INDEX_COLUMN.items():
        frame = sig.get(scope)
        if frame is None or frame.empty or column not in frame:
            continue
        here = candidates["scope"] == scope
        if scope == "account":
            here &= categories.isin(ACCOUNT_VALUE_CATEGORIES)
        values = frame[column]
        values = values[~values.index.duplicated()]
        index[here] = candidates.loc[here, "record_id"].map(values).astype(float)
    multiplier = np.clip(np.power(2.0, index.to_numpy(dtype=float) / 2), 0.5, 1.5)
    multiplier = np.where(np.isnan(multiplier), 1.0, multiplier)
    out = candidates.copy()
    out["impact"] = np.clip(out["impact"].to_numpy(dtype=float) * multiplier, 0, 100).round(1)
    out["value_multiplier"] = multiplier.round(2)
    return out
