"""A month of feedback visibly shifts the ranking: wrong-timing dismissals wait, acceptances rise."""

from __future__ import annotations

import pandas as pd

from stepwise.engine.models.apply import EngineModels
from stepwise.engine.run import recommend
from tests.builders import AS_OF, days_ago, make_data


def company(n: int = 12):
    """n deals where the same two content actions fire: the ROI calculator and the integration guide."""
    text = "They asked about ROI and budget; integration with their ERP is a must-have."
    return make_data(
        accounts=[dict(account_id=f"A{i}", name=f"Acme {i}", segment="mid_market", owner_id="rep_1") for i in range(n)],
        deals=[dict(deal_id=f"D{i}", account_id=f"A{i}", stage="discovery", amount="50000", created_at=days_ago(60),
                    stage_changed_at=days_ago(20)) for i in range(n)],
        activities=[dict(activity_id=f"T{i}", occurred_at=days_ago(3), type="call", deal_id=f"D{i}",
                         account_id=f"A{i}", direction="inbound", body=text) for i in range(n)],
        content=[dict(content_id="K1", title="ROI Calculator", type="roi_calculator", topics="roi;budget"),
                 dict(content_id="K2", title="ERP Integration Guide", type="implementation_guide",
                      topics="integration")],
    )


def scores(result, deal_id):
    return {r.action_id: r.score for r in result.recommendations if r.deal_id == deal_id}


def test_a_month_of_feedback_shifts_the_ranking(catalog):
    data = company()
    before = recommend(data, AS_OF, catalog, models=EngineModels(exploration_share=0))
    first = scores(before, "D0")
    assert {"send_roi_calculator", "send_integration_guide"} <= set(first)
    up, down = sorted(["send_roi_calculator", "send_integration_guide"], key=lambda a: first[a])  # lower one goes up

    # A month: on deals D0..D9 reps accept `up` and dismiss `down` as "wrong timing", every few days.
    rows = []
    for i in range(10):
        when = days_ago(30 - 3 * i)
        rows.append(dict(record_id=f"D{i}", action_id=up, status="accepted", updated_at=when, snooze_until=None,
                         reason=None))
        rows.append(dict(record_id=f"D{i}", action_id=down, status="dismissed", updated_at=when, snooze_until=None,
                         reason="wrong_timing"))
    history = pd.DataFrame(rows)
    history["updated_at"] = pd.to_datetime(history["updated_at"], utc=True)
    after = recommend(data, AS_OF, catalog, history=history, models=EngineModels(exploration_share=0))

    # On a deal nobody answered, the accepted action now outranks the dismissed one.
    fresh_before, fresh_after = scores(before, "D11"), scores(after, "D11")
    assert fresh_before[up] < fresh_before[down]
    assert fresh_after[up] > fresh_after[down]
    # Where it was dismissed as wrong timing less than three weeks ago it waits, then comes back.
    recent = [r for r in after.recommendations if r.deal_id == "D9" and r.action_id == down]
    assert not recent
    assert ((after.removed["record_id"] == "D9") & (after.removed["rule"] == "wrong_timing")).any()
    assert down in scores(after, "D0")  # dismissed 30 days ago: offered again


def test_without_models_nothing_changes(catalog):
    data = company(3)
    plain = recommend(data, AS_OF, catalog)
    assert all(r.success_rate is None and r.model_version == "priors-1" for r in plain.recommendations)
    learned = recommend(data, AS_OF, catalog, models=EngineModels(exploration_share=0))
    assert [r.action_id for r in learned.recommendations] == [r.action_id for r in plain.recommendations]
    assert all(r.why[-1].startswith("No history yet") for r in learned.recommendations)
