"""The one pipeline: files → engine → store, idempotent re-runs, feedback honoured next run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from stepwise.engine.recommendation import recommendation_id
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import HoldoutLog, RunChunks
from stepwise.workers.pipeline import run_pipeline
from tests.workers.test_fanout import as_scored

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


def test_a_run_in_many_chunks_is_the_run_in_one(store, catalog, sample_dir):
    alone = run_pipeline(FilesConnector(sample_dir), catalog, AS_OF)  # no store: a scratch one for the run
    assert alone.run_id is None
    chunked = run_pipeline(FilesConnector(sample_dir), catalog, AS_OF, store=store, chunk_size=60)
    # A run that keeps its results holds about 5 % back as control (stored apart); the scratch run shows all.
    control = {c["id"] for c in HoldoutLog(store).controls_of_run(chunked.run_id)}
    assert 0 < len(control) < 0.1 * len(alone.recommendations)
    assert [as_scored(r) for r in chunked.recommendations] == [
        as_scored(r) for r in alone.recommendations if r.id not in control]
    assert chunked.engine.stats["removed_by_rule"] == alone.engine.stats["removed_by_rule"]
    assert chunked.engine.stats["candidates"] == alone.engine.stats["candidates"]
    assert chunked.engine.removed.sort_values(list(chunked.engine.removed.columns)).reset_index(drop=True).equals(
        alone.engine.removed.sort_values(list(alone.engine.removed.columns)).reset_index(drop=True))
    [run] = store.latest_runs(1)
    assert run["id"] == chunked.run_id and run["status"] == "succeeded"
    chunks = run["counts"].pop("chunks")
    assert chunks["total"] > 3 and chunks["failed"] == 0 and chunks["redelivered"] == 0
    assert run["counts"] == {
        "quarantined": [], "pulled": alone.data.counts(), "skipped_rows": 0,
        "candidates": alone.engine.stats["candidates"], "recommendations": len(alone.recommendations) - len(control),
        "removed_by_rule": alone.engine.stats["removed_by_rule"], "written_back": 0, "write_back_failed": 0,
        "write_back_errors": []}
    assert RunChunks(store).progress([run["id"]])[run["id"]]["done"] == chunks["total"]
    assert store.recommendations_of_run(run["id"])
    assert store.counts()["recommendations"] == len(alone.recommendations) - len(control)


# README, "`stepwise score --format json` (public contract)": every field it documents, with its JSON type.
NUMBER = (int, float)
CONTRACT: dict[str, tuple[type, ...]] = {
    "id": (str,), "deal_id": (str, type(None)), "account_id": (str, type(None)), "lead_id": (str, type(None)),
    "record_type": (str,), "record_id": (str,), "action_id": (str,), "category": (str,), "title": (str,),
    "score": NUMBER, "factors": (dict,), "urgency": (str,), "expected_impact": (str,), "why": (list,), "how": (list,),
    "offer": (dict,), "constraints": (list,), "best_before": (str,), "success_rate": (*NUMBER, type(None)),
    "alternatives": (list,), "removed": (list,), "model_version": (str,), "as_of": (str,), "rank": (int,),
    "script": (str,), "status": (str,), "extra": (dict,), "card_key": (str,),
    "today_rank": (int, type(None)), "urgency_reason": (str,),
}
PRODUCT_ROLE = re.compile(r"replenishment|substitute for .+ \(out of stock\)|compatible with .+|often bought with .+"
                          r"|popular with similar customers")
EXTRA = {"account": {"p_order_next_14d", "churn_risk", "expected_value"},
         "deal": {"win_probability", "expected_value"}, "lead": {"conversion_probability", "expected_value"}}


def _documented_fields() -> set[str]:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## `stepwise score --format json` (public contract)", 1)[1]
    listed = section.split("each object has at least:", 1)[1].split("Fields are only ever added", 1)[0]
    return set(re.findall(r"`(\w+)", listed))


def _is(value, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and not isinstance(value, bool)


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def test_score_json_is_the_public_contract(sample_dir):
    assert _documented_fields() == set(CONTRACT), "the README's field list and this test's must agree"
    run = subprocess.run([sys.executable, "-m", "stepwise.cli", "score", "--source", f"files:{sample_dir}",
                          "--as-of", AS_OF, "--format", "json"], capture_output=True, text=True, check=True)
    recs = json.loads(run.stdout)
    assert recs
    for rec in recs:
        wrong = {name: rec.get(name, "<missing>") for name, types in CONTRACT.items() if not _is(rec.get(name, ...), types)}
        assert not wrong, wrong
        # Stable: the same source, record, action and day give the same id.
        assert rec["id"] == recommendation_id("files", f"{rec['record_type']}:{rec['record_id']}", rec["action_id"], AS_OF)
        assert rec["record_type"] in ("deal", "lead", "account") and rec["record_id"]
        assert rec[f"{rec['record_type']}_id"] == rec["record_id"]
        if rec["record_type"] != "deal":
            assert rec["deal_id"] is None  # account-level and lead actions
        assert rec["action_id"] and rec["category"] and rec["title"] and rec["expected_impact"]
        assert 0 <= rec["score"] <= 100 and rec["urgency"] in ("HIGH", "MEDIUM", "LOW")
        assert set(rec["factors"]) == {"relevance", "impact", "urgency", "feasibility"}
        assert all(_is(v, NUMBER) for v in rec["factors"].values())
        assert _strings(rec["why"]) and _strings(rec["how"]) and rec["why"] and rec["how"]
        assert _strings(rec["constraints"])
        assert set(rec["offer"]) <= {"products", "bundle", "max_discount_pct", "asset"}
        for product in rec["offer"].get("products", []):
            assert set(product) == {"product_id", "name", "role", "margin_pct", "propensity"}
            assert PRODUCT_ROLE.fullmatch(product["role"]), product["role"]
            # A chance: also where the history is too thin to fit the product model and its fixed blend stands in.
            assert product["propensity"] is None or (_is(product["propensity"], NUMBER) and 0 <= product["propensity"] <= 1)
        if "max_discount_pct" in rec["offer"]:
            assert _is(rec["offer"]["max_discount_pct"], NUMBER)
        if "asset" in rec["offer"]:
            assert {"title", "url"} <= set(rec["offer"]["asset"])
        assert date.fromisoformat(rec["best_before"]) >= date.fromisoformat(AS_OF)
        assert rec["success_rate"] is None or 0 <= rec["success_rate"] <= 1
        for alternative in rec["alternatives"]:
            assert set(alternative) == {"action_id", "title", "score", "urgency"}
            assert _is(alternative["score"], NUMBER) and alternative["urgency"] in ("HIGH", "MEDIUM", "LOW")
        for removal in rec["removed"]:
            assert {"rule", "reason"} <= set(removal) <= {"rule", "reason", "action_id", "product_id"}
            assert {"action_id", "product_id"} & set(removal)
        assert rec["model_version"] and rec["as_of"] == AS_OF and rec["rank"] >= 1 and rec["status"] == "new"
        assert set(rec["extra"]) <= EXTRA[rec["record_type"]]
        assert all(v is None or _is(v, NUMBER) for v in rec["extra"].values())
    assert len({rec["id"] for rec in recs}) == len(recs)
    # One card per (record, action) a day: the card key names it without the day.
    assert len({rec["card_key"] for rec in recs}) == len(recs) and all(re.fullmatch(r"card_[0-9a-f]{24}", rec["card_key"])
                                                                       for rec in recs)
    per_record: dict[tuple, int] = {}
    for rec in recs:
        key = (rec["record_type"], rec["record_id"])
        per_record[key] = per_record.get(key, 0) + 1
    assert max(per_record.values()) <= 3
    assert {r["category"] for r in recs} >= {"engagement", "content", "process", "risk", "replenishment", "finance"}
    # What the models learned from the sample's history is on the cards (empty only on a cold start).
    assert all(any(r["extra"] for r in recs if r["record_type"] == kind) for kind in ("deal", "account"))
