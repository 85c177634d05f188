"""Public-app install, encrypted token storage, refresh before expiry and after a 401; the CLI commands."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from pydantic import SecretStr
from sqlalchemy import text

from stepwise.integration.hubspot.fake import FakeHubSpot
from stepwise.integration.hubspot.tokens import OAuthTokenProvider, Tokens, TokenStore
from stepwise.web import hubspot_oauth

KEY = Fernet.generate_key().decode()


class _Settings:
    hubspot_client_id = "client-1"
    hubspot_client_secret = SecretStr("shh")
    database_url = "sqlite://"

    def __init__(self, base_url: str):
        self.hubspot_base_url = base_url


@pytest.fixture
def tokens(hs_store) -> TokenStore:
    return TokenStore(hs_store, KEY)


@pytest.fixture
def app(fake: FakeHubSpot, tokens: TokenStore) -> Flask:
    app = Flask(__name__)
    app.config.update(HUBSPOT_SETTINGS=_Settings(fake.base_url), HUBSPOT_TOKEN_STORE=tokens,
                      HUBSPOT_REDIRECT_URI="https://stepwise.example.com/oauth/hubspot/callback")
    app.register_blueprint(hubspot_oauth.bp)
    return app


def test_install_redirects_to_consent_with_scopes_and_a_signed_state(app: Flask):
    response = app.test_client().get("/oauth/hubspot/install")
    assert response.status_code == 302
    url = urlparse(response.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.netloc == "app.hubspot.com" and query["client_id"] == "client-1"
    assert "crm.objects.deals.write" in query["scope"] and query["state"]


def test_callback_stores_encrypted_tokens_for_the_portal(app: Flask, tokens: TokenStore, hs_store):
    client = app.test_client()
    state = parse_qs(urlparse(client.get("/oauth/hubspot/install").headers["Location"]).query)["state"][0]
    response = client.get(f"/oauth/hubspot/callback?code=good-code&state={state}")
    assert response.status_code == 200 and response.json["portal_id"] == "4242"
    saved = tokens.get("4242")
    assert saved.access_token.startswith("oauth-access-") and saved.refresh_token.startswith("oauth-refresh-")
    with hs_store.engine.connect() as conn:
        raw = conn.execute(text("select refresh_token from hubspot_oauth_tokens")).scalar_one()
    assert saved.refresh_token not in raw          # encrypted at rest
    assert "oauth-refresh" not in repr(saved)


@pytest.mark.parametrize("query", ["code=good-code&state=forged", "code=good-code", "error=access_denied&state=x"])
def test_callback_refuses_forged_or_failed_installs(app: Flask, query: str):
    assert app.test_client().get(f"/oauth/hubspot/callback?{query}").status_code == 400


def test_expired_access_token_is_refreshed_on_401_and_the_call_succeeds(fake: FakeHubSpot, tokens, make_client):
    fake.populate(2)
    fake.refresh_tokens["r-1"] = "4242"
    fake.expired.add("a-old")
    tokens.save(Tokens("4242", "a-old", "r-1", time.time() + 3600))   # HubSpot says expired before our clock does
    provider = OAuthTokenProvider(tokens, "4242", "client-1", SecretStr("shh"), fake.base_url)
    client = make_client(tokens=provider)
    client.call("crm.pipelines.pipelines_api", "get_all", "deals")
    assert client.retried["401"] == 1
    assert tokens.get("4242").access_token.startswith("oauth-access-")


def test_a_token_near_expiry_is_refreshed_before_the_call(fake: FakeHubSpot, tokens):
    fake.refresh_tokens["r-2"] = "4242"
    tokens.save(Tokens("4242", "a-stale", "r-2", time.time() + 60))
    provider = OAuthTokenProvider(tokens, "4242", "client-1", SecretStr("shh"), fake.base_url)
    assert provider.access_token().startswith("oauth-access-")
    assert [p for _, _, p in fake.log] == ["/oauth/v1/token"]


def test_commands_setup_check_and_sync_against_the_fake(fake: FakeHubSpot, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from stepwise.cli.core import check, setup, sync
    from stepwise.settings import get_settings

    fake.populate(12)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-test-token")
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake.base_url)
    monkeypatch.setenv("STEPWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("STEPWISE_REDIS_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        before = runner.invoke(check, ["hubspot"])
        assert before.exit_code == 1 and "run `stepwise setup hubspot`" in before.output
        first = runner.invoke(setup, ["hubspot"])
        assert first.exit_code == 0 and "created property deals.stepwise_score" in first.output
        assert "already set up" in runner.invoke(setup, ["hubspot"]).output
        after = runner.invoke(check, ["hubspot"])
        assert after.exit_code == 0, after.output
        assert "appointmentscheduled→prospecting" in after.output
        synced = runner.invoke(sync, ["hubspot", "--as-of", "2026-11-23"])
        assert synced.exit_code == 0, synced.output
        assert "12 deals seen, 12 changed" in synced.output
        # stored under the portal's source, the only one its card may read (hubspot-<portal id>)
        from stepwise.store import Store

        recs = Store(f"sqlite:///{tmp_path / 'cli.db'}").recommendations_for("hubspot-4242", "deal", "1000")
        assert recs and recs[0].source == "hubspot-4242"
        monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
        get_settings.cache_clear()
        bad = runner.invoke(sync, ["hubspot"])
        assert bad.exit_code == 2 and "HUBSPOT_ACCESS_TOKEN" in bad.output
    finally:
        get_settings.cache_clear()
