"""The holdout on the run path: control cards stored apart and never shown, and the same assignment
whether a run is scored in process or fanned out over two worker processes."""

from __future__ import annotations

import time

import pytest

from stepwise.engine.catalog import load_catalog
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import HoldoutLog, Store
from stepwise.workers.celery_app import make_celery
from stepwise.workers.fanout import recommendations_of_run
from stepwise.workers.pipeline import run_pipeline
from tests.workers.workers_helpers import (
    REDIS_URL,
    SLOW_TEST_SECONDS,
    WORKER_START_SECONDS,
    redis_or_skip,
    start_worker,
    stop_worker,
    wait_for_run,
    wait_until,
    worker_logs,
)

AS_OF = "2026-11-23"


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    folder = tmp_path_factory.mktemp("holdout")
    write_company(folder, as_of=AS_OF, accounts=240, seed=8)
    return folder


def _arms(store: Store, run_id: str) -> tuple[dict[str, str], set[str]]:
    shown = {r.id: r.extra["holdout"]["arm"] for r in recommendations_of_run(store, run_id)}
    control = {row["id"] for row in HoldoutLog(store).controls_of_run(run_id)}
    return shown, control


def test_control_cards_are_stored_apart_with_their_score_and_never_reach_the_output(company, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    result = run_pipeline(FilesConnector(company), load_catalog(), AS_OF, store=store)
    shown, control = _arms(store, result.run_id)
    assert control and not control & set(shown)
    assert {r.id for r in result.recommendations} == set(shown)  # what `stepwise score` prints and the push gets
    assert set(shown.values()) == {"shown", "excluded"}
    rows = HoldoutLog(store).controls_of_run(result.run_id)
    assert all(r["p_shown"] == pytest.approx(0.95) and r["score"] > 0 and r["rank"] >= 1 and r["family"] for r in rows)
    assert all(r["action_id"] != "resolve_overdue_payment" for r in rows)
    total = len(shown) + len(control)
    assert 0.02 < len(control) / total < 0.09  # ~5 % of the eligible cards
    # A scratch run (no store) measures nothing, so it holds nothing back.
    scratch = run_pipeline(FilesConnector(company), load_catalog(), AS_OF)
    assert {r.id for r in scratch.recommendations} == set(shown) | control


def test_share_zero_turns_the_holdout_off(company, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("holdout: {share: 0}\n")
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    result = run_pipeline(FilesConnector(company), load_catalog(rules_path=rules), AS_OF, store=store)
    assert HoldoutLog(store).controls_of_run(result.run_id) == []
    assert all("holdout" not in r.extra for r in result.recommendations)


@pytest.mark.timeout(SLOW_TEST_SECONDS)
def test_assignment_is_identical_in_process_and_over_two_worker_processes(company, tmp_path):
    redis_or_skip()
    single = Store(f"sqlite:///{tmp_path / 'single.db'}")
    in_process = run_pipeline(FilesConnector(company), load_catalog(), AS_OF, store=single)
    expected_shown, expected_control = _arms(single, in_process.run_id)

    db = tmp_path / "fleet.db"
    names = [f"h{i}-{time.time_ns()}@holdout" for i in (1, 2)]
    env = {"STEPWISE_CHUNK_SIZE": "120"}
    first, queue = start_worker(db, redis_url=REDIS_URL, env=env, name=names[0])
    second, _ = start_worker(db, queue=queue, redis_url=REDIS_URL, env=env, name=names[1])
    try:
        app = make_celery(REDIS_URL)

        def all_answer() -> bool:
            replies = app.control.ping(destination=names, timeout=1.0) or []
            return {name for reply in replies for name in reply} >= set(names)

        wait_until(all_answer, WORKER_START_SECONDS, "both workers answered a ping", workers=(first, second))
        plan = app.send_task("stepwise.score_source", args=[f"files:{company}", AS_OF], queue=queue)
        run = wait_for_run(db, workers=(first, second), task=plan)
        logs = worker_logs(first, second)
    finally:
        stop_worker(first)
        stop_worker(second)
    assert run["status"] == "succeeded", (run, logs)
    fleet = Store(f"sqlite:///{db}")
    from stepwise.store import RunChunks

    assert len({c["worker"] for c in RunChunks(fleet).chunk_results(run["id"])}) == 2, "both workers scored chunks"
    shown, control = _arms(fleet, run["id"])
    assert control == expected_control and shown == expected_shown
