"""The store owns every table (one MetaData, made by the Store) and one engine per database URL."""

from __future__ import annotations

import os

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import inspect, text

from stepwise.integration.hubspot.tokens import Tokens, TokenStore
from stepwise.store import HubSpotState, ModelStore, OAuthTokenRows, RunChunks, Store, StoreUnavailable
from stepwise.store.engine import engine_for
from stepwise.store.schema import metadata


def test_the_store_creates_every_table_of_the_one_metadata(store: Store) -> None:
    assert store.counts() == {"deal_accounts": 0, "recommendations": 0, "runs": 0, "sync_cursors": 0,
                              "feedback_events": 0}
    on_disk = set(inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= on_disk
    assert {"model_artifacts", "run_chunks", "hubspot_rows", "hubspot_oauth_tokens", "deal_outcomes"} <= on_disk


def test_everything_on_one_url_shares_the_stores_engine(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    store = Store(url)
    assert Store(url).engine is store.engine
    assert ModelStore(url).engine is store.engine
    assert ModelStore(store).engine is store.engine
    assert RunChunks(store).engine is store.engine
    assert HubSpotState(store, "portal-1").engine is store.engine
    assert HubSpotState(store.engine, "portal-1").engine is store.engine
    assert Store(f"sqlite:///{tmp_path / 'other.db'}").engine is not store.engine


def test_closing_one_store_leaves_the_shared_engine_usable(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    first, second = Store(url), Store(url)
    run_id = first.start_run("files", "2026-11-23", "prior")
    first.close()
    second.finish_run(run_id, {"recommendations": 0})
    assert [r["status"] for r in second.latest_runs()] == ["succeeded"]


def test_each_in_memory_store_is_its_own_database() -> None:
    first, second = Store("sqlite://"), Store("sqlite://")
    first.start_run("files", "2026-11-23", "prior")
    assert first.counts()["runs"] == 1 and second.counts()["runs"] == 0


def test_a_forked_child_never_reuses_the_parents_engine(tmp_path) -> None:
    # A pooled connection used from two processes corrupts the conversation with the database.
    url = f"sqlite:///{tmp_path / 'one.db'}"
    parent = engine_for(url)
    pid = os.fork()
    if pid == 0:
        os._exit(0 if engine_for(url) is not parent and engine_for(url) is engine_for(url) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert engine_for(url) is parent


def test_oauth_tokens_are_stored_only_as_ciphertext(store: Store) -> None:
    tokens = TokenStore(store, Fernet.generate_key().decode())
    tokens.save(Tokens("4242", "access-secret", "refresh-secret", 1800.0, "crm.objects.deals.read"))
    sealed = OAuthTokenRows(store).get("4242")
    assert sealed is not None and "secret" not in sealed.access_token + sealed.refresh_token
    with store.engine.connect() as conn:
        assert "secret" not in str(conn.execute(text("select * from hubspot_oauth_tokens")).all())
    assert tokens.get("4242") == Tokens("4242", "access-secret", "refresh-secret", 1800.0, "crm.objects.deals.read")
    assert tokens.portals() == ["4242"] and OAuthTokenRows(store).get("other") is None


def test_an_unreachable_database_raises_store_unavailable() -> None:
    store = Store("postgresql+psycopg://postgres@127.0.0.1:1/nothing")  # nothing listens on port 1
    assert store.ping() is False
    with pytest.raises(StoreUnavailable):
        store.start_run("files", "2026-11-23", "prior")
