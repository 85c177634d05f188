"""How many calls a sync costs, and that the shared limiter keeps them within HubSpot's limits."""

from __future__ import annotations

import threading
import uuid

from stepwise.integration.hubspot.client import Limits
from stepwise.integration.hubspot.connector import HubSpotConnector
from stepwise.integration.hubspot.fake import FakeHubSpot, make_rec, minimum_calls


def test_a_first_sync_of_10000_deals_is_within_5_percent_of_the_minimum(fake: FakeHubSpot, make_connector, sync):
    n = 10_000
    # 1 contact and 1 line item per deal; engagements (one of each type) on every 5th deal; 50 products
    fake.populate(n, deals_per_company=5, contacts_per_deal=1, engagements_per_deal=1, engagements_every=5,
                  line_items_per_deal=1, products=50)
    connector = make_connector()
    data = sync(connector)
    pushed = connector.push([make_rec(d) for d in data.deals["deal_id"]])

    assert len(data.deals) == n and pushed.written == n
    assert len(data.order_lines) == n and len(data.products) == 50 and len(data.accounts) == n // 5
    floor = minimum_calls(n, n // 5, n, n // 5, n, 50, n)
    assert fake.total() == connector.client.requests
    print(f"\n10,000 deals: {fake.total()} calls, minimum {floor}")
    assert floor <= fake.total() <= floor * 1.05, (fake.total(), floor, fake.calls())


def test_calls_per_1000_deals_first_and_incremental(fake: FakeHubSpot, make_connector, sync):
    """The figures for the closing note: 1,000 deals, then 1 % of them changed."""
    fake.populate(1000, contacts_per_deal=2, engagements_per_deal=2, line_items_per_deal=3, products=40)
    first = make_connector()
    data = sync(first)
    first.push([make_rec(d) for d in data.deals["deal_id"]])
    first_calls = fake.total()
    assert first_calls == minimum_calls(1000, 200, 2000, 2000, 3000, 40, 1000)

    def one_percent_changed(round_: int) -> tuple[int, HubSpotConnector]:
        before = fake.total()
        fake.now_ms += 3_600_000  # an hour later
        for i in range(0, 1000, 100):
            fake.touch("deals", str(1000 + i + round_), amount=str(5 + i + round_))
        connector = make_connector()
        data = sync(connector)
        changed = {str(1000 + i + round_) for i in range(0, 1000, 100)}
        connector.push([make_rec(d, score=61 if d in changed else 80) for d in data.deals["deal_id"]])
        assert connector.last_sync.counts["changed"] == 10
        return fake.total() - before, connector

    # Right after the first sync the deal search re-reads the echo of our 1,000 writes (5 pages; they are
    # recognised as ours, so no context is read for them); from then on only the 1 % we re-wrote echoes.
    after_first, connector = one_percent_changed(1)
    assert connector.last_sync.counts["skipped_own_write"] == 990
    steady, _ = one_percent_changed(2)
    # pipelines 1, deal search 1, company change search 1, associations 8, contacts 1, engagements 5,
    # line items 1, product change search 1, archived list 1, contact change search 1, write-back 1
    # (the changed deals' companies are held and current: no batch read of them)
    assert after_first == 22 + 4 and steady == 22, fake.calls()
    print(f"\nHubSpot calls per 1,000 deals: first sync {first_calls}, incremental with 1 % changed "
          f"{steady} (the first one after a full write-back: {after_first})")


def _max_in_window(times: list[float], window: float) -> int:
    best, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_the_limiter_keeps_calls_within_the_burst_limit(fake: FakeHubSpot, make_client, make_connector, sync):
    fake.populate(600, contacts_per_deal=1, engagements_per_deal=1)
    client = make_client(Limits(general=(20, 1.0), search=(5, 1.0)))
    connector = make_connector(client)
    sync(connector)
    times = sorted(t for t, _, _ in fake.log)
    searches = sorted(t for t, _, p in fake.log if p.endswith("/search"))
    # 20 per rolling second overall (a 10 ms margin for arrival jitter), 5 per second for search
    assert len(times) > 40
    assert _max_in_window(times, 0.99) <= 20
    assert _max_in_window(searches, 0.99) <= 5


def test_workers_share_one_bucket_through_redis(fake: FakeHubSpot, make_client):
    fake.populate(50, contacts_per_deal=0, engagements_per_deal=0)
    account = f"shared-{uuid.uuid4().hex[:8]}"
    clients = [make_client(Limits(general=(10, 1.0)), redis_url="redis://127.0.0.1:6379/15", account=account)
               for _ in range(3)]

    def work(client):
        for _ in range(8):
            client.call("crm.pipelines.pipelines_api", "get_all", "deals")

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times = sorted(t for t, _, _ in fake.log)
    assert len(times) == 24
    assert _max_in_window(times, 0.99) <= 10
