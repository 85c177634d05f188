"""Bulk API 2.0 for large reads: the job lifecycle, result pages by locator, a failed job, same canonical frames."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from stepwise.integration.base import ConnectorError
from stepwise.integration.salesforce.client import BulkJobError, connect, csv_records, local_limiter
from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import FAST, build_org, session_settings, stamp
from tests.integration.syncs import sync


def bulk_client(**policy):
    return connect(session_settings(), limiter=local_limiter(), policy=replace(FAST, **policy))


def connector(client, threshold: int, mirror=None, **kw) -> SalesforceConnector:
    return SalesforceConnector(client, mirror_dir=mirror, write_backoff=0, bulk_threshold=threshold, **kw)


def bulk_requests(fake):
    return [(c.request.method, urlparse(c.request.url).path.split("/jobs/query")[1], parse_qs(urlparse(c.request.url).query))
            for c in fake.rsps.calls if "/jobs/query" in c.request.url]


def org_with_products(fake, opportunities: int = 8):
    org = build_org(fake, opportunities, accounts=2, tasks=2)
    products = fake.add_product(2)
    won = org["Opportunity"][0]
    won.update(StageName="Closed Won", IsClosed=True, IsWon=True)
    fake.add_line(won["Id"], products[0]["Product2Id"])
    fake.add_line(won["Id"], products[1]["Product2Id"], Quantity=1.0, UnitPrice=2000.0, Discount=None)
    fake.add_line(org["Opportunity"][1]["Id"], products[1]["Product2Id"])  # an open deal's line: not an order
    return org


def test_csv_pages_read_like_rest_records():
    text = ('"Id","Product2.Name","Product2.Family","UnitPrice","IsDeleted","Description"\n'
            '"01u000000000001AAA","Belt, 2 m","","2000.0","false","two\nlines ""quoted"""\n')
    [record] = list(csv_records(text))
    assert record == {"Id": "01u000000000001AAA", "Product2": {"Name": "Belt, 2 m", "Family": None},
                      "UnitPrice": "2000.0", "IsDeleted": False, "Description": 'two\nlines "quoted"'}


def test_a_query_job_is_created_polled_with_backoff_and_paged_by_locator(fake):
    sleeps: list[float] = []
    client = bulk_client(bulk_page=2, bulk_poll=1.0, bulk_poll_max=3.0, sleep=sleeps.append)
    fake.add("Account", 5)
    fake.bulk_polls = 3
    rows = list(client.bulk_query_iter("SELECT Id, Name FROM Account"))
    assert [r["Name"] for r in rows] == [f"Acme {i}" for i in range(1, 6)]
    calls = bulk_requests(fake)
    assert [(m, p) for m, p, _ in calls] == [("POST", ""), *[("GET", f"/{p.split('/')[1]}") for _, p, _ in calls[1:5]],
                                             ("GET", calls[5][1]), ("GET", calls[6][1]), ("GET", calls[7][1])]
    job_id = calls[1][1].strip("/")
    assert [p for _, p, _ in calls[5:]] == [f"/{job_id}/results"] * 3
    assert "locator" not in calls[5][2] and calls[5][2]["maxRecords"] == ["2"]
    assert calls[6][2]["locator"] and calls[7][2]["locator"] != calls[6][2]["locator"]
    last = [c for c in fake.rsps.calls if "/results" in c.request.url][-1].response
    assert last.headers["Sforce-Locator"] == "null" and last.headers["Sforce-NumberOfRecords"] == "1"
    # UploadComplete, then InProgress three times: a wait before each state read, doubling up to bulk_poll_max
    assert sleeps == [1.0, 2.0, 3.0, 3.0]
    # create + 4 state reads (3 InProgress, then JobComplete) + 3 result pages, all through the governed path
    assert client.stats.by_kind["bulk"] == 8 == fake.calls["bulk"]


def test_result_pages_are_read_as_utf8(fake):
    fake.add("Account", 1, Name="Müller Fördertechnik GmbH")
    [row] = list(bulk_client().bulk_query_iter("SELECT Id, Name FROM Account"))
    assert row["Name"] == "Müller Fördertechnik GmbH"


def test_a_failed_job_is_one_clear_error(fake):
    client = bulk_client()
    fake.add("Account", 1)
    fake.bulk_failures.append("InternalServerError : Retried more than 15 times")
    with pytest.raises(BulkJobError, match=r"query job 750\w+ on Account ended Failed: InternalServerError"):
        list(client.bulk_query_iter("SELECT Id FROM Account"))


def test_a_failed_job_fails_the_sync_with_that_message(fake):
    build_org(fake, 8, accounts=2)
    fake.bulk_failures.append("InternalServerError : Retried more than 15 times")
    with pytest.raises(ConnectorError, match="ended Failed: InternalServerError"):
        connector(bulk_client(), threshold=5).pull()


def test_an_object_over_the_threshold_goes_through_bulk_into_the_same_canonical_frames(fake):
    org_with_products(fake)
    rest = connector(bulk_client(), threshold=0).pull().data
    calls_before = len(fake.rsps.calls)
    bulk = connector(bulk_client(bulk_page=3), threshold=5)
    data = bulk.pull().data
    assert bulk.last_sync.bulk_objects == ["Opportunity"]
    objects = [c.request.body for c in list(fake.rsps.calls)[calls_before:]
               if c.request.method == "POST" and c.request.url.endswith("/jobs/query")]
    assert len(objects) == 3 and all(b"(SELECT" not in body for body in objects)  # Bulk 2.0: no sub-queries
    assert any(b"FROM OpportunityContactRole" in b for b in objects) and any(b"FROM OpportunityLineItem" in b for b in objects)
    for name in ("deals", "contacts", "orders", "order_lines", "products"):
        left = getattr(rest, name).sort_values(list(getattr(rest, name).columns[:2])).reset_index(drop=True)
        right = getattr(data, name).sort_values(list(getattr(data, name).columns[:2])).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=False, obj=name)


def test_a_full_resync_of_an_object_that_was_big_skips_the_rest_probe(fake, sf_store, tmp_path):
    build_org(fake, 8, accounts=2)
    sync(connector(bulk_client(), 5, tmp_path / "m"), sf_store)
    before = len(fake.rsps.calls)
    again = connector(bulk_client(), 5, tmp_path / "m", full=True)
    sync(again, sf_store)
    opp_rest = [c for c in list(fake.rsps.calls)[before:] if "/query" in c.request.url and "/jobs/" not in c.request.url
                and "FROM+Opportunity" in c.request.url]
    assert opp_rest == [] and again.last_sync.bulk_objects == ["Opportunity"]


def test_a_big_incremental_change_goes_through_bulk_with_deletes(fake, sf_store, tmp_path):
    org = build_org(fake, 10, accounts=2)
    c = connector(bulk_client(), 5, tmp_path / "m")
    sync(c, sf_store)
    assert c.last_sync.bulk_objects == ["Opportunity"]
    for opp in org["Opportunity"][:6]:
        fake.touch(opp, stamp(2), StageName="Negotiation/Review")
    fake.delete(org["Opportunity"][9], stamp(2))
    data = sync(c, sf_store)
    assert c.last_sync.mode == "incremental" and c.last_sync.bulk_objects == ["Opportunity"]
    jobs = [j for j in fake.jobs.values() if j["object"] == "Opportunity"]
    assert jobs[-1]["operation"] == "queryAll" and "SystemModstamp >" in jobs[-1]["soql"]
    roles_job = [j for j in fake.jobs.values() if j["object"] == "OpportunityContactRole"][-1]
    assert "WHERE Opportunity.SystemModstamp >" in roles_job["soql"]
    assert c.last_sync.deleted == {"deals": [org["Opportunity"][9]["Id"]]}
    assert len(data.deals) == 9 and (data.deals["stage"] == "negotiation").sum() == 6
    assert data.contacts["role"].notna().all()  # the changed deals' roles came back through their own job
