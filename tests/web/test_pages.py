"""The dashboard and the HTML card view through the test client: auth, content, escaping."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from stepwise.store import Store
from stepwise.web.app import create_app
from tests.web.cards_fixtures import AUTH, DAY, DEAL_REC, SOURCE, TOKEN, feedback


@pytest.mark.parametrize("path", ["/dashboard", f"/cards/{SOURCE}/deal/D1"])
def test_pages_need_a_token_or_session(client: FlaskClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 401 and resp.is_json and "?token=" in resp.get_json()["error"]
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(f"{path}?token=nope").status_code == 401
    assert client.get(path, headers=AUTH).status_code == 200


def test_query_token_becomes_a_session_cookie(client: FlaskClient) -> None:
    resp = client.get(f"/dashboard?source={SOURCE}&token={TOKEN}")
    assert resp.status_code == 303 and resp.headers["Location"] == f"/dashboard?source={SOURCE}"
    cookie = resp.headers["Set-Cookie"]
    assert "stepwise_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert TOKEN not in cookie
    page = client.get(f"/dashboard?source={SOURCE}")  # the test client keeps the cookie
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Cache-Control"] == "no-store"


def test_rotating_the_tokens_ends_sessions(store: Store) -> None:
    first = create_app(store=store, api_tokens=[TOKEN]).test_client()
    cookie = first.get(f"/dashboard?token={TOKEN}").headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    rotated = create_app(store=store, api_tokens=["new-token"]).test_client()
    rotated.set_cookie("stepwise_session", cookie)
    assert rotated.get("/dashboard").status_code == 401
    same = create_app(store=store, api_tokens=[TOKEN]).test_client()  # another gunicorn worker
    same.set_cookie("stepwise_session", cookie)
    assert same.get("/dashboard").status_code == 200


def test_dashboard_shows_what_leaders_need(client: FlaskClient, store: Store) -> None:
    feedback(client, {"action": "dismissed", "reason": "already_contacted", "user": "rep1"})
    store.upsert_deal_outcomes(SOURCE, [{"deal_id": "D1", "stage": "closed_won", "is_closed": True, "is_won": True}])
    html = client.get("/dashboard", headers=AUTH).get_data(as_text=True)
    for text in ("Acceptance rate over time", "Shown vs acted on", "Acceptance by action", "Acceptance by rep",
                 "Dismissal reasons", "already_contacted", "Win rate by what the rep did", "Removed by the rules",
                 "Runs and model version", "test-1", "<svg"):
        assert text in html, text
    assert "<script" not in html  # no JavaScript at all


def test_dashboard_on_an_empty_store(tmp_path) -> None:
    client = create_app(store=Store(f"sqlite:///{tmp_path / 'empty.db'}"), api_tokens=[TOKEN]).test_client()
    resp = client.get("/dashboard", headers=AUTH)
    assert resp.status_code == 200 and "no data yet" in resp.get_data(as_text=True)


def test_card_page_renders_the_cards(client: FlaskClient) -> None:
    html = client.get(f"/cards/{SOURCE}/deal/D1", headers=AUTH).get_data(as_text=True)
    assert "NEXT BEST ACTION: call_champion on D1" in html and "no reply for 12 days" in html
    assert "Success rate: no history yet" in html
    assert client.get(f"/cards/{SOURCE}/deal/D1?as_of=2001-01-01", headers=AUTH).status_code == 200
    assert "No recommendation" in client.get(f"/cards/{SOURCE}/lead/L9", headers=AUTH).get_data(as_text=True)


def test_card_page_errors_are_json(client: FlaskClient) -> None:
    resp = client.get(f"/cards/{SOURCE}/opportunity/D1", headers=AUTH)
    assert resp.status_code == 400 and "record_type" in resp.get_json()["error"]
    resp = client.get(f"/cards/{SOURCE}/deal/D1?as_of=2024-13-01", headers=AUTH)
    assert resp.status_code == 400 and "as_of" in resp.get_json()["error"]


def test_card_text_is_escaped(store: Store, client: FlaskClient) -> None:
    evil = replace(DEAL_REC, id="rec_evil", record_id="D7", deal_id="D7", title="<script>alert(1)</script>",
                   why=("<img src=x onerror=alert(1)>",))
    store.upsert_recommendations(store.start_run(SOURCE, DAY, "t"), [evil])
    html = client.get(f"/cards/{SOURCE}/deal/D7", headers=AUTH).get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
