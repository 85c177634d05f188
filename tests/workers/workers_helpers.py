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


def start_worker(db, pool: str = "solo", queue: str | None = None, redis_url: str = REDIS_URL,
                 env: dict[str, str] | None = None, name: str | None = None) -> tuple[subprocess.Popen, str]:
    queue = queue or f"test-{os.getpid()}-{time.time_ns()}"  # private: no other run's worker takes our task
    env = {**os.environ, "STEPWISE_REDIS_URL": redis_url, "STEPWISE_DATABASE_URL": f"sqlite:///{db}", **(env or {})}
    args = [sys.executable, "-m", "celery", "-A", "stepwise.workers.celery_app", "worker", "--pool", pool,
            "--queues", queue, "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"]
    if name:
        args += ["--hostname", name]
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


def wait_for_run(db, timeout: float = 180) -> dict:
    """The newest run once it is no longer running (a fanned-out run finishes after its last chunk)."""
    from stepwise.store import Store

    store = Store(f"sqlite:///{db}")
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                runs = store.latest_runs(1)
            except Exception:  # noqa: BLE001 - the schema appears with the worker's first write
                runs = []
            if runs and runs[0]["status"] != "running":
                return runs[0]
            assert time.monotonic() < deadline, f"the run did not finish in {timeout:.0f} s: {runs}"
            time.sleep(0.1)
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A private redis-server this test may restart (the machine's shared one must never be).

    With `persistent`, an append-only file fsynced on every write, as a production broker
    should run: queued tasks survive the restart.
    """

    def __init__(self, folder, persistent: bool = True) -> None:
        self.folder, self.persistent, self.port = folder, persistent, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                "--save", "", "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self, down_seconds: float = 1.0) -> None:
        self.kill()
        time.sleep(down_seconds)
        self.start()
