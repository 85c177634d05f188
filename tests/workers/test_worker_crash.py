"""A worker process killed with SIGKILL mid-chunk: the chunk comes back and everything is written once."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from sqlalchemy import create_engine, text

from stepwise.engine.catalog import load_catalog
from stepwise.engine.models.training import train_predictors
from stepwise.engine.run import recommend
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import Store
from stepwise.workers.fanout import recommendations_of_run
from tests.workers.workers_helpers import REDIS_URL, redis_or_skip, start_worker, stop_worker, wait_for_run

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


def test_sigkill_mid_chunk_is_redelivered_and_written_exactly_once(tmp_path):
    redis_or_skip()
    folder = tmp_path / "sample"
    write_company(folder, as_of=AS_OF, accounts=600, seed=5)
    data = FilesConnector(folder).pull()
    expected = recommend(data, AS_OF, load_catalog(), predictors=train_predictors(data, AS_OF)).recommendations
    db = tmp_path / "crash.db"
    worker, queue = start_worker(db, pool="prefork", env={"STEPWISE_CHUNK_SIZE": "800"})
    try:
        from stepwise.workers.celery_app import make_celery

        make_celery(REDIS_URL).send_task("stepwise.score_source", args=[f"files:{folder}", AS_OF], queue=queue)
        deadline = time.monotonic() + 90
        while not _chunk_in_progress(db):
            assert time.monotonic() < deadline, "no chunk ever started"
            time.sleep(0.02)
        [child] = _children(worker.pid)
        os.kill(child, signal.SIGKILL)  # the pool process dies mid-chunk; the worker parent survives
        run = wait_for_run(db)
    finally:
        stop_worker(worker)
    assert run["status"] == "succeeded"
    assert run["counts"]["chunks"]["redelivered"] >= 1  # the killed chunk was taken twice
    assert run["counts"]["chunks"]["total"] >= 4
    store = Store(f"sqlite:///{db}")
    assert store.counts()["recommendations"] == len(expected)
    assert [r.to_dict() for r in recommendations_of_run(store, run["id"])] == [r.to_dict() for r in expected]
