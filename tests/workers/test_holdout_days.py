"""The holdout over several days of real runs: orders and stage changes that appear after a card was
proposed are read by later runs, counted once their window is over, and reported the same by
`stepwise evaluate --lift` and GET /api/v1/lift; a control card never reaches the write-back, a rep's
Today list or an alert."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from stepwise.engine.catalog import load_catalog
from stepwise.engine.records import OPEN_STAGES
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.settings import load_settings
from stepwise.store import AlertLog, HoldoutLog, Store, TodayLists
from stepwise.store.holdout import offered_products
from stepwise.web.app import create_app
from stepwise.workers import alerts as alerts_module
from stepwise.workers.holdout import measured_lift
from stepwise.workers.pipeline import run_pipeline

TODAY = datetime.now(UTC).date()  # alerts go out only for the current day: the last run is today's
D1, D2, D3 = (str(TODAY - timedelta(days=n)) for n in (31, 24, 0))  # day 1's 14- and 30-day windows are over
TOKEN = "holdout-days-token"


class RecordingFiles(FilesConnector):
    """The files source, remembering what the run handed to the write-back."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pushed: list[str] = []

    def push(self, recommendations, *, as_of=None):
        recs = list(recommendations)
        self.pushed += [r.id for r in recs]
        return super().push(recs, as_of=as_of)


def run(folder: Path, catalog, day: str, store: Store) -> tuple[list, list[dict], RecordingFiles]:
    connector = RecordingFiles(folder, full=True)
    result = run_pipeline(connector, catalog, day, store=store)
    return result.recommendations, HoldoutLog(store).controls_of_run(result.run_id), connector


def units_of(shown: list, controls: list[dict], family: str, day: str) -> dict[tuple[str, str, str], dict]:
    """(record_id, action_id, month) → the unit's arm, first day, record ids and offered products, for one
    family's cards of a run."""
    out = {(r.record_id, r.action_id, day[:7]): {"arm": "shown", "first": day, "deal_id": r.deal_id,
                                                 "account_id": r.account_id, "products": set(offered_products(r).split())}
           for r in shown if r.extra["holdout"]["family"] == family and r.extra["holdout"]["arm"] == "shown"}
    out.update({(c["record_id"], c["action_id"], day[:7]): {"arm": "control", "first": day, "deal_id": c["deal_id"],
                                                            "account_id": c["account_id"],
                                                            "products": set((c["products"] or "").split())}
                for c in controls if c["family"] == family})
    return out


def row(report: dict, family: str, outcome: str) -> dict:
    return next(r for r in report["families"] if (r["family"], r["outcome"]) == (family, outcome))


def every_other(values) -> set[str]:
    return set(sorted(values)[::2])


@pytest.fixture
def alerts_to(httpserver, tmp_path, monkeypatch):
    path = tmp_path / "alerts.yaml"
    path.write_text(json.dumps({"max_per_rep_per_day": 5, "default": "sales",
                                "webhooks": {"sales": {"kind": "slack", "url": httpserver.url_for("/hook")}}}))
    monkeypatch.setenv("STEPWISE_ALERTS_FILE", str(path))
    settings = load_settings()
    monkeypatch.setattr(alerts_module, "get_settings", lambda: settings)  # not whatever an earlier test cached
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return httpserver


@pytest.mark.timeout(600)
def test_outcomes_after_a_card_reach_the_lift_and_control_cards_reach_no_rep(tmp_path, alerts_to):
    folder, db = tmp_path / "company", tmp_path / "stepwise.db"
    write_company(folder, as_of=D1, accounts=120, seed=11)
    rules = tmp_path / "rules.yaml"
    rules.write_text("holdout: {share: 0.3}\n")  # a small company: enough control cards to count
    catalog = load_catalog(rules_path=rules)
    store = Store(f"sqlite:///{db}")
    orders = pd.read_csv(folder / "orders.csv", dtype=str)
    assert (orders["ordered_at"].str[:10] <= D1).all(), "the company's own orders end on day 1"

    shown1, controls1, push1 = run(folder, catalog, D1, store)
    families = ("replenishment", "cross_sell", "deal")
    units = {f: units_of(shown1, controls1, f, D1) for f in families}
    for family in families:
        assert {u["arm"] for u in units[family].values()} == {"shown", "control"}, family
    accepted = next(r for r in shown1 if (r.record_id, r.action_id, D1[:7]) in units["deal"])
    store.record_feedback(accepted.id, "accepted", user="rep")

    # The world answers, three days after day 1: half the accounts of each arm with a replenishment card
    # order (one more orders on day 1 itself: not after the card, no outcome); half the cross-sell units
    # of each arm buy an offered product; half the deals of each arm with a card advance a stage by day 2.
    later = str(pd.Timestamp(D1) + pd.Timedelta(days=3))[:10]
    ordering = set()
    for arm in ("shown", "control"):
        ordering |= every_other(u["account_id"] for u in units["replenishment"].values() if u["arm"] == arm)
    same_day = sorted({u["account_id"] for u in units["replenishment"].values()} - ordering)[0]
    bought: set[tuple[str, str]] = set()  # (account, product)
    for arm in ("shown", "control"):
        chosen = every_other(k for k, u in units["cross_sell"].items() if u["arm"] == arm and u["products"])
        bought |= {(units["cross_sell"][k]["account_id"], min(units["cross_sell"][k]["products"])) for k in chosen}
    new = [(a, later, None) for a in sorted(ordering)] + [(same_day, D1, None)] + [(a, later, p) for a, p in sorted(bought)]
    lines = pd.read_csv(folder / "order_lines.csv", dtype=str)
    pd.concat([orders, pd.DataFrame([{"order_id": f"ORD-NEW-{i}", "account_id": a, "ordered_at": at, "total": "900.00",
                                      "status": "delivered"} for i, (a, at, _) in enumerate(new)])]
              ).to_csv(folder / "orders.csv", index=False)
    pd.concat([lines, pd.DataFrame([{"order_id": f"ORD-NEW-{i}", "product_id": p, "quantity": "2", "unit_price": "450.00",
                                     "discount_pct": "0"} for i, (_, _, p) in enumerate(new) if p])]
              ).to_csv(folder / "order_lines.csv", index=False)
    deals = pd.read_csv(folder / "deals.csv", dtype=str, keep_default_na=False)
    movable = set(deals.loc[deals["stage"].isin(OPEN_STAGES[:3]), "deal_id"])
    advancing = set()
    for arm in ("shown", "control"):
        advancing |= every_other(u["deal_id"] for u in units["deal"].values() if u["arm"] == arm and u["deal_id"] in movable)
    moved = deals["deal_id"].isin(advancing)
    deals.loc[moved, "stage"] = deals.loc[moved, "stage"].map(lambda s: OPEN_STAGES[OPEN_STAGES.index(s) + 1])
    deals.to_csv(folder / "deals.csv", index=False)

    shown2, controls2, push2 = run(folder, catalog, D2, store)
    read = HoldoutLog(store).units("files")
    early = read[(read["first_day"] == D1) & read["account_id"].isin(ordering) & (read["family"] == "replenishment")]
    assert len(early) > 0 and early["events"].map(lambda e: "order" in (e or {})).all(), "orders read on the next run"
    assert measured_lift(store)["families"] == [], "nothing counted before its window is over"
    for family in families:  # cards first proposed on day 2 are units of their own, from day 2
        for key, unit in units_of(shown2, controls2, family, D2).items():
            units[family].setdefault(key, unit)

    shown3, controls3, push3 = run(folder, catalog, D3, store)

    # The lift counts the units whose window is over by today (day 1's; day 2's for 14 days, not for 30),
    # with the world's outcomes: all of them after day 1, so day 2's new units have none.
    def expected(family: str, hit, days: int) -> dict:
        over = [u for u in units[family].values() if pd.Timestamp(u["first"]) + pd.Timedelta(days=days) <= pd.Timestamp(D3)]
        arms = {arm: [u["first"] == D1 and hit(u) for u in over if u["arm"] == arm] for arm in ("shown", "control")}
        return {"n_shown": len(arms["shown"]), "x_shown": sum(arms["shown"]),
                "n_control": len(arms["control"]), "x_control": sum(arms["control"])}

    report = measured_lift(store)
    counts = ("n_shown", "x_shown", "n_control", "x_control")
    buyers = ordering | {a for a, _ in bought}
    assert {k: row(report, "replenishment", "order")[k] for k in counts} == expected(
        "replenishment", lambda u: u["account_id"] in buyers, 14)
    assert {k: row(report, "cross_sell", "order_with_offered_product")[k] for k in counts} == expected(
        "cross_sell", lambda u: any((u["account_id"], p) in bought for p in u["products"]), 30)
    assert {k: row(report, "deal", "stage_advance")[k] for k in counts} == expected(
        "deal", lambda u: u["deal_id"] in advancing, 14)
    for family, outcome in (("replenishment", "order"), ("cross_sell", "order_with_offered_product"),
                            ("deal", "stage_advance")):
        assert row(report, family, outcome)["x_shown"] > 0 and row(report, family, outcome)["x_control"] > 0
    [rate] = [r for r in report["responses"] if r["group"] == "accepted"]
    assert (rate["n"], rate["x"]) == (1, int(accepted.deal_id in advancing))

    # The same numbers from the CLI and the API.
    cli = subprocess.run([sys.executable, "-m", "stepwise.cli", "evaluate", "--lift", "--json"], capture_output=True,
                         text=True, env={**os.environ, "STEPWISE_DATABASE_URL": f"sqlite:///{db}"}, timeout=300)
    assert cli.returncode == 0, cli.stderr
    api = create_app(store=store, api_tokens=[TOKEN]).test_client().get(
        "/api/v1/lift", headers={"Authorization": f"Bearer {TOKEN}"})
    assert api.status_code == 200
    assert json.loads(cli.stdout) == api.get_json() == json.loads(json.dumps(report))

    # Control cards: stored apart, never written back, never on Today, never alerted.
    for push, controls in ((push1, controls1), (push3, controls3)):
        assert push.pushed and not {c["id"] for c in controls} & set(push.pushed)
    assert push2.pushed
    assert set(push3.pushed) == {r.id for r in shown3}
    held = {c["card_key"] for c in controls3}
    listed = TodayLists(store).lists("files", D3)
    assert listed and not {entry.card_key for entry in listed} & held
    alerted = {key.card_key for key in AlertLog(store).statuses(D3)}
    assert alerted and not alerted & held
    high = {r.card_key for r in shown3 if r.urgency == "HIGH"}
    assert alerted <= high
    store.close()
