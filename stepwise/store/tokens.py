"""OAuth tokens of HubSpot public-app installs as stored: one row per portal, the tokens as ciphertext.

The store never sees a token in the clear nor holds the key: TokenStore (integration/hubspot/tokens.py)
encrypts before `save` and decrypts after `get`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from stepwise.store.database import Database, attach
from stepwise.store.schema import hubspot_oauth_tokens as oauth_tokens


@dataclass(frozen=True)
class SealedTokens:
    """A portal's tokens as stored: both encrypted."""

    portal_id: str
    refresh_token: str
    access_token: str
    expires_at: float  # epoch seconds
    scopes: str | None


class OAuthTokenRows:
    def __init__(self, store: Database | Engine) -> None:
        self._db = attach(store)
        self.engine = self._db.engine

    def save(self, sealed: SealedTokens) -> None:
        values = {"refresh_token": sealed.refresh_token, "access_token": sealed.access_token,
                  "expires_at": sealed.expires_at, "scopes": sealed.scopes, "updated_at": datetime.now(UTC)}
        with self._db._begin() as conn:
            done = conn.execute(oauth_tokens.update().where(oauth_tokens.c.portal_id == sealed.portal_id)
                                .values(**values)).rowcount
            if not done:
                conn.execute(oauth_tokens.insert().values(portal_id=sealed.portal_id, **values))

    def get(self, portal_id: str) -> SealedTokens | None:
        c = oauth_tokens.c
        with self._db._connect() as conn:
            row = conn.execute(select(c.portal_id, c.refresh_token, c.access_token, c.expires_at, c.scopes)
                               .where(c.portal_id == portal_id)).first()
        return None if row is None else SealedTokens(*row)

    def portals(self) -> list[str]:
        with self._db._connect() as conn:
            return list(conn.execute(select(oauth_tokens.c.portal_id)).scalars())
