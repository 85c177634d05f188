"""Webhook intake on a real Redis: each event once, older ones ignored, one sync per burst."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

import pytest
import redis

from stepwise.web.app import create_app
from stepwise.web.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, hubspot_signature
from stepwise.workers.events import ChangeEvent, EventGate
from tests.web.cards_fixtures import TOKEN

REDIS_URL = os.environ.get("STEPWISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET = "app-secret"


@pytest.fixture()
def broker():
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 (make test starts it)")
    client = redis.Redis.from_url(REDIS_URL)
    before = client.llen("celery")
    yield client
    while client.llen("celery") > before:  # nobody consumes the default queue in tests: take ours back out
        client.lpop("celery")


def signed_post(client, path: str, body: list | dict):
    raw = json.dumps(body)
    ts = str(int(time.time() * 1000))
    sig = hubspot_signature("POST", f"http://localhost{path}", raw, ts, SECRET)
    return client.post(path, data=raw, headers={SIGNATURE_HEADER: sig, TIMESTAMP_HEADER: ts,
                                                "Content-Type": "application/json"})


def test_the_gate_takes_each_event_once_and_ignores_older_ones(broker):
    gate, source = EventGate(broker), f"hubspot-{uuid.uuid4().hex[:8]}"
    assert gate.decide(ChangeEvent(source, "e1", "D1", 2_000)) == "taken"
    assert gate.decide(ChangeEvent(source, "e1", "D1", 2_000)) == "duplicate"
    assert gate.decide(ChangeEvent(source, "e0", "D1", 1_000)) == "stale"  # arrived late, already superseded
    assert gate.decide(ChangeEvent(source, "e2", "D1", 3_000)) == "taken"
    assert gate.decide(ChangeEvent(source, "e3", "D2", 1_000)) == "taken"  # another record has its own clock
    assert gate.claim_sync(source) is True and gate.claim_sync(source) is False


def test_signed_hubspot_events_queue_one_sync_per_burst(store, broker):
    app = create_app(store=store, api_tokens=[TOKEN], hubspot_secret=SECRET, redis_url=REDIS_URL)
    client, portal = app.test_client(), str(uuid.uuid4().int % 10**8)
    events = [{"eventId": f"{portal}{i}", "portalId": portal, "objectId": 100 + i, "occurredAt": 1_700_000_000_000 + i,
               "subscriptionType": "deal.propertyChange", "propertyName": "dealstage"} for i in range(3)]
    before = broker.llen("celery")
    first = signed_post(client, "/webhooks/hubspot", events)
    assert first.status_code == 202
    assert first.get_json() == {"taken": 3, "duplicate": 0, "stale": 0, "syncs_queued": 1}
    again = signed_post(client, "/webhooks/hubspot", events)  # HubSpot retried the delivery
    assert again.get_json() == {"taken": 0, "duplicate": 3, "stale": 0, "syncs_queued": 0}
    queued = [json.loads(m)["headers"] for m in broker.lrange("celery", 0, broker.llen("celery") - before - 1)]
    assert [(h["task"], h["argsrepr"]) for h in queued] == [("stepwise.score_source", f"['hubspot-{portal}']")]


def test_tampered_or_unsigned_webhooks_are_refused(store, broker):
    client = create_app(store=store, api_tokens=[TOKEN], hubspot_secret=SECRET, redis_url=REDIS_URL).test_client()
    body = [{"eventId": 1, "portalId": 1, "objectId": 1, "occurredAt": 1, "subscriptionType": "deal.creation"}]
    ts = str(int(time.time() * 1000))
    sig = hubspot_signature("POST", "http://localhost/webhooks/hubspot", json.dumps(body), ts, SECRET)
    tampered = client.post("/webhooks/hubspot", data=json.dumps(body).replace('"objectId": 1', '"objectId": 2'),
                           headers={SIGNATURE_HEADER: sig, TIMESTAMP_HEADER: ts, "Content-Type": "application/json"})
    assert tampered.status_code == 401
    assert client.post("/webhooks/hubspot", json=body).status_code == 401
    assert client.post("/webhooks/hubspot", json={"not": "a list"},
                       headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 400


def test_salesforce_events_with_a_token(store, broker):
    client = create_app(store=store, api_tokens=[TOKEN], redis_url=REDIS_URL).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    rid = "006" + uuid.uuid4().hex[:15]
    batch = {"events": [{"event_id": f"ev-{rid}", "record_id": rid, "occurred_at_ms": 5, "object_type": "Opportunity"}]}
    response = client.post("/webhooks/salesforce", json=batch, headers=auth)
    assert response.status_code == 202 and response.get_json()["taken"] == 1
    bad = client.post("/webhooks/salesforce", json={"events": [{"event_id": "x"}]}, headers=auth)
    assert bad.status_code == 400 and "record_id" in bad.get_json()["error"]


def test_without_workers_the_intake_says_it_is_not_configured(store):
    client = create_app(store=store, api_tokens=[TOKEN]).test_client()
    response = client.post("/webhooks/salesforce", json={"events": []}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404 and "STEPWISE_REDIS_URL" in response.get_json()["error"]


def test_events_whose_sync_could_not_be_queued_are_taken_again_on_redelivery(broker):
    from stepwise.workers.events import accept

    gate, source = EventGate(broker), f"hubspot-{uuid.uuid4().hex[:8]}"
    events = [ChangeEvent(source, "e1", "D1", 1), ChangeEvent(source, "e2", "D2", 1)]

    def broken(_source):
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        accept(events, gate, broken)
    queued = []
    assert accept(events, gate, queued.append) == {"taken": 2, "duplicate": 0, "stale": 0, "syncs_queued": 1}
    assert queued == [source]
