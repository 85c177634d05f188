"""A worker process killed with SIGKILL mid-chunk: the chunk comes back and everything is written once."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from sqlalchemy import create_engine, text

from stepwise.engine.catalog import load_catalog
from stepwise.engine.run import recommend
from stepwise.engine.training import train_predictors
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import HoldoutLog, Store
from stepwise.workers.fanout import recommendations_of_run
from tests.workers.test_fanout import as_scored
from tests.workers.workers_helpers import (
    REDIS_URL,
    RUN_SECONDS,
    SLOW_TEST_SECONDS,
    redis_or_skip,
    start_worker,
    stop_worker,
    wait_for_run,
    wait_until,
    worker_logs,
)

AS_OF = "2026-11-23"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _chunk_in_progress(db) -> bool:
    """A chunk a worker has taken (attempt counted) but not settled yet."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from run_chunks where status = 'pending' and attempts > 0")
                                ).scalar_one() > 0
    except Exception:  # noqa: BLE001 - the tables appear with the worker's first write
        return False
    finally:
        engine.dispose()


def _kill_mid_chunk(worker, db) -> bool:
    """SIGKILL the pool process while it holds a chunk; False (and nothing killed) when it holds none now.

    The pool process is frozen (SIGSTOP) while the store is read, so the chunk seen in progress is
    still in progress when the kill lands: however slow the machine, the kill is mid-chunk.
    """
    if not _chunk_in_progress(db):  # the cheap look first: no pause for the worker most of the time
        return False
    children = _children(worker.pid)
    if len(children) != 1:  # the pool process is being replaced: look again
        return False
    [child] = children
    os.kill(child, signal.SIGSTOP)
    if _chunk_in_progress(db):
        os.kill(child, signal.SIGKILL)  # the pool process dies mid-chunk; the worker parent survives
        return True
    os.kill(child, signal.SIGCONT)
    return False


@pytest.mark.timeout(SLOW_TEST_SECONDS)
def test_sigkill_mid_chunk_is_redelivered_and_written_exactly_once(tmp_path):
    redis_or_skip()
    folder = tmp_path / "sample"
    write_company(folder, as_of=AS_OF, accounts=600, seed=5)
    data = FilesConnector(folder).pull().data
    expected = recommend(data, AS_OF, load_catalog(), predictors=train_predictors(data, AS_OF)).recommendations
    db = tmp_path / "crash.db"
    worker, queue = start_worker(db, pool="prefork", env={"STEPWISE_CHUNK_SIZE": "800"})
    try:
        from stepwise.workers.celery_app import make_celery

        plan = make_celery(REDIS_URL).send_task("stepwise.score_source", args=[f"files:{folder}", AS_OF], queue=queue)
        wait_until(lambda: _kill_mid_chunk(worker, db), RUN_SECONDS, "a chunk was killed mid-way", interval=0.02,
                   workers=(worker,), task=plan)
        run = wait_for_run(db, workers=(worker,), task=plan)
    finally:
        stop_worker(worker)
    assert run["status"] == "succeeded", (run, worker_logs(worker))
    assert run["counts"]["chunks"]["redelivered"] >= 1  # the killed chunk was taken twice
    assert run["counts"]["chunks"]["total"] >= 4
    store = Store(f"sqlite:///{db}")
    # Written once each: the shown cards, and the ~5 % control cards the default holdout stores apart.
    control = {c["id"] for c in HoldoutLog(store).controls_of_run(run["id"])}
    assert 0 < len(control) < 0.1 * len(expected)
    assert store.counts()["recommendations"] == len(expected) - len(control)
    assert [as_scored(r) for r in recommendations_of_run(store, run["id"])] == [
        as_scored(r) for r in expected if r.id not in control]
