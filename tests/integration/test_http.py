"""The shared token bucket on a real Redis: several processes together stay within the limit."""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
import uuid

import pytest
import redis

from stepwise.integration.http import LocalTokenBucket, RateLimitTimeout, RedisTokenBucket

REDIS_URL = os.environ.get("STEPWISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture()
def client():
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 (make test starts it)")
    return redis.Redis.from_url(REDIS_URL)


def _burn(name: str, n: int, out) -> None:
    bucket = RedisTokenBucket(redis.Redis.from_url(REDIS_URL), name, capacity=10, per_seconds=1.0)
    stamps = []
    for _ in range(n):
        bucket.acquire(timeout=30)
        stamps.append(time.time())
    out.put(stamps)


def test_four_processes_share_one_budget(client):
    name = f"test-{uuid.uuid4().hex}"
    out = multiprocessing.get_context("spawn").Queue()
    procs = [multiprocessing.get_context("spawn").Process(target=_burn, args=(name, 8, out)) for _ in range(4)]
    for p in procs:
        p.start()
    stamps = sorted(t for _ in procs for t in out.get(timeout=60))
    for p in procs:
        p.join(timeout=10)
    assert len(stamps) == 32
    # 10 per second with a burst of 10: within any 1-second window at most 10 + 10 calls, and 32 calls
    # need at least (32 - 10) / 10 = 2.2 s in all.
    assert stamps[-1] - stamps[0] >= 2.0
    for i, start in enumerate(stamps):
        in_window = sum(1 for t in stamps[i:] if t - start < 1.0)
        assert in_window <= 20


def test_a_pause_holds_everyone(client):
    name = f"test-{uuid.uuid4().hex}"
    first = RedisTokenBucket(client, name, capacity=100, per_seconds=1)
    other = RedisTokenBucket(redis.Redis.from_url(REDIS_URL), name, capacity=100, per_seconds=1)
    first.pause(0.5)
    started = time.monotonic()
    other.acquire()
    assert time.monotonic() - started >= 0.4
    with pytest.raises(RateLimitTimeout):
        first.pause(5)
        other.acquire(timeout=0.2)


def test_local_bucket_refills_at_its_rate():
    now = [0.0]
    bucket = LocalTokenBucket(5, 1.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(5):
        assert bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(0.2)
    bucket.pause(3)
    assert bucket.acquire() == pytest.approx(3.0)
    with pytest.raises(ValueError):
        bucket.acquire(6)
