"""The product engine (README, "What Stepwise does"): what an account could be offered, filtered by the product rules.

Per account: the products it buys and is due to buy again (replenishment), products it
has never bought (cross-sell: the admin's `compatible_with` list, and what the learned
product model says is bought together or popular in its segment), and in-stock
substitutes for what is out of stock.  With a ProductModel (engine/models/products.py)
replenishment is ranked by the learned chance of being in the next order; without one,
by how much the account bought.  Admin lists still count and win ties: a `compatible_with`
product comes before a learned one.  Each proposed product then meets the deterministic
product rules — margin at the account's discount ceiling, deliverable stock, segment
approval — and is either kept or removed with the rule and a reason a rep can read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.catalog import Rules
from stepwise.engine.records import CanonicalData

OFFER_COLUMNS = ["account_id", "kind", "product_id", "product_name", "for_product_id", "for_product_name", "margin_pct",
                 "available", "allowed", "rule", "reason", "rank", "source", "propensity"]
REPLENISH_PROPOSED = 6   # per account before the rules: two to offer, spares for what the rules remove
_SOURCE_ORDER = {"catalog": 0, "learned": 1, "history": 1}


def discount_ceiling(accounts: pd.DataFrame, rules: Rules) -> pd.Series:
    """The most a rep may discount per account: the contract's, else the default; zero while overdue."""
    ceiling = accounts["max_discount_pct"].fillna(rules.default_max_discount_pct).clip(upper=100)
    return ceiling.where(~(accounts["overdue_max_days"] > rules.overdue_days), 0.0)


def product_offers(data: CanonicalData, as_of: pd.Timestamp, accounts: pd.DataFrame, rules: Rules,
                   learned=None) -> pd.DataFrame:
    """Every proposed (account, product) with the rule verdict; empty without ERP tables.

    `learned`: the product model's scores for this run (engine/predictions.ProductScores), None = no model.
    """
    products = _product_facts(data)
    if products.empty or data.orders is None or data.order_lines is None:
        return pd.DataFrame(columns=OFFER_COLUMNS)
    bought = _purchases(data, as_of)
    cross = _compatible_not_bought(bought, products).assign(source="catalog", propensity=np.nan)
    if learned is not None:
        due = learned.due[learned.due["product_id"].isin(products.index)]
        replenish = (due.sort_values(["account_id", "propensity"], ascending=[True, False], kind="stable")
                     .groupby("account_id").head(REPLENISH_PROPOSED)
                     .assign(kind="replenish", for_product_id=None, source="learned"))
        new = learned.new[learned.new["product_id"].isin(products.index)]
        new = new.rename(columns={"because_id": "for_product_id"}).assign(kind="cross_sell", source="learned")
        cross = pd.concat([cross, new[["account_id", "product_id", "kind", "for_product_id", "source", "propensity"]]],
                          ignore_index=True).drop_duplicates(["account_id", "product_id"])  # the admin's entry wins
    else:
        replenish = bought.sort_values(["account_id", "quantity"], ascending=[True, False], kind="stable")
        replenish = replenish.groupby("account_id").head(2).assign(kind="replenish", for_product_id=None,
                                                                   source="history", propensity=np.nan)
    columns = ["account_id", "product_id", "kind", "for_product_id", "source", "propensity"]
    proposed = pd.concat([replenish[columns], cross[columns]], ignore_index=True)
    stock_known = data.stock is not None  # no stock.csv: availability unknown, not zero
    judged = _judge(proposed, products, accounts, rules, stock_known)
    substitutes = _substitutes_for(judged[judged["rule"] == "stock"], products).assign(source="catalog", propensity=np.nan)
    if learned is not None and not learned.alternatives.empty:
        # Where the admin named no substitute: the in-stock product of the same category bought most alike.
        gone = judged[(judged["rule"] == "stock") & (judged["kind"] == "replenish")]
        gone = gone[~gone.set_index(["account_id", "product_id"]).index.isin(
            substitutes.set_index(["account_id", "for_product_id"]).index)]
        alike = (gone[["account_id", "product_id"]].rename(columns={"product_id": "for_product_id"})
                 .merge(learned.alternatives, on="for_product_id")
                 .assign(kind="substitute", source="learned", propensity=np.nan))
        substitutes = pd.concat([substitutes, alike[substitutes.columns]], ignore_index=True).drop_duplicates(
            ["account_id", "product_id"])
    judged = pd.concat([judged, _judge(substitutes, products, accounts, rules, stock_known)], ignore_index=True)
    judged = judged.assign(_source=judged["source"].map(_SOURCE_ORDER).fillna(1),
                           _propensity=judged["propensity"].astype(float).fillna(-1.0),
                           _order=np.arange(len(judged)))
    # Best first within each kind: the admin's lists, then the learned propensity (replenishment without a model:
    # the order it was proposed in, by quantity bought), then margin.
    judged = judged.sort_values(["account_id", "kind", "allowed", "_source", "_propensity", "_order", "margin_pct"],
                                ascending=[True, True, False, True, False, True, False], kind="stable")
    judged["rank"] = judged.groupby(["account_id", "kind"]).cumcount() + 1
    judged["for_product_name"] = judged["for_product_id"].map(products["name"])
    return judged[OFFER_COLUMNS].reset_index(drop=True)


def _product_facts(data: CanonicalData) -> pd.DataFrame:
    products = data.table("products").set_index("product_id")
    available = data.table("stock").groupby("product_id")["available"].sum()
    products["available"] = available.reindex(products.index)
    return products


def _purchases(data: CanonicalData, as_of: pd.Timestamp) -> pd.DataFrame:
    orders = data.table("orders")
    recent = orders[(orders["ordered_at"] <= as_of) & (orders["ordered_at"] > as_of - pd.Timedelta(days=365))]
    lines = data.table("order_lines").merge(recent[["order_id", "account_id"]], on="order_id")
    return lines.groupby(["account_id", "product_id"], as_index=False)["quantity"].sum()


def _compatible_not_bought(bought: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    links = products["compatible_with"].explode().dropna()
    pairs = pd.DataFrame({"product_id": links.index, "other": links.to_numpy()})
    # Compatibility goes both ways: a consumable fits its machine and the machine takes the consumable.
    both = pd.concat([pairs, pairs.rename(columns={"product_id": "other", "other": "product_id"})], ignore_index=True)
    both = both.drop_duplicates()
    candidates = bought[["account_id", "product_id"]].merge(both, on="product_id")
    candidates = candidates.rename(columns={"product_id": "for_product_id", "other": "product_id"})
    owned = bought.set_index(["account_id", "product_id"]).index
    fresh = ~candidates.set_index(["account_id", "product_id"]).index.isin(owned)
    candidates = candidates[fresh].drop_duplicates(["account_id", "product_id"])
    return candidates.assign(kind="cross_sell")[["account_id", "product_id", "kind", "for_product_id"]]


def _substitutes_for(out_of_stock: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    subs = products["substitutes"].explode().dropna()
    pairs = pd.DataFrame({"for_product_id": subs.index, "product_id": subs.to_numpy()})
    found = out_of_stock[["account_id", "product_id"]].rename(columns={"product_id": "for_product_id"}).merge(pairs, on="for_product_id")
    return found.assign(kind="substitute")[["account_id", "product_id", "kind", "for_product_id"]].drop_duplicates(["account_id", "product_id"])


def _judge(proposed: pd.DataFrame, products: pd.DataFrame, accounts: pd.DataFrame, rules: Rules,
           stock_known: bool = True) -> pd.DataFrame:
    """Apply the product rules in a fixed order; the first rule that fails is the recorded one.

    Without a stock table the stock rule is off (availability unknown); without a unit cost the margin is unknown
    and the margin rule does not fire: a rule judges facts, it does not guess them.
    """
    if proposed.empty:
        return proposed.assign(product_name=None, margin_pct=np.nan, available=np.nan, allowed=True, rule=None, reason=None)
    facts = products.reindex(proposed["product_id"])
    ceiling = discount_ceiling(accounts, rules).reindex(proposed["account_id"]).to_numpy()
    segment = accounts["segment"].reindex(proposed["account_id"]).to_numpy()
    price = facts["list_price"].to_numpy() * (1 - ceiling / 100)
    margin = np.round(100 * (price - facts["unit_cost"].to_numpy()) / np.where(price > 0, price, np.nan), 1)
    available = facts["available"].to_numpy()
    names = facts["name"].fillna(pd.Series(proposed["product_id"].to_numpy(), index=facts.index)).to_numpy()
    approved = facts["approved_segments"].to_numpy()
    not_approved = np.array([bool(a) and s not in a for a, s in zip(approved, segment)], dtype=bool)

    low_margin = margin < rules.min_margin_pct
    no_stock = ~(available > 0) if stock_known else np.zeros(len(proposed), dtype=bool)
    rule = np.select([no_stock, low_margin, not_approved], ["stock", "min_margin", "segment_approval"], None)
    reason = np.select(
        [no_stock, low_margin, not_approved],
        [
            pd.Series(names) + ": no deliverable stock",
            pd.Series(names) + ": margin " + pd.Series(margin).map("{:.0f}".format) + "% at the "
            + pd.Series(ceiling).map("{:.0f}".format) + f"% discount ceiling is below the {rules.min_margin_pct:.0f}% floor",
            pd.Series(names) + " is not approved for the " + pd.Series(segment).astype(str)
            + " segment: request inclusion before offering it",
        ],
        None,
    )
    return proposed.assign(
        product_name=names, margin_pct=margin, available=available,
        allowed=rule == None, rule=rule, reason=reason,  # noqa: E711 - elementwise on an object array
    )
