"""Model features from a view "as known on day S" (see engine/history.py).

Pure and vectorised.  Each function takes a view already cut at `day` and
returns one row per entity, indexed by its id; the caller cuts, so the
functions cannot read the future even by accident.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.records import OPEN_STAGES, CanonicalData
from stepwise.engine.topics import mentions_of

_SENIORITY = [
    (3, r"\bchief\b|\bc[eiotfm]o\b|founder|owner|president"),
    (2, r"\bvp\b|vice president|\bhead\b|director"),
    (1, r"manager|lead\b"),
]

DEAL_NUMERIC = ["log_amount", "age_days", "days_since_touch", "touches_14d", "touches_30d", "inbound_30d",
                "touches_total", "touches_per_week", "quotes", "demos", "has_competitor",
                "inbound_share", "contacts_engaged", "economic_buyer_engaged", "objections", "objection_share",
                "account_won_before", "account_lost_before", "account_orders_365d"]
OBJECTION_FLAG = "_objection"  # precomputed per activity by objection_flags (text is the slow part)
DEAL_CATEGORICAL = ["segment", "industry"]
ACCOUNT_NUMERIC = ["orders_count", "days_since_last_order", "mean_interval", "median_interval", "interval_cv",
                   "tenure_days", "orders_365d", "orders_90d", "due_ratio", "last_interval_ratio",
                   "orders_30d", "orders_180d", "recent_rate_30", "recent_rate_120", "own_gap_hazard", "log_value_365d"]
HAZARD_WINDOW_DAYS = 14  # the account's own gaps: of those longer than the wait so far, the share ending within this
# Not the lead's age nor visits per day of life: decided leads are older than open ones, so age-scaled
# features shift between training and prediction (measured: they made the out-of-time Brier worse).
# What the activities say, not only web visits: counts per type and direction (counts are log-scaled in
# the model), the last activity's type and subject, and a bag of words of every subject and body.
LEAD_ACTIVITY_TYPES = ["email", "call", "meeting", "note", "demo", "task", "quote_sent"]
LEAD_COUNTS = ["visits_total", "visits_30d", "pricing_visits", "demo_visits",
               *[f"acts_{t}" for t in LEAD_ACTIVITY_TYPES], "acts_inbound", "acts_outbound", "acts_total"]
LEAD_NUMERIC = [*LEAD_COUNTS, "log_company_size", "log_estimated_value", "seniority"]
LEAD_CATEGORICAL = ["source", "industry", "last_activity_type", "last_activity_subject"]
LEAD_TEXT = "activity_text"


def _days(later, earlier) -> pd.Series:
    return (later - earlier) / pd.Timedelta(days=1)


# ─────────────────────────────── deals ───────────────────────────────
def open_deals(view: CanonicalData) -> pd.DataFrame:
    """Deals open in the view: an open stage, or a stage unknown on the day (it changed later)."""
    deals = view.table("deals")
    open_ = ~deals["is_closed"].fillna(False).astype(bool) & (deals["stage"].isin(OPEN_STAGES) | deals["stage"].isna())
    return deals[open_]


def deal_features(view: CanonicalData, day: pd.Timestamp) -> pd.DataFrame:
    deals = open_deals(view)
    idx = pd.Index(deals["deal_id"], name="deal_id")
    accounts = view.table("accounts").set_index("account_id")
    out = pd.DataFrame({
        "account_id": deals["account_id"].to_numpy(),
        "stage": deals["stage"].fillna("unknown").to_numpy(),
        "amount": deals["amount"].to_numpy(),
        "log_amount": np.log1p(deals["amount"].fillna(0).to_numpy()),
        "age_days": _days(day, deals["created_at"]).to_numpy(),
        "has_competitor": deals["competitor"].notna().astype(float).to_numpy(),
    }, index=idx)
    out["segment"] = accounts["segment"].reindex(out["account_id"]).fillna("unknown").to_numpy()
    out["industry"] = accounts["industry"].reindex(out["account_id"]).fillna("unknown").to_numpy()

    acts = view.table("activities")
    acts = acts[acts["deal_id"].isin(idx)]
    age = _days(day, acts["occurred_at"])
    by = acts["deal_id"]
    out["days_since_touch"] = _days(day, acts.groupby("deal_id")["occurred_at"].max()).reindex(idx)
    out["touches_14d"] = (age <= 14).groupby(by).sum().reindex(idx)
    out["touches_30d"] = (age <= 30).groupby(by).sum().reindex(idx)
    out["inbound_30d"] = ((age <= 30) & (acts["direction"] == "inbound")).groupby(by).sum().reindex(idx)
    out["touches_total"] = acts.groupby("deal_id").size().reindex(idx)
    out["quotes"] = (acts["type"] == "quote_sent").groupby(by).sum().reindex(idx)
    out["demos"] = (acts["type"] == "demo").groupby(by).sum().reindex(idx)
    # Who is engaged and how the buyer responds, as known on the day: replies and calls in, how many
    # people (the economic buyer among them), and concerns raised in the text (negations excluded).
    directed = acts["direction"].isin(["inbound", "outbound"])
    out["inbound_total"] = (acts["direction"] == "inbound").groupby(by).sum().reindex(idx)
    out["directed_total"] = directed.groupby(by).sum().reindex(idx)
    out["contacts_engaged"] = acts.groupby("deal_id")["contact_id"].nunique().reindex(idx)
    contacts = view.table("contacts")
    buyers = set(contacts.loc[contacts["role"] == "economic_buyer", "contact_id"])
    out["economic_buyer_engaged"] = acts["contact_id"].isin(buyers).groupby(by).any().reindex(idx)
    flags = acts[OBJECTION_FLAG] if OBJECTION_FLAG in acts else objection_flags(acts)
    out["objections"] = flags.groupby(by).sum().reindex(idx)
    counts = ["touches_14d", "touches_30d", "inbound_30d", "touches_total", "quotes", "demos", "inbound_total",
              "directed_total", "contacts_engaged", "economic_buyer_engaged", "objections"]
    out[counts] = out[counts].fillna(0).astype(float)
    out["touches_per_week"] = out["touches_total"] / np.maximum(out["age_days"], 7) * 7
    out["inbound_share"] = out["inbound_total"] / np.maximum(out["directed_total"], 1)
    out["objection_share"] = out["objections"] / np.maximum(out["touches_total"], 1)
    out = out.drop(columns=["inbound_total", "directed_total"])
    out["days_since_touch"] = out["days_since_touch"].fillna(out["age_days"])

    # The account's track record as known on the day (the view already hides later outcomes).
    all_deals = view.table("deals")
    closed = all_deals[all_deals["is_closed"].fillna(False).astype(bool)]
    won = closed[closed["is_won"].astype(bool)].groupby("account_id").size()
    lost = closed[~closed["is_won"].astype(bool)].groupby("account_id").size()
    out["account_won_before"] = won.reindex(out["account_id"]).fillna(0).to_numpy()
    out["account_lost_before"] = lost.reindex(out["account_id"]).fillna(0).to_numpy()
    orders = view.table("orders")
    recent = orders[_days(day, orders["ordered_at"]) <= 365].groupby("account_id").size()
    out["account_orders_365d"] = recent.reindex(out["account_id"]).fillna(0).to_numpy()
    return out


def objection_flags(activities: pd.DataFrame) -> pd.Series:
    """1 where an activity's text raises a concern or objection (\"no concerns\" does not count)."""
    text = activities["subject"].fillna("") + ". " + activities["body"].fillna("")
    return (mentions_of(text, "objection") > 0).astype(float)


# ─────────────────────────────── accounts (reorder) ───────────────────────────────
def account_order_features(view: CanonicalData, day: pd.Timestamp) -> pd.DataFrame:
    """Recency, frequency, tenure, interval spread and the account's own reorder hazard, per account with an order."""
    cols = ["account_id", "ordered_at"] + (["total"] if "total" in view.table("orders") else [])
    orders = view.table("orders")[cols].sort_values(["account_id", "ordered_at"])
    if orders.empty:
        return pd.DataFrame(columns=["last_order_at", *ACCOUNT_NUMERIC], index=pd.Index([], name="account_id"))
    account = orders["account_id"]
    g = orders.groupby("account_id")["ordered_at"]
    gaps = _days(orders["ordered_at"], g.shift())
    gi = gaps.groupby(account)
    age = _days(day, orders["ordered_at"])
    last, first = g.max(), g.min()
    value = orders["total"] if "total" in orders else pd.Series(0.0, index=orders.index)
    out = pd.DataFrame({
        "last_order_at": last,
        "orders_count": g.size().astype(float),
        "days_since_last_order": _days(day, last),
        "mean_interval": gi.mean(),
        "median_interval": gi.median(),
        "interval_cv": gi.std() / gi.mean().replace(0, np.nan),
        "tenure_days": _days(day, first),
        "orders_365d": (age <= 365).groupby(account).sum().astype(float),
        "orders_180d": (age <= 180).groupby(account).sum().astype(float),
        "orders_90d": (age <= 90).groupby(account).sum().astype(float),
        "orders_30d": (age <= 30).groupby(account).sum().astype(float),
        # Recency-weighted frequency: a customer who ordered often lately, not two years ago.
        "recent_rate_30": np.exp(-age / 30).groupby(account).sum(),
        "recent_rate_120": np.exp(-age / 120).groupby(account).sum(),
        "log_value_365d": np.log1p(value.where(age <= 365, 0).fillna(0).clip(lower=0).groupby(account).sum()),
        "last_interval": gi.last(),
    })
    out.index.name = "account_id"
    out["due_ratio"] = out["days_since_last_order"] / out["mean_interval"].replace(0, np.nan)
    out["last_interval_ratio"] = out["last_interval"] / out["mean_interval"].replace(0, np.nan)
    out["own_gap_hazard"] = _own_gap_hazard(gaps, account, out["days_since_last_order"])
    return out.drop(columns=["last_interval"])


def _own_gap_hazard(gaps: pd.Series, account: pd.Series, waited: pd.Series, prior: float = 1.0) -> pd.Series:
    """P(the next order comes within HAZARD_WINDOW_DAYS | no order for `waited` days), from the account's own gaps.

    Of the account's past gaps longer than the wait so far, the share that ended within the window;
    shrunk toward 0.5 by `prior` pseudo-gaps, NaN with no gap at all (a single order).
    """
    t = account.map(waited).to_numpy()
    g = gaps.to_numpy()
    known = ~np.isnan(g)
    longer = pd.Series(known & (g > t), index=gaps.index).groupby(account).sum()
    ending = pd.Series(known & (g > t) & (g <= t + HAZARD_WINDOW_DAYS), index=gaps.index).groupby(account).sum()
    n = pd.Series(known, index=gaps.index).groupby(account).sum()
    hazard = (ending + 0.5 * prior) / (longer + prior)
    return hazard.where(n > 0).reindex(waited.index)


def orders_within(data: CanonicalData, day: pd.Timestamp, horizon_days: int) -> pd.Series:
    """Accounts that ordered in (day, day + horizon]: the label, read from the *full* data."""
    orders = data.table("orders")
    after = orders[(orders["ordered_at"] > day) & (orders["ordered_at"] <= day + pd.Timedelta(days=horizon_days))]
    return pd.Series(True, index=pd.Index(after["account_id"].unique(), name="account_id"))


# ─────────────────────────────── leads ───────────────────────────────
def lead_features(view: CanonicalData, day: pd.Timestamp, leads: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per lead: fit (size, value, seniority, source, industry) and what its activities say up to `day`."""
    leads = view.table("leads") if leads is None else leads
    idx = pd.Index(leads["lead_id"], name="lead_id")
    title = leads["title"].fillna("").str.lower()
    seniority = pd.Series(0.0, index=leads.index)
    for level, pattern in reversed(_SENIORITY):
        seniority = seniority.mask(title.str.contains(pattern, regex=True), float(level))
    out = pd.DataFrame({
        "status": leads["status"].fillna("new").to_numpy(),
        "source": leads["source"].fillna("unknown").to_numpy(),
        "industry": leads["industry"].fillna("unknown").to_numpy(),
        "created_at": leads["created_at"].to_numpy(),
        "days_since_created": _days(day, leads["created_at"]).clip(lower=0).to_numpy(),
        "log_company_size": np.log1p(leads["company_size"].fillna(0).to_numpy()),
        "log_estimated_value": np.log1p(leads["estimated_value"].fillna(0).to_numpy()),
        "seniority": seniority.to_numpy(),
    }, index=idx)
    acts = view.table("activities")
    acts = acts[acts["lead_id"].isin(idx) & ~(acts["occurred_at"] > day)]
    visits = acts[acts["type"] == "web_visit"]
    where = (visits["subject"].fillna("") + " " + visits["body"].fillna("")).str.lower()
    by = visits["lead_id"]
    out["visits_total"] = visits.groupby("lead_id").size().reindex(idx)
    out["visits_30d"] = (_days(day, visits["occurred_at"]) <= 30).groupby(by).sum().reindex(idx)
    out["pricing_visits"] = where.str.contains("pricing|/price").groupby(by).sum().reindex(idx)
    out["demo_visits"] = where.str.contains("demo").groupby(by).sum().reindex(idx)
    by = acts["lead_id"]
    for kind in LEAD_ACTIVITY_TYPES:
        out[f"acts_{kind}"] = (acts["type"] == kind).groupby(by).sum().reindex(idx)
    out["acts_inbound"] = (acts["direction"] == "inbound").groupby(by).sum().reindex(idx)
    out["acts_outbound"] = (acts["direction"] == "outbound").groupby(by).sum().reindex(idx)
    out["acts_total"] = acts.groupby("lead_id").size().reindex(idx)
    out[LEAD_COUNTS] = out[LEAD_COUNTS].fillna(0).astype(float)
    out["visits_per_30d"] = out["visits_total"] / np.maximum(out["days_since_created"], 7) * 30

    kind = acts["type"].fillna("other").astype(str) + ":" + acts["direction"].fillna("none").astype(str)
    subject = acts["subject"].fillna("").astype(str).str.lower().str.strip().str.slice(0, 60)
    last = (pd.DataFrame({"lead_id": acts["lead_id"].to_numpy(), "at": acts["occurred_at"].to_numpy(),
                          "kind": kind.to_numpy(), "subject": subject.to_numpy()})
            .sort_values(["lead_id", "at"], kind="stable").groupby("lead_id").last())
    out["last_activity_type"] = last["kind"].reindex(idx).fillna("none").to_numpy()
    out["last_activity_subject"] = last["subject"].reindex(idx).replace("", "none").fillna("none").to_numpy()
    # Type and direction as tokens beside the words: "t_call d_outbound had a phone conversation ...".
    words = ("t_" + acts["type"].fillna("other").astype(str) + " d_" + acts["direction"].fillna("none").astype(str)
             + " " + acts["subject"].fillna("").astype(str) + " " + acts["body"].fillna("").astype(str).str.slice(0, 500))
    text = words.groupby(by.to_numpy()).agg(" ".join) if len(acts) else pd.Series(dtype=object)
    out[LEAD_TEXT] = text.reindex(idx).fillna("").to_numpy()
    return out


def open_leads(leads: pd.DataFrame) -> pd.DataFrame:
    return leads[~leads["status"].isin(["converted", "disqualified"])]
