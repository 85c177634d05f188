"""A CRM that misbehaves for a while, seen from real worker processes: retried, then written; a record
the CRM rejects for good is recorded with the CRM's message and the rest of the batch is written."""

from __future__ import annotations

import re

from stepwise.integration.hubspot.fake import TOKEN, FakeHubSpot
from stepwise.store import Store
from stepwise.workers.celery_app import make_celery
from tests.workers.workers_helpers import REDIS_URL, redis_or_skip, start_worker, stop_worker, wait_for_run


def test_429s_and_5xx_are_retried_and_a_rejected_record_is_recorded_while_the_rest_is_written(tmp_path, httpserver):
    redis_or_skip()
    fake = FakeHubSpot()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    fake.populate(300, deals_per_company=5, contacts_per_deal=1, engagements_per_deal=1, engagements_every=3)
    fake.rate_limit(r"/crm/v3/objects/deals/search", times=2)           # HubSpot's 429 with Retry-After
    fake.fail(r"/crm/v4/associations/deals/companies", 502, times=2)     # a gateway having a bad minute
    fake.fail(r"/crm/v3/objects/deals/batch/update", 503, times=1)
    fake.reject_update.add("1003")                                      # a validation rule refuses this deal
    db = tmp_path / "faults.db"
    worker, queue = start_worker(db, env={
        "HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": httpserver.url_for("").rstrip("/"),
        "HUBSPOT_PORTAL_ID": "4242", "HUBSPOT_RATE_LIMIT": "100000/1", "HUBSPOT_SEARCH_RATE_LIMIT": "100000/1",
        "STEPWISE_CHUNK_SIZE": "100"})
    try:
        make_celery(REDIS_URL).send_task("stepwise.score_source", args=["hubspot", "2026-11-23", True], queue=queue)
        run = wait_for_run(db, timeout=240)
    finally:
        stop_worker(worker)

    assert run["status"] == "succeeded", run.get("error")
    counts = run["counts"]
    assert counts["chunks"]["total"] >= 3
    faults = [f for f in fake.faults if f.times > 0]
    assert faults == [], "every injected fault was met (and retried past)"
    assert counts["write_back_failed"] == 1
    [rejected] = counts["write_back_errors"]
    assert "Property values were not valid" in rejected["error"]
    store = Store(f"sqlite:///{db}")
    rec = store.get_recommendation(rejected["id"])
    assert rec is not None and rec.deal_id == "1003"
    assert counts["written_back"] > 100  # every other deal with a recommendation was written
    written = [d for d, r in fake.objects["deals"].items() if any(k.startswith("stepwise") for k in r["properties"])]
    assert "1003" not in written and len(written) == counts["written_back"]
