"""Accept → the CRM follow-up is queued for a worker after the commit, once; the worker applies it once."""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis

from stepwise.integration.hubspot.fake import TOKEN as HUBSPOT_TOKEN
from stepwise.integration.hubspot.fake import FakeHubSpot
from stepwise.settings import Settings, get_settings
from stepwise.web.app import create_app
from stepwise.workers import follow_up, tasks
from tests.web.cards_fixtures import ACCOUNT_REC, DAY, DEAL_REC, TOKEN, feedback

REDIS_URL = os.environ.get("STEPWISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_an_accept_is_queued_once_after_the_commit(store, monkeypatch):
    queued: list[str] = []
    monkeypatch.setattr(follow_up, "enqueue", lambda rec_id, url: queued.append(rec_id) or True)
    client = create_app(store=store, api_tokens=[TOKEN], redis_url="redis://unused").test_client()
    body = {"action": "accepted", "user": "rep_01"}
    assert feedback(client, body, **{"Idempotency-Key": "k1"}).status_code == 201
    assert feedback(client, body, **{"Idempotency-Key": "k1"}).status_code == 200  # a client retry
    assert feedback(client, {"action": "dismissed", "reason": "not_relevant", "user": "rep_01"}).status_code == 201
    assert queued == [DEAL_REC.id]
    assert store.get_recommendation(DEAL_REC.id).status == "dismissed"


def test_a_broker_outage_still_answers_201_and_keeps_the_feedback(store):
    client = create_app(store=store, api_tokens=[TOKEN], redis_url="redis://127.0.0.1:9/0").test_client()
    assert feedback(client, {"action": "accepted", "user": "rep_01"}).status_code == 201
    assert store.get_recommendation(DEAL_REC.id).status == "accepted"


def test_the_message_lands_on_the_real_broker(store):
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 (make test starts it)")
    # An id no earlier run used: a message left on the list by another run cannot pass for this one.
    rec = replace(DEAL_REC, id=f"rec_{uuid.uuid4().hex}")
    store.upsert_recommendations(store.start_run(rec.source, DAY, "test-1"), [rec])
    broker = redis.Redis.from_url(REDIS_URL)
    client = create_app(store=store, api_tokens=[TOKEN], redis_url=REDIS_URL).test_client()
    assert feedback(client, {"action": "accepted", "user": "rep_01"}, rec_id=rec.id).status_code == 201
    mine = [m for m in broker.lrange("celery", 0, -1) if rec.id in json.loads(m)["headers"]["argsrepr"]]
    for m in mine:  # nobody consumes the default queue in tests: take ours back out
        broker.lrem("celery", 1, m)
    assert [json.loads(m)["headers"]["task"] for m in mine] == ["stepwise.follow_up"]


#: an accepted card of a deal in the fake HubSpot portal 4242, as a run stores it
PORTAL_REC = replace(DEAL_REC, id="rec_hubspot_4242_deal_1000", source="hubspot-4242", record_id="1000", deal_id="1000")


@pytest.fixture
def hubspot(httpserver, store, monkeypatch) -> Iterator[FakeHubSpot]:
    """A fake HubSpot portal over HTTP, and the environment a worker reads to reach it (a private app)."""
    portal = FakeHubSpot()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(portal.handle)
    portal.populate(1, contacts_per_deal=0, engagements_per_deal=0)
    env = {"HUBSPOT_ACCESS_TOKEN": HUBSPOT_TOKEN, "HUBSPOT_BASE_URL": httpserver.url_for("").rstrip("/"),
           "HUBSPOT_PORTAL_ID": "4242", "STEPWISE_DATABASE_URL": str(store.engine.url)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STEPWISE_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield portal
    get_settings.cache_clear()


def accepted(store, rec) -> None:
    store.upsert_recommendations(store.start_run(rec.source, DAY, "test-1"), [rec])
    store.record_feedback(rec.id, "accepted", user="rep_01")


def test_the_worker_creates_the_task_in_the_records_crm_once(store, hubspot):
    accepted(store, PORTAL_REC)
    first = tasks.follow_up.run(PORTAL_REC.id)
    assert first["applied"] is True and hubspot.links[("tasks", "deals")][first["crm_id"]] == [("1000", 216)]
    assert tasks.follow_up.run(PORTAL_REC.id) == first  # a retry finds the task instead of making another
    assert len(hubspot.objects["tasks"]) == 1


def test_a_message_queued_under_the_former_task_name_still_runs(store, hubspot):
    accepted(store, PORTAL_REC)
    assert tasks.app.tasks["stepwise.apply_response"].run(PORTAL_REC.id)["applied"] is True
    assert len(hubspot.objects["tasks"]) == 1


def test_an_accept_changed_to_a_dismissal_before_the_worker_runs_creates_no_task(store, hubspot):
    accepted(store, PORTAL_REC)
    store.record_feedback(PORTAL_REC.id, "dismissed", user="rep_01", reason="not_relevant")
    assert tasks.follow_up.run(PORTAL_REC.id) == {"applied": False, "why": "not accepted (undone or unknown)"}
    assert tasks.follow_up.run("rec_nobody_knows")["applied"] is False
    assert not hubspot.objects.get("tasks") and not any(p.endswith("/tasks") for _, _, p in hubspot.log)


def test_readyz_says_when_redis_is_down(store):
    client = create_app(store=store, api_tokens=[TOKEN], redis_url="redis://127.0.0.1:9/0").test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["error"] == "redis not reachable"


def test_a_snooze_date_out_of_range_in_utc_is_a_400(store):
    client = create_app(store=store, api_tokens=[TOKEN]).test_client()
    for when in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00"):
        response = feedback(client, {"action": "snoozed", "user": "rep_01", "snooze_until": when})
        assert response.status_code == 400, when


def test_expiry_covers_every_source_in_the_store(store, monkeypatch):
    others = [replace(DEAL_REC, id=f"rec_{source}", source=source) for source in ("salesforce", "hubspot-4242")]
    for rec in others:
        store.upsert_recommendations(store.start_run(rec.source, DAY, "test-1"), [rec])
    monkeypatch.setattr(tasks, "get_settings", lambda: Settings(STEPWISE_DATABASE_URL=str(store.engine.url)))
    expired = tasks.expire_stale.run("2030-01-01")
    assert expired == {"hubspot": 2, "salesforce": 1, "hubspot-4242": 1}
    assert {store.get_recommendation(r.id).status for r in [DEAL_REC, ACCOUNT_REC, *others]} == {"expired"}
