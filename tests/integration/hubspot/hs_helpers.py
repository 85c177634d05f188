"""Helpers shared by the HubSpot tests (imported by name: a conftest is not a module to import from)."""

from __future__ import annotations


def make_rec(deal_id: str, action_id: str = "send_roi_calculator", *, score: float = 80.0, rank: int = 1,
             day: str = "2026-11-23", urgency: str = "HIGH"):
    from stepwise.engine.recommendation import Factors, Recommendation, recommendation_id

    return Recommendation(
        id=recommendation_id("hubspot", deal_id, action_id, day), source="hubspot", record_type="deal",
        record_id=deal_id, deal_id=deal_id, account_id="50000", lead_id=None, action_id=action_id,
        category="content", title=f"{action_id} for deal {deal_id}", score=score, factors=Factors(90, 60, 70, 90),
        urgency=urgency, expected_impact="Stage advance", why=("Budget came up 3 times in 30 days.",),
        how=("Open the ROI calculator.", "Send it by email."), offer={}, constraints=(), best_before="2026-11-24",
        success_rate=None, alternatives=(), removed=(), model_version="test", as_of=day, rank=rank,
    )
