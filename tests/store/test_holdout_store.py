"""The holdout's tables (store/holdout.py) on SQLite and PostgreSQL: control cards written once however
often a chunk is delivered, stage history kept as change points, units gathered from both arms and
settled with what a later run found."""

from __future__ import annotations

import pytest

from stepwise.engine.recommendation import Factors, Recommendation, recommendation_id
from stepwise.store import HoldoutLog

SOURCE = "files"


def card(record: str, action: str, day: str, *, arm: str | None, family: str = "replenishment",
         outcomes: str = "order:14", score: float = 71.0, rank: int = 1, products: tuple[str, ...] = ()) -> Recommendation:
    # The id as the engine builds it: the record named with its scope.
    rec = Recommendation(
        id=recommendation_id(SOURCE, f"account:{record}", action, day), source=SOURCE, record_type="account", record_id=record,
        deal_id=None, account_id=record, lead_id=None, action_id=action, category="replenishment",
        title=f"{action} for {record}", score=score, factors=Factors(70, 60, 80, 90), urgency="MEDIUM",
        expected_impact="An order", why=("Due to reorder.",), how=("Call.",),
        offer={"products": [{"product_id": p} for p in products]} if products else {}, constraints=(),
        best_before=day, success_rate=None, alternatives=(), removed=(), model_version="priors-1", as_of=day,
        rank=rank, owner_id="rep_01")
    if arm is not None:
        rec.extra["holdout"] = mark(arm, day, family, outcomes)
    return rec


def mark(arm: str, day: str, family: str = "replenishment", outcomes: str = "order:14") -> dict:
    return {"arm": arm, "p_shown": 1.0 if arm == "excluded" else 0.95, "policy": "priors-1+abc", "period": day[:7],
            "family": family, "outcomes": outcomes}


def test_a_redelivered_chunk_records_its_control_cards_once_with_the_latest_run(store):
    log = HoldoutLog(store)
    controls = [card("ACC-1", "call_for_replenishment", "2026-09-07", arm=None, score=64.5, rank=3),
                card("ACC-2", "propose_bundle", "2026-09-07", arm=None, family="cross_sell",
                     outcomes="order_with_offered_product:30", products=("PRD-004", "PRD-009"))]
    marks = {controls[0].id: mark("control", "2026-09-07"),
             controls[1].id: mark("control", "2026-09-07", "cross_sell", "order_with_offered_product:30")}
    assert log.record_controls("run-a", controls, marks) == 2
    assert log.record_controls("run-a", controls, marks) == 2  # the same chunk delivered again
    rows = log.controls_of_run("run-a")
    assert sorted(r["record_id"] for r in rows) == ["ACC-1", "ACC-2"]
    first = next(r for r in rows if r["record_id"] == "ACC-1")
    assert (first["score"], first["rank"], first["p_shown"], first["period"]) == (64.5, 3, 0.95, "2026-09")
    assert next(r for r in rows if r["record_id"] == "ACC-2")["products"] == "PRD-004 PRD-009"
    # A retried chunk under a new run id moves the rows to it; nothing is duplicated.
    log.record_controls("run-b", controls, marks)
    assert log.controls_of_run("run-a") == [] and len(log.controls_of_run("run-b")) == 2


def test_stages_are_stored_only_where_they_change(store):
    log = HoldoutLog(store)
    seen = [("deal", "D1", "discovery"), ("deal", "D2", "proposal")]
    assert log.record_stages(SOURCE, "2026-09-07", seen) == 2
    assert log.record_stages(SOURCE, "2026-09-14", seen) == 0  # nothing moved
    assert log.record_stages(SOURCE, "2026-09-21", [("deal", "D1", "proposal"), ("deal", "D2", "proposal")]) == 1
    assert log.record_stages(SOURCE, "2026-09-21", [("deal", "D1", "proposal")]) == 0  # a re-sync the same day
    assert log.record_stages("salesforce", "2026-09-21", seen) == 2  # another source has its own history
    history = log.stage_history(SOURCE).sort_values(["record_id", "day"])
    assert history[["record_id", "day", "stage"]].values.tolist() == [
        ["D1", "2026-09-07", "discovery"], ["D1", "2026-09-21", "proposal"], ["D2", "2026-09-07", "proposal"]]


def test_units_are_gathered_once_per_card_and_month_from_both_arms_and_settled(store):
    log = HoldoutLog(store)
    for day in ("2026-09-07", "2026-09-14"):
        run_id = store.start_run(SOURCE, day, "priors-1")
        store.upsert_recommendations(run_id, [card("ACC-1", "call_for_replenishment", day, arm="shown"),
                                              card("ACC-3", "resolve_overdue_payment", day, arm="excluded",
                                                   family="overdue_payment", outcomes="paid:14")])
        control = card("ACC-2", "contact_for_retention", day, arm=None)
        log.record_controls(run_id, [control], {control.id: mark("control", day)})
        store.finish_run(run_id, {})
    assert log.gather_units(SOURCE, "2026-09-07") == 3
    assert log.gather_units(SOURCE, "2026-09-14") == 0  # the same cards a week later: the same units
    units = log.units(SOURCE).set_index("record_id")
    assert units.loc["ACC-1", "arm"] == "shown" and units.loc["ACC-2", "arm"] == "control"
    assert units.loc["ACC-3", "arm"] == "excluded"
    assert set(units["first_day"]) == {"2026-09-07"} and units["open"].all()
    assert set(units["checked_on"]) == {"2026-09-07"}  # gathering is not reading outcomes: settle moves it
    # October is a new assignment period: new units.
    run_id = store.start_run(SOURCE, "2026-10-05", "priors-1")
    store.upsert_recommendations(run_id, [card("ACC-1", "call_for_replenishment", "2026-10-05", arm="shown")])
    assert log.gather_units(SOURCE, "2026-10-05") == 1

    changes = [{"record_type": "account", "record_id": "ACC-1", "action_id": "call_for_replenishment",
                "period": "2026-09", "events": {"order": "2026-09-10"}, "open": False, "products": ""}]
    assert log.settle(SOURCE, changes, "2026-10-05") == 1
    after = log.units(SOURCE)
    settled = after[(after["record_id"] == "ACC-1") & (after["period"] == "2026-09")].iloc[0]
    assert settled["events"] == {"order": "2026-09-10"} and not settled["open"]
    assert set(log.open_units(SOURCE)["record_id"]) == {"ACC-1", "ACC-2", "ACC-3"}  # ACC-1's October unit
    assert len(log.open_units(SOURCE)) == 3 and set(after["checked_on"]) == {"2026-10-05"}


def test_offered_products_of_a_control_unit_are_read_from_its_first_days_card(store):
    log = HoldoutLog(store)
    run_id = store.start_run(SOURCE, "2026-09-07", "priors-1")
    offer = card("ACC-5", "propose_bundle", "2026-09-07", arm=None, family="cross_sell",
                 outcomes="order_with_offered_product:30", products=("PRD-002",))
    log.record_controls(run_id, [offer], {offer.id: mark("control", "2026-09-07", "cross_sell",
                                                         "order_with_offered_product:30")})
    log.gather_units(SOURCE, "2026-09-07")
    frame = log.fill_products(SOURCE, log.open_units(SOURCE))
    assert frame["products"].tolist() == ["PRD-002"]


def test_offered_products_of_a_shown_unit_are_read_from_its_stored_card(store):
    log = HoldoutLog(store)
    run_id = store.start_run(SOURCE, "2026-09-07", "priors-1")
    store.upsert_recommendations(run_id, [card("ACC-6", "propose_complementary_products", "2026-09-07", arm="shown",
                                               family="cross_sell", outcomes="order_with_offered_product:30",
                                               products=("PRD-003", "PRD-041"))])
    log.gather_units(SOURCE, "2026-09-07")
    assert log.fill_products(SOURCE, log.open_units(SOURCE))["products"].tolist() == ["PRD-003 PRD-041"]


@pytest.mark.parametrize("status", ["accepted", "dismissed"])
def test_responses_are_read_per_unit(store, status):
    run_id = store.start_run(SOURCE, "2026-09-07", "priors-1")
    rec = card("ACC-1", "call_for_replenishment", "2026-09-07", arm="shown")
    store.upsert_recommendations(run_id, [rec])
    store.record_feedback(rec.id, status, user="rep_01", reason="wrong_timing" if status == "dismissed" else None)
    rows = HoldoutLog(store).responses(SOURCE)
    assert rows[["record_id", "action_id", "period", "status"]].values.tolist() == [
        ["ACC-1", "call_for_replenishment", "2026-09", status]]
