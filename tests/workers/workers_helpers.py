"""Real Celery worker processes on the local Redis, each on a private queue."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

REDIS_URL = os.environ.get("STEPWISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_skip() -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 (make test starts it)")


def start_worker(db, pool: str = "solo", queue: str | None = None) -> tuple[subprocess.Popen, str]:
    queue = queue or f"test-{os.getpid()}-{time.time_ns()}"  # private: no other run's worker takes our task
    env = {**os.environ, "STEPWISE_REDIS_URL": REDIS_URL, "STEPWISE_DATABASE_URL": f"sqlite:///{db}"}
    args = [sys.executable, "-m", "celery", "-A", "stepwise.workers.celery_app", "worker", "--pool", pool,
            "--queues", queue, "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"]
    if pool == "prefork":
        args += ["--concurrency", "1"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, queue


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
