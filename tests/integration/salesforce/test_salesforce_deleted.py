"""A record deleted in Salesforce: its cards expire in Salesforce (push) and in Stepwise's store (expire_deleted)."""

from __future__ import annotations

from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import build_org, stamp
from stepwise.integration.salesforce.fake import make_rec as rec
from stepwise.integration.salesforce.fields import EXTERNAL_ID, OBJECT


def test_a_deleted_opportunitys_cards_expire_in_salesforce_and_in_the_store(fake, client, sf_store, tmp_path):
    org = build_org(fake, 3, leads=1)
    kept, gone = org["Opportunity"][0]["Id"], org["Opportunity"][1]["Id"]
    lead = org["Lead"][0]["Id"]
    c = SalesforceConnector(client, store=sf_store, mirror_dir=tmp_path / "m", write_backoff=0)
    c.pull()
    today = [rec("rec_kept", kept), rec("rec_gone", gone), rec("rec_gone_snoozed", gone)]
    run = sf_store.start_run("salesforce", "2026-03-01", "priors-1")
    sf_store.upsert_recommendations(run, today)
    sf_store.record_feedback("rec_gone_snoozed", "snoozed", user="rep", snooze_until="2026-03-09")
    c.push(today)

    fake.delete(fake.records["Opportunity"][1], stamp(2))
    fake.delete(org["Lead"][0], stamp(2))
    data = c.pull()
    assert c.last_sync.deleted == {"deals": [gone], "leads": [lead]} and gone not in set(data.deals["deal_id"])

    # Same day, a later sync: the engine no longer recommends anything for the deleted deal.
    assert c.expire_deleted() == 2  # the store: new and snoozed ones of the deleted deal
    assert sf_store.get_recommendation("rec_gone").status == "expired"
    assert sf_store.get_recommendation("rec_gone_snoozed").status == "expired"
    assert sf_store.get_recommendation("rec_kept").status == "new"
    c.push([rec("rec_kept", kept)])  # Salesforce: not current → Expired, never deleted
    status = {r[EXTERNAL_ID]: r["Status__c"] for r in fake.records[OBJECT]}
    assert status == {"rec_kept": "New", "rec_gone": "Expired", "rec_gone_snoozed": "Expired"}
    assert c.expire_deleted() == 0  # idempotent


def test_nothing_deleted_or_no_store_expires_nothing(fake, client):
    build_org(fake, 1)
    c = SalesforceConnector(client)
    c.pull()
    assert c.expire_deleted() == 0
