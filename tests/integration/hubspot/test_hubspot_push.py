"""Write-back: changed deals only, 100 per batch, 207 partial failures, our echo skipped; setup; tasks."""

from __future__ import annotations

from collections import Counter

from stepwise.integration.hubspot.fake import FakeHubSpot, make_rec
from stepwise.integration.hubspot.push import DEAL_PROPERTIES, TASK_PROPERTIES, ensure_properties


def _writes(fake: FakeHubSpot, since: int = 0) -> int:
    return sum(1 for _, m, p in fake.log[since:] if p == "/crm/v3/objects/deals/batch/update")


def test_write_back_batches_of_100_and_only_what_changed(fake: FakeHubSpot, make_connector, sync):
    fake.populate(250, contacts_per_deal=0, engagements_per_deal=0)
    connector = make_connector()
    sync(connector)
    recs = [make_rec(str(1000 + i), score=50 + i % 40) for i in range(250)]

    result = connector.push(recs)
    assert result.written == 250 and not result.failed and _writes(fake) == 3
    props = fake.objects["deals"]["1007"]["properties"]
    assert props["stepwise_top_action"] == "send_roi_calculator for deal 1007"
    assert props["stepwise_score"] == "57" and props["stepwise_urgency"] == "HIGH"

    before = fake.total()
    recs[3] = make_rec("1003", "schedule_exec_call", score=91)
    again = connector.push(recs)
    assert again.written == 1 and _writes(fake, before) == 1


def test_our_own_write_back_is_not_a_change(fake: FakeHubSpot, make_connector, sync):
    fake.populate(30)
    connector = make_connector()
    sync(connector)
    connector.push([make_rec(str(1000 + i)) for i in range(30)])
    before = fake.total()

    again = make_connector()
    sync(again)

    assert again.last_sync.counts["skipped_own_write"] == 30 and again.last_sync.counts["changed"] == 0
    assert not any("/associations/" in p for _, _, p in fake.log[before:])


def test_partial_failure_207_is_recorded_per_deal_and_retried_next_time(fake: FakeHubSpot, make_connector, sync):
    fake.populate(20, contacts_per_deal=0, engagements_per_deal=0)
    connector = make_connector()
    sync(connector)
    fake.reject_update = {"1004", "1009"}
    recs = [make_rec(str(1000 + i)) for i in range(20)]

    result = connector.push(recs)
    assert result.written == 18
    assert {rec_id for rec_id, _ in result.failed} == {recs[4].id, recs[9].id}
    assert all("VALIDATION_ERROR" in message for _, message in result.failed)

    fake.reject_update = set()
    retry = connector.push(recs)
    assert retry.written == 2 and not retry.failed


def test_deals_without_a_recommendation_now_are_cleared(fake: FakeHubSpot, make_connector, sync):
    fake.populate(3, contacts_per_deal=0, engagements_per_deal=0)
    connector = make_connector()
    sync(connector)
    connector.push([make_rec("1000"), make_rec("1001")])
    result = connector.push([make_rec("1000")])
    assert result.written == 1
    assert fake.objects["deals"]["1001"]["properties"]["stepwise_top_action"] == ""


def test_setup_creates_group_and_properties_once(fake: FakeHubSpot, make_client):
    client = make_client()
    created = ensure_properties(client, "deals", "stepwise", DEAL_PROPERTIES)
    assert created == ["group deals.stepwise"] + [f"property deals.{p['name']}" for p in DEAL_PROPERTIES]
    assert {p["groupName"] for p in fake.properties["deals"] if p["name"].startswith("stepwise_")} == {"stepwise"}
    urgency = next(p for p in fake.properties["deals"] if p["name"] == "stepwise_urgency")
    assert [o["value"] for o in urgency["options"]] == ["HIGH", "MEDIUM", "LOW"]
    assert ensure_properties(client, "deals", "stepwise", DEAL_PROPERTIES) == []
    assert ensure_properties(client, "tasks", "stepwise", TASK_PROPERTIES) == ["group tasks.stepwise",
                                                                              "property tasks.stepwise_recommendation_id"]


def test_accept_creates_one_task_however_often_it_is_retried(fake: FakeHubSpot, make_connector, sync):
    fake.populate(2, contacts_per_deal=0, engagements_per_deal=0)
    connector = make_connector()
    sync(connector)
    rec = make_rec("1001")

    first = connector.follow_up(rec)
    second = connector.follow_up(rec)
    assert first == second
    assert len(fake.objects["tasks"]) == 1
    task = fake.objects["tasks"][first]["properties"]
    assert task["stepwise_recommendation_id"] == rec.id and task["hs_task_subject"] == rec.title
    assert fake.links[("tasks", "deals")][first] == [("1001", 216)]
    assert make_connector(create_tasks=False).follow_up(make_rec("1000")) is None  # HUBSPOT_CREATE_TASKS off
    assert len(fake.objects["tasks"]) == 1


def test_a_create_that_reached_hubspot_before_a_crash_is_found_not_repeated(fake: FakeHubSpot, make_connector):
    fake.populate(1, contacts_per_deal=0, engagements_per_deal=0)
    connector = make_connector()
    rec = make_rec("1000")
    connector.state.reserve_task(rec.id, "1000")           # reserved, created, then the worker died
    fake.add("tasks", "777", {"stepwise_recommendation_id": rec.id, "hs_task_subject": rec.title})

    assert connector.follow_up(rec) == "777"
    assert len(fake.objects["tasks"]) == 1
    assert Counter(p for _, _, p in fake.log)["/crm/v3/objects/tasks"] == 0
