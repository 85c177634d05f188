"""Write-back: one record per card updated in place, only what changed, 1,000 records per Composite call, every
per-record result read, locks retried, stale → Expired, Expired deleted after the retention, old per-day records merged."""

from __future__ import annotations

import json

from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import build_org, stub
from stepwise.integration.salesforce.fake import make_rec as rec
from stepwise.integration.salesforce.fields import EXTERNAL_ID, OBJECT
from stepwise.integration.salesforce.push import upsert

DEAL = "006000000000001AAA"


def connector(client, **kw) -> SalesforceConnector:
    return SalesforceConnector(client, write_backoff=0, **kw)


def recs(n: int, deal_id: str = DEAL, prefix: str = "rec_", **kw):
    """n cards on one deal (n actions), each its own card key."""
    return [rec(f"{prefix}{i:05d}", deal_id, action_id=f"action_{i:05d}", **kw) for i in range(n)]


def composite_bodies(fake):
    return [json.loads(c.request.body) for c in fake.rsps.calls if c.request.url.endswith("/composite")]


def status(fake):
    return {r[EXTERNAL_ID]: r["Status__c"] for r in fake.cards()}


def test_1000_records_cost_one_composite_call_of_five_collections(fake, client):
    build_org(fake, 1)
    result = connector(client).push(recs(2345))
    assert result.written == 2345 and result.failed == []
    bodies = composite_bodies(fake)
    assert [len(b["compositeRequest"]) for b in bodies] == [5, 5, 2]
    first = bodies[0]["compositeRequest"][0]
    assert first["method"] == "PATCH" and bodies[0]["allOrNone"] is False
    assert first["url"] == f"/services/data/v61.0/composite/sobjects/{OBJECT}/{EXTERNAL_ID}"
    assert first["body"]["allOrNone"] is False and len(first["body"]["records"]) == 200
    assert first["body"]["records"][0]["attributes"] == {"type": OBJECT}
    assert len(bodies[2]["compositeRequest"][1]["body"]["records"]) == 145


def test_a_200_answer_with_failed_records_reports_each_one(fake, client):
    build_org(fake, 1)
    cards = recs(10)
    fake.record_errors[cards[3].card_key] = [stub("errors.json")["STRING_TOO_LONG"]]
    result = connector(client).push(cards)
    assert result.written == 9
    assert result.failed == [("rec_00003", "STRING_TOO_LONG: Title: data value too large: (max length=255)")]


def test_locked_rows_are_sent_again(fake, client):
    build_org(fake, 1)
    lock = stub("errors.json")["UNABLE_TO_LOCK_ROW"]
    cards = recs(3)
    fake.record_errors[cards[1].card_key] = [lock, lock]
    result = connector(client).push(cards)
    assert result.written == 3 and result.failed == []
    assert len(composite_bodies(fake)) == 3  # the whole batch, then rec_00001 alone, twice


def test_a_row_locked_for_good_is_reported_not_retried_forever(fake, client):
    build_org(fake, 1)
    cards = recs(2)
    fake.record_errors[cards[0].card_key] = [stub("errors.json")["UNABLE_TO_LOCK_ROW"]] * 10
    result = connector(client).push(cards)
    assert result.written == 1 and result.failed[0][0] == "rec_00000" and "UNABLE_TO_LOCK_ROW" in result.failed[0][1]


def test_a_refused_collection_fails_its_records_and_keeps_the_others(fake, client, monkeypatch):
    build_org(fake, 1)
    original = fake._subrequest

    def second_refused(sub):
        if sub["referenceId"] == "chunk1":
            return 400, [{"errorCode": "INVALID_FIELD", "message": "No such column 'Details__c'"}]
        return original(sub)

    monkeypatch.setattr(fake, "_subrequest", second_refused)
    result = connector(client).push(recs(450))
    assert result.written == 250 and len(result.failed) == 200
    assert result.failed[0][1] == "INVALID_FIELD: No such column 'Details__c'"


def test_the_documented_partial_failure_payload_is_read_record_by_record(fake, client, monkeypatch):
    canned = stub("composite_upsert_partial.json")
    monkeypatch.setattr(client, "restful", lambda *a, **k: canned)
    outcome = upsert(client, OBJECT, EXTERNAL_ID, [{EXTERNAL_ID: "ok"}, {EXTERNAL_ID: "too_long"}], backoff=0)
    assert outcome.written == ["ok"] and outcome.failed[0][0] == "too_long"


def test_a_card_is_one_record_updated_in_place_day_after_day(fake, client, sf_store):
    build_org(fake, 1)
    c = connector(client, store=sf_store)
    c.push(recs(3), as_of="2026-03-01")
    ids = {r[EXTERNAL_ID]: r["Id"] for r in fake.cards()}
    assert set(ids) == {r.card_key for r in recs(3)} and all(k.startswith("card_") for k in ids)
    c.push([*recs(2, prefix="d2_"), *recs(3, prefix="d2_")[2:]], as_of="2026-03-02")  # the same three cards, day 2
    assert {r[EXTERNAL_ID]: r["Id"] for r in fake.cards()} == ids  # no new record
    assert c.last_push.written == 0 and c.last_push.unchanged == 3


def test_a_same_day_resync_with_nothing_changed_makes_no_write_call(fake, client, sf_store):
    build_org(fake, 1)
    c = connector(client, store=sf_store)
    c.push(recs(1500))
    writes = fake.calls["composite"]
    assert writes == 2
    c.push(recs(1500))
    assert fake.calls["composite"] == writes and c.last_push.calls == 0


def test_only_the_changed_cards_are_written(fake, client, sf_store):
    build_org(fake, 1)
    c = connector(client, store=sf_store)
    c.push(recs(300))
    fake.upserts.clear()
    changed = [rec(f"rec_{i:05d}", DEAL, action_id=f"action_{i:05d}", title="Send the ROI calculator today") if i % 100 == 0 else r
               for i, r in enumerate(recs(300))]
    c.push(changed)
    assert sorted(u[EXTERNAL_ID] for u in fake.upserts) == sorted(changed[i].card_key for i in (0, 100, 200))
    assert all("Status__c" not in u for u in fake.upserts)


def test_cards_no_longer_current_are_expired_and_the_reps_answers_kept(fake, client, sf_store):
    build_org(fake, 1)
    c = connector(client, store=sf_store)
    old = recs(3, prefix="old_")
    run = sf_store.start_run("salesforce", "2026-03-01", "priors-1")
    sf_store.upsert_recommendations(run, old)
    c.push(old)
    fake.answer(old[1].card_key, "Accepted")
    sf_store.record_feedback("old_00001", "accepted", user="rep")  # what the next sync's intake records
    new = [rec("new_00000", DEAL, action_id="book_demo"), rec("new_00001", DEAL, action_id="send_case_study")]
    c.push(new)
    assert status(fake) == {old[0].card_key: "Expired", old[1].card_key: "Accepted", old[2].card_key: "Expired",
                            new[0].card_key: "New", new[1].card_key: "New"}
    assert c.last_push.written == 2 and c.last_push.expired == 2


def test_a_rerun_never_overwrites_the_reps_status(fake, client, sf_store):
    build_org(fake, 1)
    c = connector(client, store=sf_store)
    card = recs(1)
    c.push(card)
    fake.answer(card[0].card_key, "Dismissed", reason="wrong_timing")
    c.push(recs(1, urgency="LOW"))  # its fields changed: written, the status left alone
    assert status(fake) == {card[0].card_key: "Dismissed"}
    assert all("Status__c" not in r for r in fake.upserts)


def test_a_card_that_comes_back_reuses_its_record_with_a_fresh_status(fake, client, sf_store):
    """Dismissed, then not recommended during the cool-down, then back: the same record, New again, the old
    answer kept in Stepwise's store only."""
    build_org(fake, 1)
    c = connector(client, store=sf_store)
    card = rec("rec_d1", DEAL)
    sf_store.upsert_recommendations(sf_store.start_run("salesforce", "2026-03-01", "priors-1"), [card])
    c.push([card], as_of="2026-03-01")
    record_id = fake.cards()[0]["Id"]
    fake.answer(card.card_key, "Dismissed", reason="already_contacted")
    sf_store.record_feedback("rec_d1", "dismissed", user="rep", reason="already_contacted")
    c.push([], as_of="2026-03-02")  # the cool-down: not recommended, the rep's answer stays on the record
    assert status(fake) == {card.card_key: "Dismissed"}
    back = rec("rec_d20", DEAL, as_of="2026-03-20")
    c.push([back], as_of="2026-03-20")
    [record] = fake.cards()
    assert record["Id"] == record_id and record["Status__c"] == "New"
    assert record["Dismiss_Reason__c"] is None and record["Snooze_Until__c"] is None
    assert sf_store.feedback_for("rec_d1")[0]["reason"] == "already_contacted"


def test_an_expired_card_that_comes_back_is_new_again(fake, client, sf_store):
    build_org(fake, 1)
    c = connector(client, store=sf_store)
    c.push(recs(2), as_of="2026-03-01")
    c.push(recs(1), as_of="2026-03-02")
    assert sorted(status(fake).values()) == ["Expired", "New"]
    c.push(recs(2), as_of="2026-03-03")
    assert sorted(status(fake).values()) == ["New", "New"] and len(fake.cards()) == 2


def test_expired_records_are_deleted_after_the_retention_in_bulk(fake, client, sf_store):
    build_org(fake, 1)
    c = connector(client, store=sf_store, retention_days=30)
    c.push(recs(1200), as_of="2026-03-01")
    c.push([], as_of="2026-03-02")  # all 1,200 expire
    c.push([], as_of="2026-03-31")  # 29 days later: kept
    assert len(fake.cards()) == 1200 and c.last_push.deleted == 0
    c.push([], as_of="2026-04-01")  # 30 days: deleted, 1,000 per call
    assert fake.cards() == [] and c.last_push.deleted == 1200 and c.last_push.calls == 2
    assert len(fake.deleted_ids) == 1200


def test_deletions_stay_within_the_budget_and_finish_on_the_next_syncs(fake, client, sf_store):
    build_org(fake, 1)
    c = connector(client, store=sf_store, retention_days=0, delete_budget=500)
    c.push(recs(1200), as_of="2026-03-01")
    c.push([], as_of="2026-03-02")
    left = []
    for day in ("2026-03-03", "2026-03-04", "2026-03-05"):
        c.push([], as_of=day)
        left.append(len(fake.cards()))
    assert left == [700, 200, 0]


def test_a_full_sync_merges_an_older_versions_per_day_records_keeping_the_newest_answer(fake, client, sf_store):
    """Before in-place records: one record per card per day, Stepwise_Id__c the day's recommendation id."""
    build_org(fake, 1)
    common = {"Record_Type__c": "deal", "Opportunity__c": DEAL, "Action_Id__c": "send_roi_calculator"}
    fake.seed_card(Stepwise_Id__c="rec_old1", As_Of__c="2026-02-27", Status__c="Expired", **common)
    fake.seed_card(Stepwise_Id__c="rec_old2", As_Of__c="2026-02-28", Status__c="Expired", **common)
    newest = fake.seed_card(Stepwise_Id__c="rec_old3", As_Of__c="2026-03-01", Status__c="Dismissed",
                            Dismiss_Reason__c="not_relevant", **common)
    other = fake.seed_card(Stepwise_Id__c="rec_other", As_Of__c="2026-03-01", Status__c="New",
                           **{**common, "Action_Id__c": "book_demo"})
    fake.seed_card(Stepwise_Id__c="rec_lost", As_Of__c="2026-01-01", Status__c="Expired", Record_Type__c="deal")
    c = connector(client, store=sf_store, full=True)
    card = rec("rec_today", DEAL, as_of="2026-03-02")
    c.push([card, rec("rec_today_demo", DEAL, action_id="book_demo", as_of="2026-03-02")], as_of="2026-03-02")
    records = {r[EXTERNAL_ID]: r for r in fake.cards()}
    assert set(records) == {card.card_key, rec("x", DEAL, action_id="book_demo").card_key}
    kept = records[card.card_key]
    assert kept["Id"] == newest["Id"] and kept["Status__c"] == "Dismissed" and kept["Dismiss_Reason__c"] == "not_relevant"
    assert records[rec("x", DEAL, action_id="book_demo").card_key]["Id"] == other["Id"]
    assert c.last_push.merged == 3  # two older days of the card, and an expired record no card can claim
    c.full = False
    c.push([card], as_of="2026-03-02")
    assert len(fake.cards()) == 2 and c.last_push.written == 0  # the store knows the org now


def test_a_lost_store_is_relearnt_from_the_org_without_resetting_answers(fake, client, sf_store, tmp_path):
    from stepwise.store import Store

    build_org(fake, 1)
    connector(client, store=sf_store).push(recs(2))
    fake.answer(recs(2)[0].card_key, "Snoozed", until="2026-03-09")
    fresh = Store(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        connector(client, store=fresh).push(recs(2))  # an empty store: the object is read once first
        assert len(fake.cards()) == 2 and status(fake)[recs(2)[0].card_key] == "Snoozed"
    finally:
        fresh.close()


def test_a_failed_write_is_sent_again_on_the_next_sync(fake, client, sf_store):
    build_org(fake, 1)
    c = connector(client, store=sf_store)
    cards = recs(3)
    fake.record_errors[cards[2].card_key] = [stub("errors.json")["STRING_TOO_LONG"]]
    c.push(cards)
    assert len(fake.cards()) == 2
    c.push(cards)
    assert len(fake.cards()) == 3 and c.last_push.written == 1


def test_an_org_without_the_object_says_to_deploy_it(fake, client):
    import pytest

    from stepwise.integration.base import ConnectorError

    fake.missing.add(OBJECT)
    with pytest.raises(ConnectorError, match="deploy cards/salesforce"):
        connector(client).push(recs(1))


def test_an_unchanged_card_past_its_written_best_before_is_written_again(fake, client, sf_store):
    """The deadline stays the first day's while the advice is the same; once it has passed, the card is renewed."""
    build_org(fake, 1)
    c = connector(client, store=sf_store)
    c.push([rec("rec_1", DEAL, as_of="2026-03-01", best_before="2026-03-04")], as_of="2026-03-01")
    c.push([rec("rec_2", DEAL, as_of="2026-03-04", best_before="2026-03-07")], as_of="2026-03-04")
    assert c.last_push.written == 0 and fake.cards()[0]["Best_Before__c"] == "2026-03-04"
    c.push([rec("rec_3", DEAL, as_of="2026-03-05", best_before="2026-03-08")], as_of="2026-03-05")
    assert c.last_push.written == 1 and fake.cards()[0]["Best_Before__c"] == "2026-03-08"
