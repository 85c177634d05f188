"""The pipeline as a Celery task on a real Redis broker with a real worker process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from stepwise.integration.sample_company import write_company
from stepwise.integration.store import Store

REDIS_URL = os.environ.get("STEPWISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture()
def worker(tmp_path):
    if not _redis_up():
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 (make test starts it)")
    db = tmp_path / "worker.db"
    env = {**os.environ, "STEPWISE_REDIS_URL": REDIS_URL, "STEPWISE_DATABASE_URL": f"sqlite:///{db}"}
    queue = f"test-{os.getpid()}-{time.time_ns()}"  # a private queue: no other run's worker takes our task
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "stepwise.workers.celery_app", "worker", "--pool", "solo",
         "--queues", queue, "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    yield queue, db, env
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_a_worker_scores_a_source_and_a_repeat_writes_nothing_twice(worker, tmp_path):
    queue, db, env = worker
    folder = tmp_path / "sample"
    write_company(folder, as_of="2026-11-23", accounts=30, seed=3)
    from stepwise.workers.celery_app import make_celery

    client = make_celery(REDIS_URL)
    first = client.send_task("stepwise.score_source", args=[f"files:{folder}", "2026-11-23"], queue=queue).get(timeout=120)
    again = client.send_task("stepwise.score_source", args=[f"files:{folder}", "2026-11-23"], queue=queue).get(timeout=120)
    assert first["recommendations"] > 0 and again["recommendations"] == first["recommendations"]
    store = Store(f"sqlite:///{db}")
    assert store.counts()["recommendations"] == first["recommendations"]
    assert {r["id"] for r in store.latest_runs(2)} == {first["run_id"], again["run_id"]}
