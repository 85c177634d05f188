"""Dismiss undo through the API, and the Prometheus metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from stepwise.store import Store
from stepwise.web.app import create_app
from tests.web.cards_fixtures import ACCOUNT_REC, AUTH, DEAL_REC, SOURCE, TOKEN, feedback


def _undo(client: FlaskClient, body: object, rec_id: str = DEAL_REC.id):
    return client.post(f"/api/v1/recommendations/{rec_id}/feedback/undo", json=body, headers=AUTH)


def test_dismiss_then_undo_brings_the_card_back(client: FlaskClient, store: Store) -> None:
    assert feedback(client, {"action": "dismissed", "reason": "wrong_timing", "user": "rep1"}).status_code == 201
    listed = client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH).get_json()
    assert DEAL_REC.id not in [r["id"] for r in listed["recommendations"]]
    resp = _undo(client, {"user": "rep1"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["action"] == "undone" and body["restored_status"] == "new" and body["user"] == "rep1"
    listed = client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH).get_json()
    assert DEAL_REC.id in [r["id"] for r in listed["recommendations"]]
    events = client.get(f"/api/v1/recommendations/{DEAL_REC.id}", headers=AUTH).get_json()["feedback"]
    assert [e["action"] for e in events] == ["dismissed", "undone"]


def test_undo_errors(client: FlaskClient, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _undo(client, {"user": "rep1"}).status_code == 409  # nothing dismissed yet
    feedback(client, {"action": "accepted", "user": "rep1"})
    resp = _undo(client, {"user": "rep1"})
    assert resp.status_code == 409 and "not a dismissal" in resp.get_json()["error"]
    assert _undo(client, {"user": "rep1"}, rec_id="rec_missing").status_code == 404
    assert _undo(client, {}).get_json()["error"] == "user: Field required"
    assert _undo(client, {"user": "   "}).get_json()["error"] == "user: must not be blank or contain NUL characters"
    assert _undo(client, ["x"]).status_code == 400
    assert client.post(f"/api/v1/recommendations/{ACCOUNT_REC.id}/feedback/undo", json={"user": "u"}).status_code == 401
    # too late: the dismissal is older than the window
    feedback(client, {"action": "dismissed", "user": "rep1"}, rec_id=ACCOUNT_REC.id)
    real = store.undo_feedback
    monkeypatch.setattr(store, "undo_feedback", lambda rec_id, user: real(
        rec_id, user, now=datetime.now(UTC) + timedelta(minutes=6)))
    resp = _undo(client, {"user": "rep1"}, rec_id=ACCOUNT_REC.id)
    assert resp.status_code == 409 and "older than 5 minutes" in resp.get_json()["error"]


def _samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    out = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_latency_andfeedback(client: FlaskClient) -> None:
    client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH)
    client.get(f"/api/v1/records/{SOURCE}/deal/D2/recommendations", headers=AUTH)
    client.get("/api/v1/recommendations/nope", headers=AUTH)
    client.get("/no/such/page")
    feedback(client, {"action": "dismissed", "user": "rep1"})
    feedback(client, {"action": "accepted", "user": "rep1"}, **{"Idempotency-Key": "k1"}, rec_id=ACCOUNT_REC.id)
    feedback(client, {"action": "accepted", "user": "rep1"}, **{"Idempotency-Key": "k1"}, rec_id=ACCOUNT_REC.id)
    feedback(client, {"action": "liked", "user": "rep1"})
    feedback(client, {"action": "accepted", "user": "rep1"}, rec_id="rec_missing")
    _undo(client, {"user": "rep1"})
    s = _samples(client)
    route = "/api/v1/records/<source>/<record_type>/<record_id>/recommendations"
    assert s[("stepwise_http_requests_total", (("method", "GET"), ("route", route), ("status", "200")))] == 2
    assert s[("stepwise_http_requests_total", (("method", "GET"), ("route", "<unmatched>"), ("status", "404")))] == 1
    assert s[("stepwise_http_request_duration_seconds_count", (("method", "GET"), ("route", route)))] == 2
    by_outcome = {dict(k[1])["action"] + "/" + dict(k[1])["outcome"]: v for k, v in s.items()
                if k[0] == "stepwise_feedback_total"}
    assert by_outcome == {"dismissed/recorded": 1, "accepted/recorded": 1, "accepted/replayed": 1,
                        "unknown/invalid": 1, "accepted/not_found": 1, "undo/undone": 1}


def test_each_app_has_its_own_registry(store: Store) -> None:
    first = create_app(store=store, api_tokens=[TOKEN]).test_client()
    second = create_app(store=store, api_tokens=[TOKEN]).test_client()
    first.get("/healthz")
    first.get("/healthz")
    key = ("stepwise_http_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "200")))
    assert _samples(first)[key] == 2
    assert key not in _samples(second)


def test_store_down_is_a_503_not_a_500() -> None:
    down = Store("postgresql+psycopg://u:secret@127.0.0.1:1/db?connect_timeout=1")
    client = create_app(store=down, api_tokens=[TOKEN]).test_client()
    resp = client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert resp.get_json() == {"error": "the store is not reachable; retry shortly"}
