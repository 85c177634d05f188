"""GET /api/v1/reps/me/today: a HubSpot-signed request's userId → the owner (owners API, fake HubSpot) → their list."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient

from stepwise.engine.today import Listed
from stepwise.integration.hubspot import OwnerDirectory, Tokens, TokenStore, portal_clients
from stepwise.integration.hubspot.fake import TOKEN as HUBSPOT_TOKEN
from stepwise.integration.hubspot.fake import FakeHubSpot
from stepwise.settings import get_settings
from stepwise.store import Store, TodayLists
from stepwise.web.api import OWNERS
from stepwise.web.app import create_app
from stepwise.web.auth import hubspot_signature
from tests.web.cards_fixtures import AUTH, DAY, TOKEN, make_rec

SECRET = "hubspot-client-secret"
PORTAL = "4242"          # the fake's portal
OWNER, USER = "701", 9001  # owner id (what cards are ranked by) and HubSpot user id (what the card knows)


def _card(source: str, record_id: str, action_id: str, owner: str):
    rec = make_rec(record_id, action_id)
    return replace(rec, id=f"{rec.id}_{source}", source=source, owner_id=owner)


# Owner 701 has two cards in portal 4242, and the same owner id has a card in another portal (ids collide
# across portals), which a signed request from 4242 must never see.
OURS = [_card(f"hubspot-{PORTAL}", "D1", "call_champion", OWNER), _card(f"hubspot-{PORTAL}", "D2", "send_quote", OWNER)]
COLLEAGUE = _card(f"hubspot-{PORTAL}", "D3", "call_champion", "702")
ELSEWHERE = _card("hubspot-999", "D9", "call_champion", OWNER)


def _listed(recs) -> list[Listed]:
    """Each owner's cards ranked 1, 2, … in the given order."""
    ranks: dict[str, int] = {}
    out = []
    for r in recs:
        ranks[r.owner_id] = ranks.get(r.owner_id, 0) + 1
        out.append(Listed(r.owner_id, ranks[r.owner_id], r.card_key, r.id, 1000.0, r.urgency))
    return out


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'me.db'}")
    for source, recs in ((f"hubspot-{PORTAL}", [*OURS, COLLEAGUE]), ("hubspot-999", [ELSEWHERE])):
        s.upsert_recommendations(s.start_run(source, DAY, "test-1"), recs)
        TodayLists(s).replace(source, DAY, _listed(recs))
    yield s
    s.close()


@pytest.fixture
def hubspot(httpserver, store, monkeypatch) -> Iterator[FakeHubSpot]:
    """The fake portal over HTTP, reached with the private app token the card service's settings name."""
    portal = FakeHubSpot()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(portal.handle)
    portal.add_owner(OWNER, USER, email="ada@x.test")
    portal.add_owner("702", 9002)
    portal.add_owner("703", 9003, archived=True)  # a deactivated user
    portal.add_owner("704", None, owner_type="QUEUE")
    for name in ("HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET", "STEPWISE_REDIS_URL", "STEPWISE_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    env = {"HUBSPOT_ACCESS_TOKEN": HUBSPOT_TOKEN, "HUBSPOT_BASE_URL": httpserver.url_for("").rstrip("/"),
           "HUBSPOT_PORTAL_ID": PORTAL, "STEPWISE_DATABASE_URL": str(store.engine.url)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield portal
    get_settings.cache_clear()


@pytest.fixture
def client(store, hubspot) -> FlaskClient:
    return create_app(store=store, api_tokens=[TOKEN], hubspot_secret=SECRET).test_client()


def signed(client: FlaskClient, path: str):
    ts = int(time.time() * 1000)
    sig = hubspot_signature("GET", f"http://localhost{path}", "", ts, SECRET)
    return client.get(path, headers={"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": str(ts)})


def me(user: int | str = USER, portal: str = PORTAL, extra: str = "") -> str:
    return f"/api/v1/reps/me/today?portalId={portal}&userId={user}{extra}"


def owner_lookups(portal: FakeHubSpot) -> int:
    return portal.calls()["GET /crm/v3/owners/{id}"]


def test_me_is_the_signing_users_owner_and_only_their_portals_list(client, hubspot):
    answer = signed(client, me())
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["owner"] == OWNER and body["as_of"] == DAY and "message" not in body
    assert [i["id"] for i in body["items"]] == [r.id for r in OURS]  # not the colleague's, not portal 999's
    assert [i["today_rank"] for i in body["items"]] == [1, 2]
    # The same list the owner id gives a bearer token for that portal's source.
    by_id = client.get(f"/api/v1/reps/{OWNER}/today?source=hubspot-{PORTAL}", headers=AUTH).get_json()
    assert body == by_id
    assert [p for _, _, p in hubspot.log if p.startswith("/crm/v3/owners")] == [f"/crm/v3/owners/{USER}"]


def test_the_owner_is_looked_up_once_then_served_from_the_cache(client, hubspot):
    for _ in range(3):
        assert signed(client, me()).get_json()["owner"] == OWNER
    assert signed(client, me(9002)).get_json()["owner"] == "702"
    assert owner_lookups(hubspot) == 2


def test_me_with_a_bearer_token_is_a_400_that_says_to_use_the_owner_id(client, hubspot):
    for path in ("/api/v1/reps/me/today", "/reps/me/today"):  # the API and the HTML page
        answer = client.get(path, headers=AUTH)
        assert answer.status_code == 400
        assert answer.get_json() == {"error": "`me` needs a HubSpot-signed request; use the owner id"}
    assert owner_lookups(hubspot) == 0


@pytest.mark.parametrize("user", [9404, 9003], ids=["no such user", "deactivated user"])
def test_a_user_who_is_no_owner_gets_an_empty_list_with_a_message(client, hubspot, user):
    answer = signed(client, me(user))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["owner"] is None and body["items"] == [] and body["as_of"] == DAY
    assert body["message"] == f"HubSpot user {user} is not an active owner in portal {PORTAL}, so no cards are ranked for them"


def test_a_signed_me_without_a_numeric_user_id_is_a_400(client, hubspot):
    missing = signed(client, f"/api/v1/reps/me/today?portalId={PORTAL}")
    assert missing.status_code == 400 and "must carry a numeric userId" in missing.get_json()["error"]
    bad = signed(client, me("9001x"))
    assert bad.status_code == 400 and bad.get_json() == {"error": "userId must be a number, got '9001x'"}
    assert owner_lookups(hubspot) == 0


def test_not_an_owner_is_remembered_for_minutes_an_owner_for_an_hour(store, hubspot):
    now = [0.0]
    directory = OwnerDirectory(portal_clients(store), clock=lambda: now[0])
    assert directory.owner_of(PORTAL, "9005") is None
    hubspot.add_owner("705", 9005)          # the admin adds the user
    now[0] = 299.0
    assert directory.owner_of(PORTAL, "9005") is None and directory.lookups == 1
    now[0] = 301.0
    assert directory.owner_of(PORTAL, "9005") == "705" and directory.lookups == 2
    now[0] = 301.0 + 3599.0
    assert directory.owner_of(PORTAL, "9005") == "705" and directory.lookups == 2
    now[0] = 301.0 + 3601.0
    assert directory.owner_of(PORTAL, "9005") == "705" and directory.lookups == 3


def test_a_missing_scope_is_a_503_naming_the_scope_and_is_not_remembered(client, hubspot):
    hubspot.fail(r"^/crm/v3/owners/", 403, body={
        "status": "error", "category": "MISSING_SCOPES", "correlationId": "c0ffee",
        "message": "This app hasn't been granted all required scopes to make this call.",
        "errors": [{"message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": ["crm.objects.owners.read"]}}]})
    refused = signed(client, me())
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    assert "crm.objects.owners.read" in refused.get_json()["error"]
    assert signed(client, me()).get_json()["owner"] == OWNER  # granted since: the next request resolves
    assert owner_lookups(hubspot) == 2


def test_hubspot_failing_twice_is_a_503_and_the_next_request_tries_again(client, hubspot):
    hubspot.fail(r"^/crm/v3/owners/", 502, times=2)  # the first try and its one retry
    failed = signed(client, me())
    assert failed.status_code == 503
    assert "the HubSpot owners lookup failed for portal 4242" in failed.get_json()["error"]
    assert signed(client, me()).get_json()["owner"] == OWNER
    assert owner_lookups(hubspot) == 3


def test_a_portal_this_deployment_has_no_credentials_for_is_a_503(client, hubspot):
    answer = signed(client, me(portal="5555"))
    assert answer.status_code == 503
    assert "no HubSpot credentials for portal 5555" in answer.get_json()["error"]
    assert owner_lookups(hubspot) == 0


def test_a_public_app_install_resolves_with_that_portals_oauth_token(store, hubspot, monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    for name, value in {"HUBSPOT_CLIENT_ID": "client-1", "HUBSPOT_CLIENT_SECRET": SECRET,
                        "STEPWISE_ENCRYPTION_KEY": key}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    hubspot.tokens = {"oauth-access-4242"}  # the private app token no longer opens the portal
    TokenStore(store, key).save(Tokens(PORTAL, "oauth-access-4242", "oauth-refresh-1", time.time() + 1800))
    client = create_app(store=store, api_tokens=[TOKEN], hubspot_secret=SECRET).test_client()
    body = signed(client, me()).get_json()
    assert body["owner"] == OWNER and [i["id"] for i in body["items"]] == [r.id for r in OURS]


def test_the_fakes_owner_reads_are_shaped_like_hubspots(client, hubspot):
    signed(client, me())  # builds the portal's client
    hs = client.application.extensions[OWNERS]._client(PORTAL)
    by_user = hs.call("crm.owners.owners_api", "get_by_id", str(USER), id_property="userId")
    by_id = hs.call("crm.owners.owners_api", "get_by_id", OWNER)
    assert by_user == by_id
    assert {"id", "email", "type", "firstName", "lastName", "userId", "userIdIncludingInactive", "createdAt",
            "updatedAt", "archived", "teams"} <= set(by_id)
    assert by_id["id"] == OWNER and by_id["userId"] == USER and by_id["archived"] is False
    archived = hs.call("crm.owners.owners_api", "get_by_id", "9003", id_property="userId", archived=True)
    assert archived["id"] == "703" and "userId" not in archived and archived["userIdIncludingInactive"] == 9003
    page = hs.call("crm.owners.owners_api", "get_page", email="ada@x.test")
    assert [o["id"] for o in page["results"]] == [OWNER]


def test_an_unreachable_rate_limit_store_makes_the_owners_lookup_a_retryable_failure_not_a_crash():
    """The lookup takes a token from the shared Redis bucket first: Redis down is OwnerLookupFailed (the route's 503)."""
    import pytest

    from stepwise.integration.hubspot import OwnerDirectory, OwnerLookupFailed
    from stepwise.integration.hubspot.client import HubSpotClient, StaticToken

    client = HubSpotClient(StaticToken("t"), "http://127.0.0.1:9", redis_url="redis://127.0.0.1:1/0", account="down")
    with pytest.raises(OwnerLookupFailed, match="rate-limit token"):
        OwnerDirectory(lambda _portal: client).owner_of("123", "456")
