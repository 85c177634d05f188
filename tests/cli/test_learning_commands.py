"""`stepwise train`, `predict` and `evaluate` as a user types them, on a small sample company.

What each prints is checked against what it must mean: the stored model is the one `predict
--from-store` uses, `predict` lists exactly the open deals, the ordering accounts and the open
leads (README, "`stepwise predict` (public contract)") with the numbers `stepwise score` puts on
the cards, and `evaluate` writes its report and plots for the window asked for.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from stepwise.engine.training import MODEL_FAMILY
from stepwise.store import ModelStore

DAY = "2026-11-23"


def stepwise(*args: str, db: Path) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "stepwise.cli", *args], capture_output=True, text=True,
                         env={**os.environ, "STEPWISE_DATABASE_URL": f"sqlite:///{db}"}, timeout=600)
    assert run.returncode == 0, run.stderr
    return run


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("learning") / "company"
    stepwise("sample-data", str(folder), "--accounts", "60", "--as-of", DAY, db=folder.parent / "unused.db")
    return folder


def _csv(folder: Path, table: str) -> list[dict[str, str]]:
    with open(folder / f"{table}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _assert_the_predict_contract(out: dict, company: Path) -> None:
    assert set(out) == {"model_version", "deals", "accounts", "leads", "account_products"}
    open_deals = {d["deal_id"] for d in _csv(company, "deals") if d["stage"] not in ("closed_won", "closed_lost")}
    assert [d["deal_id"] for d in out["deals"]] == sorted(open_deals)
    assert all(set(d) == {"deal_id", "win_probability"} and 0 <= d["win_probability"] <= 1 for d in out["deals"])
    ordering = {o["account_id"] for o in _csv(company, "orders")}
    assert {a["account_id"] for a in out["accounts"]} == ordering
    for account in out["accounts"]:
        assert set(account) == {"account_id", "expected_next_order_at", "p_order_next_14d", "churn_risk"}
        assert 0 <= account["p_order_next_14d"] <= 1
        assert account["expected_next_order_at"] is None or date.fromisoformat(account["expected_next_order_at"])
        assert account["churn_risk"] is None or 0 <= account["churn_risk"] <= 1
    assert any(account["expected_next_order_at"] for account in out["accounts"])
    open_leads = {lead["lead_id"] for lead in _csv(company, "leads") if lead["status"] not in ("converted", "disqualified")}
    assert {lead["lead_id"] for lead in out["leads"]} == open_leads
    assert all(0 <= lead["conversion_probability"] <= 1 for lead in out["leads"])
    per_account = Counter((p["account_id"], p["kind"]) for p in out["account_products"])
    assert {kind for _, kind in per_account} == {"reorder", "cross_sell"}
    assert max(n for (_, kind), n in per_account.items() if kind == "reorder") <= 5
    assert max(n for (_, kind), n in per_account.items() if kind == "cross_sell") <= 3
    products = {p["product_id"] for p in _csv(company, "products")}
    for item in out["account_products"]:
        # Not bounded by 1: on a history too thin to fit the product model its fixed blend stands in.
        assert item["account_id"] in ordering and item["product_id"] in products and 0 <= item["propensity"] <= 1
        assert (item["bought_with"] in products) if item["kind"] == "cross_sell" else item["bought_with"] is None


def test_train_stores_the_model_that_predict_from_store_then_uses(company, tmp_path):
    db = tmp_path / "models.db"
    trained = json.loads(stepwise("train", "--source", f"files:{company}", "--as-of", DAY, db=db).stdout)
    assert trained["version"] == f"{MODEL_FAMILY}@{DAY}"
    assert trained["trained_as_of"] == DAY and trained["train_from"] < DAY
    metrics = trained["metrics"]
    assert metrics["train_rows"]["win"] > 0 and metrics["train_rows"]["reorder"] > 0
    assert 0 < metrics["base_rate"]["win"] < 1 and "out_of_time" in metrics
    stored = ModelStore(f"sqlite:///{db}")
    assert stored.latest("files", DAY).version == trained["version"]
    assert stored.latest("files", "2026-11-22") is None  # never a model trained after the day asked about
    stored.close()

    predicted = json.loads(stepwise("predict", "--source", f"files:{company}", "--as-of", DAY, "--from-store", db=db).stdout)
    assert predicted["model_version"] == trained["version"]
    _assert_the_predict_contract(predicted, company)


def test_predict_gives_the_numbers_score_puts_on_the_cards(company, tmp_path):
    db = tmp_path / "empty.db"
    predicted = json.loads(stepwise("predict", "--source", f"files:{company}", "--as-of", DAY, db=db).stdout)
    assert predicted["model_version"] == f"{MODEL_FAMILY}-auto@{DAY}"  # learned now: nothing stored
    _assert_the_predict_contract(predicted, company)
    cards = json.loads(stepwise("score", "--source", f"files:{company}", "--as-of", DAY, "--format", "json", db=db).stdout)
    win = {d["deal_id"]: d["win_probability"] for d in predicted["deals"]}
    on_cards = [(c["deal_id"], c["extra"]["win_probability"]) for c in cards if c["record_type"] == "deal"]
    assert on_cards and all(win[deal] == p for deal, p in on_cards)


def test_evaluate_writes_the_report_and_its_plots_for_the_window_asked(company, tmp_path):
    out = tmp_path / "evaluation"
    printed = stepwise("evaluate", "--source", f"files:{company}", "--as-of", DAY, "--out", str(out),
                       "--test-days", "120", "--card-days", "1", db=tmp_path / "eval.db").stdout
    assert Path(printed.strip()) == out / "report.md"
    report = (out / "report.md").read_text(encoding="utf-8")
    cut = (date.fromisoformat(DAY) - timedelta(days=120)).isoformat()
    assert f"Trained on what was known on **{cut}**, tested on what happened from then to **{DAY}**" in report
    for section in ("## The cards against what customers did next", "## Win probability", "## Reorder in the next 14 days",
                    "## Lead conversion", "## Bias audit"):
        assert section in report
    for plot in ("calibration", "gain", "reliability_win", "reliability_reorder", "reorder_precision_at_k"):
        assert (out / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot
        assert f"({plot}.png)" in report
    scorecard = json.loads((out / "scorecard.json").read_text(encoding="utf-8"))
    [checked] = scorecard["days"]  # one card day: 30 days before the last
    assert checked["day"] == (date.fromisoformat(DAY) - timedelta(days=30)).isoformat()
    assert checked["accounts"] > 0 and 0 < checked["base_rate"] < 1
