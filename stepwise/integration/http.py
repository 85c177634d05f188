"""One shared rate limiter per CRM account: a token bucket in Redis, used by every worker.

Ten workers together must never exceed the CRM's limit, so the bucket lives in
Redis and is updated atomically by a Lua script using Redis' own clock (no
worker clock skew).  A 429 with `Retry-After` pauses the bucket for everyone
(`pause`).  Without Redis (the demo, one process) the same interface runs in
memory.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis

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
