"""CRM API calls of a sync against the minimum the APIs allow, Salesforce and HubSpot, at scale.

For each CRM and each size N, four syncs (pull + write-back, one recommendation per deal):
  first     the first (full) sync;
  incr      the next day, 1 % of the records changed (their deals' advice with them);
  same-day  again the same day, nothing changed;
  next-day  the day after, nothing changed in the CRM (the same advice: only what the engine's own
            day-to-day drift changes would be written, see BENCHMARKS.md).
Calls are counted at the HTTP layer by the fakes the connectors' counting tests use
(tests/integration/salesforce/stepwise.integration.salesforce.fake.py through `responses`; tests/integration/hubspot/
stepwise.integration.hubspot.fake.py behind a local pytest-httpserver) and checked against the connector's own count.

Minimum (the counting tests' formulas; ⌈x⌉⁺ = max(1, ⌈x⌉): an empty read still costs its one call):

Salesforce, first sync (N opportunities, related objects scaled from the 10k test: accounts and
contacts N/5, tasks 0.4 N, events and leads N/10):
    Σ over mapped objects ⌈rows/2000⌉⁺ query pages (contact roles and line items ride in the
    Opportunity query) + 1 describeGlobal + 1 reps' responses + 1 read of the Stepwise object (the
    store knows no card of this org yet; empty) + ⌈N/1000⌉ composite writes (5 collections × 200).  An object over the connector's bulk threshold (50,000
    rows) is read by Bulk API 2.0 instead: 1 REST probe page + per job (the object and each child
    relationship) 1 create + 2 state reads (the fake answers InProgress once) + ⌈rows/50,000⌉⁺
    result pages (at 100,000: the opportunities and their contact roles).
Salesforce, incremental (1 % of opportunities, accounts, contacts and tasks changed; the changed
opportunities' cards get new advice, the others the same):
    Σ over mapped objects ⌈changed/2000⌉⁺ queryAll pages (changes and deletions in one call; the
    describeGlobal is remembered) + 1 reps' responses + ⌈changed cards/1000⌉ composite writes: one
    record per card updated in place, only the changed ones sent (a hash per card in the store).
    Same-day and next-day: the pages and the responses, no write.
HubSpot, first sync (N deals, C = N/5 companies, K = N contacts, E = N/5 engagements of each of the
5 types, L = N line items, P = 50 products, W = N writes):
    1 pipelines + ⌈N/200⌉ + ⌈C/200⌉ search pages + 8·⌈N/1000⌉ association reads + ⌈K/100⌉
    + 5·⌈E/100⌉ + ⌈L/100⌉ batch reads + ⌈P/200⌉⁺ product search + ⌈W/100⌉ batch updates.
HubSpot, incremental (1 % of deals changed, X; S = deals the change search must return: X plus the
echo of the previous write-back, which HubSpot stamps as a modification):
    1 pipelines + ⌈S/200⌉⁺ deal search + 1 company, 1 product, 1 contact change search (none changed)
    + 1 archived list + (X > 0) 8·⌈X/1000⌉ association reads + ⌈K_X/100⌉ + Σ_type ⌈E_X/100⌉
    + ⌈L_X/100⌉ batch reads of the changed deals' context + ⌈W/100⌉ batch updates.  "incr-echo" is the first one after
    the full write-back (S ≈ N), "incr" the steady state (S = X + the deals written the day before);
    "same-day" and "next-day" change nothing (S = the echo of the last write-back, which stays inside the
    search's overlap window until a later change moves the cursor past it; no update).
The HubSpot search stops at 10,000 results; past that the connector restarts from the last
timestamp seen (one overlapping record per restart): the formula does not count that overlap.

Rate limiters: the connectors' token buckets are real but set to 1,000,000 calls/s (HubSpot's search
bucket too), so throttling does not dominate the seconds: in Redis (the workers' shared bucket,
one Lua call per API call) when --redis-url answers (default redis://127.0.0.1:6379/15),
in memory otherwise.  Retries and Bulk API polls do not sleep.

seconds: the wall time of the phase's pull and write-back, the fake's own work included (the
Salesforce fake answers in the same thread, the HubSpot one in a server thread of this process);
building the org and the recommendations is not timed.  Calls and minimum are the figures; seconds
only say the run is practical (about 4 minutes for 10,000 and 100,000 on the 2-core machine).

Usage: python bench/crm_calls.py [--sizes 10000 100000] [--crm salesforce hubspot]
(the Salesforce "Stepwise_Recommendation__c records" line after each size says how many records the
org holds after the four syncs: one per card, not one per card per day).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from math import ceil
from pathlib import Path
from typing import Any

import redis
import responses
from pytest_httpserver import HTTPServer

from stepwise.integration.http import limiter_for
from stepwise.integration.hubspot.client import HubSpotClient, Limits, StaticToken
from stepwise.integration.hubspot.connector import HubSpotConnector
from stepwise.integration.hubspot.fake import ENGAGEMENTS, TOKEN, FakeHubSpot, make_rec
from stepwise.integration.hubspot.fake import minimum_calls as hubspot_first_minimum
from stepwise.integration.salesforce.client import connect
from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import FAST, FakeSalesforce, _moment, build_org, session_settings
from stepwise.integration.salesforce.fake import make_rec as sf_rec
from stepwise.store import HubSpotState, Store
from stepwise.workers.intake import keep_cursors, take_in

ROOT = Path(__file__).resolve().parents[1]

TARGET = 1.05
UNTHROTTLED = 1_000_000  # calls per second: far above anything this machine sends
#: related records per 10,000 opportunities, as in the Salesforce counting test
SF_RELATED = {"Account": 2_000, "Contact": 2_000, "Task": 4_000, "Event": 1_000, "Lead": 1_000}
SF_PAGE, SF_WRITE, SF_BULK_PAGE = 2000, 1000, 50_000
NOTES: list[str] = []  # printed under the table


@dataclass
class Row:
    crm: str
    size: int
    phase: str
    calls: int
    minimum: int
    seconds: float
    kinds: Counter[str]

    @property
    def ratio(self) -> float:
        return self.calls / self.minimum


def pages(rows: int, size: int) -> int:
    return max(1, ceil(rows / size))


def redis_or_none(url: str | None) -> str | None:
    if not url:
        return None
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError):
        return None
    return url


# -- Salesforce ------------------------------------------------------------------------------------


def salesforce_whole_read(connector: SalesforceConnector, fake: FakeSalesforce, sobject: str) -> int:
    """The fewest calls to read a whole object the way the connector reads it: REST pages, or over its
    bulk threshold the REST probe page and one Bulk API 2.0 job for the object and each child relationship."""
    obj = next(o for o in connector.mapping.objects if o.sobject == sobject)
    rows = sum(1 for r in fake.records.get(sobject, []) if not r.get("IsDeleted"))
    if connector._bulk_allowed(obj) and rows > connector.bulk_threshold:
        children = [sum(map(len, fake.children.get(c.relationship, {}).values())) for c in obj.children]
        return 1 + sum(1 + (fake.bulk_polls + 1) + pages(k, SF_BULK_PAGE) for k in [rows, *children])
    return pages(rows, SF_PAGE)


def bench_salesforce(n: int, redis_url: str | None, workdir: Path) -> list[Row]:
    out: list[Row] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeSalesforce(rsps)
        related = {k: max(1, round(v * n / 10_000)) for k, v in SF_RELATED.items()}
        org = build_org(fake, n, accounts=related["Account"], tasks=related["Task"], events=related["Event"],
                        leads=related["Lead"])
        limiter = limiter_for(f"salesforce:bench-{uuid.uuid4().hex[:8]}", UNTHROTTLED, 1.0, redis_url)
        client = connect(session_settings(), limiter=limiter, policy=FAST)
        store = Store(f"sqlite:///{workdir / 'salesforce.db'}")
        connector = SalesforceConnector(client, mirror_dir=workdir / "mirror", write_backoff=0, store=store)
        mapped = [o.sobject for o in connector.mapping.objects if o.sobject not in fake.missing]
        opportunities = org["Opportunity"]

        def phase(name: str, minimum: int, day: int, advice_changed: set[int], writes: int) -> None:
            # each day's recommendations, made before the clock starts (not the sync's work)
            recs = [sf_rec(f"rec_d{day}_{i:06d}", o["Id"], as_of=f"2026-03-{day:02d}",
                           **({"urgency": "LOW"} if i in advice_changed else {})) for i, o in enumerate(opportunities)]
            calls, kinds, started = client.stats.calls, Counter(client.stats.by_kind), time.perf_counter()
            fake_before = fake.calls["total"]
            pulled = take_in(connector, store)
            data = pulled.data
            assert len(data.deals) == n, (len(data.deals), n)
            connector.push(recs, as_of=f"2026-03-{day:02d}")
            keep_cursors(connector, store, pulled)
            seconds = time.perf_counter() - started
            assert connector.last_push.written == writes and not connector.last_push.failed, connector.last_push
            used = client.stats.calls - calls
            assert used == fake.calls["total"] - fake_before, "the connector's count and the org's disagree"
            out.append(Row("salesforce", n, name, used, minimum, seconds, Counter(client.stats.by_kind) - kinds))

        reads = sum(salesforce_whole_read(connector, fake, s) for s in mapped)
        phase("first", reads + 1 + 1 + 1 + ceil(n / SF_WRITE), 1, set(), n)

        # A day later, 1 % of opportunities (and of accounts, contacts, tasks) changed.  The stamp is
        # after every record's creation stamp (which grow a minute per record id).
        newest = max(_moment(r["SystemModstamp"]) for rows in fake.records.values() for r in rows)
        stamp = (newest + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        changed: Counter[str] = Counter()
        for sobject in ("Opportunity", "Account", "Contact", "Task"):
            for record in org[sobject][::100]:
                fake.touch(record, stamp, **({"StageName": "Negotiation/Review"} if sobject == "Opportunity" else {}))
                changed[sobject] += 1
        advice = set(range(0, n, 100))
        phase("incr", sum(pages(changed[s], SF_PAGE) for s in mapped) + 1 + ceil(len(advice) / SF_WRITE),
              2, advice, len(advice))
        assert connector.last_sync.mode == "incremental" and connector.last_push.unchanged == n - len(advice)
        quiet = len(mapped) + 1  # one queryAll page per object (nothing changed) + the reps' responses
        phase("same-day", quiet, 2, advice, 0)
        phase("next-day", quiet, 3, advice, 0)
        records = len(fake.cards())
        assert records == n, records  # one record per card, whatever the days
        NOTES.append(f"salesforce {n:,} opportunities: {records:,} Stepwise_Recommendation__c records after the four "
                     f"syncs (one per card; one per card per day before: {3 * n:,} and growing)")
        store.close()
    return out


# -- HubSpot ---------------------------------------------------------------------------------------


class QuietServer(HTTPServer):
    """pytest-httpserver without its log of every request and response (gigabytes at 100,000 deals)."""

    def application(self, request: Any) -> Any:
        request.get_data()
        return self.dispatch(request)


def hubspot_incremental_minimum(fake: FakeHubSpot, searched: int, changed: set[str], writes: int) -> int:
    def linked(to: str) -> int:
        table = fake.links.get(("deals", to), {})
        return len({t for d in changed for t, _ in table.get(d, [])})

    context = 0
    if changed:
        context = (8 * ceil(len(changed) / 1000) + ceil(linked("contacts") / 100)
                   + sum(ceil(linked(kind) / 100) for kind in ENGAGEMENTS) + ceil(linked("line_items") / 100))
    return 1 + pages(searched, 200) + 1 + 1 + 1 + 1 + context + ceil(writes / 100)


def bench_hubspot(n: int, redis_url: str | None, workdir: Path) -> list[Row]:
    out: list[Row] = []
    server = QuietServer(host="127.0.0.1", port=0)
    server.start()
    try:
        fake = FakeHubSpot()
        server.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
        base_url = server.url_for("").rstrip("/")
        fake.populate(n, deals_per_company=5, contacts_per_deal=1, engagements_per_deal=1, engagements_every=5,
                      line_items_per_deal=1, products=50)
        limits = Limits(general=(UNTHROTTLED, 1.0), search=(UNTHROTTLED, 1.0))
        client = HubSpotClient(StaticToken(TOKEN), base_url, limits=limits, redis_url=redis_url,
                               account=f"bench-{uuid.uuid4().hex[:8]}", max_wait=0.05, backoff=0.01)
        store = Store(f"sqlite:///{workdir / 'hubspot.db'}")
        deals = sorted(fake.objects["deals"], key=int)

        def phase(name: str, minimum: int, scores: dict[str, float]) -> Any:
            recs = [make_rec(d, score=scores.get(d, 80.0)) for d in deals]  # before the clock starts
            requests, calls, started = client.requests, Counter(client.calls), time.perf_counter()
            fake_before = fake.total()
            connector = HubSpotConnector(client, HubSpotState(store.engine, "private"))
            pulled = take_in(connector, store)
            keep_cursors(connector, store, pulled)
            data = pulled.data
            assert len(data.deals) == n, (len(data.deals), n)
            pushed = connector.push(recs)
            seconds = time.perf_counter() - started
            assert not pushed.failed
            used = client.requests - requests
            assert used == fake.total() - fake_before, "the client's count and the portal's disagree"
            kinds: Counter[str] = Counter()
            for label, k in (Counter(client.calls) - calls).items():
                kinds[label.split(":")[0]] += k
            out.append(Row("hubspot", n, name, used, minimum, seconds, kinds))
            return connector, pushed

        _, pushed = phase("first", hubspot_first_minimum(n, n // 5, n, n // 5, n, 50, n), {})
        assert pushed.written == n
        echo: set[str] = set(deals)   # deals our last write-back touched (HubSpot stamps them modified)
        rescored: set[str] = set()     # deals whose advice differed from the usual one in the last write-back
        for offset, name in ((0, "incr-echo"), (50, "incr")):
            fake.now_ms += 3_600_000  # an hour later
            touched = set(deals[offset::100])
            for deal in touched:
                fake.touch("deals", deal, amount=str(7 + int(deal)))
            # the changed deals score differently: their advice is written, and yesterday's changed back
            writes = touched | rescored
            connector, pushed = phase(name, hubspot_incremental_minimum(fake, len(touched | echo), touched, len(writes)),
                                      dict.fromkeys(touched, 61.0))
            assert connector.last_sync.counts["changed"] == len(touched) and pushed.written == len(writes), connector.last_sync
            echo, rescored = writes, touched
        for name in ("same-day", "next-day"):  # nothing changed: the advice stays what it was
            fake.now_ms += 3_600_000 if name == "same-day" else 86_400_000
            connector, pushed = phase(name, hubspot_incremental_minimum(fake, len(echo), set(), 0),
                                      dict.fromkeys(rescored, 61.0))
            # The last write-back's echo stays inside the search's overlap window until a later change moves the
            # cursor past it, so a quiet portal re-reads (and recognises) it on every sync: ⌈echo/200⌉ search pages.
            assert connector.last_sync.counts["changed"] == 0 and pushed.written == 0, connector.last_sync
        store.close()
    finally:
        server.stop()
    return out


# -- the table -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--crm", nargs="+", choices=("salesforce", "hubspot"), default=["salesforce", "hubspot"])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15",
                        help="the limiters' Redis (empty: in memory); in memory when it does not answer")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake portal's server: no line per request
    redis_url = redis_or_none(args.redis_url)
    print(f"limiters: {UNTHROTTLED:,} calls/s, {'Redis ' + redis_url if redis_url else 'in memory'}")
    header = f"{'crm':<10} {'size':>7} {'phase':<9} {'calls':>6} {'minimum':>7} {'ratio':>6} {'seconds':>7}  calls by kind"
    print(header, flush=True)
    rows: list[Row] = []
    for crm in args.crm:
        for n in args.sizes:
            with tempfile.TemporaryDirectory(prefix="crm_calls_") as tmp:
                bench = bench_salesforce if crm == "salesforce" else bench_hubspot
                for row in bench(n, redis_url, Path(tmp)):
                    rows.append(row)
                    kinds = ", ".join(f"{k} {v}" for k, v in sorted(row.kinds.items()))
                    print(f"{row.crm:<10} {row.size:>7} {row.phase:<9} {row.calls:>6} {row.minimum:>7} "
                          f"{row.ratio:>6.3f} {row.seconds:>7.1f}  {kinds}", flush=True)
    for note in NOTES:
        print(note)
    worst = max(rows, key=lambda r: r.ratio)
    verdict = "met" if worst.ratio <= TARGET else "missed"
    print(f"worst ratio {worst.ratio:.3f} ({worst.crm} {worst.size} {worst.phase}); target ≤ {TARGET}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
