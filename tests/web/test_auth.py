"""HubSpot v3 signatures and bearer tokens: valid, tampered, wrong URI, stale, missing; portal scoping."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from stepwise.engine.recommendation import Factors, Recommendation, recommendation_id
from stepwise.store import Store
from stepwise.web.app import create_app
from stepwise.web.auth import hubspot_signature, verify_hubspot_signature

SECRET = "hubspot-app-secret"
TOKEN = "bearer-token"
PORTAL = "12345"
DAY = "2024-05-10"
NOW_S = 1_715_337_000.0  # a fixed "now" for the pure function
NOW_MS = str(int(NOW_S * 1000))
URI = "https://cards.example.com/api/v1/records/hubspot-12345/deal/D1/recommendations?portalId=12345&userId=7"


def _rec(source: str, record_id: str = "D1") -> Recommendation:
    return Recommendation(
        id=recommendation_id(source, record_id, "call_champion", DAY), source=source, record_type="deal",
        record_id=record_id, deal_id=record_id, account_id="A1", lead_id=None, action_id="call_champion",
        category="engagement", title="Call the champion", score=70.0, factors=Factors(1, 1, 1, 1), urgency="HIGH",
        expected_impact="keeps it moving", why=("quiet for 12 days",), how=("Call",), offer={}, constraints=(),
        best_before="2024-05-12", success_rate=None, alternatives=(), removed=(), model_version="t", as_of=DAY,
    )


OURS = _rec(f"hubspot-{PORTAL}")
THEIRS = _rec("hubspot-999")


# -- the pure function the HubSpot connector imports --------------------------------------


def test_a_valid_signature_verifies() -> None:
    sig = hubspot_signature("POST", URI, '{"a":1}', NOW_MS, SECRET)
    assert verify_hubspot_signature("POST", URI, '{"a":1}', NOW_MS, sig, SECRET, now=NOW_S)
    assert verify_hubspot_signature("post", URI, b'{"a":1}', int(NOW_MS), sig, SECRET, now=NOW_S + 299)
    assert verify_hubspot_signature("POST", URI, '{"a":1}', NOW_MS, sig, SECRET,
                                    now=datetime.fromtimestamp(NOW_S, UTC))


def test_known_vector() -> None:
    # From openssl, not from our code:
    # printf 'GEThttps://x.test/p?q=11700000000000' | openssl dgst -sha256 -hmac s -binary | base64
    assert hubspot_signature("GET", "https://x.test/p?q=1", "", "1700000000000", "s") == \
        "mAOKXj5wjCAx9nmUhAcy8qDSXHkfr49gfnuJ9LSI9G8="


@pytest.mark.parametrize(("method", "uri", "body", "ts", "now"), [
    ("POST", URI, '{"a":2}', NOW_MS, NOW_S),                       # tampered body
    ("POST", URI.replace("D1", "D2"), '{"a":1}', NOW_MS, NOW_S),   # wrong URI
    ("POST", URI + "&portalId=999", '{"a":1}', NOW_MS, NOW_S),     # extra query
    ("GET", URI, '{"a":1}', NOW_MS, NOW_S),                        # wrong method
    ("POST", URI, '{"a":1}', NOW_MS, NOW_S + 301),                 # stale: older than 5 minutes
    ("POST", URI, '{"a":1}', NOW_MS, NOW_S - 301),                 # from the future beyond the skew allowance
    ("POST", URI, '{"a":1}', str(int(NOW_MS) + 1), NOW_S),         # timestamp changed after signing
])
def test_anything_changed_fails(method: str, uri: str, body: str, ts: str, now: float) -> None:
    sig = hubspot_signature("POST", URI, '{"a":1}', NOW_MS, SECRET)
    assert not verify_hubspot_signature(method, uri, body, ts, sig, SECRET, now=now)


@pytest.mark.parametrize(("ts", "sig", "secret"), [
    (None, "x", SECRET), (NOW_MS, None, SECRET), (NOW_MS, "", SECRET), (NOW_MS, "x", None), (NOW_MS, "x", ""),
    ("not-a-number", "x", SECRET),
])
def test_missing_parts_fail(ts: str | None, sig: str | None, secret: str | None) -> None:
    assert not verify_hubspot_signature("GET", URI, "", ts, sig, secret, now=NOW_S)


def test_wrong_secret_fails() -> None:
    sig = hubspot_signature("GET", URI, "", NOW_MS, "other-secret")
    assert not verify_hubspot_signature("GET", URI, "", NOW_MS, sig, SECRET, now=NOW_S)


def test_hubspot_decodes_a_few_escapes_before_signing() -> None:
    # HubSpot signs the URI with %3A, %2F, %40… decoded; either spelling must verify.
    encoded = "https://x.test/api/v1/records/files%3Ademo/deal/D1/recommendations?email=a%40b.c"
    decoded = "https://x.test/api/v1/records/files:demo/deal/D1/recommendations?email=a@b.c"
    sig = hubspot_signature("GET", decoded, "", NOW_MS, SECRET)
    assert verify_hubspot_signature("GET", encoded, "", NOW_MS, sig, SECRET, now=NOW_S)


# -- through the app ----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'auth.db'}")
    s.upsert_recommendations(s.start_run("hubspot", DAY, "t"), [OURS, THEIRS])
    yield s
    s.close()


@pytest.fixture
def client(store: Store) -> FlaskClient:
    return create_app(store=store, api_tokens=[TOKEN], hubspot_secret=SECRET).test_client()


def _signed(client: FlaskClient, method: str, path: str, body: object = None, *, ts: int | None = None,
            sign_path: str | None = None, secret: str = SECRET, headers: dict[str, str] | None = None):
    data = "" if body is None else json.dumps(body)
    ts = int(time.time() * 1000) if ts is None else ts
    sig = hubspot_signature(method, f"http://localhost{sign_path or path}", data, ts, secret)
    hdrs = {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": str(ts), **(headers or {})}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    return client.open(path, method=method, data=data, headers=hdrs)


RECS = f"/api/v1/records/hubspot-{PORTAL}/deal/D1/recommendations?portalId={PORTAL}&userId=7"


def test_signed_request_reads_its_portal(client: FlaskClient) -> None:
    resp = _signed(client, "GET", RECS)
    assert resp.status_code == 200, resp.get_json()
    assert [r["id"] for r in resp.get_json()["recommendations"]] == [OURS.id]


def test_signed_feedback_and_undo(client: FlaskClient, store: Store) -> None:
    path = f"/api/v1/recommendations/{OURS.id}/feedback?portalId={PORTAL}"
    resp = _signed(client, "POST", path, {"action": "dismissed", "reason": "not_relevant", "user": "hs-user-7"})
    assert resp.status_code == 201
    undo = _signed(client, "POST", f"/api/v1/recommendations/{OURS.id}/feedback/undo?portalId={PORTAL}",
                   {"user": "hs-user-7"})
    assert undo.status_code == 200 and undo.get_json()["restored_status"] == "new"


def test_tampered_body_is_401(client: FlaskClient, store: Store) -> None:
    path = f"/api/v1/recommendations/{OURS.id}/feedback?portalId={PORTAL}"
    ts = int(time.time() * 1000)
    sig = hubspot_signature("POST", f"http://localhost{path}", json.dumps({"action": "accepted", "user": "u"}), ts, SECRET)
    resp = client.post(path, data=json.dumps({"action": "dismissed", "user": "u"}), headers={
        "X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": str(ts), "Content-Type": "application/json"})
    assert resp.status_code == 401 and resp.get_json() == {"error": "invalid or expired HubSpot signature"}
    assert store.counts()["feedback_events"] == 0


def test_wrong_uri_is_401(client: FlaskClient) -> None:
    other = RECS.replace("D1", "D2")
    assert _signed(client, "GET", RECS, sign_path=other).status_code == 401


def test_stale_timestamp_is_401(client: FlaskClient) -> None:
    six_minutes_ago = int((time.time() - 360) * 1000)
    resp = _signed(client, "GET", RECS, ts=six_minutes_ago)
    assert resp.status_code == 401 and "expired" in resp.get_json()["error"]


def test_wrong_secret_is_401(client: FlaskClient) -> None:
    assert _signed(client, "GET", RECS, secret="guess").status_code == 401


def test_missing_timestamp_is_401(client: FlaskClient) -> None:
    resp = client.get(RECS, headers={"X-HubSpot-Signature-v3": "abc"})
    assert resp.status_code == 401 and "X-HubSpot-Request-Timestamp" in resp.get_json()["error"]


def test_no_credentials_at_all_is_401(client: FlaskClient) -> None:
    resp = client.get(RECS)
    assert resp.status_code == 401 and resp.get_json()["error"] == "missing bearer token or HubSpot signature"


def test_signatures_refused_without_a_secret(store: Store) -> None:
    client = create_app(store=store, api_tokens=[TOKEN]).test_client()
    resp = _signed(client, "GET", RECS)
    assert resp.status_code == 401 and "HUBSPOT_CLIENT_SECRET" in resp.get_json()["error"]


def test_signed_request_needs_portal_id(client: FlaskClient) -> None:
    resp = _signed(client, "GET", f"/api/v1/records/hubspot-{PORTAL}/deal/D1/recommendations")
    assert resp.status_code == 403 and "portalId" in resp.get_json()["error"]


def test_another_portals_records_are_out_of_reach(client: FlaskClient, store: Store) -> None:
    resp = _signed(client, "GET", f"/api/v1/records/hubspot-999/deal/D1/recommendations?portalId={PORTAL}")
    assert resp.status_code == 403 and "hubspot-12345" in resp.get_json()["error"]
    resp = _signed(client, "GET", f"/api/v1/recommendations/{THEIRS.id}?portalId={PORTAL}")
    assert resp.status_code == 404  # looks exactly like an id that does not exist
    resp = _signed(client, "POST", f"/api/v1/recommendations/{THEIRS.id}/feedback?portalId={PORTAL}",
                   {"action": "accepted", "user": "u"})
    assert resp.status_code == 404 and store.counts()["feedback_events"] == 0


def test_bearer_token_sees_every_source(client: FlaskClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get(f"/api/v1/recommendations/{THEIRS.id}", headers=auth).status_code == 200
    # portalId is checked even with a token, as the document says
    assert client.get(f"/api/v1/recommendations/{THEIRS.id}?portalId=abc", headers=auth).status_code == 400


def test_a_bad_bearer_token_is_not_rescued_by_a_signature(client: FlaskClient) -> None:
    resp = _signed(client, "GET", RECS, headers={"Authorization": "Bearer wrong"})
    assert resp.status_code == 401 and resp.get_json()["error"] == "invalid API token"


def test_secret_is_not_in_config(store: Store) -> None:
    app = create_app(store=store, api_tokens=[TOKEN], hubspot_secret=SECRET)
    assert SECRET not in repr(dict(app.config)) and TOKEN not in repr(dict(app.config))
