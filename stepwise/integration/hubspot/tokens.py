"""OAuth tokens of public-app installs: one row per portal (store/tokens.py), encrypted at rest here.

The key is STEPWISE_ENCRYPTION_KEY (a Fernet key: `python -c "from cryptography.fernet
import Fernet; print(Fernet.generate_key().decode())"`).  Access tokens live ~30 min;
`OAuthTokenProvider` refreshes them a few minutes before expiry and again on a 401.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlalchemy import Engine

from stepwise.integration.base import ConnectorError
from stepwise.integration.hubspot.client import DEFAULT_BASE_URL, HubSpotAuthError, cached_api
from stepwise.store import OAuthTokenRows, SealedTokens, Store

REFRESH_MARGIN_SECONDS = 300


@dataclass
class Tokens:
    portal_id: str
    access_token: str
    refresh_token: str
    expires_at: float
    scopes: str = ""

    def __repr__(self) -> str:
        return f"Tokens(portal_id={self.portal_id!r}, expires_at={self.expires_at}, scopes={self.scopes!r})"


def _fernet(key: str | None = None) -> Fernet:
    key = key or os.environ.get("STEPWISE_ENCRYPTION_KEY")
    if not key:
        raise ConnectorError("STEPWISE_ENCRYPTION_KEY is not set: it encrypts HubSpot refresh tokens "
                             "(make one with: python -c \"from cryptography.fernet import Fernet; "
                             "print(Fernet.generate_key().decode())\")")
    try:
        return Fernet(key.encode())
    except ValueError:
        raise ConnectorError("STEPWISE_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes)") from None


class TokenStore:
    """save / get per portal on the store's database: encrypted here, kept by the store's OAuthTokenRows."""

    def __init__(self, store: Store | Engine, key: str | None = None):
        self._fernet, self._rows = _fernet(key), OAuthTokenRows(store)
        self.engine = self._rows.engine

    def save(self, tokens: Tokens) -> None:
        seal = self._fernet.encrypt
        self._rows.save(SealedTokens(tokens.portal_id, seal(tokens.refresh_token.encode()).decode(),
                                     seal(tokens.access_token.encode()).decode(), tokens.expires_at, tokens.scopes))

    def get(self, portal_id: str) -> Tokens | None:
        sealed = self._rows.get(portal_id)
        if sealed is None:
            return None
        try:
            refresh = self._fernet.decrypt(sealed.refresh_token.encode()).decode()
            access = self._fernet.decrypt(sealed.access_token.encode()).decode()
        except InvalidToken:
            raise ConnectorError(f"HubSpot tokens of portal {portal_id} do not decrypt with STEPWISE_ENCRYPTION_KEY "
                                 "(was the key changed? reinstall the app)") from None
        return Tokens(portal_id, access, refresh, sealed.expires_at, sealed.scopes or "")

    def portals(self) -> list[str]:
        return self._rows.portals()


def exchange(base_url: str, client_id: str, client_secret: SecretStr, **grant: str) -> dict[str, Any]:
    """POST /oauth/v1/token (authorization_code or refresh_token grant) → the token response."""
    import json

    api = cached_api(base_url, "oauth-token-endpoint", "oauth.tokens_api")
    try:
        response = api.create(client_id=client_id, client_secret=client_secret.get_secret_value(),
                              _preload_content=False, _request_timeout=(5, 30), **grant)
    except Exception as exc:
        status = getattr(exc, "status", None)
        if status is None:
            raise
        raise HubSpotAuthError(f"HubSpot OAuth token request refused ({status}); reinstall the app", status) from None
    return json.loads(response.data)


def token_info(base_url: str, access_token: str) -> dict[str, Any]:
    """GET /oauth/v1/access-tokens/{token}: the portal (hub_id) and scopes a token belongs to."""
    import json

    api = cached_api(base_url, "oauth-token-endpoint", "oauth.access_tokens_api")
    try:
        response = api.get(access_token, _preload_content=False, _request_timeout=(5, 30))
    except Exception as exc:
        # The token is in this URL's path: never let the client's message (which quotes the URL) escape.
        status = getattr(exc, "status", None)
        raise HubSpotAuthError(f"HubSpot token lookup failed ({type(exc).__name__}, status {status})", status) from None
    return json.loads(response.data)


class OAuthTokenProvider:
    """Access tokens of one installed portal, refreshed before they expire (and after a 401)."""

    def __init__(self, store: TokenStore, portal_id: str, client_id: str, client_secret: SecretStr,
                 base_url: str = DEFAULT_BASE_URL, clock=time.time):
        self.store, self.portal_id, self.client_id, self.client_secret = store, portal_id, client_id, client_secret
        self.base_url, self.clock = base_url, clock
        self._lock = threading.Lock()
        self._tokens: Tokens | None = None

    def __repr__(self) -> str:
        return f"OAuthTokenProvider(portal_id={self.portal_id!r})"

    def access_token(self) -> str:
        with self._lock:
            tokens = self._tokens or self.store.get(self.portal_id)
            if tokens is None:
                raise HubSpotAuthError(f"portal {self.portal_id} has not installed the app (open /oauth/hubspot/install)")
            if tokens.expires_at - self.clock() < REFRESH_MARGIN_SECONDS:
                tokens = self._refresh(tokens)
            self._tokens = tokens
            return tokens.access_token

    def refresh(self) -> str:
        with self._lock:
            tokens = self._tokens or self.store.get(self.portal_id)
            if tokens is None:
                raise HubSpotAuthError(f"portal {self.portal_id} has not installed the app")
            self._tokens = self._refresh(tokens)
            return self._tokens.access_token

    def _refresh(self, tokens: Tokens) -> Tokens:
        data = exchange(self.base_url, self.client_id, self.client_secret,
                        grant_type="refresh_token", refresh_token=tokens.refresh_token)
        fresh = Tokens(self.portal_id, data["access_token"], data.get("refresh_token") or tokens.refresh_token,
                       self.clock() + float(data.get("expires_in", 1800)), tokens.scopes)
        self.store.save(fresh)
        return fresh
