"""Step 6: explain — what to do, why now, what offer, which constraints (seed 002's four questions).

Templates are the catalog's; the facts are the record's signals plus what the
rules decided (products, asset, discount ceiling).  Only the chosen few are
explained, so this is the one place a per-recommendation loop is fine.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from stepwise.engine.catalog import Action, Rules
from stepwise.engine.templates import render

__all__ = ["constraints_for", "offer_for", "render"]

def constraints_for(account: dict[str, Any] | None, rules: Rules, ceiling: float | None) -> list[str]:
    """The commercial and contractual limits a rep must respect with this customer."""
    out = []
    if ceiling is not None:
        out.append("No discount until the overdue invoices are cleared." if ceiling == 0 else f"Maximum discount: {ceiling:g}%.")
    if account:
        terms = account.get("extended_terms_allowed")
        overdue_days = account.get("overdue_max_days")
        overdue = isinstance(overdue_days, (int, float)) and not math.isnan(overdue_days) and overdue_days > rules.overdue_days
        if overdue or terms is False:
            out.append("Do not propose extended payment terms.")
        payment = account.get("payment_terms_days")
        if isinstance(payment, float) and not math.isnan(payment):
            out.append(f"Payment terms: {payment:.0f} days.")
        headroom = account.get("credit_headroom")
        if isinstance(headroom, float) and not math.isnan(headroom) and headroom <= 0:
            out.append("Credit limit reached: no new order on credit without finance approval.")
    out.append(f"Keep the margin above {rules.min_margin_pct:g}%.")
    out.append(f"Do not promise delivery in under {rules.delivery_promise_hours}h.")
    return out


def offer_for(action: Action, account_offers: pd.DataFrame | None, ceiling: float | None) -> dict[str, Any]:
    offer: dict[str, Any] = {}
    if ceiling is not None:
        offer["max_discount_pct"] = ceiling
    if action.products and account_offers is not None and not account_offers.empty:
        allowed = account_offers[account_offers["allowed"]]
        main = allowed[allowed["kind"].isin(["replenish", "substitute"])].head(2)
        cross = allowed[allowed["kind"] == "cross_sell"].head(2)
        items = []
        if action.products in ("replenish", "bundle"):
            items += [_item(r, "replenishment" if r.kind == "replenish" else f"substitute for {_name(r)} (out of stock)") for r in main.itertuples()]
        if action.products in ("cross_sell", "bundle", "replenish"):
            items += [_item(r, f"compatible with {_name(r)}") for r in cross.head(1 if action.products == "replenish" else 2).itertuples()]
        offer["products"] = items
        if len(items) >= 2:
            offer["bundle"] = " + ".join(i["name"] for i in items[:2])
    return offer


def _name(row: Any) -> str:
    return row.for_product_name if isinstance(row.for_product_name, str) else row.for_product_id


def _item(row: Any, role: str) -> dict[str, Any]:
    margin = None if pd.isna(row.margin_pct) else float(row.margin_pct)
    return {"product_id": row.product_id, "name": row.product_name, "role": role, "margin_pct": margin}
