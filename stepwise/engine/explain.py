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


def inclusion_requests(removals: tuple, facts: dict[str, Any]) -> tuple[str, ...]:
    """A product held back only because the segment is not approved becomes a request, not a dead end."""
    segment = facts.get("segment") if isinstance(facts.get("segment"), str) else "this"
    return tuple(
        f"Ask product management to approve {r.reason.split(' is not approved')[0]} for the {segment} segment."
        for r in removals if r.rule == "segment_approval"
    )


def offer_for(action: Action, account_offers: list[dict[str, Any]], ceiling: float | None) -> dict[str, Any]:
    """The commercial offer: allowed products (best first), a bundle of the top two, the discount ceiling."""
    offer: dict[str, Any] = {}
    if ceiling is not None:
        offer["max_discount_pct"] = ceiling
    if not action.products or not account_offers:
        return offer
    allowed = [o for o in account_offers if o["allowed"]]
    main = [o for o in allowed if o["kind"] in ("replenish", "substitute")][:2]
    cross = [o for o in allowed if o["kind"] == "cross_sell"][: 1 if action.products == "replenish" else 2]
    items = []
    if action.products in ("replenish", "bundle"):
        items += [_item(o, "replenishment" if o["kind"] == "replenish" else f"substitute for {_name(o)} (out of stock)") for o in main]
    items += [_item(o, f"compatible with {_name(o)}") for o in cross]
    offer["products"] = items
    if len(items) >= 2:
        offer["bundle"] = " + ".join(i["name"] for i in items[:2])
    return offer


def _name(offer: dict[str, Any]) -> str:
    name = offer["for_product_name"]
    return name if isinstance(name, str) else offer["for_product_id"]


def _item(offer: dict[str, Any], role: str) -> dict[str, Any]:
    margin = offer["margin_pct"]
    return {"product_id": offer["product_id"], "name": offer["product_name"], "role": role,
            "margin_pct": None if pd.isna(margin) else float(margin)}
