"""Pulling from the fake HubSpot: mapping, incremental reads, the search cap, archived deals."""

from __future__ import annotations

from collections import Counter

import pytest

from stepwise.integration.hubspot.fake import FakeHubSpot
from stepwise.integration.hubspot.pull import search_changed


def test_first_sync_maps_deals_companies_contacts_and_engagements(fake: FakeHubSpot, make_connector, sync):
    fake.populate(21)
    data = sync(make_connector())

    assert len(data.deals) == 21 and len(data.accounts) == 5 and len(data.contacts) == 42
    deals = data.deals.set_index("deal_id")
    assert deals.loc["1000", "stage"] == "prospecting"          # appointmentscheduled, p=0.2
    assert deals.loc["1003", "stage"] == "negotiation"          # decisionmakerboughtin, p=0.8
    assert deals.loc["1005", "stage"] == "closed_won" and deals.loc["1005", "is_won"]
    assert deals.loc["1006", "stage"] == "closed_lost" and deals.loc["1006", "is_closed"]
    assert deals.loc["1000", "account_id"] == "50000" and deals.loc["1000", "amount"] == 10_000.0
    assert deals["stage_changed_at"].notna().all()
    roles = Counter(data.contacts["role"])
    assert roles == {"economic_buyer": 21, "champion": 21}
    activities = data.activities
    assert set(activities["type"]) == {"note", "call", "email", "meeting", "task"}
    meeting = activities[activities["type"] == "meeting"].iloc[0]
    assert "<p>" not in meeting["body"] and meeting["body"]      # HTML stripped for topic detection
    assert set(activities.loc[activities["type"] == "email", "direction"]) == {"inbound"}


def test_incremental_sync_reads_only_what_changed(fake: FakeHubSpot, make_connector, sync):
    fake.populate(40)
    sync(make_connector())
    first = fake.total()
    fake.touch("deals", "1007", amount="99999")
    fake.touch("deals", "1012", dealstage="contractsent")

    data = sync(make_connector())
    calls = Counter(f"{m} {p}" for _, m, p in fake.log[first:])

    assert data.deals.set_index("deal_id").loc["1007", "amount"] == 99999.0
    assert data.deals.set_index("deal_id").loc["1012", "stage"] == "negotiation"
    assert len(data.deals) == 40 and len(data.activities) == 200   # the rest still there, from our tables
    assert calls["POST /crm/v3/objects/deals/search"] == 1
    assert sum(v for k, v in calls.items() if "/associations/" in k) == 8   # incl. deal → line items
    assert calls["POST /crm/v3/objects/companies/batch/read"] == 0        # held, and kept current by search
    assert calls["GET /crm/v3/objects/deals"] == 1                 # archived deals are listed
    assert calls["POST /crm/v3/objects/companies/search"] == 1 and calls["POST /crm/v3/objects/contacts/search"] == 1


def test_nothing_changed_costs_only_the_fixed_calls(fake: FakeHubSpot, make_connector, sync):
    fake.populate(30)
    sync(make_connector())
    first = fake.total()
    connector = make_connector()
    sync(connector)
    # pipelines, one empty-ish deal search (the overlap window), archived list, companies + contacts +
    # products change searches
    assert fake.total() - first == 6
    assert connector.last_sync.counts["changed"] == 0


def test_bad_records_are_skipped_with_a_reason_the_rest_goes_through(fake: FakeHubSpot, make_connector, caplog, sync):
    fake.populate(7)
    fake.objects["deals"]["1001"]["properties"]["amount"] = "lots"
    fake.objects["deals"]["1002"]["properties"]["dealstage"] = "someunknownstage"
    fake.links[("deals", "companies")].pop("1003")                 # a deal without a company

    data = sync(make_connector())

    skipped = {(i.table, i.row_id): i.reason for i in data.skipped}
    assert "not a number" in skipped[("deals", "1001")]
    assert "someunknownstage" in skipped[("deals", "1002")]
    assert "account_id is empty" in skipped[("deals", "1003")]
    assert set(data.deals["deal_id"]) == {"1000", "1004", "1005", "1006"}
    assert "record 1001 skipped" in caplog.text


def test_search_cap_moves_the_watermark_without_losing_records(fake: FakeHubSpot, make_client):
    fake.search_cap = 1000
    fake.populate(2500, same_timestamp=7, contacts_per_deal=0, engagements_per_deal=0)
    client = make_client()
    ids = [r["id"] for r in search_changed(client, "deals", ["dealname"], None, cap=1000)]
    assert sorted(ids) == sorted(fake.objects["deals"]) and len(ids) == len(set(ids))
    assert client.calls["search:deals"] <= 2500 / 200 + 3 + 2  # a few pages re-read at each watermark move


def test_more_records_on_one_timestamp_than_the_cap_are_walked_by_id(fake: FakeHubSpot, make_client):
    fake.search_cap = 400
    fake.populate(1000, same_timestamp=1000, contacts_per_deal=0, engagements_per_deal=0)  # a bulk import
    ids = [r["id"] for r in search_changed(make_client(), "deals", ["dealname"], None, cap=400)]
    assert sorted(ids) == sorted(fake.objects["deals"]) and len(ids) == len(set(ids))


def test_archived_deals_are_noticed_and_dropped(fake: FakeHubSpot, make_connector, sync):
    fake.populate(10)
    sync(make_connector())
    fake.archive("deals", "1004")
    data = sync(make_connector())
    assert "1004" not in set(data.deals["deal_id"])
    assert not (data.activities["deal_id"] == "1004").any()


def test_association_paging_is_followed(fake: FakeHubSpot, make_connector, sync):
    fake.association_page = 2
    fake.populate(3, contacts_per_deal=5)
    data = sync(make_connector())
    assert len(data.contacts) == 15


def test_full_sync_ignores_the_cursor(fake: FakeHubSpot, make_connector, sync):
    fake.populate(10)
    sync(make_connector())
    before = fake.total()
    sync(make_connector(full=True))
    assert Counter(p for _, _, p in fake.log[before:])["/crm/v3/objects/deals/search"] == 1
    assert sum(1 for _, _, p in fake.log[before:] if "/associations/" in p) == 8


@pytest.mark.parametrize("bad", ["stages: {x: won}", "deals: {properties: {colour: color}}"])
def test_a_bad_mapping_is_refused_with_the_key(tmp_path, bad):
    from stepwise.integration.base import ConnectorError
    from stepwise.integration.hubspot.mapping import load_mapping

    path = tmp_path / "m.yaml"
    path.write_text(bad)
    with pytest.raises(ConnectorError, match="stages.x|colour"):
        load_mapping(path)


def test_an_archived_deals_open_cards_expire_in_the_run_that_notices_it(fake: FakeHubSpot, make_connector, sync,
                                                                         hs_store):
    from dataclasses import replace

    from stepwise.integration.hubspot.fake import make_rec
    from stepwise.workers.intake import take_in

    fake.populate(10)
    connector = make_connector(source="hubspot-4242")
    sync(connector)
    cards = [replace(make_rec(deal), source="hubspot-4242") for deal in ("1004", "1005")]
    hs_store.upsert_recommendations(hs_store.start_run("hubspot-4242", "2026-11-23", "priors-1"), cards)
    fake.archive("deals", "1004")
    pulled = take_in(connector, hs_store)
    assert connector.last_sync.deleted == {"deals": ["1004"]} and pulled.deleted == {"deal_id": ["1004"]}
    assert [hs_store.get_recommendation(c.id).status for c in cards] == ["expired", "new"]
