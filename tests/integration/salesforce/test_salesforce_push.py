"""Write-back: 1,000 records per Composite call, every per-record result read, locks retried, stale → Expired."""

from __future__ import annotations

import json

from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import build_org, stub
from stepwise.integration.salesforce.fake import make_rec as rec
from stepwise.integration.salesforce.fields import EXTERNAL_ID, OBJECT
from stepwise.integration.salesforce.push import upsert


def connector(client) -> SalesforceConnector:
    return SalesforceConnector(client, write_backoff=0)


def recs(n: int, deal_id: str = "006000000000001AAA", prefix: str = "rec_"):
    return [rec(f"{prefix}{i:05d}", deal_id) for i in range(n)]


def composite_bodies(fake):
    return [json.loads(c.request.body) for c in fake.rsps.calls if c.request.url.endswith("/composite")]


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
    fake.record_errors["rec_00003"] = [stub("errors.json")["STRING_TOO_LONG"]]
    result = connector(client).push(recs(10))
    assert result.written == 9
    assert result.failed == [("rec_00003", "STRING_TOO_LONG: Title: data value too large: (max length=255)")]


def test_locked_rows_are_sent_again(fake, client):
    build_org(fake, 1)
    lock = stub("errors.json")["UNABLE_TO_LOCK_ROW"]
    fake.record_errors["rec_00001"] = [lock, lock]
    result = connector(client).push(recs(3))
    assert result.written == 3 and result.failed == []
    assert len(composite_bodies(fake)) == 3  # the whole batch, then rec_00001 alone, twice


def test_a_row_locked_for_good_is_reported_not_retried_forever(fake, client):
    build_org(fake, 1)
    fake.record_errors["rec_00000"] = [stub("errors.json")["UNABLE_TO_LOCK_ROW"]] * 10
    result = connector(client).push(recs(2))
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


def test_cards_no_longer_current_are_expired_not_deleted(fake, client):
    build_org(fake, 1)
    c = connector(client)
    c.push(recs(3, prefix="old_"))
    sf = {r[EXTERNAL_ID]: r for r in fake.records[OBJECT]}
    sf["old_00001"]["Status__c"] = "Accepted"  # the rep's: never touched again
    c.push(recs(2, prefix="new_"))
    status = {r[EXTERNAL_ID]: r["Status__c"] for r in fake.records[OBJECT]}
    assert status == {"old_00000": "Expired", "old_00001": "Accepted", "old_00002": "Expired",
                      "new_00000": "New", "new_00001": "New"}
    assert c.last_push.written == 2 and c.last_push.expired == 2


def test_a_rerun_never_overwrites_the_reps_status(fake, client):
    build_org(fake, 1)
    c = connector(client)
    c.push(recs(1))
    fake.records[OBJECT][0]["Status__c"] = "Dismissed"
    c.push(recs(1))
    assert fake.records[OBJECT][0]["Status__c"] == "Dismissed"
    assert all("Status__c" not in r for r in fake.upserts)


def test_an_org_without_the_object_says_to_deploy_it(fake, client):
    import pytest

    from stepwise.integration.base import ConnectorError

    fake.missing.add(OBJECT)
    with pytest.raises(ConnectorError, match="deploy cards/salesforce"):
        connector(client).push(recs(1))
