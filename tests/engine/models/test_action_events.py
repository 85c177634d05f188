"""Effectiveness events: activities that are catalog actions and accepted recommendations, each with its outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.catalog import load_catalog
from stepwise.engine.history import as_known_on
from stepwise.engine.models.action_events import ACTIVITY_ACTIONS, action_events
from stepwise.engine.models.effectiveness import ActionEffectiveness
from tests.builders import AS_OF, days_ago, make_data


def company():
    """D1 won 30 days after its demo; D2 lost after its demo; D3's demo is too recent to judge.

    A1 was called and ordered a week later; A2 was called and did not order.
    """
    deal = dict(amount="10000", owner_id="rep_1")
    return make_data(
        accounts=[dict(account_id="A1", name="Alfa", segment="smb"), dict(account_id="A2", name="Beta", segment="smb")],
        contacts=[dict(contact_id="C1", account_id="A1", role="economic_buyer"),
                  dict(contact_id="C2", account_id="A1", role="champion")],
        deals=[
            dict(deal_id="D1", account_id="A1", stage="closed_won", created_at=days_ago(300), stage_changed_at=days_ago(170),
                 is_closed="true", is_won="true", **deal),
            dict(deal_id="D2", account_id="A2", stage="closed_lost", created_at=days_ago(300),
                 stage_changed_at=days_ago(150), is_closed="true", is_won="false", **deal),
            dict(deal_id="D3", account_id="A2", stage="proposal", created_at=days_ago(60), stage_changed_at=days_ago(40),
                 **deal),
        ],
        activities=[
            dict(activity_id="T1", occurred_at=days_ago(200), type="demo", deal_id="D1", account_id="A1"),
            dict(activity_id="T2", occurred_at=days_ago(199), type="email", direction="outbound", deal_id="D1",
                 account_id="A1", contact_id="C1", body="Recap attached; the ROI case and budget as discussed."),
            dict(activity_id="T3", occurred_at=days_ago(200), type="demo", deal_id="D2", account_id="A2"),
            dict(activity_id="T4", occurred_at=days_ago(195), type="email", direction="inbound", deal_id="D2",
                 account_id="A2", body="We have no budget concerns."),
            dict(activity_id="T5", occurred_at=days_ago(20), type="demo", deal_id="D3", account_id="A2"),
            dict(activity_id="T6", occurred_at=days_ago(100), type="call", direction="outbound", account_id="A1",
                 body="Called about the next order."),
            dict(activity_id="T7", occurred_at=days_ago(100), type="call", direction="outbound", account_id="A2",
                 body="Called about the next order."),
        ],
        orders=[dict(order_id=f"O{i}", account_id="A1", ordered_at=days_ago(100 + 30 * (3 - i))) for i in range(3)]
        + [dict(order_id="O9", account_id="A1", ordered_at=days_ago(93)),
           dict(order_id="P1", account_id="A2", ordered_at=days_ago(130)),
           dict(order_id="P2", account_id="A2", ordered_at=days_ago(110))],
    )


def _by(events: pd.DataFrame) -> dict[tuple[str, str], bool]:
    return {(r.record_id, r.action_id): bool(r.success) for r in events.itertuples()}


def test_activities_become_actions_with_their_outcome():
    events = action_events(company(), AS_OF)
    got = _by(events)
    assert got[("D1", "book_feature_demo")] is True  # won 30 days after the demo
    assert got[("D2", "book_feature_demo")] is False  # lost
    assert ("D3", "book_feature_demo") not in got  # 20 days ago: its 90-day window is not over, so not judged yet
    assert got[("D1", "send_demo_recap")] is True  # an outbound email the day after the demo
    assert got[("D1", "send_roi_calculator")] is True  # outbound, mentions budget / ROI
    assert ("D1", "engage_economic_buyer") not in got  # an email is not a meeting or call with the buyer
    assert ("D2", "send_roi_calculator") not in got  # inbound, and negated ("no budget concerns")
    assert got[("A1", "call_for_replenishment")] is True  # ordered 7 days after the call
    assert got[("A2", "call_for_replenishment")] is False
    assert set(events["action_id"]) <= set(ACTIVITY_ACTIONS)
    assert set(events.loc[events["record_id"].str.startswith("A"), "stage"]) == {"account"}
    assert set(events["segment"]) == {"smb"}


def test_every_mapped_action_is_in_the_catalog():
    assert set(ACTIVITY_ACTIONS) <= {a.id for a in load_catalog().actions}


def test_accepted_recommendations_count_and_undone_ones_do_not():
    feedback = pd.DataFrame({
        "record_id": ["D1", "D2", "D2", "D2"],
        "action_id": ["offer_pilot", "offer_pilot", "share_customer_reference", "share_customer_reference"],
        "status": ["accepted", "accepted", "accepted", "undone"],
        "updated_at": pd.to_datetime([days_ago(190), days_ago(190), days_ago(190), days_ago(189)], utc=True),
    })
    got = _by(action_events(company(), AS_OF, feedback))
    assert got[("D1", "offer_pilot")] is True and got[("D2", "offer_pilot")] is False
    assert ("D2", "share_customer_reference") not in got  # accepted, then undone


def test_events_read_nothing_after_the_day():
    data = company()
    day = days_ago(105)[:10]
    got = _by(action_events(as_known_on(data, day), day))
    # 105 days ago: both demos had their 90 days; D1 was won, D2 lost; the calls had not happened yet.
    assert got[("D1", "book_feature_demo")] is True and got[("D2", "book_feature_demo")] is False
    assert not any(record.startswith("A") for record, _ in got)
    # Rewrite everything after the day: later outcomes flipped, a later order for A2.  Nothing changes.
    planted = as_known_on(data, AS_OF)
    deals = planted.deals
    later = deals["stage_changed_at"] > pd.Timestamp(day, tz="UTC")
    deals.loc[later, ["is_closed", "is_won"]] = [True, True]
    planted.orders = pd.concat([planted.orders, planted.orders.iloc[-1:].assign(order_id="LATE", ordered_at=pd.Timestamp(
        days_ago(95), tz="UTC"))], ignore_index=True)
    planted.activities = pd.concat([planted.activities, planted.activities.iloc[-1:].assign(
        activity_id="LATE", occurred_at=pd.Timestamp(days_ago(104), tz="UTC"))], ignore_index=True)  # A2 called
    assert ("A2", "call_for_replenishment") in _by(action_events(planted, days_ago(80)[:10]))  # it would count …
    assert _by(action_events(planted, day)) == got  # … but not as of the day


def test_sparse_segments_borrow_from_the_action():
    events = pd.DataFrame({"action_id": ["a"] * 60, "stage": "any", "segment": ["smb"] * 50 + ["enterprise"] * 10,
                           "success": [True] * 10 + [False] * 40 + [True] * 10})
    eff = ActionEffectiveness().fit(events)
    q = pd.DataFrame({"action_id": ["a", "a", "a"], "stage": ["proposal", "proposal", "proposal"],
                      "segment": ["smb", "enterprise", "mid_market"]})
    smb, ent, mid = eff.rate(q)
    assert smb < mid < ent < 1.0  # enterprise won 10 of 10, shrunk; mid-market has no events: the action's rate
    assert np.isclose(mid, eff.action_rate_["a"])
