"""Few but relevant: weak signals dropped, one per exclusive group, top 3, feedback respected, stable ids."""

from __future__ import annotations

import pandas as pd

from stepwise.engine.run import recommend
from tests.builders import AS_OF, days_ago, make_data


def busy_deal():
    """A negotiation deal where many triggers fire at once."""
    texts = [
        "They are also evaluating Vantor, a competitor.",
        "Legal review of the MSA and redlines started.",
        "CFO approval needed: executive sign-off next week.",
        "Asked for a 10% discount on the price list.",
        "Concerned about implementation effort; timeline for go-live is tight.",
    ]
    return make_data(
        accounts=[dict(account_id="A1", name="Gamma", industry="manufacturing", segment="enterprise")],
        contacts=[dict(contact_id="C1", account_id="A1", name="Ana", role="champion", last_engaged_at=days_ago(3))],
        deals=[dict(deal_id="D1", account_id="A1", stage="negotiation", amount="400000", created_at=days_ago(90),
                    stage_changed_at=days_ago(60), close_date=days_ago(5), competitor="Vantor"),
               # A smaller deal in the same segment makes D1 large (1.6× the median): the battle plan fires too.
               dict(deal_id="D2", account_id="A1", stage="prospecting", amount="100000", created_at=days_ago(5))],
        activities=[dict(activity_id=f"T{i}", occurred_at=days_ago(10 + i), type="call", deal_id="D1", account_id="A1",
                         direction="inbound", body=t) for i, t in enumerate(texts)],
        content=[dict(content_id="K1", title="Vantor battle card", type="battle_card", competitor="Vantor")],
    )


def test_at_most_three_per_record_and_the_rest_as_alternatives(catalog):
    result = recommend(busy_deal(), AS_OF, catalog)
    shown = [r for r in result.recommendations if r.deal_id == "D1"]
    assert len(shown) == 3
    assert [r.rank for r in shown] == [1, 2, 3]
    assert shown[0].score >= shown[1].score >= shown[2].score
    alternatives = shown[0].alternatives
    assert 1 <= len(alternatives) <= 3
    assert all(a.score <= shown[2].score for a in alternatives)
    assert {a.action_id for a in alternatives}.isdisjoint({r.action_id for r in shown})


def test_one_action_per_exclusive_group(catalog):
    result = recommend(busy_deal(), AS_OF, catalog)
    removed = result.removed[(result.removed["rule"] == "exclusive_group") & (result.removed["record_id"] == "D1")]
    # Both competitor actions fire; the comparison ranks higher, the battle plan is recorded as the loser.
    assert list(removed["action_id"]) == ["competitive_battle_plan"]
    assert removed["reason"].iloc[0] == "conflicts with share_competitive_comparison, which ranks higher"


def test_weak_signals_show_nothing(catalog):
    data = make_data(
        leads=[dict(lead_id="L1", created_at=days_ago(90), name="Kim", status="new")],
    )
    result = recommend(data, AS_OF, catalog)
    assert result.recommendations == []
    [weak] = result.removed.itertuples()
    assert weak.action_id == "lead_nurture" and weak.rule == "weak_signal"
    assert weak.reason.endswith("is below the weak-signal cut-off 55")


def test_same_input_same_output_and_ids(catalog):
    first = [r.to_dict() for r in recommend(busy_deal(), AS_OF, catalog).recommendations]
    second = [r.to_dict() for r in recommend(busy_deal(), AS_OF, catalog).recommendations]
    assert first == second
    next_day = recommend(busy_deal(), "2026-11-24", catalog).recommendations
    assert {r["id"] for r in first}.isdisjoint({r.id for r in next_day})


def test_dismissed_and_snoozed_actions_are_held_back(catalog):
    top = recommend(busy_deal(), AS_OF, catalog).recommendations
    history = pd.DataFrame([
        dict(record_id="D1", action_id=top[0].action_id, status="dismissed", updated_at=days_ago(2), snooze_until=None),
        dict(record_id="D1", action_id=top[1].action_id, status="snoozed", updated_at=days_ago(1), snooze_until="2026-12-01"),
    ])
    result = recommend(busy_deal(), AS_OF, catalog, history=history)
    shown = {r.action_id for r in result.recommendations if r.deal_id == "D1"}
    assert top[0].action_id not in shown and top[1].action_id not in shown
    rules = dict(zip(result.removed["action_id"], result.removed["rule"]))
    assert rules[top[0].action_id] == "dismissed" and rules[top[1].action_id] == "snoozed"
    # After the dismissal cool-down the action may come back.
    later = recommend(busy_deal(), AS_OF, catalog, history=history.assign(updated_at=days_ago(30)).iloc[:1])
    assert top[0].action_id in {r.action_id for r in later.recommendations}


def test_nothing_after_as_of_is_read(catalog):
    data = busy_deal()
    future = make_data(activities=[dict(activity_id="F1", occurred_at="2027-01-01T00:00:00Z", type="call",
                                        deal_id="D1", direction="inbound", body="security review and GDPR questions")])
    data.activities = pd.concat([data.activities, future.activities], ignore_index=True)
    ids = {r.action_id for r in recommend(data, AS_OF, catalog).recommendations}
    assert "share_security_documentation" not in ids


def test_a_rep_gets_at_most_their_daily_limit_the_best_first(catalog):
    from dataclasses import replace

    deals = [dict(deal_id=f"D{i}", account_id="A1", stage="proposal", amount="1000", owner_id="rep_01",
                  created_at=days_ago(60), close_date=days_ago(i + 1)) for i in range(6)]
    data = make_data(accounts=[dict(account_id="A1", name="Gamma", owner_id="rep_01")], deals=deals)
    tight = replace(catalog, rules=catalog.rules.model_copy(update={"max_per_rep_per_day": 4}))
    result = recommend(data, AS_OF, tight)
    assert len(result.recommendations) == 4
    limited = result.removed[result.removed["rule"] == "rep_daily_limit"]
    assert len(limited) == 2 and set(limited["reason"]) == {"rep_01 already has 4 higher-scored actions today"}
    # Equal scores (the same slipped-close-date action): ties go to the record id, so D4 and D5 wait.
    assert set(limited["record_id"]) == {"D4", "D5"}
    assert {r.record_id for r in result.recommendations} == {"D0", "D1", "D2", "D3"}
