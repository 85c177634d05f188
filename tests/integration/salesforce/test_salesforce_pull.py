"""Pull: mapping into canonical tables, contact roles, bad rows skipped with reasons, incremental + deletes."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from stepwise.integration.base import ConnectorError
from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import build_org, stamp, stub
from stepwise.integration.salesforce.fake import make_rec as rec
from stepwise.integration.salesforce.mapping import load_mapping
from stepwise.workers.intake import take_in
from tests.integration.syncs import sync


def connector(client, mirror=None, **kw) -> SalesforceConnector:
    return SalesforceConnector(client, mirror_dir=mirror, write_backoff=0, **kw)


def test_a_standard_org_maps_onto_the_canonical_tables(fake, client):
    org = build_org(fake, 4, accounts=2, tasks=3, events=1, leads=2)
    data = connector(client).pull().data
    assert data.counts() == {"accounts": 2, "contacts": 2, "deals": 4, "activities": 4, "leads": 2, "orders": 1,
                             "order_lines": 0, "products": 0, "contracts": 1}
    deal = data.deals.set_index("deal_id").loc[org["Opportunity"][0]["Id"]]
    assert deal["stage"] == "proposal" and deal["amount"] == 84000.0 and not deal["is_closed"]
    assert str(deal["stage_changed_at"]) == "2026-02-11 15:02:10+00:00"
    acts = data.activities.set_index("activity_id")
    task = acts.loc[org["Task"][0]["Id"]]
    assert task["type"] == "email" and task["deal_id"] == org["Opportunity"][0]["Id"]
    assert task["contact_id"] == org["Contact"][0]["Id"] and task["lead_id"] is None  # WhoId 003 → contact
    assert "ROI" in task["body"]
    assert acts.loc[org["Event"][0]["Id"], "type"] == "meeting"
    assert set(data.leads["status"]) == {"working"}


def test_contact_roles_come_from_the_opportunity_subquery(fake, client):
    org = build_org(fake, 2, accounts=1, contacts_per_account=2)
    fake.add_role(org["Opportunity"][1]["Id"], org["Contact"][1]["Id"], role="Technical Buyer")
    data = connector(client).pull().data
    roles = dict(zip(data.contacts["contact_id"], data.contacts["role"]))
    assert roles == {org["Contact"][0]["Id"]: "economic_buyer", org["Contact"][1]["Id"]: "technical_buyer"}
    assert fake.calls["query"] == 10  # one per mapped object: the roles cost no query of their own


def test_a_paged_subquery_is_followed(fake, client):
    fake.child_page_size = 2
    org = build_org(fake, 1, accounts=1, contacts_per_account=5)
    for contact in org["Contact"][1:]:
        fake.add_role(org["Opportunity"][0]["Id"], contact["Id"], role="Evaluator")
    data = connector(client).pull().data
    assert (data.contacts["role"] == "technical_buyer").sum() == 4


def test_unknown_stage_skips_that_deal_with_a_reason_and_keeps_the_rest(fake, client, caplog):
    org = build_org(fake, 3, accounts=1)
    org["Opportunity"][1]["StageName"] = "Demo Scheduled"
    org["Opportunity"][2]["CloseDate"] = "next spring"
    caplog.set_level(logging.WARNING)
    data = connector(client).pull().data
    assert list(data.deals["deal_id"]) == [org["Opportunity"][0]["Id"]]
    reasons = {i.row_id: i.reason for i in data.skipped}
    assert "'Demo Scheduled' is not in the Salesforce mapping's stage values" in reasons[org["Opportunity"][1]["Id"]]
    assert "close_date 'next spring' is not a date" in reasons[org["Opportunity"][2]["Id"]]
    assert "Demo Scheduled" in caplog.text


def test_a_deal_whose_account_was_not_pulled_is_skipped(fake, client):
    build_org(fake, 1, accounts=1)
    fake.add("Opportunity", 1, AccountId="001999999999999AAA")
    data = connector(client).pull().data
    assert len(data.deals) == 1
    assert any("was not pulled from Salesforce" in i.reason for i in data.skipped)


def test_an_org_without_orders_skips_them_quietly(fake, client):
    build_org(fake, 2, orders=False)
    c = connector(client)
    data = c.pull().data
    assert data.orders is None and data.contracts is None
    assert set(c.last_sync.skipped_objects) == {"Order", "Contract"}


def test_a_mapped_field_the_org_lacks_is_a_clear_error(fake, client):
    build_org(fake, 1)
    fake.fail_next("query", 400, stub("errors.json")["INVALID_FIELD"])
    with pytest.raises(ConnectorError, match="Main_Competitor__c.*check salesforce"):
        connector(client).pull()


def test_incremental_sync_reads_only_changes_applies_deletes_and_keeps_the_rest(fake, client, sf_store, tmp_path):
    org = build_org(fake, 6, accounts=2, tasks=2)
    c = connector(client, tmp_path / "mirror", mapping=replace(load_mapping(), overlap_seconds=30))
    first = sync(c, sf_store)
    assert c.last_sync.mode == "full" and len(first.deals) == 6
    assert sf_store.get_cursor("salesforce", c.cursor_key("Opportunity")) == org["Opportunity"][-1]["SystemModstamp"]

    changed, gone = org["Opportunity"][0], org["Opportunity"][1]
    fake.touch(changed, stamp(2), StageName="Negotiation/Review")
    fake.delete(gone, stamp(2))
    fake.delete(org["Task"][0], stamp(2))
    before = dict(fake.calls)
    second = sync(c, sf_store)
    assert c.last_sync.mode == "incremental"
    # The changed one, and the newest unchanged one again (it sits inside the overlap window).
    assert c.last_sync.rows["Opportunity"] == 2 and c.last_sync.deleted == {"deals": [gone["Id"]],
                                                                            "activities": [org["Task"][0]["Id"]]}
    assert fake.calls["query"] - before["query"] == 11  # one call per object, deletes included (queryAll)
    deals = second.deals.set_index("deal_id")
    assert len(deals) == 5 and gone["Id"] not in deals.index
    assert deals.loc[changed["Id"], "stage"] == "negotiation"
    assert len(second.activities) == 1
    assert sf_store.get_cursor("salesforce", c.cursor_key("Opportunity")) == stamp(2)


def test_incremental_queries_use_queryall_with_the_overlap_window(fake, client, sf_store, tmp_path):
    build_org(fake, 2)
    c = connector(client, tmp_path / "mirror")
    sync(c, sf_store)
    sync(c, sf_store)
    opp_queries = [call.request.url for call in fake.rsps.calls if "FROM+Opportunity" in call.request.url]
    assert "/query/" in opp_queries[0] and "WHERE" not in opp_queries[0]
    assert "/queryAll/" in opp_queries[1]
    assert fake.records["Opportunity"][-1]["SystemModstamp"] == "2026-01-01T00:05:00.000+0000"  # the cursor
    assert "WHERE+SystemModstamp+%3E+2026-01-01T00%3A00%3A00Z" in opp_queries[1]  # the cursor minus 300 s


def test_a_lost_mirror_means_a_full_sync(fake, client, sf_store, tmp_path):
    build_org(fake, 3)
    sync(connector(client, tmp_path / "mirror"), sf_store)
    c = connector(client, tmp_path / "elsewhere")
    data = sync(c, sf_store)
    assert c.last_sync.mode == "full" and len(data.deals) == 3


def test_another_copy_of_the_mirror_keeps_its_own_cursor(fake, client, sf_store, tmp_path):
    org = build_org(fake, 3)
    a, b = connector(client, tmp_path / "a"), connector(client, tmp_path / "b")
    sync(a, sf_store)
    sync(b, sf_store)
    fake.touch(org["Opportunity"][0], stamp(2), StageName="Closed Won")
    sync(a, sf_store)  # a moves its cursor past the change; b must still see it
    data = sync(b, sf_store)
    assert b.last_sync.mode == "incremental"
    assert data.deals.set_index("deal_id").loc[org["Opportunity"][0]["Id"], "stage"] == "closed_won"


def test_a_changed_mapping_reads_everything_again(fake, client, sf_store, tmp_path):
    org = build_org(fake, 2)
    org["Opportunity"][0]["StageName"] = "Demo Scheduled"
    first = connector(client, tmp_path / "m")
    assert len(sync(first, sf_store).deals) == 1  # skipped: the stage is not mapped
    mapping = load_mapping()
    opp = next(o for o in mapping.objects if o.sobject == "Opportunity")
    fixed = replace(opp, values={"stage": {**opp.values["stage"], "Demo Scheduled": "discovery"}})
    mapping = replace(mapping, objects=tuple(fixed if o is opp else o for o in mapping.objects))
    second = connector(client, tmp_path / "m", mapping=mapping)
    data = sync(second, sf_store)
    assert second.last_sync.mode == "full" and len(data.deals) == 2


def test_full_flag_reads_everything_again(fake, client, sf_store, tmp_path):
    build_org(fake, 3)
    sync(connector(client, tmp_path / "m"), sf_store)
    c = connector(client, tmp_path / "m", full=True)
    sync(c, sf_store)
    assert c.last_sync.mode == "full" and c.last_sync.rows["Opportunity"] == 3


def test_pull_since_returns_only_the_changes(fake, client):
    org = build_org(fake, 3)
    fake.touch(org["Opportunity"][2], stamp(5))
    c = connector(client)
    data = c.pull(since="2026-03-04T00:00:00Z").data
    assert c.last_sync.mode == "since" and list(data.deals["deal_id"]) == [org["Opportunity"][2]["Id"]]




def test_a_reps_response_in_salesforce_flows_into_the_feedback_store(fake, client, sf_store, tmp_path):
    org = build_org(fake, 1)
    deal_id = org["Opportunity"][0]["Id"]
    a, b = rec("rec_a", deal_id), rec("rec_b", deal_id, action_id="book_demo")
    run = sf_store.start_run("salesforce", "2026-03-01", "priors-1")
    sf_store.upsert_recommendations(run, [a, b])
    c = SalesforceConnector(client, mirror_dir=tmp_path / "m", write_backoff=0, store=sf_store)
    c.push([a, b])
    fake.answer(a.card_key, "Dismissed", reason="wrong_timing", stamp=stamp(2))
    fake.answer(b.card_key, "Snoozed", until="2026-03-09", stamp=stamp(2))
    sync(c, sf_store)
    assert c.last_sync.feedback == 2
    assert sf_store.get_recommendation("rec_a").status == "dismissed"
    assert sf_store.feedback_for("rec_a")[0]["reason"] == "wrong_timing"
    assert sf_store.get_recommendation("rec_b").status == "snoozed"
    sync(c, sf_store)  # the overlap window reads them again: recorded once
    assert c.last_sync.feedback == 0 and len(sf_store.feedback_for("rec_a")) == 1


def test_an_answer_goes_to_the_recommendation_the_record_shows_today(fake, client, sf_store, tmp_path):
    """The record is the card's, across days: a rep answering on day 2 answers day 2's recommendation."""
    org = build_org(fake, 1)
    deal_id = org["Opportunity"][0]["Id"]
    day1, day2 = rec("rec_day1", deal_id), rec("rec_day2", deal_id, as_of="2026-03-02")
    c = SalesforceConnector(client, mirror_dir=tmp_path / "m", write_backoff=0, store=sf_store)
    for day, card in (("2026-03-01", day1), ("2026-03-02", day2)):
        sf_store.upsert_recommendations(sf_store.start_run("salesforce", day, "priors-1"), [card])
        sync(c, sf_store)
        c.push([card], as_of=day)
    assert len(fake.cards()) == 1 and c.last_push.written == 0  # the same fields: nothing written on day 2
    fake.answer(day2.card_key, "Accepted", stamp=stamp(3))
    sync(c, sf_store)
    assert sf_store.get_recommendation("rec_day2").status == "accepted"
    assert sf_store.get_recommendation("rec_day1").status == "new"


def test_the_integration_users_own_writes_are_not_read_back_as_answers(fake, client, sf_store, tmp_path):
    """Logged in as a user Stepwise knows: the answers query leaves out the records that user changed last."""
    build_org(fake, 1)
    c = SalesforceConnector(client, mirror_dir=tmp_path / "m", write_backoff=0, store=sf_store,
                            integration_user="integration@example.com")
    sync(c, sf_store)
    assert sf_store.cursors("salesforce")["Stepwise_Recommendation__c:integration-user"] == fake.integration_user_id
    sync(c, sf_store)  # the Id is kept with the cursors: asked once
    answers = [x.request.url for x in fake.rsps.calls if "Status__c" in x.request.url and "query" in x.request.url]
    users = [x.request.url for x in fake.rsps.calls if "FROM+User" in x.request.url or "FROM%20User" in x.request.url]
    assert len(users) == 1 and len(answers) == 2
    assert all("LastModifiedById" in u and "%21%3D" in u for u in answers)  # != the integration user


def test_mapping_default_loads_and_builds_soql():
    mapping = load_mapping()
    opp = next(o for o in mapping.objects if o.sobject == "Opportunity")
    soql = opp.soql("2026-03-01T00:00:00Z", with_deleted=True)
    assert soql.startswith("SELECT Id, AccountId, StageName")
    assert "(SELECT Id, ContactId, Role, IsPrimary FROM OpportunityContactRoles)" in soql
    assert soql.endswith("FROM Opportunity WHERE SystemModstamp > 2026-03-01T00:00:00Z")
    assert "IsDeleted" in soql


def test_a_pull_keeps_no_cursor_itself_so_a_run_that_dies_before_keeping_them_reads_the_change_again(
        fake, client, sf_store, tmp_path):
    org = build_org(fake, 3)
    c = connector(client, tmp_path / "m")
    sync(c, sf_store)
    kept = sf_store.cursors("salesforce")
    fake.touch(org["Opportunity"][0], stamp(2), StageName="Closed Won")
    pulled = take_in(c, sf_store)  # the run dies here, before keep_cursors
    assert pulled.cursors[c.cursor_key("Opportunity")] == stamp(2) and sf_store.cursors("salesforce") == kept
    read_then = c.last_sync.rows["Opportunity"]
    data = sync(c, sf_store)
    assert c.last_sync.mode == "incremental" and c.last_sync.rows["Opportunity"] == read_then >= 1
    assert data.deals.set_index("deal_id").loc[org["Opportunity"][0]["Id"], "stage"] == "closed_won"
    assert sf_store.get_cursor("salesforce", c.cursor_key("Opportunity")) == stamp(2)
