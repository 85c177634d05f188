"""The fleet: several worker processes share one run's chunks; a Redis restart mid-run loses nothing."""

from __future__ import annotations

import time

import pytest
import redis
from sqlalchemy import create_engine, text

from stepwise.engine.catalog import load_catalog
from stepwise.engine.run import recommend
from stepwise.engine.training import train_predictors
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import HoldoutLog, RunChunks, Store
from stepwise.workers.celery_app import make_celery
from stepwise.workers.fanout import recommendations_of_run
from stepwise.workers.leader import LeaderLock
from tests.workers.test_fanout import as_scored
from tests.workers.workers_helpers import (
    REDIS_URL,
    RUN_SECONDS,
    SLOW_TEST_SECONDS,
    WORKER_START_SECONDS,
    OwnRedis,
    redis_or_skip,
    start_worker,
    stop_worker,
    wait_for_run,
    wait_until,
    worker_logs,
)

AS_OF = "2026-11-23"


def _wait_ready(app, names: list[str], workers: tuple) -> None:
    def all_answer() -> bool:
        replies = app.control.ping(destination=names, timeout=1.0) or []
        return {name for reply in replies for name in reply} >= set(names)

    wait_until(all_answer, WORKER_START_SECONDS, f"workers {names} answered a ping", workers=workers)


def _done_chunks(db) -> int:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from run_chunks where status = 'done'")).scalar_one()
    except Exception:  # noqa: BLE001 - the tables appear with the worker's first write
        return 0
    finally:
        engine.dispose()


def _run_with_workers(tmp_path, redis_url: str, during=None, env=None):
    folder = tmp_path / "sample"
    write_company(folder, as_of=AS_OF, accounts=240, seed=8)
    data = FilesConnector(folder).pull().data
    expected = recommend(data, AS_OF, load_catalog(), predictors=train_predictors(data, AS_OF)).recommendations
    db = tmp_path / "fleet.db"
    names = [f"w{i}-{time.time_ns()}@fleet" for i in (1, 2)]
    env = {"STEPWISE_CHUNK_SIZE": "120", **(env or {})}
    first, queue = start_worker(db, redis_url=redis_url, env=env, name=names[0])
    second, _ = start_worker(db, queue=queue, redis_url=redis_url, env=env, name=names[1])
    workers = (first, second)
    try:
        app = make_celery(redis_url)
        _wait_ready(app, names, workers)
        plan = app.send_task("stepwise.score_source", args=[f"files:{folder}", AS_OF], queue=queue)
        if during is not None:
            during(db, workers, plan)
        run = wait_for_run(db, workers=workers, task=plan)
        logs = worker_logs(*workers)  # for the assertion messages
    finally:
        stop_worker(first)
        stop_worker(second)
    store = Store(f"sqlite:///{db}")
    return run, store, expected, logs


@pytest.mark.timeout(SLOW_TEST_SECONDS)
def test_two_workers_share_the_chunks_and_the_run_equals_a_single_pass(tmp_path):
    redis_or_skip()
    run, store, expected, logs = _run_with_workers(tmp_path, REDIS_URL)
    assert run["status"] == "succeeded", (run, logs)
    chunks = RunChunks(store).chunk_results(run["id"])
    assert len(chunks) >= 8
    assert len({c["worker"] for c in chunks}) == 2, "both worker processes scored chunks"
    # The default holdout keeps about 5 % back as control, stored apart: with them, the single pass.
    control = {c["id"] for c in HoldoutLog(store).controls_of_run(run["id"])}
    assert 0 < len(control) < 0.1 * len(expected)
    assert [as_scored(r) for r in recommendations_of_run(store, run["id"])] == [
        as_scored(r) for r in expected if r.id not in control]
    assert store.counts()["recommendations"] == len(expected) - len(control)


@pytest.mark.timeout(SLOW_TEST_SECONDS)
def test_redis_restarted_mid_run_workers_reconnect_and_the_run_completes_once(tmp_path):
    own = OwnRedis(tmp_path, persistent=True).start()

    def restart_redis_mid_run(db, workers, plan):
        # Mid-run: after a chunk is done, before the run is (a run has at least 8 chunks here).
        wait_until(lambda: _done_chunks(db) > 0, RUN_SECONDS, "a chunk was done", workers=workers, task=plan)
        own.restart(down_seconds=2.0)

    try:
        # Chunks unacknowledged when Redis went away come back after the visibility timeout.
        run, store, expected, logs = _run_with_workers(tmp_path, own.url, during=restart_redis_mid_run,
                                                 env={"STEPWISE_VISIBILITY_TIMEOUT": "15"})
    finally:
        own.kill()
    assert run["status"] == "succeeded", (run, logs)
    assert len(store.latest_runs(10)) == 1, store.latest_runs(10)  # the run was not started twice
    progress = RunChunks(store).progress([run["id"]])[run["id"]]
    assert progress["done"] == progress["chunks"] and progress["failed"] == 0
    control = {c["id"] for c in HoldoutLog(store).controls_of_run(run["id"])}
    assert store.counts()["recommendations"] == len(expected) - len(control), RunChunks(store).chunk_results(run["id"])
    assert [as_scored(r) for r in recommendations_of_run(store, run["id"])] == [
        as_scored(r) for r in expected if r.id not in control]


def test_a_beat_retakes_its_lock_after_a_redis_restart_so_a_second_beat_still_cannot_start(tmp_path):
    own = OwnRedis(tmp_path, persistent=False).start()  # the worst case: Redis comes back empty
    try:
        leader = LeaderLock(redis.Redis.from_url(own.url), ttl_seconds=30)
        leader.acquire()
        own.restart(down_seconds=0.5)
        assert redis.Redis.from_url(own.url).get(leader.key) is None
        assert leader.refresh() is True  # what the refresh thread does every ttl/3
        other = LeaderLock(redis.Redis.from_url(own.url), ttl_seconds=30)
        other.identity = "other-host:1"
        try:
            other.acquire()
            raise AssertionError("a second beat started after the restart")
        except RuntimeError as exc:
            assert "another beat is already running" in str(exc)

        # And if another beat did take it while this one could not reach Redis, this one stops.
        redis.Redis.from_url(own.url).set(leader.key, "other-host:1")
        lost = []
        leader.on_lost = lambda: lost.append(True)
        assert leader.refresh() is False and lost == [True]
    finally:
        leader._stop.set()
        own.kill()
