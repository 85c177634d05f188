"""A record deleted in Salesforce: its cards expire in Salesforce (push) and in Stepwise's store (the run's intake)."""

from __future__ import annotations

from dataclasses import replace

from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import build_org, stamp
from stepwise.integration.salesforce.fake import make_rec as rec
from stepwise.integration.salesforce.fields import EXTERNAL_ID, OBJECT
from stepwise.store import Store
from stepwise.workers.intake import take_in
from tests.integration.syncs import sync


def test_a_deleted_opportunitys_cards_expire_in_salesforce_and_in_the_store(fake, client, sf_store, tmp_path):
    org = build_org(fake, 3, leads=1)
    kept, gone = org["Opportunity"][0]["Id"], org["Opportunity"][1]["Id"]
    lead = org["Lead"][0]["Id"]
    c = SalesforceConnector(client, mirror_dir=tmp_path / "m", write_backoff=0, store=sf_store)
    sync(c, sf_store)
    today = [rec("rec_kept", kept), rec("rec_gone", gone), rec("rec_gone_snoozed", gone, action_id="book_demo")]
    run = sf_store.start_run("salesforce", "2026-03-01", "priors-1")
    sf_store.upsert_recommendations(run, today)
    sf_store.record_feedback("rec_gone_snoozed", "snoozed", user="rep", snooze_until="2026-03-09")
    c.push(today)

    fake.delete(fake.records["Opportunity"][1], stamp(2))
    fake.delete(org["Lead"][0], stamp(2))
    pulled = take_in(c, sf_store)  # the store: new and snoozed ones of the deleted deal expire now
    assert c.last_sync.deleted == {"deals": [gone], "leads": [lead]} and gone not in set(pulled.data.deals["deal_id"])
    assert pulled.deleted == {"deal_id": [gone], "lead_id": [lead]}

    # Same day, a later sync: the engine no longer recommends anything for the deleted deal.
    assert sf_store.get_recommendation("rec_gone").status == "expired"
    assert sf_store.get_recommendation("rec_gone_snoozed").status == "expired"
    assert sf_store.get_recommendation("rec_kept").status == "new"
    c.push([rec("rec_kept", kept)])  # Salesforce: not current → Expired (deleted only after the retention)
    status = {r[EXTERNAL_ID]: r["Status__c"] for r in fake.records[OBJECT]}
    assert status == {today[0].card_key: "New", today[1].card_key: "Expired", today[2].card_key: "Expired"}
    assert sf_store.expire_deleted("salesforce", pulled.deleted) == 0  # idempotent


def test_a_pull_without_a_store_reads_everything_and_writes_nothing(fake, client, tmp_path):
    org = build_org(fake, 2)
    c = SalesforceConnector(client, mirror_dir=tmp_path / "m")
    first = take_in(c, None)
    fake.delete(org["Opportunity"][1], stamp(2))
    pulled = take_in(c, None)  # no cursors to start from: a whole read, which sees no deletion
    assert c.last_sync.mode == "full" and pulled.deleted == {} and first.cursors == pulled.cursors == {}
    assert fake.calls["query"] and not any("Stepwise_Recommendation__c" in x.request.url for x in fake.rsps.calls)


def test_expiring_touches_only_the_salesforce_sources_open_cards(fake, client, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        org = build_org(fake, 2)
        gone = org["Opportunity"][1]["Id"]
        run = store.start_run("files", "2026-03-01", "priors-1")
        store.upsert_recommendations(run, [replace(rec("rec_files", gone), source="files")])  # the same id, another source
        c = SalesforceConnector(client, mirror_dir=tmp_path / "m")
        sync(c, store)
        fake.delete(org["Opportunity"][1], stamp(2))
        take_in(c, store)
        assert store.get_recommendation("rec_files").status == "new"
    finally:
        store.close()
