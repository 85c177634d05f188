"""Thirty daily syncs of a whole run against the fake org, 1 % of the opportunities changing each day: the
Stepwise_Recommendation__c records stay flat (one per open card, plus the expired ones within the retention)."""

from __future__ import annotations

from datetime import date, timedelta

from stepwise.engine.catalog import load_catalog
from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import build_org
from stepwise.workers.pipeline import run_pipeline

OPPORTUNITIES = 300
RETENTION = 7
STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review")


def test_thirty_daily_syncs_keep_the_object_flat(fake, client, sf_store, tmp_path):
    org = build_org(fake, OPPORTUNITIES, tasks=OPPORTUNITIES // 2)
    connector = SalesforceConnector(client, mirror_dir=tmp_path / "mirror", write_backoff=0, store=sf_store,
                                    retention_days=RETENTION)
    catalog = load_catalog()
    start = date(2026, 3, 2)
    counts, open_cards, expired_by_day = [], [], {}
    for n in range(30):
        day = start + timedelta(days=n)
        fake.clock = f"{day.isoformat()}T06:00:00.000+0000"
        if n:  # 1 % of the opportunities change overnight: a stage moves, an amount is revised
            for i, opp in enumerate(org["Opportunity"][n % 100::100]):
                fake.touch(opp, f"{day.isoformat()}T05:00:00.000+0000", StageName=STAGES[(n + i) % len(STAGES)],
                           Amount=float(opp["Amount"]) * (1.1 if n % 2 else 0.9))
        result = run_pipeline(connector, catalog, day.isoformat(), sf_store)
        records = fake.cards()
        current = {r.card_key for r in result.recommendations}
        shown = {r["Stepwise_Id__c"] for r in records if r["Status__c"] != "Expired"}
        expired = [r for r in records if r["Status__c"] == "Expired"]
        assert shown == current, f"day {n + 1}: the org's open cards are not the run's"
        expired_by_day[day] = connector.last_push.expired
        recent = sum(v for d, v in expired_by_day.items() if (day - d).days < RETENTION)
        assert len(expired) <= recent, f"day {n + 1}: {len(expired)} expired records, {recent} expired within retention"
        counts.append(len(records))
        open_cards.append(len(current))
    assert max(counts) <= max(open_cards) + max(sum(v for d, v in expired_by_day.items() if 0 <= (e - d).days < RETENTION)
                                                for e in expired_by_day)
    # Not growing with the days: what is not an open card is the expiries of the last RETENTION days only.
    leftover = [c - o for c, o in zip(counts, open_cards)]
    print(f"\nopen cards by day: {open_cards}\nexpired records by day: {leftover}\n"
          f"cards expired over the 30 days: {sum(expired_by_day.values())}")
    # One record per card per day would hold the sum of every day's cards by now (about 30 × the open cards).
    assert max(counts) < 2 * max(open_cards) < sum(open_cards) / 10, f"records by day: {counts}"
    retired_long_ago = sum(v for d, v in expired_by_day.items() if (start + timedelta(days=29) - d).days >= RETENTION)
    assert 0 < len(fake.deleted_ids) <= retired_long_ago  # expiries past the retention (less the cards that came back)
    assert len(set(fake.deleted_ids)) == len(fake.deleted_ids) > 0
    print(f"\nStepwise_Recommendation__c records over 30 days (1 % of {OPPORTUNITIES} opportunities changing daily, "
          f"retention {RETENTION} days): {counts}; open cards {open_cards[0]}..{open_cards[-1]}")
