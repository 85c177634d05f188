"""Poison input: the record that crashes the engine is quarantined, the rest of the batch is scored."""

from __future__ import annotations

import pytest

import stepwise.engine.run as engine_run
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.workers.pipeline import run_pipeline

AS_OF = "2026-11-23"


@pytest.fixture()
def poisoned(monkeypatch):
    """The engine crashes whenever account ACC-0007 is in its input (as a malformed record would make it)."""
    real = engine_run.build_signals

    def build_signals(data, as_of, *args, **kwargs):
        if "ACC-0007" in set(data.table("accounts")["account_id"]):
            raise ValueError("cannot compute signals for ACC-0007")
        return real(data, as_of, *args, **kwargs)

    monkeypatch.setattr(engine_run, "build_signals", build_signals)


def test_the_poison_record_is_quarantined_and_the_rest_is_scored(tmp_path, store, catalog, poisoned):
    write_company(tmp_path, as_of=AS_OF, accounts=40, seed=2)
    result = run_pipeline(FilesConnector(tmp_path), catalog, AS_OF, store=store)
    assert result.recommendations
    assert all(r.account_id != "ACC-0007" for r in result.recommendations)
    accounts_scored = {r.account_id for r in result.recommendations if r.record_type == "account"}
    assert len(accounts_scored) > 10
    [run] = store.latest_runs(1)
    assert run["status"] == "succeeded"
    assert run["counts"]["quarantined"] == [{"record": "account:ACC-0007", "error": "ValueError: cannot compute signals for ACC-0007"}]
    assert store.counts()["recommendations"] == len(result.recommendations)
