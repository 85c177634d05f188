"""The one place every HubSpot call goes through, under the shared call policy (integration/http.py).

hubspot-api-client builds a new ApiClient (and urllib3 pool) on every attribute
access (`client.crm.objects.search_api`), so the API objects are cached per
process, keyed by host and a fingerprint of the token.  The SDK's own urllib3
Retry is switched off and the shared policy retries instead: the SDK's Retry
would sleep inside urllib3, where a retried POST takes no token from the shared
bucket and a 429 cannot pause the bucket for the other workers.  What stays here
is how HubSpot says it: a 429 whose `policyName` is DAILY is the daily quota, a
429 on a search pauses the search bucket unless the ten-second policy spoke, the
rate-limit headers say how long to wait without a `Retry-After`, and a 401
refreshes the token once.

Responses are read raw (`_preload_content=False`) so we see the JSON exactly as
HubSpot sends it (camelCase, `paging.next.after`, 207 `errors`), not the SDK's
model objects.  The access token is never logged: log lines carry the endpoint
label and the status only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import urllib3
from hubspot import HubSpot
from pydantic import SecretStr
from urllib3.util.retry import Retry

from stepwise.integration.base import ConnectorError
from stepwise.integration.http import (
    AuthError,
    CallError,
    CallPolicy,
    DailyQuotaExhausted,
    Governor,
    RateLimited,
    RateLimiter,
    TransientError,
    limiter_for,
    retry_after,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"


# The shared error types under the names the connector, the push, the check and the tests know.
HubSpotError = CallError
HubSpotAuthError = AuthError
HubSpotDailyLimit = DailyQuotaExhausted


class TokenProvider(Protocol):
    """Where the access token comes from: a private app's static token or an OAuth install."""

    def access_token(self) -> str: ...

    def refresh(self) -> str:
        """A fresh token after a 401; raise HubSpotAuthError when there is no way to get one."""
        ...


class StaticToken:
    """A private app's access token (one portal, never expires, cannot be refreshed)."""

    def __init__(self, token: SecretStr | str):
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)

    def __repr__(self) -> str:
        return "StaticToken(**********)"

    def access_token(self) -> str:
        return self._token.get_secret_value()

    def refresh(self) -> str:
        raise HubSpotAuthError("HubSpot rejected the access token (401): check HUBSPOT_ACCESS_TOKEN "
                               "(a private app token of this portal)", status=401)


@dataclass(frozen=True)
class Limits:
    """Calls per window.  Private apps: 100 (or 190 by tier) per 10 s; public apps 110 per 10 s per
    installing account; search: 5 per second per account, on top of the general budget."""

    general: tuple[int, float] = (100, 10.0)
    search: tuple[int, float] = (5, 1.0)

    @staticmethod
    def parse(text: str) -> tuple[int, float]:
        """'100/10' → (100, 10.0): the environment's spelling of a limit."""
        calls, _, seconds = text.partition("/")
        try:
            parsed = int(calls), float(seconds or 1)
        except ValueError:
            raise ConnectorError(f"rate limit '{text}' must look like CALLS/SECONDS, e.g. 100/10") from None
        if parsed[0] < 1 or parsed[1] <= 0:
            raise ConnectorError(f"rate limit '{text}' must be at least 1 call per positive window")
        return parsed


def _bucket(limit: int, window: float) -> tuple[int, float]:
    """A token bucket that never exceeds `limit` calls in ANY rolling `window` (HubSpot counts rolling).

    A bucket of capacity c refilling at r per second allows c + r·window calls in a window, so
    a full-size bucket (c = limit, r = limit/window) would allow twice the limit.  A tenth of the
    limit as burst and the rest as steady rate keeps c + r·window = limit at 90 % of the throughput.
    """
    capacity = max(1, limit // 10)
    if limit <= capacity:
        return capacity, window
    return capacity, capacity * window / (limit - capacity)


_API_CACHE: dict[tuple[str, str, str], Any] = {}
_API_LOCK = threading.Lock()
# Retry(0): urllib3 gives every failure straight back to us; see the module docstring.
_NO_SDK_RETRY = Retry(total=0, connect=0, read=0, status=0, redirect=0, allowed_methods=None, raise_on_status=False)


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def cached_api(base_url: str, token: str, path: str) -> Any:
    """`crm.objects.search_api` for this host and token, built once per process."""
    key = (base_url, _fingerprint(token), path)
    with _API_LOCK:
        api = _API_CACHE.get(key)
        if api is None:
            api = HubSpot(access_token=token, host=base_url, retry=_NO_SDK_RETRY)
            for part in path.split("."):
                api = getattr(api, part)
            _API_CACHE[key] = api
        return api


class HubSpotClient:
    """HubSpot's API objects behind the shared call policy: two buckets (general, search), retries, refresh on 401."""

    def __init__(
        self,
        tokens: TokenProvider,
        base_url: str = DEFAULT_BASE_URL,
        *,
        limits: Limits = Limits(),
        redis_url: str | None = None,
        account: str = "default",
        timeout: tuple[float, float] = (5.0, 30.0),
        max_attempts: int = 6,
        max_wait: float = 30.0,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.tokens, self.base_url = tokens, base_url.rstrip("/")
        # One bucket per HubSpot account: every worker syncing this portal shares it through Redis.
        self.general: RateLimiter = limiter_for(f"hubspot:{account}", *_bucket(*limits.general), redis_url)
        self.search: RateLimiter = limiter_for(f"hubspot:{account}:search", *_bucket(*limits.search), redis_url)
        self.policy = CallPolicy(timeout=timeout, max_attempts=max_attempts, backoff=backoff, max_backoff=max_wait,
                                 sleep=sleep)
        self.governor = Governor("HubSpot", self.policy, [self.general])
        self.stats = self.governor.stats

    def __repr__(self) -> str:
        return f"HubSpotClient({self.base_url!r})"

    @property
    def calls(self) -> Counter[str]:
        """Successful logical calls, by label."""
        return self.stats.done

    @property
    def requests(self) -> int:
        """HTTP requests sent, retries included (what HubSpot counts)."""
        return self.stats.calls

    @property
    def retried(self) -> Counter[str]:
        """Retries, by reason ("429", "503", "network", "401")."""
        return self.stats.retried

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def call(self, api: str, method: str, *args: Any, label: str | None = None, search: bool = False,
             idempotent: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Call `api.method(*args, **kwargs)` (e.g. "crm.objects.search_api", "do_search") → parsed JSON.

        idempotent=False (a create): only a refusal that provably did nothing (429, expired token) is
        retried here; after a network error or a 5xx the object may exist, so the caller's own retry
        (which looks it up first) decides.
        """
        label = label or f"{api}.{method}"
        refreshed = [False]
        return self.governor.call(lambda: self._once(api, method, args, kwargs, label, search, refreshed),
                                  label=label, kind=label.split(":")[0], idempotent=idempotent,
                                  limiters=[self.general, self.search] if search else [self.general])

    # -- one attempt ------------------------------------------------------------------

    def _once(self, api: str, method: str, args: tuple, kwargs: dict, label: str, search: bool,
              refreshed: list[bool]) -> dict[str, Any]:
        target = cached_api(self.base_url, self.tokens.access_token(), api)
        try:
            response = getattr(target, method)(*args, _preload_content=False, _request_timeout=self.policy.timeout,
                                               **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            log.warning("HubSpot %s: network error (%s), retrying", label, type(exc).__name__)
            raise TransientError(f"network error {type(exc).__name__}", reason="network") from None
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status is None or not type(exc).__name__.endswith("Exception"):
                raise
            raise self._failed(exc, int(status), label, search, refreshed) from None
        try:
            data = response.data
            return json.loads(data) if data else {}
        finally:
            response.release_conn()

    def _failed(self, exc: Any, status: int, label: str, search: bool, refreshed: list[bool]) -> CallError:
        """The error an SDK exception stands for: a retry signal, or a failure for good."""
        body = _json_body(getattr(exc, "body", None))
        headers = getattr(exc, "headers", None) or {}
        category = body.get("category") or body.get("errorType")
        if status == 429:
            if body.get("policyName") == "DAILY":
                return DailyQuotaExhausted("HubSpot daily API limit reached for this portal; the next sync "
                                           "after midnight (portal time) continues", status, category, body)
            searching = search and body.get("policyName") != "TEN_SECONDLY_ROLLING"
            log.info("HubSpot %s: 429 %s", label, body.get("policyName", ""))
            return RateLimited("429 rate limited", wait=self._asked_wait(headers),
                               limiter=self.search if searching else self.general, body=body)
        if status == 401 and not refreshed[0]:
            refreshed[0] = True
            self.stats.reauths += 1
            log.info("HubSpot %s: 401, refreshing the access token", label)
            self.tokens.refresh()
            return TransientError("401 expired token", reason="401", wait=0.0, refused=True, status=status)
        if status == 0 or status >= 500:
            log.warning("HubSpot %s: %s, retrying", label, status)
            return TransientError(f"HTTP {status}", reason=str(status), status=status, body=body,
                                  wait=self._asked_wait(headers) if status == 503 else None)
        message = body.get("message") or getattr(exc, "reason", "") or "error"
        if status in (401, 403):
            return AuthError(f"HubSpot {label}: {status} {message}", status, category, body)
        return CallError(f"HubSpot {label}: {status} {message}", status, category, body)

    @staticmethod
    def _asked_wait(headers: Any) -> float | None:
        """`Retry-After`, else a tenth of the rolling window when the rate-limit headers say none are left."""
        if not hasattr(headers, "get"):
            return None
        asked = retry_after(headers)
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if asked is None and interval is not None and str(headers.get("X-HubSpot-RateLimit-Remaining", "1")) == "0":
            try:
                # A rolling window: a tenth of it frees enough calls to go on without hammering.
                return float(interval) / 10000
            except ValueError:
                pass
        return asked


def _json_body(raw: Any) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
