"""The one policy every outside HTTP call follows: rate limit, retries, Retry-After, the daily quota, counting.

The Salesforce, HubSpot and LLM clients each speak their own HTTP stack and their own dialect of
"slow down" and "try again" (how a vendor signals its daily quota, SOAP/JWT login, token refresh stay
in each client); what to *do* about it is decided here, once, by `Governor.call`:

* every try first takes a token from the shared rate limiter: a token bucket per CRM account in Redis
  when workers run (ten workers together never exceed the CRM's limit; README "HubSpot › What a sync
  does"), in memory otherwise;
* every try is counted (`CallStats`: requests sent, by kind, calls done, retries by reason);
* a `TransientError` is retried with exponential backoff through tenacity, waiting what the service
  asked for instead when it said so (`Retry-After` on a 429 or 503); a `RateLimited` also pauses the
  shared bucket, so every worker waits, not just this one;
* a call that is not idempotent (a create) is repeated only after a refusal that provably did nothing;
* `note_daily_usage` stops before a daily API quota runs out (README "Salesforce › What it costs in
  API calls"): the account's own users and integrations come first;
* what is left is one small hierarchy: `CallError` (failed for good), `AuthError`,
  `DailyQuotaExhausted`, and the retry signals `TransientError` and `RateLimited`.

The Redis bucket is updated atomically by a Lua script using Redis' own clock (no worker clock skew);
without Redis (the demo, one process) the same interface runs in memory.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import redis
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from stepwise.integration.base import ConnectorError

log = logging.getLogger(__name__)
T = TypeVar("T")


# -- the shared rate limiter ----------------------------------------------------------------------

_TAKE = """
local key, pause_key = KEYS[1], KEYS[2]
local capacity, rate, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', pause_key) or '0')
if paused > now then return paused - now end
local state = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
local wait = 0
if tokens >= wanted then
  tokens = tokens - wanted
else
  wait = math.ceil((wanted - tokens) * 1000 / rate)
end
redis.call('HSET', key, 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', key, math.ceil(capacity * 1000 / rate) + 1000)
return wait
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000) end
return until_ms
"""


class RateLimitTimeout(TimeoutError):
    """No token within the caller's timeout: the CRM's budget is exhausted for now."""


class RateLimiter(Protocol):
    def acquire(self, tokens: int = 1, timeout: float | None = None) -> float: ...
    def pause(self, seconds: float) -> None: ...


class RedisTokenBucket:
    """`capacity` calls per `per_seconds`, shared by every process using the same Redis and name."""

    def __init__(self, client: redis.Redis, name: str, capacity: int, per_seconds: float):
        if capacity < 1 or per_seconds <= 0:
            raise ValueError("a rate limit needs capacity ≥ 1 and a positive window")
        self.client, self.capacity = client, capacity
        self.rate = capacity / per_seconds  # tokens per second
        self.keys = [f"stepwise:ratelimit:{name}", f"stepwise:ratelimit:{name}:paused"]
        self._take = client.register_script(_TAKE)
        self._pause = client.register_script(_PAUSE)

    def acquire(self, tokens: int = 1, timeout: float | None = None) -> float:
        """Block until `tokens` are granted; returns the seconds waited."""
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.capacity}")
        waited, deadline = 0.0, None if timeout is None else time.monotonic() + timeout
        while True:
            wait_ms = int(self._take(keys=self.keys, args=[self.capacity, self.rate, tokens]))
            if wait_ms <= 0:
                return waited
            delay = wait_ms / 1000
            if deadline is not None and time.monotonic() + delay > deadline:
                raise RateLimitTimeout(f"rate limit {self.keys[0]}: no token within {timeout}s")
            time.sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        """Everyone waits: the CRM said 429 / Retry-After."""
        self._pause(keys=self.keys[1:], args=[max(1, int(seconds * 1000))])


class LocalTokenBucket:
    """The same bucket in memory, for one process without Redis."""

    def __init__(self, capacity: int, per_seconds: float, clock=time.monotonic, sleep=time.sleep):
        if capacity < 1 or per_seconds <= 0:
            raise ValueError("a rate limit needs capacity ≥ 1 and a positive window")
        self.capacity, self.rate = capacity, capacity / per_seconds
        self.tokens, self.at, self.paused_until = float(capacity), clock(), 0.0
        self.clock, self.sleep, self.lock = clock, sleep, threading.Lock()

    def _take(self, tokens: int) -> float:
        with self.lock:
            now = self.clock()
            if self.paused_until > now:
                return self.paused_until - now
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= tokens:
                self.tokens -= tokens
                return 0.0
            return (tokens - self.tokens) / self.rate

    def acquire(self, tokens: int = 1, timeout: float | None = None) -> float:
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.capacity}")
        waited, start = 0.0, self.clock()
        while (delay := self._take(tokens)) > 0:
            if timeout is not None and self.clock() - start + delay > timeout:
                raise RateLimitTimeout(f"rate limit: no token within {timeout}s")
            self.sleep(delay)
            waited += delay
        return waited

    def pause(self, seconds: float) -> None:
        with self.lock:
            self.paused_until = max(self.paused_until, self.clock() + seconds)


def limiter_for(name: str, capacity: int, per_seconds: float, redis_url: str | None) -> RateLimiter:
    """Shared in Redis when workers run (STEPWISE_REDIS_URL), in memory otherwise."""
    if redis_url:
        return RedisTokenBucket(redis.Redis.from_url(redis_url), name, capacity, per_seconds)
    return LocalTokenBucket(capacity, per_seconds)


# -- errors ---------------------------------------------------------------------------------------


class CallError(ConnectorError):
    """A call failed for good (after any retries); the message says what the service answered."""

    def __init__(self, message: str, status: int | None = None, category: str | None = None,
                 body: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.category, self.body = status, category, body or {}


class AuthError(CallError):
    """The credentials are missing, revoked, expired beyond renewal, or lack a permission or scope."""


class DailyQuotaExhausted(CallError):
    """The account's daily API allowance is (nearly) spent: retrying today only makes more refusals."""


class TransientError(CallError):
    """A failure worth another try; it never leaves `Governor.call` (giving up raises a `CallError`).

    `reason` is the short key retries are counted by ("503", "network", "401"…); `wait` is what the
    service asked for (`Retry-After`), None for the exponential backoff; `refused` says the service
    provably did nothing (a 429, an expired token, a connection never made), so even a create may
    be repeated.
    """

    def __init__(self, message: str, *, reason: str | None = None, wait: float | None = None,
                 refused: bool = False, status: int | None = None, body: dict[str, Any] | None = None):
        super().__init__(message, status, None, body)
        self.reason, self.wait, self.refused = reason or message, wait, refused


class RateLimited(TransientError):
    """Too many calls (a 429, REQUEST_LIMIT_EXCEEDED): the shared bucket pauses for everyone, then a retry.

    `limiter` is the bucket to pause when the call took tokens from several (HubSpot's search bucket);
    None pauses the call's first.
    """

    def __init__(self, message: str, *, wait: float | None = None, limiter: RateLimiter | None = None,
                 reason: str = "429", status: int | None = 429, body: dict[str, Any] | None = None):
        super().__init__(message, reason=reason, wait=wait, refused=True, status=status, body=body)
        self.limiter = limiter


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date); None without a usable one."""
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def transient_answer(status: int, headers: Mapping[str, Any] | None, message: str) -> TransientError:
    """The retry signal for a 429 or 5xx answer, waiting what the service asked for on a 429 or 503."""
    wait = retry_after(headers) if status in (429, 503) else None
    if status == 429:
        return RateLimited(message, wait=wait)
    return TransientError(message, reason=str(status), wait=wait, status=status)


# -- the policy -----------------------------------------------------------------------------------


@dataclass
class CallPolicy:
    """How patiently a client calls: timeout, tries, backoff, and how much of a daily quota it may use."""

    timeout: float | tuple[float, float] = 30.0  # seconds; (connect, read) for an HTTP stack that takes both
    max_attempts: int = 5
    backoff: float = 1.0          # first retry waits about this long, then doubles
    max_backoff: float = 30.0     # no single wait is longer (a longer Retry-After still pauses the bucket that long)
    warn_usage: float = 0.8       # log a warning once this share of the daily quota is used
    stop_usage: float = 0.95      # stop beyond this share: the account's own users and integrations come first
    sleep: Callable[[float], None] = time.sleep

    def backoff_for(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))


@dataclass
class CallStats:
    """What a client's calls cost: requests sent (what the service counts) by kind, calls done, retries."""

    calls: int = 0                                              # requests sent, retries included
    by_kind: Counter[str] = field(default_factory=Counter)      # those requests by kind (query, composite, search…)
    done: Counter[str] = field(default_factory=Counter)         # logical calls that succeeded, by label
    retried: Counter[str] = field(default_factory=Counter)      # retries by reason ("429", "503", "network", "401"…)
    reauths: int = 0                                            # fresh logins or tokens after a refused credential
    api_used: int | None = None                                 # the service's own count of today's calls, when told
    api_limit: int | None = None

    @property
    def retries(self) -> int:
        return sum(self.retried.values())

    def summary(self) -> str:
        usage = f", org usage {self.api_used}/{self.api_limit}" if self.api_limit else ""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
        return f"{self.calls} API calls ({kinds}){usage}, {self.retries} retries, {self.reauths} re-auths"


class Governor:
    """One client's calls through the policy (see the module docstring)."""

    def __init__(self, service: str, policy: CallPolicy, limiters: Sequence[RateLimiter] = (),
                 stats: CallStats | None = None):
        self.service, self.policy, self.limiters = service, policy, tuple(limiters)
        self.stats = stats if stats is not None else CallStats()

    def call(self, attempt: Callable[[], T], *, label: str, kind: str | None = None, idempotent: bool = True,
             limiters: Sequence[RateLimiter] | None = None) -> T:
        """`attempt()` until it returns: each try takes a token from every bucket in `limiters` and is counted.

        `attempt` raises a `TransientError` for what another try may fix; anything else goes straight
        back to the caller.  idempotent=False: only a refusal that provably did nothing is repeated.
        """
        buckets = self.limiters if limiters is None else tuple(limiters)
        tries = 0

        def once() -> T:
            nonlocal tries
            tries += 1
            for bucket in buckets:
                bucket.acquire()
            self.stats.calls += 1
            self.stats.by_kind[kind or label] += 1
            try:
                return attempt()
            except RateLimited as exc:
                paused = exc.limiter or (buckets[0] if buckets else None)
                if paused is not None:  # every worker sharing the bucket waits, not just this one
                    paused.pause(exc.wait if exc.wait is not None else self.policy.backoff_for(tries))
                raise

        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, TransientError) and (idempotent or exc.refused)),
            stop=stop_after_attempt(self.policy.max_attempts), wait=self._wait, sleep=self.policy.sleep,
            before_sleep=lambda state: self._count_retry(label, state), reraise=True)
        try:
            result = retrying(once)
        except TransientError as exc:
            if idempotent or exc.refused:
                message = f"{self.service} {label}: gave up after {tries} attempts ({exc})"
            else:
                message = f"{self.service} {label}: {exc}; not repeated here (it may have been done)"
            raise CallError(message, exc.status, exc.category, exc.body) from exc
        self.stats.done[label] += 1
        return result

    def note_daily_usage(self, used: int, limit: int, whose: str | None = None) -> None:
        """The service's own count of today's calls: logged, and past `stop_usage` a `DailyQuotaExhausted`."""
        self.stats.api_used, self.stats.api_limit = used, limit
        whose = whose or self.service
        share = used / limit if limit else 0.0
        level = logging.WARNING if share >= self.policy.warn_usage else logging.DEBUG
        log.log(level, "%s API usage %d/%d (%.0f%%)", whose, used, limit, share * 100)
        if share >= self.policy.stop_usage:
            message = (f"{whose} API usage {used}/{limit} ({share:.0%}) is past the {self.policy.stop_usage:.0%} "
                       "Stepwise leaves for others: syncing pauses until the daily count resets")
            log.error("%s", message)
            raise DailyQuotaExhausted(message)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.wait is not None:
            return min(self.policy.max_backoff, exc.wait)
        return self.policy.backoff_for(state.attempt_number)

    def _count_retry(self, label: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.stats.retried[exc.reason if isinstance(exc, TransientError) else "other"] += 1
        log.info("%s %s: retrying after %s (attempt %d)", self.service, label, exc, state.attempt_number)
