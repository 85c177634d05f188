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
    """Take `n` tokens, each with the moments just before and after the one script call that granted it.

    acquire(timeout=0) asks Redis once and never sleeps, so the grant happened inside that span however
    long this process was descheduled elsewhere; a refused ask takes nothing, so we ask again shortly.
    """
    bucket = RedisTokenBucket(redis.Redis.from_url(REDIS_URL), name, capacity=10, per_seconds=1.0)
    spans: list[tuple[float, float]] = []
    while len(spans) < n:
        before = time.time()
        try:
            bucket.acquire(timeout=0)
        except RateLimitTimeout:
            time.sleep(0.005)
            continue
        spans.append((before, time.time()))
    out.put(spans)


def test_four_processes_share_one_budget(client):
    name = f"test-{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    procs = [context.Process(target=_burn, args=(name, 8, out)) for _ in range(4)]
    for p in procs:
        p.start()
    spans = sorted(span for _ in procs for span in out.get(timeout=120))
    for p in procs:
        p.join(timeout=30)
    assert len(spans) == 32
    # 10 per second with a burst of 10: 32 grants need at least (32 - 10) / 10 = 2.2 s (Redis counts whole
    # milliseconds: a little less).  A grant lies inside its span, so the first grant is after the first
    # span's start and the last before the last span's end, however loaded the machine.
    assert max(end for _, end in spans) - spans[0][0] >= 2.15
    # And never more than 10 + 10 grants in any 1-second window.  Counting only the spans wholly inside a
    # window undercounts its grants (never overcounts), so a bucket that over-grants still fails here.
    for start, _ in spans:
        inside = sum(1 for s, e in spans if s >= start and e < start + 1.0)
        assert inside <= 20, (inside, start)


def test_a_pause_holds_everyone(client):
    name = f"test-{uuid.uuid4().hex}"
    first = RedisTokenBucket(client, name, capacity=100, per_seconds=1)
    other = RedisTokenBucket(redis.Redis.from_url(REDIS_URL), name, capacity=100, per_seconds=1)
    started = time.monotonic()  # before the pause: the wait measured from here is at least the pause
    first.pause(0.5)
    other.acquire()
    assert time.monotonic() - started >= 0.49  # Redis counts whole milliseconds
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
