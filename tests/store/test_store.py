"""The store, run identically on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stepwise.engine.recommendation import Factors, Recommendation, Removal, recommendation_id
from stepwise.store import Conflict, NotFound, Store

SOURCE = "files:sample"
DAY = "2024-05-10"


def make_rec(
    record_id: str = "D1", action_id: str = "send_case_study", *, record_type: str = "deal",
    account_id: str | None = "A1", day: str = DAY, score: float = 70.0, rank: int = 1, source: str = SOURCE,
) -> Recommendation:
    deal_id = record_id if record_type == "deal" else None
    return Recommendation(
        id=recommendation_id(source, record_id, action_id, day), source=source, record_type=record_type,
        record_id=record_id, deal_id=deal_id, account_id=account_id,
        lead_id=record_id if record_type == "lead" else None, action_id=action_id, category="content",
        title=f"{action_id} on {record_id}", score=score, factors=Factors(0.8, 0.6, 0.7, 0.9), urgency="HIGH",
        expected_impact="+8 pts win probability", why=("3 visits to pricing this week",), how=("Send it",),
        offer={"products": ["P1"], "max_discount_pct": 10.0}, constraints=("max discount 10%",),
        best_before="2024-05-17", success_rate=0.4, alternatives=(), removed=(Removal("stock", "out of stock", product_id="P9"),),
        model_version="test-1", as_of=day, rank=rank,
    )


def _seed(store: Store, recs: list[Recommendation]) -> str:
    run_id = store.start_run(SOURCE, DAY, "test-1")
    store.upsert_recommendations(run_id, recs)
    return run_id


def test_schema_created_on_first_use_and_ping(store: Store) -> None:
    assert store.ping()
    assert store.counts() == {t: 0 for t in ("runs", "recommendations", "feedback_events", "sync_cursors", "deal_accounts")}


def test_runs_lifecycle(store: Store) -> None:
    run_id = store.start_run(SOURCE, DAY, "test-1")
    assert store.latest_runs()[0]["status"] == "running"
    store.finish_run(run_id, {"recommendations": 3})
    run = store.latest_runs(limit=1)[0]
    assert (run["id"], run["status"], run["counts"], run["as_of"]) == (run_id, "succeeded", {"recommendations": 3}, DAY)
    assert run["finished_at"] is not None
    with pytest.raises(NotFound):
        store.finish_run("nope", {})


def test_upsert_is_idempotent_and_keeps_the_reps_status(store: Store) -> None:
    recs = [make_rec("D1", "a"), make_rec("D1", "b", rank=2), make_rec("D2", "a")]
    assert store.upsert_recommendations(_seed(store, []), recs) == 3
    store.record_feedback(recs[0].id, "accepted", user="rep1")
    run2 = store.start_run(SOURCE, DAY, "test-2")
    rescored = [make_rec("D1", "a", score=91.0), *recs[1:]]
    assert store.upsert_recommendations(run2, rescored) == 3
    assert store.counts()["recommendations"] == 3
    kept = store.get_recommendation(recs[0].id)
    assert kept is not None and kept.status == "accepted" and kept.score == 91.0
    assert kept.to_dict()["removed"] == [{"rule": "stock", "reason": "out of stock", "product_id": "P9"}]


def test_duplicate_ids_in_one_call_are_one_row(store: Store) -> None:
    rec = make_rec()
    assert store.upsert_recommendations(_seed(store, []), [rec, rec]) == 1
    assert store.counts()["recommendations"] == 1


def test_feedback_updates_status_and_event_together(store: Store) -> None:
    rec = make_rec()
    _seed(store, [rec])
    event = store.record_feedback(rec.id, "dismissed", user="rep1", reason="wrong_timing", note="call next month")
    assert event["replayed"] is False and event["action"] == "dismissed" and event["recommendation_id"] == rec.id
    got = store.get_recommendation(rec.id)
    assert got is not None and got.status == "dismissed"
    assert [e["id"] for e in store.feedback_for(rec.id)] == [event["id"]]
    assert store.recommendations_for(SOURCE, "deal", "D1") == []


def test_failed_feedback_writes_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = make_rec()
    _seed(store, [rec])

    def broken_update(*_a: object, **_k: object) -> None:
        raise RuntimeError("status update failed")

    # The event is inserted before the status update; a failure there must roll the event back.
    monkeypatch.setattr("stepwise.store.feedback.update", broken_update)
    with pytest.raises(RuntimeError):
        store.record_feedback(rec.id, "accepted", user="rep1", idempotency_key="k1")
    monkeypatch.undo()
    assert store.feedback_for(rec.id) == []
    assert store.get_recommendation(rec.id).status == "new"  # type: ignore[union-attr]
    # The key was not consumed by the failed attempt: a retry goes through.
    assert store.record_feedback(rec.id, "accepted", user="rep1", idempotency_key="k1")["replayed"] is False


def test_idempotency_key_replays_the_first_event(store: Store) -> None:
    rec, other = make_rec("D1"), make_rec("D2")
    _seed(store, [rec, other])
    first = store.record_feedback(rec.id, "accepted", user="rep1", idempotency_key="k1")
    again = store.record_feedback(rec.id, "dismissed", user="rep1", reason="other", idempotency_key="k1")
    assert again["replayed"] is True and again["id"] == first["id"] and again["action"] == "accepted"
    assert store.counts()["feedback_events"] == 1
    assert store.get_recommendation(rec.id).status == "accepted"  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        store.record_feedback(other.id, "accepted", user="rep1", idempotency_key="k1")


def test_unknown_recommendation(store: Store) -> None:
    assert store.get_recommendation("rec_missing") is None
    with pytest.raises(NotFound):
        store.record_feedback("rec_missing", "accepted", user="rep1")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"action": "liked"}, "action must be one of"),
    ({"action": "dismissed", "reason": "meh"}, "reason must be one of"),
    ({"action": "snoozed"}, "snooze_until is required"),
    ({"action": "snoozed", "snooze_until": "next week"}, "ISO date"),
    ({"action": "accepted", "user": " "}, "user is required"),
])
def test_bad_feedback_is_a_value_error(store: Store, kwargs: dict, message: str) -> None:
    rec = make_rec()
    _seed(store, [rec])
    with pytest.raises(ValueError, match=message):
        store.record_feedback(rec.id, **{"user": "rep1", **kwargs})
    assert store.counts()["feedback_events"] == 0


def test_snoozed_comes_back_after_its_date(store: Store) -> None:
    rec = make_rec()
    _seed(store, [rec])
    store.record_feedback(rec.id, "snoozed", user="rep1", reason="wrong_timing", snooze_until="2024-05-20")
    assert store.recommendations_for(SOURCE, "deal", "D1", now=datetime(2024, 5, 19, tzinfo=UTC)) == []
    back = store.recommendations_for(SOURCE, "deal", "D1", now=datetime(2024, 5, 20, 0, 1, tzinfo=UTC))
    assert [r.id for r in back] == [rec.id] and back[0].status == "snoozed"
    assert store.feedback_for(rec.id)[0]["snooze_until"].startswith("2024-05-20T00:00:00")


def test_account_level_recommendations_show_on_the_deal(store: Store) -> None:
    deal_rec = make_rec("D1", "send_case_study", score=60, rank=1)
    acct_rec = make_rec("A1", "replenish", record_type="account", account_id="A1", score=80, rank=1)
    other_acct = make_rec("A2", "replenish", record_type="account", account_id="A2")
    lead_rec = make_rec("L1", "send_whitepaper", record_type="lead", account_id=None)
    _seed(store, [deal_rec, acct_rec, other_acct, lead_rec])
    on_deal = store.recommendations_for(SOURCE, "deal", "D1")
    assert [r.id for r in on_deal] == [acct_rec.id, deal_rec.id]  # same rank: higher score first
    assert [r.id for r in store.recommendations_for(SOURCE, "account", "A1")] == [acct_rec.id]
    assert [r.id for r in store.recommendations_for(SOURCE, "lead", "L1")] == [lead_rec.id]
    assert store.recommendations_for("hubspot", "deal", "D1") == []


def test_deal_links_without_a_deal_recommendation(store: Store) -> None:
    acct_rec = make_rec("A1", "replenish", record_type="account", account_id="A1")
    _seed(store, [acct_rec])
    assert store.recommendations_for(SOURCE, "deal", "D9") == []
    assert store.upsert_deal_links(SOURCE, [("D9", "A1")]) == 1
    assert [r.id for r in store.recommendations_for(SOURCE, "deal", "D9")] == [acct_rec.id]


def test_only_the_latest_as_of_is_current(store: Store) -> None:
    old, new = make_rec(day="2024-05-09"), make_rec(day=DAY, action_id="call")
    _seed(store, [old, new])
    assert [r.id for r in store.recommendations_for(SOURCE, "deal", "D1")] == [new.id]
    assert [r.id for r in store.recommendations_for(SOURCE, "deal", "D1", as_of="2024-05-09")] == [old.id]


def test_expire_stale(store: Store) -> None:
    old = [make_rec("D1", "a", day="2024-05-09"), make_rec("D2", "a", day="2024-05-09"), make_rec("D3", "a", day="2024-05-09")]
    today = make_rec("D1", "b")
    _seed(store, [*old, today])
    store.record_feedback(old[2].id, "accepted", user="rep1")
    assert store.expire_stale(SOURCE, DAY, keep_ids={old[1].id}) == 1
    statuses = {r.id: store.get_recommendation(r.id).status for r in [*old, today]}  # type: ignore[union-attr]
    assert statuses == {old[0].id: "expired", old[1].id: "new", old[2].id: "accepted", today.id: "new"}
    assert store.expire_stale("other", DAY, set()) == 0


def test_cursors(store: Store) -> None:
    assert store.get_cursor("salesforce", "Opportunity") is None
    store.set_cursor("salesforce", "Opportunity", "2024-05-10T00:00:00Z")
    store.set_cursor("salesforce", "Opportunity", "2024-05-11T00:00:00Z")
    store.set_cursor("hubspot", "deals", "abc")
    assert store.get_cursor("salesforce", "Opportunity") == "2024-05-11T00:00:00Z"
    assert store.counts()["sync_cursors"] == 2


def test_bulk_upsert_5000(store: Store) -> None:
    recs = [make_rec(f"D{i}", "a", account_id=f"A{i % 50}") for i in range(5000)]
    run_id = _seed(store, [])
    assert store.upsert_recommendations(run_id, iter(recs)) == 5000
    assert store.upsert_recommendations(run_id, recs) == 5000
    counts = store.counts()
    assert counts["recommendations"] == 5000 and counts["deal_accounts"] == 5000


def test_sqlite_in_memory_is_shared_across_threads() -> None:
    import threading

    s = Store("sqlite://")
    _seed(s, [make_rec()])
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.append(s.counts()["recommendations"]))
    t.start()
    t.join()
    assert seen == [1]


def test_repr_hides_password() -> None:
    assert "secret" not in repr(Store("postgresql+psycopg://u:secret@127.0.0.1:1/db"))


def test_ping_is_false_when_unreachable() -> None:
    assert Store("postgresql+psycopg://u:secret@127.0.0.1:1/db?connect_timeout=1").ping() is False


def test_feedback_event_times_are_utc(store: Store) -> None:
    rec = make_rec()
    _seed(store, [rec])
    event = store.record_feedback(rec.id, "snoozed", user="rep1", snooze_until=datetime(2024, 6, 1, 9, 30))
    created = datetime.fromisoformat(event["created_at"])
    assert created.tzinfo is not None and abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    assert store.feedback_for(rec.id)[0]["snooze_until"] == "2024-06-01T09:30:00+00:00"


def test_concurrent_replays_write_one_event(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rec = make_rec()
    _seed(store, [rec])
    with ThreadPoolExecutor(8) as pool:
        events = list(pool.map(lambda _: store.record_feedback(rec.id, "accepted", user="rep1", idempotency_key="race"), range(8)))
    assert len({e["id"] for e in events}) == 1 and sum(not e["replayed"] for e in events) == 1
    assert store.counts()["feedback_events"] == 1


# -- undo and dashboard aggregates (card service, issue 5) ---------------------------------


def test_undo_restores_the_status_before_the_dismissal(store: Store) -> None:
    rec = make_rec()
    _seed(store, [rec])
    store.record_feedback(rec.id, "snoozed", user="rep1", snooze_until="2024-06-01")
    store.record_feedback(rec.id, "dismissed", user="rep1", reason="wrong_timing")
    undone = store.undo_feedback(rec.id, user="rep1")
    assert undone["action"] == "undone" and undone["restored_status"] == "snoozed"
    got = store.get_recommendation(rec.id)
    assert got is not None and got.status == "snoozed"
    assert [e["action"] for e in store.feedback_for(rec.id)] == ["snoozed", "dismissed", "undone"]
    # dismiss → undo again lands on the same state; a second undo has nothing to undo
    store.record_feedback(rec.id, "dismissed", user="rep1")
    assert store.undo_feedback(rec.id, user="rep1")["restored_status"] == "snoozed"
    with pytest.raises(Conflict, match="not a dismissal"):
        store.undo_feedback(rec.id, user="rep1")


def test_undo_without_earlier_response_restores_new(store: Store) -> None:
    rec = make_rec()
    _seed(store, [rec])
    store.record_feedback(rec.id, "dismissed", user="rep1", reason="not_relevant")
    assert store.undo_feedback(rec.id, user="rep1")["restored_status"] == "new"
    assert [r.id for r in store.recommendations_for(SOURCE, "deal", "D1")] == [rec.id]
    assert store.dismissal_reasons() == {}


def test_undo_window_and_errors(store: Store) -> None:
    rec = make_rec()
    _seed(store, [rec])
    with pytest.raises(NotFound):
        store.undo_feedback("rec_missing", user="rep1")
    with pytest.raises(Conflict):
        store.undo_feedback(rec.id, user="rep1")  # no response yet
    store.record_feedback(rec.id, "dismissed", user="rep1")
    with pytest.raises(Conflict, match="older than 5 minutes"):
        store.undo_feedback(rec.id, user="rep1", now=datetime.now(UTC) + timedelta(minutes=6))
    with pytest.raises(ValueError):
        store.undo_feedback(rec.id, user=" ")
    assert store.get_recommendation(rec.id).status == "dismissed"  # type: ignore[union-attr]


def test_response_counts_and_reasons(store: Store) -> None:
    recs = [make_rec("D1", "a"), make_rec("D2", "a"), make_rec("D3", "b"), make_rec("D4", "b", day="2024-05-11")]
    _seed(store, recs)
    store.record_feedback(recs[0].id, "accepted", user="rep1")
    store.record_feedback(recs[1].id, "dismissed", user="rep1", reason="wrong_timing")
    store.record_feedback(recs[2].id, "dismissed", user="rep2")
    by_action = {r["action_id"]: r for r in store.response_counts(["action_id"])}
    assert by_action["a"] == {"action_id": "a", "shown": 2, "new": 0, "accepted": 1, "dismissed": 1,
                              "snoozed": 0, "expired": 0}
    assert by_action["b"]["shown"] == 2 and by_action["b"]["dismissed"] == 1 and by_action["b"]["new"] == 1
    by_day = store.response_counts(["as_of", "category"])
    assert [(r["as_of"], r["category"], r["shown"]) for r in by_day] == [(DAY, "content", 3), ("2024-05-11", "content", 1)]
    assert store.response_counts(["owner_id"])[0]["owner_id"] is None  # make_rec sets no owner
    assert store.response_counts([], since="2024-05-11")[0]["shown"] == 1
    assert store.response_counts(["action_id"], source="elsewhere") == []
    assert store.dismissal_reasons() == {"none": 1, "wrong_timing": 1}
    with pytest.raises(ValueError, match="cannot group by"):
        store.response_counts(["payload"])


def test_outcomes_by_response(store: Store) -> None:
    recs = [make_rec("D1", "a"), make_rec("D2", "a"), make_rec("D3", "a")]
    _seed(store, recs)
    store.record_feedback(recs[0].id, "accepted", user="rep1")
    store.record_feedback(recs[1].id, "dismissed", user="rep1")
    assert store.upsert_deal_outcomes(SOURCE, [
        {"deal_id": "D1", "stage": "closed_won", "is_closed": True, "is_won": True},
        {"deal_id": "D2", "stage": "closed_lost", "is_closed": True, "is_won": False},
        {"deal_id": "D3", "stage": "proposal", "is_closed": False, "is_won": False},
        {"deal_id": "D9", "stage": "closed_won", "is_closed": True, "is_won": True},
    ]) == 4
    store.upsert_deal_outcomes(SOURCE, [{"deal_id": "D3", "stage": "closed_won", "is_closed": True, "is_won": True}])
    got = {o["response"]: o for o in store.outcomes_by_response()}
    assert got["accepted"] == {"response": "accepted", "deals": 1, "closed": 1, "won": 1, "win_rate": 1.0}
    assert got["dismissed"]["win_rate"] == 0.0 and got["shown"]["won"] == 1 and got["not shown"]["deals"] == 1
    assert store.outcomes_by_response(source="elsewhere")[0] == {
        "response": "accepted", "deals": 0, "closed": 0, "won": 0, "win_rate": None}
    assert "deal_outcomes" not in store.counts()  # the core tables' counts keep their shape
