"""The card service through Flask's test client, on a real SQLite store."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from stepwise.store import Store
from stepwise.web.app import create_app
from tests.web.cards_fixtures import ACCOUNT_REC, AUTH, DAY, DEAL_REC, SOURCE, TOKEN, feedback


def test_health_and_index(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html" and b"/api/v1/recommendations" in page.data


def test_readyz_503_when_the_database_is_down() -> None:
    down = Store("postgresql+psycopg://u:secret@127.0.0.1:1/db?connect_timeout=1")
    resp = create_app(store=down, api_tokens=[TOKEN]).test_client().get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["status"] == "unavailable"
    assert "secret" not in resp.get_data(as_text=True)


def test_deal_shows_its_own_and_its_accounts_recommendations(client: FlaskClient) -> None:
    resp = client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["record"] == {"source": SOURCE, "record_type": "deal", "record_id": "D1"}
    assert [r["id"] for r in body["recommendations"]] == [ACCOUNT_REC.id, DEAL_REC.id]
    assert all(r["status"] == "new" and "factors" in r and "why" in r for r in body["recommendations"])
    account = client.get(f"/api/v1/records/{SOURCE}/account/A1/recommendations", headers=AUTH).get_json()
    assert [r["id"] for r in account["recommendations"]] == [ACCOUNT_REC.id]
    assert client.get(f"/api/v1/records/{SOURCE}/lead/L404/recommendations", headers=AUTH).get_json()["recommendations"] == []


def test_record_type_and_as_of_are_checked(client: FlaskClient) -> None:
    resp = client.get(f"/api/v1/records/{SOURCE}/opportunity/D1/recommendations", headers=AUTH)
    assert resp.status_code == 400 and "record_type must be one of deal, lead, account" in resp.get_json()["error"]
    resp = client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations?as_of=yesterday", headers=AUTH)
    assert resp.status_code == 400 and "as_of" in resp.get_json()["error"]
    resp = client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations?as_of={DAY}", headers=AUTH)
    assert len(resp.get_json()["recommendations"]) == 2


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Bearer "}])
def test_api_needs_a_valid_token(client: FlaskClient, headers: dict[str, str]) -> None:
    for resp in (
        client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=headers),
        client.get(f"/api/v1/recommendations/{DEAL_REC.id}", headers=headers),
        client.post(f"/api/v1/recommendations/{DEAL_REC.id}/feedback", json={"action": "accepted", "user": "u"}, headers=headers),
    ):
        assert resp.status_code == 401 and resp.is_json and resp.get_json()["error"]


def test_no_tokens_configured_means_401(store: Store) -> None:
    client = create_app(store=store, api_tokens=[]).test_client()
    resp = client.get(f"/api/v1/recommendations/{DEAL_REC.id}", headers=AUTH)
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "no API tokens configured (set STEPWISE_API_TOKENS)"}


def test_tokens_are_kept_only_as_digests(store: Store) -> None:
    app = create_app(store=store, api_tokens=[TOKEN])
    assert TOKEN not in repr(dict(app.config))


def test_feedback_changes_status(client: FlaskClient, store: Store) -> None:
    resp = feedback(client, {"action": "dismissed", "reason": "already_contacted", "note": "called Monday", "user": "rep1"})
    assert resp.status_code == 201
    event = resp.get_json()
    assert event["action"] == "dismissed" and event["reason"] == "already_contacted" and event["replayed"] is False
    assert store.get_recommendation(DEAL_REC.id).status == "dismissed"  # type: ignore[union-attr]
    listed = client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH).get_json()
    assert [r["id"] for r in listed["recommendations"]] == [ACCOUNT_REC.id]
    one = client.get(f"/api/v1/recommendations/{DEAL_REC.id}", headers=AUTH).get_json()
    assert one["status"] == "dismissed" and [e["id"] for e in one["feedback"]] == [event["id"]]


def test_snooze_with_a_date(client: FlaskClient) -> None:
    resp = feedback(client, {"action": "snoozed", "snooze_until": "2024-06-01", "user": "rep1"})
    assert resp.status_code == 201 and resp.get_json()["snooze_until"].startswith("2024-06-01T00:00:00")


def test_idempotent_replay(client: FlaskClient, store: Store) -> None:
    body = {"action": "accepted", "user": "rep1"}
    first = feedback(client, body, **{"Idempotency-Key": "abc-123"})
    again = feedback(client, body, **{"Idempotency-Key": "abc-123"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"] and again.get_json()["replayed"] is True
    assert store.counts()["feedback_events"] == 1
    other = feedback(client, body, rec_id=ACCOUNT_REC.id, **{"Idempotency-Key": "abc-123"})
    assert other.status_code == 409 and other.is_json
    too_long = feedback(client, body, **{"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 400


@pytest.mark.parametrize(("body", "message"), [
    ({"action": "liked", "user": "rep1"}, "action: Input should be 'accepted', 'dismissed' or 'snoozed'"),
    ({"action": "dismissed", "reason": "meh", "user": "rep1"}, "reason: Input should be"),
    ({"action": "accepted"}, "user: Field required"),
    ({"action": "accepted", "user": ""}, "user: String should have at least 1 character"),
    ({"action": "accepted", "user": 42}, "user: Input should be a valid string"),
    ({"action": "snoozed", "user": "rep1"}, "snooze_until is required when action is snoozed"),
    ({"action": "snoozed", "user": "rep1", "snooze_until": "soon"}, "snooze_until: must be an ISO date (YYYY-MM-DD) or date-time"),
    ({"action": "accepted", "user": "rep1", "extra": 1}, "extra: Extra inputs are not permitted"),
    (["accepted"], "request body must be a JSON object"),
])
def test_bad_feedback_is_400(client: FlaskClient, store: Store, body: object, message: str) -> None:
    resp = feedback(client, body)
    assert resp.status_code == 400
    assert message in resp.get_json()["error"] and "\n" not in resp.get_json()["error"]
    assert store.counts()["feedback_events"] == 0


def test_malformed_json_is_400(client: FlaskClient) -> None:
    resp = client.post(f"/api/v1/recommendations/{DEAL_REC.id}/feedback", data="{not json",
                       headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.get_json() == {"error": "request body must be a JSON object"}


def test_unknown_recommendation_is_404(client: FlaskClient) -> None:
    resp = feedback(client, {"action": "accepted", "user": "rep1"}, rec_id="rec_missing")
    assert resp.status_code == 404 and "rec_missing" in resp.get_json()["error"]
    assert client.get("/api/v1/recommendations/rec_missing", headers=AUTH).status_code == 404


def test_oversized_body_is_413(client: FlaskClient) -> None:
    resp = feedback(client, {"action": "accepted", "user": "rep1", "note": "x" * (1024 * 1024 + 1)})
    assert resp.status_code == 413 and resp.get_json()["error"].startswith("request body larger than")


def test_http_errors_are_json(client: FlaskClient) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and "error" in missing.get_json()
    wrong_method = client.delete(f"/api/v1/recommendations/{DEAL_REC.id}/feedback", headers=AUTH)
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"] and wrong_method.is_json


def test_unexpected_errors_are_a_500_without_traceback(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(store, "card_rows_for", boom)
    client = create_app(store=store, api_tokens=[TOKEN]).test_client()
    resp = client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH)
    assert resp.status_code == 500 and resp.get_json() == {"error": "internal server error"}
