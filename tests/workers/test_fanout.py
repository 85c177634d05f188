"""A run fanned out in chunks: same recommendations as one pass, each written once, progress in the store."""

from __future__ import annotations

import pytest

from stepwise.engine.run import recommend
from stepwise.engine.training import train_predictors
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import HoldoutLog, RunChunks
from stepwise.workers import fanout
from stepwise.workers.chunking import pack, plan_chunks, split, unpack
from stepwise.workers.intake import take_in

AS_OF = "2026-11-23"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fanout")
    write_company(folder, as_of=AS_OF, accounts=120, seed=11)
    return folder


def _read(folder):
    return take_in(FilesConnector(folder), None).data


def _plan(store, folder, chunk_size=150):
    connector = FilesConnector(folder)
    run_id, chunks = fanout.plan_run(connector, f"files:{folder}", AS_OF, store, chunk_size=chunk_size)
    return connector, run_id, chunks


def as_scored(rec) -> dict:
    """A card's JSON as scoring made it: less its holdout mark (extra.holdout), which a single pass without a store
    lacks, and its place in the rep's Today list, chosen afterwards across all the run's shown cards."""
    out = rec.to_dict()
    out["extra"] = {k: v for k, v in out["extra"].items() if k != "holdout"}
    out.pop("today_rank", None)
    return out


def test_chunks_scored_in_any_order_give_exactly_the_single_pass(store, catalog, sample_dir):
    data = _read(sample_dir)
    # The single pass learns its predictions from the whole history, as the plan does for every chunk.
    predictors = train_predictors(data, AS_OF)
    expected = recommend(data, AS_OF, catalog, predictors=predictors).recommendations
    connector, run_id, chunks = _plan(store, sample_dir)
    assert chunks >= 4
    finishing = [fanout.score_chunk(run_id, chunk, catalog, store) for chunk in reversed(range(chunks))]
    assert finishing == [False] * (chunks - 1) + [True]  # only the call settling the last chunk owns the finish
    counts = fanout.finish_run(run_id, connector, store)

    stored = fanout.recommendations_of_run(store, run_id)
    # The default holdout keeps about 5 % of the cards back as control, stored apart: with them, the single pass.
    control = {c["id"] for c in HoldoutLog(store).controls_of_run(run_id)}
    assert 0 < len(control) < 0.1 * len(expected)
    assert [as_scored(r) for r in stored] == [as_scored(r) for r in expected if r.id not in control]
    [run] = store.latest_runs(1)
    assert run["status"] == "succeeded"
    assert counts["recommendations"] == len(expected) - len(control) == run["counts"]["recommendations"]
    assert run["counts"]["chunks"] == {"total": chunks, "failed": 0, "redelivered": 0}
    assert run["counts"]["candidates"] == recommend(data, AS_OF, catalog, predictors=predictors).stats["candidates"]
    assert RunChunks(store).progress([run_id])[run_id] == {
        "chunks": chunks, "done": chunks, "failed": 0, "records": sum(plan_chunks(data, 150).records),
        "scored": sum(plan_chunks(data, 150).records)}


def test_a_redelivered_chunk_writes_nothing_twice_and_cannot_claim_the_finish_again(store, catalog, sample_dir):
    connector, run_id, chunks = _plan(store, sample_dir)
    for chunk in range(chunks):
        fanout.score_chunk(run_id, chunk, catalog, store)
    written = store.counts()["recommendations"]
    # A worker died after settling its chunk but before acknowledging it: the chunk comes back.
    assert fanout.score_chunk(run_id, 0, catalog, store) is False
    assert fanout.score_chunk(run_id, chunks - 1, catalog, store) is False
    assert store.counts()["recommendations"] == written
    fanout.finish_run(run_id, connector, store)
    fanout.finish_run(run_id, connector, store)  # a redelivered finish is harmless too
    assert store.counts()["recommendations"] == written
    assert [r["attempts"] for r in RunChunks(store).chunk_results(run_id)][:1] == [1]


def test_a_chunk_that_keeps_failing_fails_the_run_but_keeps_the_rest_and_yesterdays_cards(store, catalog, sample_dir):
    connector, yesterday, chunks = _plan(store, sample_dir)
    for chunk in range(chunks):
        fanout.score_chunk(run_id=yesterday, chunk=chunk, catalog=catalog, store=store)
    fanout.finish_run(yesterday, connector, store)
    before = store.counts()["recommendations"]

    run_id, chunks = fanout.plan_run(connector, f"files:{sample_dir}", "2026-11-24", store, chunk_size=150)
    for chunk in range(1, chunks):
        fanout.score_chunk(run_id, chunk, catalog, store)
    assert fanout.chunk_failed(run_id, 0, "OperationalError: the store went away", store) is True
    counts = fanout.finish_run(run_id, connector, store)

    [run] = store.latest_runs(1)
    assert run["status"] == "failed"
    assert run["error"] == "chunk 0: OperationalError: the store went away"
    assert counts["chunks"]["failed"] == 1 and counts["recommendations"] > 0
    # No expiry on a partial run: yesterday's cards of the failed chunk's accounts stay visible.
    with store.engine.connect() as conn:
        from sqlalchemy import text

        expired = conn.execute(text("select count(*) from recommendations where status = 'expired'")).scalar_one()
    assert expired == 0
    assert store.counts()["recommendations"] == before + counts["recommendations"]


def test_plans_never_split_an_account_and_respect_the_chunk_size(sample_dir):
    data = _read(sample_dir)
    plan = plan_chunks(data, 100)
    parts = split(data, plan)
    assert len(parts) == plan.chunks
    deals = data.table("deals")
    for part, records in zip(parts, plan.records):
        accounts = set(part.table("accounts")["account_id"])
        # Every deal of a chunk's accounts is in the chunk, and nothing of another account.
        assert set(part.table("deals")["deal_id"]) == set(deals.loc[deals["account_id"].isin(accounts), "deal_id"])
        assert records == len(accounts) + len(part.table("deals")) + len(part.table("leads"))
        biggest_account = 1 + deals["account_id"].value_counts().max()
        assert records <= 100 + biggest_account
    assert sorted(a for p in parts for a in p.table("accounts")["account_id"]) == sorted(data.table("accounts")["account_id"])
    assert sorted(x for p in parts for x in p.table("leads")["lead_id"]) == sorted(data.table("leads")["lead_id"])
    assert sum(len(p.table("activities")) for p in parts) >= len(data.table("activities")) - len(
        data.table("activities").query("account_id.isna() and lead_id.isna() and deal_id.isna()"))
    roundtrip = unpack(pack(parts[0]))
    assert roundtrip.table("deals").equals(parts[0].table("deals"))


def test_an_empty_source_plans_one_empty_chunk(tmp_path):
    from stepwise.engine.records import CanonicalData

    plan = plan_chunks(CanonicalData(), 100)
    assert plan.chunks == 1 and plan.records == [0]


def test_a_chunk_size_below_one_is_refused(sample_dir):
    with pytest.raises(ValueError, match="chunk size must be at least 1"):
        plan_chunks(_read(sample_dir), 0)


def test_status_shows_a_running_runs_chunk_progress(tmp_path, catalog, sample_dir):
    import json
    import os
    import subprocess
    import sys

    from stepwise.store import Store

    db = tmp_path / "status.db"
    store = Store(f"sqlite:///{db}")
    _, run_id, chunks = _plan(store, sample_dir)
    fanout.score_chunk(run_id, 0, catalog, store)
    fanout.chunk_failed(run_id, 1, "boom", store)
    env = {**os.environ, "STEPWISE_DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "250"}
    shown = subprocess.run([sys.executable, "-m", "stepwise.cli", "status", "--json"], capture_output=True, text=True,
                           env=env, timeout=120)
    run = json.loads(shown.stdout.splitlines()[0])
    assert run["status"] == "running"
    assert run["chunks"]["chunks"] == chunks and run["chunks"]["done"] == 1 and run["chunks"]["failed"] == 1
    assert 0 < run["chunks"]["scored"] < run["chunks"]["records"]
    table = subprocess.run([sys.executable, "-m", "stepwise.cli", "status"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert f"2/{chunks} (1 failed)" in table.stdout


def test_a_webhooks_store_source_name_reaches_the_right_hubspot_connector(monkeypatch):
    from stepwise.settings import get_settings
    from stepwise.workers import tasks

    built = []
    monkeypatch.setattr(tasks, "connector_for", lambda spec, *, full=False, store=None: built.append((spec, full)))
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    get_settings.cache_clear()
    tasks._connector("hubspot-4242", False, None)    # an OAuth install: the portal's own connector
    tasks._connector("hubspot-4242", True, None)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-x")
    get_settings.cache_clear()
    tasks._connector("hubspot-4242", False, None)    # a private app
    get_settings.cache_clear()
    assert built == [("hubspot:4242", False), ("hubspot:4242", True), ("hubspot", False)]
