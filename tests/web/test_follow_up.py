"""Accept → the CRM follow-up is queued for a worker after the commit, once; the worker applies it once."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import replace

import pytest
import redis

from stepwise.settings import Settings
from stepwise.web.app import create_app
from stepwise.workers import follow_up, tasks
from tests.web.cards_fixtures import DEAL_REC, TOKEN, feedback

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
    broker = redis.Redis.from_url(REDIS_URL)
    before = broker.llen("celery")
    client = create_app(store=store, api_tokens=[TOKEN], redis_url=REDIS_URL).test_client()
    assert feedback(client, {"action": "accepted", "user": "rep_01"}).status_code == 201
    messages = broker.lrange("celery", 0, broker.llen("celery") - before - 1)
    headers = [json.loads(m)["headers"] for m in messages]
    mine = [h for h in headers if h["task"] == "stepwise.apply_response" and DEAL_REC.id in h["argsrepr"]]
    assert len(mine) == 1
    for m in messages:  # nobody consumes the default queue in tests: take ours back out
        broker.lrem("celery", 1, m)


class StubCRM:
    def __init__(self):
        self.calls = []

    def apply_response(self, rec, action, owner_id=None):
        self.calls.append((rec.id, action))
        return "task-1"


def test_the_worker_applies_an_accept_through_the_records_connector(store, monkeypatch):
    crm = StubCRM()
    monkeypatch.setattr(tasks, "get_settings", lambda: Settings(STEPWISE_DATABASE_URL=str(store.engine.url)))
    monkeypatch.setattr(tasks, "connector_for", lambda spec: crm if spec == "hubspot:123" else None)
    monkeypatch.setattr(tasks.Store, "get_recommendation",
                        lambda self, rec_id: replace(DEAL_REC, source="hubspot-123", status="accepted"))
    assert tasks.apply_response.run(DEAL_REC.id) == {"applied": True, "crm_id": "task-1"}
    assert crm.calls == [(DEAL_REC.id, "accepted")]


def test_an_undone_accept_is_not_applied(store, monkeypatch):
    monkeypatch.setattr(tasks, "get_settings", lambda: Settings(STEPWISE_DATABASE_URL=str(store.engine.url)))
    assert tasks.apply_response.run(DEAL_REC.id)["applied"] is False  # still "new" in the store


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
    from stepwise.workers import tasks as worker_tasks

    monkeypatch.setattr(worker_tasks, "get_settings", lambda: Settings(STEPWISE_DATABASE_URL=str(store.engine.url)))
    expired = worker_tasks.expire_stale.run("2030-01-01")
    assert expired and all(n >= 0 for n in expired.values())
    assert sum(expired.values()) >= 1 and store.get_recommendation(DEAL_REC.id).status == "expired"
