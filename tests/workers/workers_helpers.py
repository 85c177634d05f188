"""Real Celery worker processes on the local Redis, each on a private queue.

Every wait here is for a condition, with a deadline generous enough for a loaded 2-core machine
(the suite runs beside other jobs): a slow machine makes these tests slower, never red.  A worker's
output goes to a log file beside its database, and a failed wait shows its tail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from celery.result import AsyncResult

REDIS_URL = os.environ.get("STEPWISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
WORKER_START_SECONDS = 180  # importing pandas, scikit-learn and the engine on a busy core
RUN_SECONDS = 480  # a fanned-out run of a few hundred accounts, from pull to finish, on a busy machine
SLOW_TEST_SECONDS = 900  # pytest-timeout for a test that trains, starts workers and waits for a run

T = TypeVar("T")


def redis_or_skip() -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 (make test starts it)")


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.05,
               workers: tuple[subprocess.Popen, ...] = (), task: AsyncResult | None = None) -> T:
    """condition()'s first truthy value; fails with `what` (and the workers' logs) after `timeout` seconds,
    or at once when what it waits for cannot happen any more: one of `workers` has exited, or `task`
    (the run's first task) failed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        dead = [w for w in workers if w.poll() is not None]
        if dead:
            raise AssertionError(f"a worker exited (code {dead[0].returncode}) while waiting until {what}\n"
                                 + worker_logs(*workers))
        if task is not None and _failed(task):
            raise AssertionError(f"task {task.name or task.id} failed while waiting until {what}:\n{task.traceback}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout:.0f} s\n" + worker_logs(*workers))
        time.sleep(interval)


def _failed(task: AsyncResult) -> bool:
    try:
        return task.failed()
    except Exception:  # noqa: BLE001 - the result backend is unreachable (a Redis restart): not known to have failed
        return False


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
    log = Path(db).parent / f"worker-{time.time_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    proc.log_path = log  # type: ignore[attr-defined] - read by worker_logs
    return proc, queue


def worker_logs(*workers: subprocess.Popen, lines: int = 40) -> str:
    """The last lines each worker wrote, for a failure message."""
    parts = []
    for worker in workers:
        path = getattr(worker, "log_path", None)
        text = path.read_text(errors="replace") if path is not None and path.exists() else ""
        parts.append(f"--- worker {worker.pid} ({path}):\n" + "\n".join(text.splitlines()[-lines:]))
    return "\n".join(parts)


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)  # a warm shutdown finishes the task in hand
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def wait_for_run(db, timeout: float = RUN_SECONDS, workers: tuple[subprocess.Popen, ...] = (),
                 task: AsyncResult | None = None) -> dict:
    """The newest run once it is no longer running (a fanned-out run finishes after its last chunk)."""
    from stepwise.store import Store

    store = Store(f"sqlite:///{db}")

    def finished() -> dict | None:
        try:
            runs = store.latest_runs(1)
        except Exception:  # noqa: BLE001 - the schema appears with the worker's first write
            return None
        return runs[0] if runs and runs[0]["status"] != "running" else None

    try:
        return wait_until(finished, timeout, "the run finished", interval=0.2, workers=workers, task=task)
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
        wait_until(self._answers, 60, f"redis-server answered a PING on port {self.port}")
        return self

    def _answers(self) -> bool:
        """Accepting connections is not enough: a restarted server refuses commands while it loads its file."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None

    def restart(self, down_seconds: float = 1.0) -> None:
        self.kill()
        time.sleep(down_seconds)  # the outage itself, not a wait for something: the workers must see it
        self.start()
