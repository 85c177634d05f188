"""A worker process killed with SIGKILL mid-task: the task comes back and everything is written once."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from sqlalchemy import create_engine, text
from workers_helpers import REDIS_URL, redis_or_skip, start_worker, stop_worker

from stepwise.engine.catalog import load_catalog
from stepwise.engine.run import recommend
from stepwise.integration.files import FilesConnector
from stepwise.integration.sample_company import write_company
from stepwise.integration.store import Store

AS_OF = "2026-11-23"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _running_runs(db) -> int:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from runs where status = 'running'")).scalar_one()
    except Exception:  # the schema is created by the worker's first write
        return 0
    finally:
        engine.dispose()


def test_sigkill_mid_task_is_redelivered_and_written_exactly_once(tmp_path):
    redis_or_skip()
    folder = tmp_path / "sample"
    write_company(folder, as_of=AS_OF, accounts=600, seed=5)
    expected = len(recommend(FilesConnector(folder).pull(), AS_OF, load_catalog()).recommendations)
    db = tmp_path / "crash.db"
    worker, queue = start_worker(db, pool="prefork")
    try:
        from stepwise.workers.celery_app import make_celery

        result = make_celery(REDIS_URL).send_task("stepwise.score_source", args=[f"files:{folder}", AS_OF], queue=queue)
        deadline = time.monotonic() + 60
        while _running_runs(db) == 0:
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
        [child] = _children(worker.pid)
        os.kill(child, signal.SIGKILL)  # the pool process dies mid-run; the worker parent survives
        outcome = result.get(timeout=120, propagate=False)
    finally:
        stop_worker(worker)
    store = Store(f"sqlite:///{db}")
    runs = store.latest_runs(10)
    assert sorted(r["status"] for r in runs) == ["running", "succeeded"]  # the killed attempt, the redelivery
    assert store.counts()["recommendations"] == expected
    assert isinstance(outcome, dict) and outcome["recommendations"] == expected
