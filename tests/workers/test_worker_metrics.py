"""Task metrics: a worker serves Prometheus counters of the tasks it ran."""

from __future__ import annotations

import time
import urllib.request

from stepwise.workers.celery_app import make_celery
from tests.workers.workers_helpers import REDIS_URL, free_port, redis_or_skip, start_worker, stop_worker


def _scrape(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        except OSError:
            assert time.monotonic() < deadline, "the worker never served /metrics"
            time.sleep(0.2)


def test_a_worker_counts_its_tasks_by_outcome_and_duration(tmp_path):
    redis_or_skip()
    port = free_port()
    worker, queue = start_worker(tmp_path / "m.db", env={"STEPWISE_WORKER_METRICS_PORT": str(port)})
    try:
        app = make_celery(REDIS_URL)
        assert app.send_task("stepwise.expire_stale", args=["2026-11-23"], queue=queue).get(timeout=60) == {}
        failed = app.send_task("stepwise.score_source", args=["nosuchcrm"], queue=queue)
        failed.get(timeout=60, propagate=False)
        assert "unknown source 'nosuchcrm'" in str(failed.result)
        text = _scrape(port)
    finally:
        stop_worker(worker)
    assert 'stepwise_tasks_total{outcome="succeeded",task="stepwise.expire_stale"} 1.0' in text
    assert 'stepwise_tasks_total{outcome="failed",task="stepwise.score_source"} 1.0' in text
    assert 'stepwise_task_seconds_count{task="stepwise.expire_stale"} 1.0' in text


def test_a_prefork_worker_started_by_the_cli_serves_the_sum_of_its_pool_processes(tmp_path):
    import os
    import subprocess
    import sys

    redis_or_skip()
    port = free_port()
    queue = f"metrics-{os.getpid()}-{time.time_ns()}"
    env = {**os.environ, "STEPWISE_REDIS_URL": REDIS_URL, "STEPWISE_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
           "STEPWISE_WORKER_METRICS_PORT": str(port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from stepwise.store import Store

    Store(f"sqlite:///{tmp_path / 'p.db'}").counts()  # the schema first: two pool processes need not race for it
    proc = subprocess.Popen([sys.executable, "-m", "stepwise.cli", "worker", "--pool", "prefork", "--concurrency", "2",
                             "--queues", queue, "--without-heartbeat", "--without-gossip", "--without-mingle"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        app = make_celery(REDIS_URL)
        results = [app.send_task("stepwise.expire_stale", args=["2026-11-23"], queue=queue) for _ in range(4)]
        for result in results:
            result.get(timeout=60)
        # The result is stored before the pool process counts the task (task_postrun): on a loaded machine the
        # last count can land a moment after the last result, so scrape until it does (or the deadline).
        wanted = 'stepwise_tasks_total{outcome="succeeded",task="stepwise.expire_stale"} 4.0'
        deadline = time.monotonic() + 30
        text = _scrape(port)
        while wanted not in text and time.monotonic() < deadline:
            time.sleep(0.2)
            text = _scrape(port)
    finally:
        stop_worker(proc)
    assert wanted in text
