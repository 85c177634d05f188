"""The one pipeline: files → engine → store, idempotent re-runs, feedback honoured next run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.workers.pipeline import run_pipeline

AS_OF = "2026-11-23"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    write_company(folder, as_of=AS_OF, accounts=60, seed=11)
    return folder


def test_a_run_is_stored_and_a_rerun_writes_each_recommendation_once(store, catalog, sample_dir):
    first = run_pipeline(FilesConnector(sample_dir), catalog, AS_OF, store=store)
    assert first.recommendations, "the sample company must produce recommendations"
    counts = store.counts()
    assert counts["recommendations"] == len(first.recommendations)
    second = run_pipeline(FilesConnector(sample_dir), catalog, AS_OF, store=store)
    assert [r.id for r in second.recommendations] == [r.id for r in first.recommendations]
    assert store.counts()["recommendations"] == counts["recommendations"]
    runs = store.latest_runs(5)
    assert [r["status"] for r in runs[:2]] == ["succeeded", "succeeded"]
    assert runs[0]["counts"]["recommendations"] == len(first.recommendations)


def test_a_dismissal_is_honoured_by_the_next_run(store, catalog, sample_dir):
    first = run_pipeline(FilesConnector(sample_dir), catalog, AS_OF, store=store)
    target = first.recommendations[0]
    store.record_feedback(target.id, "dismissed", user="rep_01", reason="not_relevant")
    later = run_pipeline(FilesConnector(sample_dir), catalog, "2026-11-24", store=store)
    again = [r for r in later.recommendations if (r.record_id, r.action_id) == (target.record_id, target.action_id)]
    assert again == []
    held = later.engine.removed
    row = held[(held["record_id"] == target.record_id) & (held["action_id"] == target.action_id)]
    assert list(row["rule"]) == ["dismissed"]


def test_score_json_is_the_public_contract(sample_dir):
    run = subprocess.run([sys.executable, "-m", "stepwise.cli", "score", "--source", f"files:{sample_dir}",
                          "--as-of", AS_OF, "--format", "json"], capture_output=True, text=True, check=True)
    recs = json.loads(run.stdout)
    assert recs
    for rec in recs:
        assert {"id", "deal_id", "account_id", "action_id", "category", "title", "score", "factors", "urgency",
                "why", "how", "offer", "constraints", "alternatives", "removed"} <= set(rec)
        assert set(rec["factors"]) == {"relevance", "impact", "urgency", "feasibility"}
        assert 0 <= rec["score"] <= 100 and rec["urgency"] in ("HIGH", "MEDIUM", "LOW")
        assert rec["why"] and rec["how"]
        for removal in rec["removed"]:
            assert {"rule", "reason"} <= set(removal) and ({"action_id", "product_id"} & set(removal))
    per_record: dict[tuple, int] = {}
    for rec in recs:
        key = (rec["record_type"], rec["record_id"])
        per_record[key] = per_record.get(key, 0) + 1
    assert max(per_record.values()) <= 3
    assert {r["category"] for r in recs} >= {"engagement", "content", "process", "risk", "replenishment", "finance"}
