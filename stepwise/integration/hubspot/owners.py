"""Which HubSpot owner a user is: `GET /crm/v3/owners/{userId}?idProperty=userId`, remembered for a while.

A card's `hubspot.fetch` signs the viewer's *user* id into its request; Stepwise ranks cards by *owner* id
(`hubspot_owner_id`), which is a different number. The mapping changes only when an admin adds, removes or
deactivates a user, so an answer is kept in memory for an hour, and "not an owner" for five minutes, so a
user added since shows up soon. Each process keeps its own cache: at worst one owners call per user, worker
and hour, from the portal's shared rate-limit bucket.

The call needs the `crm.objects.owners.read` scope. The card request waits for it, so the client gives up
within seconds (hubspot.fetch itself gives up after 15).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from redis.exceptions import RedisError

from stepwise.integration.base import ConnectorError
from stepwise.integration.http import CallError
from stepwise.integration.hubspot.client import HubSpotClient, Limits, StaticToken, TokenProvider
from stepwise.store import Store

FOUND_TTL_S = 3600.0
MISSING_TTL_S = 300.0
MAX_ENTRIES = 10_000
# Short enough for a card request inside hubspot.fetch's 15 s: two tries (the second after a token refresh).
LOOKUP_TIMEOUT = (2.0, 4.0)


class OwnerLookupFailed(ConnectorError):
    """The owner could not be looked up now: no credentials for the portal, a missing scope, HubSpot down."""


class OwnerDirectory:
    """`owner_of(portal, user)` → the owner id, or None when the user is no active owner of that portal."""

    def __init__(self, clients: Callable[[str], HubSpotClient], *, found_ttl: float = FOUND_TTL_S,
                 missing_ttl: float = MISSING_TTL_S, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic):
        self._clients, self._clock = clients, clock
        self._ttl = {True: found_ttl, False: missing_ttl}
        self._max = max_entries
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[float, str | None]] = OrderedDict()
        self._portal_clients: dict[str, HubSpotClient] = {}
        self.lookups = 0  # calls made to HubSpot (tests and metrics: the cache works)

    def owner_of(self, portal_id: str, user_id: str) -> str | None:
        key = (portal_id, user_id)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > self._clock():
                return hit[1]
        owner = self._lookup(portal_id, user_id)
        with self._lock:
            self._cache[key] = (self._clock() + self._ttl[owner is not None], owner)
            self._cache.move_to_end(key)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return owner

    def _client(self, portal_id: str) -> HubSpotClient:
        with self._lock:
            client = self._portal_clients.get(portal_id)
        if client is None:
            client = self._clients(portal_id)
            with self._lock:
                client = self._portal_clients.setdefault(portal_id, client)
        return client

    def _lookup(self, portal_id: str, user_id: str) -> str | None:
        client = self._client(portal_id)
        with self._lock:
            self.lookups += 1
        try:
            data = client.call("crm.owners.owners_api", "get_by_id", user_id, id_property="userId", label="owners")
        except CallError as exc:
            if exc.status == 404:
                return None
            if exc.status == 403 and exc.category == "MISSING_SCOPES":
                raise OwnerLookupFailed(f"HubSpot portal {portal_id} refused the owners lookup (403): the app needs the "
                                        "crm.objects.owners.read scope (reinstall it to grant the scope)") from None
            # The client's messages carry HubSpot's answer and the status, never a token.
            raise OwnerLookupFailed(f"the HubSpot owners lookup failed for portal {portal_id}: {exc}") from None
        except (RedisError, OSError) as exc:  # the shared rate limit is down: a 503 to retry, not a 500
            raise OwnerLookupFailed(f"the HubSpot owners lookup could not take its rate-limit token ({type(exc).__name__}); "
                                    "is STEPWISE_REDIS_URL reachable?") from None
        owner = data.get("id")
        return str(owner) if owner not in (None, "") else None


def portal_clients(store: Store) -> Callable[[str], HubSpotClient]:
    """A HubSpot client per portal, with the credentials the connector would use for it (README, "HubSpot"):
    the portal's OAuth install, or the private app token when it belongs to that portal."""

    def build(portal_id: str) -> HubSpotClient:
        from stepwise.integration.hubspot.connector import HubSpotOptions
        from stepwise.integration.hubspot.tokens import OAuthTokenProvider, TokenStore
        from stepwise.settings import get_settings

        settings, options = get_settings(), HubSpotOptions()
        tokens: TokenProvider | None = None
        account = portal_id
        why = f"no HubSpot credentials for portal {portal_id} here"
        if settings.hubspot_client_id and settings.hubspot_client_secret:
            try:
                installed = TokenStore(store)
                if installed.get(portal_id) is not None:
                    tokens = OAuthTokenProvider(installed, portal_id, settings.hubspot_client_id,
                                                settings.hubspot_client_secret, settings.hubspot_base_url)
                else:
                    why += " (the app is not installed there: open /oauth/hubspot/install)"
            except ConnectorError as exc:  # no or wrong STEPWISE_ENCRYPTION_KEY: say so, try the private app
                why += f" ({exc})"
        if tokens is None and settings.hubspot_access_token is not None:
            private_portal = options.portal_id or store.get_cursor("hubspot", "portal_id")
            if private_portal == portal_id:
                tokens, account = StaticToken(settings.hubspot_access_token), "private"
            elif private_portal is None:
                why += " (the private app's portal is not known yet: set HUBSPOT_PORTAL_ID or run a sync)"
        if tokens is None:
            raise OwnerLookupFailed(why)
        limits = Limits(Limits.parse(options.rate_limit), Limits.parse(options.search_rate_limit))
        # The same bucket name as the connector's (account): the lookups and a running sync share the portal's budget.
        return HubSpotClient(tokens, settings.hubspot_base_url, limits=limits, redis_url=settings.redis_url,
                             account=account, timeout=LOOKUP_TIMEOUT, max_attempts=2, max_wait=1.0, backoff=0.2)

    return build
