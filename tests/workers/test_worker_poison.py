"""Poison input in a real worker process: the record is quarantined, its chunk and the run complete."""

from __future__ import annotations

import os
from pathlib import Path

from stepwise.engine.catalog import load_catalog
from stepwise.engine.run import recommend
from stepwise.engine.training import train_predictors
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import HoldoutLog, RunChunks, Store
from stepwise.workers.celery_app import make_celery
from tests.workers.workers_helpers import REDIS_URL, redis_or_skip, start_worker, stop_worker, wait_for_run

POISON = Path(__file__).parent / "poison"  # its sitecustomize.py poisons the worker's engine


def test_a_record_that_crashes_the_engine_in_a_worker_is_quarantined_and_the_run_completes(tmp_path):
    redis_or_skip()
    folder = tmp_path / "sample"
    write_company(folder, as_of="2026-11-23", accounts=60, seed=2)
    data = FilesConnector(folder).pull().data
    learned = train_predictors(data, "2026-11-23")  # what the plan learns from the whole pull
    expected = [r for r in recommend(data, "2026-11-23", load_catalog(), predictors=learned).recommendations
                if r.account_id != "ACC-0007"]
    db = tmp_path / "poison.db"
    path = os.pathsep.join([str(POISON), os.environ.get("PYTHONPATH", "")])
    worker, queue = start_worker(db, env={"PYTHONPATH": path, "STEPWISE_CHUNK_SIZE": "80"})
    try:
        make_celery(REDIS_URL).send_task("stepwise.score_source", args=[f"files:{folder}", "2026-11-23"], queue=queue)
        run = wait_for_run(db)
    finally:
        stop_worker(worker)
    assert run["status"] == "succeeded"
    assert run["counts"]["quarantined"] == [{"record": "account:ACC-0007",
                                             "error": "ValueError: cannot compute signals for ACC-0007"}]
    chunks = RunChunks(Store(f"sqlite:///{db}")).chunk_results(run["id"])
    assert {c["status"] for c in chunks} == {"done"} and len(chunks) >= 3
    store = Store(f"sqlite:///{db}")
    control = {c["id"] for c in HoldoutLog(store).controls_of_run(run["id"])}  # the default holdout, stored apart
    assert control <= {r.id for r in expected}
    assert store.counts()["recommendations"] == len(expected) - len(control)
