"""Signals: canonical tables → one row of facts per open deal, open lead and account.

Pure and vectorised: groupby/merge over all records at once.  Nothing dated
after `as_of` is read, so a run "as of" a past day sees only what was known then.
Every column a catalog may name is listed in DEAL_SIGNALS / LEAD_SIGNALS /
ACCOUNT_SIGNALS with a one-line meaning (the catalog loader checks names
against these).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.population import Population, population_of
from stepwise.engine.records import OPEN_STAGES, CanonicalData
from stepwise.engine.topics import TOPICS, competitor_mentions, mentions_of, topic_mentions

TOPIC_WINDOW_DAYS = 30
ENGAGED_WINDOW_DAYS = 30

ACCOUNT_SIGNALS: dict[str, str] = {
    "account_id": "the account", "account_name": "account name", "industry": "industry", "segment": "segment",
    "owner_id": "account owner", "is_strategic": "strategic account flag",
    "orders_count": "orders ever placed", "days_since_last_order": "days since the last order",
    "mean_interval": "mean days between orders", "std_interval": "spread (std) of days between orders",
    "interval_low": "shortest days between two orders", "interval_high": "longest days between two orders",
    "due_ratio": "days since last order ÷ mean interval (1 = due now)",
    "days_to_expected_order": "days until the expected next order (negative = late)",
    "volume_trend": "order value, last 180 days ÷ the 180 days before",
    "revenue_365d": "order value in the last 365 days", "high_volume": "in the top quarter by 365-day order value",
    "margin_pct_365d": "average margin % of the last 365 days' order lines",
    "complaints_60d": "complaint mentions in the account's activities, last 60 days",
    "overdue_count": "unpaid invoices past due", "overdue_max_days": "days the oldest unpaid invoice is overdue",
    "overdue_amount": "amount of unpaid invoices past due", "unpaid_amount": "all unpaid invoices",
    "credit_headroom": "credit limit minus unpaid invoices",
    "has_contract": "a contract is in force", "days_to_contract_end": "days until the contract ends",
    "max_discount_pct": "contract's maximum discount %", "payment_terms_days": "contract payment terms (days)",
    "extended_terms_allowed": "contract allows extended payment terms",
    "days_since_account_touch": "days since any activity on the account", "open_deals": "open deals on the account",
}

DEAL_SIGNALS: dict[str, str] = {
    "deal_id": "the deal", "deal_name": "deal name", "stage": "canonical stage", "amount": "deal amount",
    "age_days": "days since the deal was created", "days_in_stage": "days in the current stage",
    "days_to_close": "days until the close date (negative = slipped)", "close_date_slipped": "close date passed, deal open",
    "days_since_close": "days since the close date passed (0 while it has not)",
    "days_since_touch": "days since the last activity", "days_since_inbound": "days since the buyer last reached out",
    "touches_14d": "activities in the last 14 days", "touches_prev_14d": "activities 15–28 days ago",
    "engagement_declining": "touches fell by half or more against the previous 14 days",
    "champion_engaged": "a champion engaged in the last 30 days", "economic_buyer_engaged": "an economic buyer engaged in the last 30 days",
    "technical_buyer_engaged": "a technical buyer engaged in the last 30 days", "stakeholders_engaged": "contacts engaged in the last 30 days",
    "has_economic_buyer": "an economic buyer is known on the account", "champion_name": "the champion's name",
    "economic_buyer_name": "the economic buyer's name", "technical_buyer_name": "the technical buyer's name",
    "competitor_name": "the competitor named on the deal or in recent activity",
    "days_since_quote": "days since the last quote was sent", "quote_unanswered": "no inbound reply since the last quote",
    "days_since_demo": "days since the last demo", "demo_recap_missing": "no outbound email since the last demo",
    "amount_vs_segment_median": "amount ÷ median open-deal amount of the segment", "probability": "CRM win probability (0–1)",
    **{f"topic_{name}": f"{name.replace('_', ' ')} mentions in the last {TOPIC_WINDOW_DAYS} days (negations excluded)" for name in TOPICS},
}

VISIT_TOPICS: dict[str, str] = {
    "cloud_migration": r"migrat", "security": r"secur|complian", "integration": r"integrat",
    "roi": r"\broi\b|roi-|calculator", "case_studies": r"case-stud|customer-stor", "pricing": r"pricing|/price",
    "demo": r"demo",
}

LEAD_SIGNALS: dict[str, str] = {
    "lead_id": "the lead", "lead_name": "lead name", "company": "company", "title": "job title", "industry": "industry",
    "source": "lead source", "status": "lead status", "owner_id": "lead owner", "estimated_value": "estimated deal value",
    "company_size": "employees", "days_since_created": "days since the lead was created",
    "days_since_touch": "days since the last activity", "visits_7d": "web visits in the last 7 days",
    "visits_30d": "web visits in the last 30 days", "top_visit_topic": "the topic visited most in the last 7 days",
    "top_topic_visits_7d": "visits to that topic in the last 7 days", "pricing_visits_30d": "pricing page visits, last 30 days",
    "demo_requested": "a demo was requested in the last 30 days", "seniority": "title seniority 0–3 (3 = C-level)",
    "fit": "fit 0–1 (target industry, company size, seniority)",
    **{f"visits_{name}_7d": f"visits to {name.replace('_', ' ')} pages, last 7 days" for name in VISIT_TOPICS},
}


def _days_between(later: pd.Timestamp | pd.Series, earlier: pd.Series | pd.Timestamp) -> pd.Series:
    return (later - earlier) / pd.Timedelta(days=1)


def _known_until(frame: pd.DataFrame, column: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows already true on `as_of` (a missing timestamp counts as known)."""
    return frame[~(frame[column] > as_of)]


def activity_text(activities: pd.DataFrame) -> pd.Series:
    return activities["subject"].fillna("") + " " + activities["body"].fillna("")


# ───────────────────────────────────────── accounts ─────────────────────────────────────────
def account_signals(data: CanonicalData, as_of: pd.Timestamp, population: Population | None = None) -> pd.DataFrame:
    """One row per account; `population` holds the cross-account statistics (computed from `data` when None)."""
    population = population or population_of(data, as_of)
    accounts = data.table("accounts")
    out = pd.DataFrame({
        "account_id": accounts["account_id"].to_numpy(),
        "account_name": accounts["name"].to_numpy(),
        "industry": accounts["industry"].to_numpy(),
        "segment": accounts["segment"].to_numpy(),
        "owner_id": accounts["owner_id"].to_numpy(),
        "is_strategic": accounts["is_strategic"].to_numpy(),
    }, index=pd.Index(accounts["account_id"], name="id"))
    out = out.join(_order_cadence(data, as_of, population.high_volume_revenue)).join(_invoice_status(data, as_of)).join(_contract_terms(data, as_of))
    out = out.join(_account_activity(data, as_of))
    credit = accounts.set_index("account_id")["credit_limit"]
    out["unpaid_amount"] = out["unpaid_amount"].fillna(0.0)
    out["overdue_count"] = out["overdue_count"].fillna(0).astype(int)
    out["overdue_amount"] = out["overdue_amount"].fillna(0.0)
    out["credit_headroom"] = credit.reindex(out.index) - out["unpaid_amount"]
    out["orders_count"] = out["orders_count"].fillna(0).astype(int)
    out["has_contract"] = out["has_contract"].fillna(False).astype(bool)
    out["extended_terms_allowed"] = out["extended_terms_allowed"].astype("boolean")
    out["complaints_60d"] = out["complaints_60d"].fillna(0).astype(int)
    deals = data.table("deals")
    open_deals = deals[_is_open(deals)].groupby("account_id").size()
    out["open_deals"] = open_deals.reindex(out.index).fillna(0).astype(int)
    return out[list(ACCOUNT_SIGNALS)]


def _order_cadence(data: CanonicalData, as_of: pd.Timestamp, high_volume_revenue: float) -> pd.DataFrame:
    orders = data.table("orders")
    orders = orders[orders["ordered_at"] <= as_of].sort_values(["account_id", "ordered_at"])
    grouped = orders.groupby("account_id")
    gaps = _days_between(orders["ordered_at"], grouped["ordered_at"].shift())
    intervals = gaps.groupby(orders["account_id"])
    out = pd.DataFrame({
        "orders_count": grouped.size(),
        "days_since_last_order": _days_between(as_of, grouped["ordered_at"].max()).round(),
        "mean_interval": intervals.mean().round(),
        "std_interval": intervals.std().fillna(0).round(1),
    })
    out["interval_low"] = intervals.min().round()
    out["interval_high"] = intervals.max().round()
    out["due_ratio"] = (out["days_since_last_order"] / out["mean_interval"].replace(0, np.nan)).round(2)
    out["days_to_expected_order"] = (out["mean_interval"] - out["days_since_last_order"]).round()
    age = _days_between(as_of, orders["ordered_at"])
    total = orders["total"].fillna(0.0)
    recent = total.where(age <= 180, 0.0).groupby(orders["account_id"]).sum()
    before = total.where((age > 180) & (age <= 360), 0.0).groupby(orders["account_id"]).sum()
    out["volume_trend"] = (recent / before.replace(0, np.nan)).round(2)
    out["revenue_365d"] = total.where(age <= 365, 0.0).groupby(orders["account_id"]).sum()
    out["high_volume"] = out["revenue_365d"] >= high_volume_revenue
    out["margin_pct_365d"] = _margin_profile(data, orders[age <= 365])
    return out


def _margin_profile(data: CanonicalData, orders: pd.DataFrame) -> pd.Series:
    lines = data.table("order_lines").merge(orders[["order_id", "account_id"]], on="order_id")
    lines = lines.merge(data.table("products")[["product_id", "unit_cost"]], on="product_id", how="left")
    revenue = lines["unit_price"] * lines["quantity"]
    cost = lines["unit_cost"] * lines["quantity"]
    known = revenue.notna() & cost.notna()
    by_account = pd.DataFrame({"revenue": revenue.where(known), "cost": cost.where(known), "account_id": lines["account_id"]})
    sums = by_account.groupby("account_id")[["revenue", "cost"]].sum()
    return (100 * (sums["revenue"] - sums["cost"]) / sums["revenue"].replace(0, np.nan)).round(1)


def _invoice_status(data: CanonicalData, as_of: pd.Timestamp) -> pd.DataFrame:
    invoices = _known_until(data.table("invoices"), "issued_at", as_of)
    unpaid = invoices[invoices["paid_at"].isna() | (invoices["paid_at"] > as_of)]
    overdue_days = _days_between(as_of, unpaid["due_at"]).round()
    overdue = unpaid[overdue_days > 0]
    return pd.DataFrame({
        "unpaid_amount": unpaid.groupby("account_id")["amount"].sum(),
        "overdue_count": overdue.groupby("account_id").size(),
        "overdue_max_days": overdue_days[overdue_days > 0].groupby(overdue["account_id"]).max(),
        "overdue_amount": overdue.groupby("account_id")["amount"].sum(),
    })


def _contract_terms(data: CanonicalData, as_of: pd.Timestamp) -> pd.DataFrame:
    contracts = _known_until(data.table("contracts"), "start_at", as_of)
    # The contract in force is the one ending last; an expired one still tells the renewal date.
    current = contracts.sort_values("end_at").groupby("account_id").tail(1).set_index("account_id")
    days_left = _days_between(current["end_at"], as_of).round()
    return pd.DataFrame({
        "has_contract": days_left >= 0,
        "days_to_contract_end": days_left,
        "max_discount_pct": current["max_discount_pct"],
        "payment_terms_days": current["payment_terms_days"],
        "extended_terms_allowed": current["extended_terms_allowed"],
    })


def _account_activity(data: CanonicalData, as_of: pd.Timestamp) -> pd.DataFrame:
    activities = data.table("activities")
    activities = activities[activities["account_id"].notna() & (activities["occurred_at"] <= as_of)]
    last = activities.groupby("account_id")["occurred_at"].max()
    recent = activities[_days_between(as_of, activities["occurred_at"]) <= 60]
    complaints = mentions_of(activity_text(recent), "complaint").groupby(recent["account_id"]).sum()
    return pd.DataFrame({"days_since_account_touch": _days_between(as_of, last).round(), "complaints_60d": complaints})


def _is_open(deals: pd.DataFrame) -> pd.Series:
    return deals["stage"].isin(OPEN_STAGES) & ~deals["is_closed"].fillna(False).astype(bool)


# ───────────────────────────────────────── deals ─────────────────────────────────────────
def deal_signals(data: CanonicalData, as_of: pd.Timestamp, accounts: pd.DataFrame,
                 population: Population | None = None) -> pd.DataFrame:
    """Open deals, with their account's signals joined (a deal trigger may use both)."""
    population = population or population_of(data, as_of)
    deals = _known_until(data.table("deals"), "created_at", as_of)
    deals = deals[_is_open(deals)]
    index = pd.Index(deals["deal_id"], name="id")
    out = pd.DataFrame({
        "deal_id": deals["deal_id"].to_numpy(),
        "deal_name": deals["name"].to_numpy(),
        "stage": deals["stage"].to_numpy(),
        "amount": deals["amount"].to_numpy(),
        "probability": deals["probability"].to_numpy(),
        "account_id": deals["account_id"].to_numpy(),
        "deal_owner_id": deals["owner_id"].to_numpy(),
        "deal_competitor": deals["competitor"].to_numpy(),
        "next_step": deals["next_step"].fillna("").to_numpy(),
    }, index=index)
    by_id = deals.set_index("deal_id")
    created, close = by_id["created_at"], by_id["close_date"]
    changed = by_id["stage_changed_at"].fillna(created)
    out["age_days"] = _days_between(as_of, created).round()
    out["days_in_stage"] = _days_between(as_of, changed).round()
    out["days_to_close"] = _days_between(close, as_of).round()
    out["close_date_slipped"] = out["days_to_close"] < 0
    out["days_since_close"] = (-out["days_to_close"]).clip(lower=0)  # "passed 22 days ago", never "-22"
    out = out.join(_deal_activity(data, as_of, out, population.competitors))
    out = out.join(_stakeholders(data, as_of, out))
    segment = accounts["segment"].reindex(out["account_id"]).to_numpy()
    median = pd.Series(segment).map(population.segment_median_amount).to_numpy(dtype=float)
    out["amount_vs_segment_median"] = np.round(out["amount"].to_numpy() / np.where(median > 0, median, np.nan), 2)
    out = out.join(accounts.drop(columns=["account_id"]).rename(columns={"owner_id": "account_owner_id"}), on="account_id")
    out["owner_id"] = out["deal_owner_id"].fillna(out["account_owner_id"])
    return out


def _deal_activity(data: CanonicalData, as_of: pd.Timestamp, deals: pd.DataFrame,
                   competitors: tuple[str, ...]) -> pd.DataFrame:
    acts = data.table("activities")
    acts = acts[acts["deal_id"].isin(deals.index) & (acts["occurred_at"] <= as_of)]
    age = _days_between(as_of, acts["occurred_at"])
    by_deal = acts.groupby("deal_id")
    inbound = acts[acts["direction"] == "inbound"].groupby("deal_id")["occurred_at"].max()
    out = pd.DataFrame({
        "days_since_touch": _days_between(as_of, by_deal["occurred_at"].max()).round(),
        "days_since_inbound": _days_between(as_of, inbound).round(),
        "touches_14d": (age <= 14).groupby(acts["deal_id"]).sum(),
        "touches_prev_14d": ((age > 14) & (age <= 28)).groupby(acts["deal_id"]).sum(),
    }).reindex(deals.index)
    out[["touches_14d", "touches_prev_14d"]] = out[["touches_14d", "touches_prev_14d"]].fillna(0).astype(int)
    out["engagement_declining"] = (out["touches_prev_14d"] >= 3) & (out["touches_14d"] * 2 <= out["touches_prev_14d"])

    recent = acts[age <= TOPIC_WINDOW_DAYS]
    text = activity_text(recent)
    topics = topic_mentions(text).groupby(recent["deal_id"]).sum()
    next_step_topics = topic_mentions(deals["next_step"])
    topics = topics.reindex(deals.index).fillna(0).add(next_step_topics, fill_value=0).astype(int)
    out = out.join(topics)
    mentioned = _named_competitors(recent, text, competitors)
    out["competitor_name"] = deals["deal_competitor"].where(deals["deal_competitor"].notna(), mentioned.reindex(deals.index))
    out.loc[out["competitor_name"].notna(), "topic_competitor"] = out["topic_competitor"].clip(lower=1)

    last_quote = acts[acts["type"] == "quote_sent"].groupby("deal_id")["occurred_at"].max().reindex(deals.index)
    last_demo = acts[acts["type"] == "demo"].groupby("deal_id")["occurred_at"].max().reindex(deals.index)
    out["days_since_quote"] = _days_between(as_of, last_quote).round()
    out["quote_unanswered"] = last_quote.notna() & ~(inbound.reindex(deals.index) > last_quote)
    out["days_since_demo"] = _days_between(as_of, last_demo).round()
    followed = acts[(acts["type"] == "email") & (acts["direction"] == "outbound")].groupby("deal_id")["occurred_at"].max()
    out["demo_recap_missing"] = last_demo.notna() & ~(followed.reindex(deals.index) > last_demo)
    return out


def _named_competitors(recent: pd.DataFrame, text: pd.Series, competitors: tuple[str, ...]) -> pd.Series:
    """deal id → the competitor its most recent activity names (known names — the population's, so a chunk
    knows what the whole portfolio knows — or unseen ones by phrase)."""
    found = competitor_mentions(text, list(competitors))
    named = found.notna().to_numpy()
    if not named.any():
        return pd.Series(dtype=object)
    hits = pd.DataFrame({"deal_id": recent["deal_id"].to_numpy()[named], "name": found.to_numpy()[named],
                         "at": recent["occurred_at"].to_numpy()[named]})
    latest = hits.sort_values("at", ascending=False, kind="stable").drop_duplicates("deal_id")
    return latest.set_index("deal_id")["name"]


def _stakeholders(data: CanonicalData, as_of: pd.Timestamp, deals: pd.DataFrame) -> pd.DataFrame:
    contacts = data.table("contacts")
    contacts = contacts[contacts["account_id"].isin(deals["account_id"])]
    acts = data.table("activities")
    acts = acts[acts["contact_id"].notna() & (acts["occurred_at"] <= as_of)]
    touched = acts.groupby("contact_id")["occurred_at"].max()
    last = pd.concat([contacts.set_index("contact_id")["last_engaged_at"].where(lambda s: ~(s > as_of)), touched], axis=1).max(axis=1)
    engaged = _days_between(as_of, last.reindex(contacts["contact_id"]).to_numpy()) <= ENGAGED_WINDOW_DAYS
    contacts = contacts.assign(engaged=np.asarray(engaged))
    per_account = pd.DataFrame(index=pd.Index(deals["account_id"].unique(), name="account_id"))
    per_account["stakeholders_engaged"] = contacts.groupby("account_id")["engaged"].sum()
    for role in ("champion", "economic_buyer", "technical_buyer"):
        of_role = contacts[contacts["role"] == role]
        per_account[f"{role}_engaged"] = of_role.groupby("account_id")["engaged"].any()
        # The most recently engaged contact of the role is the one to name; the id breaks ties so the
        # choice never depends on which other accounts are in the batch (a chunk scores like the whole).
        latest = of_role.assign(_last=last.reindex(of_role["contact_id"]).to_numpy())
        latest = latest.sort_values(["_last", "contact_id"], kind="stable", na_position="first")
        per_account[f"{role}_name"] = latest.groupby("account_id")["name"].last()
    per_account["has_economic_buyer"] = per_account["economic_buyer_name"].notna()
    per_account = per_account.fillna({"stakeholders_engaged": 0, "champion_engaged": False,
                                      "economic_buyer_engaged": False, "technical_buyer_engaged": False})
    out = per_account.reindex(deals["account_id"].to_numpy())
    out.index = deals.index
    for col in ("champion_engaged", "economic_buyer_engaged", "technical_buyer_engaged", "has_economic_buyer"):
        out[col] = out[col].fillna(False).astype(bool)
    out["stakeholders_engaged"] = out["stakeholders_engaged"].fillna(0).astype(int)
    return out


# ───────────────────────────────────────── leads ─────────────────────────────────────────
_SENIORITY = [
    (3, r"\bchief\b|\bc[eiotfm]o\b|founder|owner|president"),
    (2, r"\bvp\b|vice president|\bhead\b|director"),
    (1, r"manager|lead\b"),
]


def lead_signals(data: CanonicalData, as_of: pd.Timestamp, target_industries: set[str]) -> pd.DataFrame:
    leads = _known_until(data.table("leads"), "created_at", as_of)
    leads = leads[~leads["status"].isin(["converted", "disqualified"])]
    index = pd.Index(leads["lead_id"], name="id")
    out = pd.DataFrame({
        "lead_id": leads["lead_id"].to_numpy(), "lead_name": leads["name"].to_numpy(),
        "company": leads["company"].to_numpy(), "title": leads["title"].to_numpy(),
        "industry": leads["industry"].to_numpy(), "source": leads["source"].to_numpy(),
        "status": leads["status"].fillna("new").to_numpy(), "owner_id": leads["owner_id"].to_numpy(),
        "estimated_value": leads["estimated_value"].to_numpy(), "company_size": leads["company_size"].to_numpy(),
    }, index=index)
    out["days_since_created"] = _days_between(as_of, leads.set_index("lead_id")["created_at"]).round()
    acts = data.table("activities")
    acts = acts[acts["lead_id"].isin(index) & (acts["occurred_at"] <= as_of)]
    out["days_since_touch"] = _days_between(as_of, acts.groupby("lead_id")["occurred_at"].max()).round()
    visits = acts[acts["type"] == "web_visit"]
    age = _days_between(as_of, visits["occurred_at"])
    where = (visits["subject"].fillna("") + " " + visits["body"].fillna("")).str.lower()
    out["visits_7d"] = (age <= 7).groupby(visits["lead_id"]).sum()
    out["visits_30d"] = (age <= 30).groupby(visits["lead_id"]).sum()
    for name, pattern in VISIT_TOPICS.items():
        out[f"visits_{name}_7d"] = ((age <= 7) & where.str.contains(pattern, regex=True)).groupby(visits["lead_id"]).sum()
    out["pricing_visits_30d"] = ((age <= 30) & where.str.contains(VISIT_TOPICS["pricing"])).groupby(visits["lead_id"]).sum()
    out["demo_requested"] = ((age <= 30) & where.str.contains(VISIT_TOPICS["demo"])).groupby(visits["lead_id"]).any()
    counts = ["visits_7d", "visits_30d", "pricing_visits_30d", *(f"visits_{n}_7d" for n in VISIT_TOPICS)]
    out[counts] = out[counts].fillna(0).astype(int)
    out["demo_requested"] = out["demo_requested"].fillna(False).astype(bool)
    # Content topics only: pricing and demo pages are buying signals, not reading interests.
    content_topics = [f"visits_{n}_7d" for n in VISIT_TOPICS if n not in ("pricing", "demo")]
    top = out[content_topics].idxmax(axis=1) if len(out) else pd.Series(dtype=object)
    out["top_topic_visits_7d"] = out[content_topics].max(axis=1) if len(out) else pd.Series(dtype=float)
    out["top_visit_topic"] = top.str.removeprefix("visits_").str.removesuffix("_7d").where(out["top_topic_visits_7d"] > 0)
    title = out["title"].fillna("").str.lower()
    seniority = pd.Series(0, index=index)
    for level, pattern in reversed(_SENIORITY):
        seniority = seniority.mask(title.str.contains(pattern, regex=True), level)
    out["seniority"] = seniority
    fit_parts = (
        out["industry"].isin(target_industries).astype(float)
        + (out["company_size"].fillna(0) >= 200).astype(float)
        + (out["seniority"] >= 2).astype(float)
    )
    out["fit"] = (fit_parts / 3).round(2)
    return out[list(LEAD_SIGNALS)]
