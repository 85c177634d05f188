"""Shared test data for the card service tests (fixtures are in conftest.py)."""

from __future__ import annotations

from flask.testing import FlaskClient

from stepwise.engine.recommendation import Factors, Recommendation, recommendation_id

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SOURCE = "hubspot"
DAY = "2024-05-10"


def make_rec(record_id: str, action_id: str, *, record_type: str = "deal", account_id: str = "A1", score: float = 70.0) -> Recommendation:
    return Recommendation(
        id=recommendation_id(SOURCE, record_id, action_id, DAY), source=SOURCE, record_type=record_type,
        record_id=record_id, deal_id=record_id if record_type == "deal" else None, account_id=account_id,
        lead_id=None, action_id=action_id, category="engagement", title=f"{action_id} on {record_id}", score=score,
        factors=Factors(0.5, 0.5, 0.5, 0.5), urgency="MEDIUM", expected_impact="keeps the deal moving",
        why=("no reply for 12 days",), how=("Call the champion",), offer={}, constraints=(), best_before="2024-05-17",
        success_rate=None, alternatives=(), removed=(), model_version="test-1", as_of=DAY,
    )


DEAL_REC = make_rec("D1", "call_champion")
ACCOUNT_REC = make_rec("A1", "replenish", record_type="account", score=85.0)


def feedback(client: FlaskClient, body: object, rec_id: str = DEAL_REC.id, **headers: str):
    return client.post(f"/api/v1/recommendations/{rec_id}/feedback", json=body, headers={**AUTH, **headers})
