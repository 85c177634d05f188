"""What a sync costs in API calls, against the minimum the API allows.

Minimum for a sync (N opportunities, one recommendation each written back):

    calls = Σ over mapped objects max(1, ⌈changed rows / 2000⌉)   query pages (2,000 rows per page;
                                                                    contact roles and line items ride in the
                                                                    Opportunity query as sub-queries: no extra pages)
          + 1 on a full sync                                        describeGlobal (which optional objects exist;
                                                                    remembered for incremental syncs)
          + 1                                                       reps' responses read back (Stepwise object)
          + ⌈cards in the org / 2000⌉ (at least 1), first sync only  the Stepwise object read once, to learn the org
          + ⌈(cards changed + expired) / 1000⌉                      Composite writes (5 × 200 per call): only what
                                                                    changed; the store knows what was written

For the first sync the Opportunity part is ⌈N/2000⌉ and the writes ⌈N/1000⌉ — the issue's
formula — plus one page for each related object and the describeGlobal.  An incremental sync
asks each object once (queryAll: changes and deletions in the same call) and writes only the
cards whose fields changed and the ones no longer recommended.  The test asserts the measured
count is within 5 % of the minimum.

Above `bulk_threshold` rows (default 50,000) an object is read through a Bulk API 2.0 query
job instead: 1 create + p state polls + ⌈rows / page⌉ result pages (Salesforce sizes pages by
bytes; with maxRecords 50,000 about one per 50,000 rows), plus one job per child relationship
(Bulk 2.0 has no sub-queries) and, when the REST probe page found it big, that one page.
"""

from __future__ import annotations

from math import ceil

from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import build_org, stamp
from stepwise.integration.salesforce.fake import make_rec as rec
from tests.integration.syncs import sync

N = 10_000
RELATED = {"Account": 2_000, "Contact": 2_000, "Task": 4_000, "Event": 1_000, "Lead": 1_000,
           "Order": 1, "OrderItem": 0, "PricebookEntry": 0, "Contract": 1}


def pages(rows: int) -> int:
    return max(1, ceil(rows / 2000))


def day_recs(opps, day: str, changed: frozenset[int] = frozenset(), dropped: frozenset[int] = frozenset()):
    """One card per opportunity for `day`: the `changed` ones less urgent, the `dropped` ones not recommended."""
    return [rec(f"rec_{day}_{i:05d}", o["Id"], as_of=f"2026-03-0{day[-1]}", **({"urgency": "LOW"} if i in changed else {}))
            for i, o in enumerate(opps) if i not in dropped]


def test_a_sync_of_10000_opportunities_costs_within_5_percent_of_the_minimum(fake, client, sf_store, tmp_path):
    org = build_org(fake, N, accounts=RELATED["Account"], tasks=RELATED["Task"], events=RELATED["Event"],
                    leads=RELATED["Lead"])
    connector = SalesforceConnector(client, mirror_dir=tmp_path / "mirror", write_backoff=0, store=sf_store)

    # -- first sync: everything -----------------------------------------------------------
    data = sync(connector, sf_store)
    assert len(data.deals) == N
    connector.push(day_recs(org["Opportunity"], "d1"))
    first = client.stats.calls
    minimum_first = (pages(N) + sum(pages(n) for n in RELATED.values())  # 5 + 10 query pages
                     + 1                                                 # describeGlobal
                     + 1                                                 # reps' responses
                     + 1                                                 # the Stepwise object, read once (empty)
                     + ceil(N / 1000))                                   # 10 composite writes
    assert first <= minimum_first * 1.05, f"first sync: {first} calls, minimum {minimum_first}"

    # -- next day: 1 % of the opportunities (and of the related records) changed -------------
    for opp in org["Opportunity"][:: 100]:
        fake.touch(opp, stamp(2), StageName="Negotiation/Review")
    for name in ("Account", "Contact", "Task"):
        for record in org[name][:: 100]:
            fake.touch(record, stamp(2))
    data = sync(connector, sf_store)
    assert connector.last_sync.mode == "incremental" and len(data.deals) == N
    assert (data.deals["stage"] == "negotiation").sum() == N // 100
    pulled = client.stats.calls - first
    changed, dropped = frozenset(range(0, N, 100)), frozenset(range(50, N, 200))  # 100 cards less urgent, 50 gone
    connector.push(day_recs(org["Opportunity"], "d2", changed, dropped))
    incremental = client.stats.calls - first
    minimum_incremental = (len(RELATED) + 1   # one queryAll page per object
                           + 1                # reps' responses
                           + ceil((len(changed) + len(dropped)) / 1000))  # changed cards + the ones set to Expired
    assert pulled == len(RELATED) + 1 + 1
    assert incremental <= minimum_incremental * 1.05, f"incremental: {incremental} calls, minimum {minimum_incremental}"
    assert (connector.last_push.written, connector.last_push.expired) == (len(changed), len(dropped))
    assert connector.last_push.unchanged == N - len(changed) - len(dropped)
    assert len(fake.cards()) == N  # updated in place: still one record per card

    # -- the same day again, nothing changed: nothing written ---------------------------------
    before = client.stats.calls
    sync(connector, sf_store)
    connector.push(day_recs(org["Opportunity"], "d2", changed, dropped))
    assert fake.calls["composite"] == ceil(N / 1000) + 1  # the first sync's writes and the incremental one only
    assert client.stats.calls - before == len(RELATED) + 1 + 1  # the pull only

    print(f"\nAPI calls per 1,000 opportunities: first sync {first / (N / 1000):.1f} "
          f"({first} for {N:,}); incremental with 1% changed {incremental / (N / 1000):.1f} "
          f"({incremental}: pull {pulled}, write-back {incremental - pulled})")
