"""Effectiveness events from history: each time a catalog action was taken, and whether the outcome followed.

Pure and vectorised: CanonicalData (already cut at `day`) and the reps' feedback
in, one row per (record, action) out — action_id, stage, segment, success — for
`ActionEffectiveness.fit`.  Two kinds of evidence:

(a) Activities that *are* a catalog action, by the table below (`ACTIVITY_ACTIONS`).
(b) Recommendations the reps accepted (the store's feedback joined to its
    recommendations, as `Store.feedback_history` returns it).

The outcome, read only from what was known on `day`:

- deal actions: the deal was won within `deal_days` (90) of the action.  The
  export keeps no stage history, so "advanced a stage" cannot be observed;
  lost within the window or still open after it both count as no success;
- account actions: an order within `order_days` (14) of the action;
- leads carry no decision date, so lead actions get no events (their cards say
  "no history yet").

Only actions whose whole outcome window lies before `day` count: a younger one
has not had its chance yet, and counting it as a failure would bias every rate
down.  An action taken several times on one record counts once (its first
time), so one busy deal cannot outvote fifty quiet ones.  The stage is the
deal's stage on the day of the action when that is known (the stage has not
changed since), else "any".

Activity → action table (deal activities unless said otherwise; "outbound"
means an outbound email or call, or a meeting; a topic is a negation-aware
mention in the subject or body, see engine/topics.py):

| action_id                     | evidence                                                                |
|-------------------------------|-------------------------------------------------------------------------|
| book_feature_demo             | a demo                                                                  |
| send_demo_recap               | an outbound email within 3 days after a demo                            |
| generate_formal_quote         | a quote sent                                                            |
| follow_up_quote               | an outbound email or call 3–21 days after a quote                       |
| schedule_follow_up            | an outbound touch after 7+ days without any touch on the deal           |
| engage_economic_buyer         | a meeting or call with the account's economic buyer                     |
| send_roi_calculator           | outbound, mentions budget / ROI                                         |
| share_competitive_comparison  | outbound, mentions a competitor (the word or a competitor's name)       |
| share_security_documentation  | outbound, mentions security / compliance                                |
| send_integration_guide        | outbound, mentions integration                                          |
| arrange_technical_deep_dive   | outbound, mentions technical validation / architecture / API            |
| offer_pilot                   | outbound, mentions a pilot / trial / POC                                |
| schedule_exec_alignment       | outbound, mentions executive sign-off                                   |
| address_objection             | outbound, mentions a concern / objection                                |
| calculate_max_discount        | outbound, mentions a discount                                           |
| send_implementation_timeline  | outbound, mentions a timeline / go-live                                 |
| route_to_deal_desk            | outbound, mentions legal / contract review                              |
| call_for_replenishment        | account (no deal): an outbound call or email, the account not lapsed    |
| contact_for_retention         | account (no deal): an outbound call or email, the account lapsed        |

"Lapsed" = more than `LAPSE_RATIO` median order intervals since the last order
before the call (the reorder model's reading of "overdue by far").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.history import as_known_on, closed_at
from stepwise.engine.records import OPEN_STAGES, CanonicalData, as_utc
from stepwise.engine.topics import first_match, topic_mentions

EVENT_COLUMNS = ["action_id", "stage", "segment", "success", "record_id", "at", "evidence"]
TOPIC_ACTIONS = {
    "budget": "send_roi_calculator",
    "competitor": "share_competitive_comparison",
    "security": "share_security_documentation",
    "integration": "send_integration_guide",
    "technical": "arrange_technical_deep_dive",
    "pilot": "offer_pilot",
    "exec_signoff": "schedule_exec_alignment",
    "objection": "address_objection",
    "discount": "calculate_max_discount",
    "timeline": "send_implementation_timeline",
    "legal": "route_to_deal_desk",
}
ACTIVITY_ACTIONS = ("book_feature_demo", "send_demo_recap", "generate_formal_quote", "follow_up_quote",
                    "schedule_follow_up", "engage_economic_buyer", *TOPIC_ACTIONS.values(),
                    "call_for_replenishment", "contact_for_retention")
LAPSE_RATIO = 2.0
DAY = pd.Timedelta(days=1)


def action_events(data: CanonicalData, day: str | pd.Timestamp, feedback: pd.DataFrame | None = None,
                  deal_days: int = 90, order_days: int = 14) -> pd.DataFrame:
    """One row per (record, action) taken on or before `day` − window: action_id, stage, segment, success, …"""
    day = as_utc(day)
    data = as_known_on(data, day)  # whatever was passed: nothing after the day is read
    taken = [_from_activities(data, day)]
    if feedback is not None and not feedback.empty:
        taken.append(_from_feedback(feedback, day))
    taken = [t for t in taken if not t.empty]
    if not taken:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    events = pd.concat(taken, ignore_index=True)
    events["at"] = pd.to_datetime(events["at"], utc=True)
    # The first time per record and action; an accepted recommendation and the activity it led to are one.
    events = events.sort_values(["at", "evidence"], kind="stable").drop_duplicates(["record_id", "action_id"])
    deals, accounts = data.table("deals"), data.table("accounts")
    on_deal = events["record_id"].isin(set(deals["deal_id"]))
    on_account = ~on_deal & events["record_id"].isin(set(accounts["account_id"]))
    out = [_deal_outcomes(events[on_deal], data, day, deal_days),
           _account_outcomes(events[on_account], data, day, order_days)]
    out = [o for o in out if not o.empty]
    if not out:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    return pd.concat(out, ignore_index=True)[EVENT_COLUMNS].sort_values(["at", "record_id", "action_id"],
                                                                       ignore_index=True)


# ─────────────────────────────── (a) activities ───────────────────────────────
def _from_activities(data: CanonicalData, day: pd.Timestamp) -> pd.DataFrame:
    acts = data.table("activities")
    acts = acts[~(acts["occurred_at"] > day) & acts["occurred_at"].notna()]
    acts = acts[["deal_id", "account_id", "contact_id", "occurred_at", "type", "direction", "subject", "body"]]
    found: list[pd.DataFrame] = []

    def add(rows: pd.DataFrame, action: str, record: str) -> None:
        if not rows.empty:
            found.append(pd.DataFrame({"record_id": rows[record].to_numpy(), "action_id": action,
                                       "at": rows["occurred_at"].to_numpy(), "evidence": "activity"}))

    deal = acts[acts["deal_id"].notna()].sort_values(["deal_id", "occurred_at"], kind="stable")
    outbound = deal["type"].eq("meeting") | (deal["type"].isin(["email", "call"]) & deal["direction"].eq("outbound"))
    out_email = deal["type"].eq("email") & deal["direction"].eq("outbound")
    add(deal[deal["type"] == "demo"], "book_feature_demo", "deal_id")
    add(deal[deal["type"] == "quote_sent"], "generate_formal_quote", "deal_id")
    since_demo = _since_last(deal, deal["type"] == "demo")
    add(deal[out_email & (since_demo <= 3)], "send_demo_recap", "deal_id")
    since_quote = _since_last(deal, deal["type"] == "quote_sent")
    follow = deal["type"].isin(["email", "call"]) & deal["direction"].eq("outbound")
    add(deal[follow & since_quote.between(3, 21)], "follow_up_quote", "deal_id")
    gap = (deal["occurred_at"] - deal.groupby("deal_id")["occurred_at"].shift()) / DAY
    add(deal[outbound & (gap >= 7)], "schedule_follow_up", "deal_id")
    contacts = data.table("contacts")
    buyers = set(contacts.loc[contacts["role"] == "economic_buyer", "contact_id"])
    add(deal[deal["type"].isin(["meeting", "call"]) & deal["contact_id"].isin(buyers)], "engage_economic_buyer",
        "deal_id")

    said = deal[outbound]
    if not said.empty:
        text = said["subject"].fillna("") + ". " + said["body"].fillna("")
        topics = topic_mentions(text, list(TOPIC_ACTIONS))
        names = sorted(set(data.table("deals")["competitor"].dropna().astype(str)))
        topics["topic_competitor"] += first_match(text, names).notna().astype(int)
        for topic, action in TOPIC_ACTIONS.items():
            add(said[topics[f"topic_{topic}"].to_numpy() > 0], action, "deal_id")

    account = acts[acts["deal_id"].isna() & acts["account_id"].notna() & acts["type"].isin(["email", "call"])
                   & acts["direction"].eq("outbound")]
    if not account.empty:
        lapsed = _lapsed_at(account, data.table("orders"))
        add(account[~lapsed], "call_for_replenishment", "account_id")
        add(account[lapsed], "contact_for_retention", "account_id")
    if not found:
        return pd.DataFrame(columns=["record_id", "action_id", "at", "evidence"])
    return pd.concat(found, ignore_index=True)


def _since_last(deal_acts: pd.DataFrame, mark: pd.Series) -> pd.Series:
    """Days since the deal's latest marked activity strictly before each row (NaN when none)."""
    by = deal_acts["deal_id"]
    last = deal_acts["occurred_at"].where(mark).groupby(by).shift().groupby(by).ffill()
    return (deal_acts["occurred_at"] - last) / DAY


def _lapsed_at(calls: pd.DataFrame, orders: pd.DataFrame) -> np.ndarray:
    """Per call: were more than LAPSE_RATIO median intervals gone since the account's last earlier order?"""
    if orders.empty:
        return np.zeros(len(calls), dtype=bool)
    o = orders[["account_id", "ordered_at"]].dropna().sort_values(["account_id", "ordered_at"])
    median = ((o["ordered_at"] - o.groupby("account_id")["ordered_at"].shift()) / DAY).groupby(o["account_id"]).median()
    left = calls[["account_id", "occurred_at"]].reset_index().sort_values("occurred_at").astype({"account_id": object})
    right = o.sort_values("ordered_at").astype({"account_id": object})
    right = right.assign(ordered_at=right["ordered_at"].astype(left["occurred_at"].dtype))
    joined = pd.merge_asof(left, right, left_on="occurred_at", right_on="ordered_at", by="account_id",
                           direction="backward", allow_exact_matches=False).set_index("index").reindex(calls.index)
    since = (joined["occurred_at"] - joined["ordered_at"]) / DAY
    return (since > LAPSE_RATIO * joined["account_id"].map(median)).fillna(False).to_numpy(dtype=bool)


# ─────────────────────────────── (b) accepted recommendations ───────────────────────────────
def _from_feedback(feedback: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """The reps' answers whose latest word (as of the day) is "accepted": the action was taken then."""
    f = feedback.assign(at=pd.to_datetime(feedback["updated_at"], utc=True))
    f = f[~(f["at"] > day) & f["at"].notna()].sort_values("at", kind="stable")
    latest = f.drop_duplicates(["record_id", "action_id"], keep="last")
    latest = latest[latest["status"] == "accepted"]
    return pd.DataFrame({"record_id": latest["record_id"].to_numpy(), "action_id": latest["action_id"].to_numpy(),
                         "at": latest["at"].to_numpy(), "evidence": "accepted"})


# ─────────────────────────────── outcomes ───────────────────────────────
def _deal_outcomes(events: pd.DataFrame, data: CanonicalData, day: pd.Timestamp, window: int) -> pd.DataFrame:
    events = events[events["at"] + window * DAY <= day]
    if events.empty:
        return events.assign(stage=[], segment=[], success=[])
    deals = data.table("deals").drop_duplicates("deal_id").set_index("deal_id")
    d = deals.reindex(events["record_id"]).reset_index(drop=True)
    at = events["at"].reset_index(drop=True)
    done = closed_at(d)
    won = d["is_won"].fillna(False).astype(bool) & d["is_closed"].fillna(False).astype(bool)
    success = (won & (done > at) & (done <= at + window * DAY)).fillna(False)
    stage_then = d["stage"].where(d["stage"].isin(OPEN_STAGES) & ~(d["stage_changed_at"] > at))
    segment = data.table("accounts").drop_duplicates("account_id").set_index("account_id")["segment"]
    return events.assign(stage=stage_then.fillna("any").to_numpy(),
                         segment=d["account_id"].map(segment).fillna("any").to_numpy(),
                         success=success.to_numpy(dtype=bool))


def _account_outcomes(events: pd.DataFrame, data: CanonicalData, day: pd.Timestamp, window: int) -> pd.DataFrame:
    events = events[events["at"] + window * DAY <= day]
    if events.empty:
        return events.assign(stage=[], segment=[], success=[])
    orders = data.table("orders")[["account_id", "ordered_at"]].dropna().sort_values("ordered_at")
    left = events[["record_id", "at"]].reset_index().sort_values("at").astype({"record_id": object})
    right = orders.rename(columns={"account_id": "record_id"}).astype({"record_id": object})
    right = right.assign(ordered_at=right["ordered_at"].astype(left["at"].dtype))
    nxt = pd.merge_asof(left, right, left_on="at", right_on="ordered_at", by="record_id", direction="forward",
                        allow_exact_matches=False).set_index("index").reindex(events.index)
    success = ((nxt["ordered_at"] - nxt["at"]) <= window * DAY).fillna(False).to_numpy(dtype=bool)
    segment = data.table("accounts").drop_duplicates("account_id").set_index("account_id")["segment"]
    return events.assign(stage="account", segment=events["record_id"].map(segment).fillna("any").to_numpy(),
                         success=success)


__all__ = ["action_events", "ACTIVITY_ACTIONS", "TOPIC_ACTIONS", "EVENT_COLUMNS"]
