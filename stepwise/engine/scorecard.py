"""What reps are told, checked against what customers did next: the cards themselves, out of time.

For each as-of day, the engine runs as it would have that morning — models learned from
what was known then, the default catalog and rules — and its cards are compared with the
orders placed afterwards, each against a naive baseline **at the same count**:

| measure                                   | ours                                             | baselines (same count)                                |
|-------------------------------------------|--------------------------------------------------|-------------------------------------------------------|
| replenishment call precision (14 days)    | share of accounts with a call card that ordered   | base rate; the "due" rule (days since last ÷ mean interval, highest first); order frequency (365 d) |
| ranking AUC (14 days)                     | `p_order_next_14d` over all accounts with orders  | order frequency; the due ratio                        |
| offered-product precision                 | products on replenishment cards in the next order | the account's own most-bought products                |
| cross-sell hits per 100 offers (30 days)  | never-bought products offered, bought within 30 d | the most popular products the account never bought    |

Pure: the data and days in, numbers out; nothing after a day is read when scoring it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stepwise.engine.catalog import Catalog
from stepwise.engine.history import as_known_on
from stepwise.engine.models.base import auc
from stepwise.engine.models.features import account_order_features
from stepwise.engine.models.products import bought_between, dated_lines, next_order_products, order_lines_until
from stepwise.engine.records import CanonicalData, as_utc

CALL_DAYS = 14
CROSS_SELL_DAYS = 30
DAY = pd.Timedelta(days=1)


def evaluation_days(data: CanonicalData, end: str | pd.Timestamp, count: int = 4, step_days: int = 14) -> list[pd.Timestamp]:
    """`count` as-of days, `step_days` apart, the latest leaving a full cross-sell window before `end`."""
    last = as_utc(end) - CROSS_SELL_DAYS * DAY
    return sorted(last - i * step_days * DAY for i in range(count))


def scorecard(data: CanonicalData, days: list[pd.Timestamp], catalog: Catalog, train=None) -> dict[str, Any]:
    """Per day and on average: the measures of the module docstring.  `train(data, day)` → Predictors."""
    from stepwise.engine.run import recommend

    if train is None:
        from stepwise.engine.training import train_predictors as train
    rows = []
    dated = dated_lines(data)  # every order line with its day, joined once for all the days
    for day in days:
        known = as_known_on(data, day)
        predictors = train(known, day)
        result = recommend(known, day, catalog, predictors=predictors)
        cards = pd.DataFrame([{"account_id": r.account_id, "action_id": r.action_id, "record_type": r.record_type,
                               "products": [(p["product_id"], p["role"]) for p in r.offer.get("products", [])]}
                              for r in result.recommendations if r.record_type == "account"])
        rows.append(_day_measures(data, known, day, cards, predictors, dated))
    return {"days": rows, "mean": _mean(rows)}


def _day_measures(data: CanonicalData, known: CanonicalData, day: pd.Timestamp, cards: pd.DataFrame,
                  predictors, dated: pd.DataFrame) -> dict[str, Any]:
    X = account_order_features(known, day)
    orders = data.table("orders")
    after = orders[(orders["ordered_at"] > day) & (orders["ordered_at"] <= day + CALL_DAYS * DAY)]
    y = pd.Series(X.index.isin(set(after["account_id"])).astype(int), index=X.index)
    out: dict[str, Any] = {"day": f"{day:%Y-%m-%d}", "accounts": int(len(X)), "base_rate": _f(y.mean())}

    calls = cards[cards["action_id"] == "call_for_replenishment"] if not cards.empty else cards
    flagged = pd.Index(calls["account_id"].unique()) if not calls.empty else pd.Index([])
    flagged = flagged.intersection(X.index)
    n = len(flagged)
    frequency = X["orders_365d"].fillna(0)
    due = X["due_ratio"].fillna(-1)
    out["calls"] = n
    out["call_precision"] = _f(y.reindex(flagged).mean()) if n else None
    out["due_rule_precision"] = _top_precision(y, due, n)
    out["frequency_precision"] = _top_precision(y, frequency, n)

    p = None
    if predictors is not None and predictors.reorder is not None and getattr(predictors.reorder, "fitted_", False):
        p = pd.Series(predictors.reorder.predict_proba(X), index=X.index)
    out["auc_model"] = _f(auc(y, p)) if p is not None else None
    out["auc_frequency"] = _f(auc(y, frequency))
    out["auc_due_rule"] = _f(auc(y, due))

    out.update(_offered_products(data, known, day, calls, predictors, dated))
    out.update(_cross_sell(data, day, cards, dated))
    return out


def _top_precision(y: pd.Series, score: pd.Series, n: int) -> float | None:
    if n == 0:
        return None
    order = np.argsort(-score.to_numpy(dtype=float), kind="stable")[:n]
    return _f(y.to_numpy()[order].mean())


def _offered_products(data: CanonicalData, known: CanonicalData, day: pd.Timestamp, calls: pd.DataFrame,
                      predictors, dated: pd.DataFrame) -> dict:
    """Products on replenishment cards that are in the account's next order (accounts that ordered within 30 days);
    and the learned ranking before the product rules took out what is out of stock or under the margin floor."""
    if calls.empty or data.order_lines is None:
        return {"offered_products": 0, "offered_precision": None, "most_bought_precision": None,
                "ranking_precision": None}
    nxt = next_order_products(data, day, CROSS_SELL_DAYS, dated).groupby("account_id")["product_id"].agg(set).to_dict()
    lines = order_lines_until(known, day, dated=dated)
    most = (lines.groupby(["account_id", "product_id"]).size().rename("n").reset_index()
            .sort_values(["account_id", "n", "product_id"], ascending=[True, False, True]))
    most = most.groupby("account_id")["product_id"].agg(list).to_dict()
    model = predictors.products if predictors is not None else None
    ranked: dict[str, list[str]] = {}
    if model is not None:
        due = model.due_products(known, day, lines).sort_values(["account_id", "propensity"], ascending=[True, False],
                                                        kind="stable")
        ranked = due.groupby("account_id")["product_id"].agg(list).to_dict()
    ours, base, before = [], [], []
    for account, products in zip(calls["account_id"], calls["products"]):
        if account not in nxt or not products:
            continue
        bought = nxt[account]
        ids = [pid for pid, _ in products]
        ours += [pid in bought for pid in ids]
        base += [pid in bought for pid in most.get(account, [])[:len(ids)]]
        before += [pid in bought for pid in ranked.get(account, [])[:len(ids)]]
    return {"offered_products": len(ours), "offered_precision": _f(np.mean(ours)) if ours else None,
            "most_bought_precision": _f(np.mean(base)) if base else None,
            "ranking_precision": _f(np.mean(before)) if before else None}


def _cross_sell(data: CanonicalData, day: pd.Timestamp, cards: pd.DataFrame, dated: pd.DataFrame) -> dict:
    """Never-bought products offered on any account card, bought within 30 days, per 100 offers."""
    empty = {"cross_sell_offers": 0, "cross_sell_hits_per_100": None, "popularity_hits_per_100": None}
    if cards.empty or data.order_lines is None:
        return empty
    lines = order_lines_until(data, day, dated=dated)
    owned = lines.groupby("account_id")["product_id"].agg(set).to_dict()
    offers = {(a, pid) for a, products in zip(cards["account_id"], cards["products"]) for pid, _ in products
              if pid not in owned.get(a, set())}
    if not offers:
        return empty
    bought = set(map(tuple, bought_between(data, day, day + CROSS_SELL_DAYS * DAY, dated).to_numpy()))
    popular = lines.drop_duplicates(["account_id", "product_id"]).groupby("product_id").size()
    popular = popular.sort_values(ascending=False, kind="stable").index.tolist()
    per_account = pd.Series([a for a, _ in offers]).value_counts()
    base = []
    for account, k in per_account.items():
        mine = owned.get(account, set())
        base += [(account, pid) for pid in [p for p in popular[: k + len(mine) + 1] if p not in mine][:k]]
    return {"cross_sell_offers": len(offers),
            "cross_sell_hits_per_100": _f(100 * np.mean([o in bought for o in offers])),
            "popularity_hits_per_100": _f(100 * np.mean([o in bought for o in base])) if base else None}


def _f(value) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 4)


def _mean(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in rows[0] if rows else []:
        if key == "day":
            continue
        values = [r[key] for r in rows if isinstance(r.get(key), (int, float)) and r[key] is not None]
        out[key] = round(float(np.mean(values)), 4) if values else None
    return out


def to_markdown(card: dict[str, Any]) -> str:
    """One table, a row per measure, a column per day and the mean."""
    measures = [
        ("Replenishment call precision (14 d)", "call_precision"), ("… base rate", "base_rate"),
        ("… the due rule, same count", "due_rule_precision"), ("… order frequency, same count", "frequency_precision"),
        ("Accounts called", "calls"),
        ("AUC of p_order_next_14d", "auc_model"), ("… order frequency", "auc_frequency"),
        ("… the due rule", "auc_due_rule"),
        ("Offered-product precision (next order)", "offered_precision"),
        ("… the learned ranking before the product rules", "ranking_precision"),
        ("… the account's most-bought, same count", "most_bought_precision"),
        ("Cross-sell offers of never-bought products", "cross_sell_offers"),
        ("Cross-sell hits per 100 offers (30 d)", "cross_sell_hits_per_100"),
        ("… most popular never-bought, same count", "popularity_hits_per_100"),
    ]
    days = [r["day"] for r in card["days"]]
    head = "| measure | " + " | ".join(days) + " | mean |\n|---|" + "---|" * (len(days) + 1) + "\n"

    counts = {"calls", "cross_sell_offers", "accounts", "offered_products"}

    def cell(key, v):
        if v is None:
            return "–"
        if key in counts:
            return f"{v:,.0f}"
        return f"{v:.2f}" if key.endswith("per_100") else f"{v:.3f}"

    body = "".join(f"| {label} | " + " | ".join(cell(key, r.get(key)) for r in card["days"])
                   + f" | {cell(key, card['mean'].get(key))} |\n" for label, key in measures)
    return head + body


__all__ = ["scorecard", "evaluation_days", "to_markdown"]
