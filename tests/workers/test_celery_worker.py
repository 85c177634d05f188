"""The pipeline as a Celery task on a real Redis broker with a real worker process."""

from __future__ import annotations

import os
import subprocess
import sys

import redis

from stepwise.sample.company import write_company
from stepwise.store import Store
from stepwise.workers.leader import LEADER_KEY, LeaderLock
from tests.workers.workers_helpers import REDIS_URL, redis_or_skip, start_worker, stop_worker, wait_for_run


def test_a_worker_scores_a_source_and_a_repeat_writes_nothing_twice(tmp_path):
    redis_or_skip()
    folder = tmp_path / "sample"
    write_company(folder, as_of="2026-11-23", accounts=30, seed=3)
    db = tmp_path / "worker.db"
    worker, queue = start_worker(db)
    try:
        from stepwise.workers.celery_app import make_celery

        client = make_celery(REDIS_URL)
        first = client.send_task("stepwise.score_source", args=[f"files:{folder}", "2026-11-23"], queue=queue).get(timeout=120)
        first_run = wait_for_run(db)
        again = client.send_task("stepwise.score_source", args=[f"files:{folder}", "2026-11-23"], queue=queue).get(timeout=120)
        again_run = wait_for_run(db)
    finally:
        stop_worker(worker)
    assert first_run["status"] == again_run["status"] == "succeeded"
    written = first_run["counts"]["recommendations"]
    assert written > 0 and again_run["counts"]["recommendations"] == written
    store = Store(f"sqlite:///{db}")
    assert store.counts()["recommendations"] == written
    assert {r["id"] for r in store.latest_runs(2)} == {first["run_id"], again["run_id"]}


def test_a_second_beat_refuses_to_start(tmp_path):
    redis_or_skip()
    client = redis.Redis.from_url(REDIS_URL)
    key = f"{LEADER_KEY}:test:{os.getpid()}"
    leader = LeaderLock(client, ttl_seconds=5, key=key)
    leader.acquire()
    try:
        other = LeaderLock(redis.Redis.from_url(REDIS_URL), ttl_seconds=5, key=key)
        try:
            other.acquire()
            raise AssertionError("a second leader was allowed")
        except RuntimeError as exc:
            assert "another beat is already running" in str(exc)
    finally:
        leader.release()
    assert client.get(key) is None  # released: a standby may take over


def test_the_beat_command_exits_when_a_leader_exists(tmp_path):
    redis_or_skip()
    client = redis.Redis.from_url(REDIS_URL)
    leader = LeaderLock(client, ttl_seconds=10)
    if not client.set(LEADER_KEY, leader.identity, nx=True, ex=10):
        leader = None  # a real beat holds it on this machine: the command must still refuse
    try:
        run = subprocess.run([sys.executable, "-m", "stepwise.cli", "beat"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "STEPWISE_REDIS_URL": REDIS_URL})
        assert run.returncode == 3
        assert "another beat is already running" in run.stderr
    finally:
        if leader is not None:
            client.delete(LEADER_KEY)
