"""A believable sample company for demos, tests and benchmarks.

"Example Medtech" distributes medical and industrial equipment, consumables and
spare parts, and sells inventory software and services next to them.  Its ERP
knows orders, invoices, products, stock and framework contracts; its CRM knows
accounts, contacts, a pipeline of deals, leads, the activity log and a content
library.  `generate_company` returns all twelve canonical tables (see
`stepwise.engine.records.TABLES`) as string frames, exactly as a CSV export
would hold them, and `write_company` writes them as one `<table>.csv` each.

The data is random but deliberately holds the situations the engine must act
on, each computable from the tables alone relative to the as-of day:

- recurring order cadences: most accounts on rhythm, some due now, some whose
  rhythm broke (churn risk); "Alfa Distribution SRL" (ACC-0001) orders every
  35-45 days, last 38 days ago, pays on time, has a contract with a 5% discount
  cap and no extended terms, and has never bought a product compatible with
  its main one;
- an order history as hard as real B2B wholesale data (see
  bench/sample_realism.py): days between orders as noisy as a real
  distributor's (per-account coefficient of variation around 0.65: a
  moderately regular rhythm of main orders plus top-up orders a few days
  after some of them), about fifteen products per order from a
  catalogue of some 560 (the named families plus product lines of variants and
  pack sizes), and only about 31% of lines re-buying a product the account
  bought before.  It is learnable, not noise: each account re-buys a core
  basket with its own propensities and works through the rest of the
  catalogue in the order of its industry's favourite lines, a line's products
  together, the products everyone buys most first;
- overdue invoices (over and under 30 days), stock-outs with in-stock
  substitutes, low-margin products, enterprise-only products, contracts up for
  renewal within 60 days;
- open deals that are stuck in stage, slipped past their close date, have an
  unanswered quote, a demo without follow-up, declining engagement, no touch
  in over a week, or only a champion engaged; activity text mentioning budget,
  competitors, timelines, pricing, discounts, security, integration, pilots,
  legal review, executive sign-off, objections and pain, sometimes negated;
- leads with web visits, among them one with six visits to cloud-migration
  pages in the last week and several with pricing visits and a demo request;
- deal outcomes a win model can learn, but not read off: each deal has a
  hidden health (part the account relationship, part the deal) that shows,
  with noise, in its activity before the close — more of the buyer's side
  writing in, the economic buyer reached rather than the champion alone,
  demos held, fewer concerns left open — and a closed deal is won with a
  probability rising with that health, falling with a competitor in play and a
  deal large for its segment, higher for ordering customers; lost deals drag on
  longer.  About 45% of closed deals are won.

Everything is drawn from `numpy.random.default_rng(seed)` (and, for deal
health and its traces and for the catalogue's long tail, two more streams from
the same seed) in a fixed order, so
the same (as_of, accounts, seed) gives byte-identical CSVs.  Rows are built as
whole columns (no Python loop per deal, activity or order line) so 20,000
accounts, about two million activities and four million order lines, take
seconds rather than hours.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from stepwise.engine.records import TABLES, as_utc
from stepwise.sample.crm import activities, contact_people, contacts, content, deals, leads
from stepwise.sample.erp import accounts_table, contracts, invoices, orders_tables, products_tables
from stepwise.sample.vocabulary import DAY
from stepwise.sample.world import World

__all__ = ["generate_company", "write_company"]


def generate_company(as_of: date | str | pd.Timestamp, accounts: int = 300, seed: int = 7) -> dict[str, pd.DataFrame]:
    """All twelve canonical tables of the sample company as of a day, as CSV-ready string frames.

    Every event lies before the as-of day (00:00 UTC); only open deals' close
    dates, contract ends and invoice due dates may lie after it.
    """
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    day = as_utc(pd.Timestamp(as_of)).normalize()
    now = int(day.value // 10**9)
    w = World(rng=np.random.default_rng(seed), now=now, today=now // DAY, n=int(accounts), year=day.year,
               signal=np.random.default_rng([seed, 1]), tail=np.random.default_rng([seed, 2]))
    tables: dict[str, pd.DataFrame] = {}
    tables["products"], tables["stock"] = products_tables(w)
    tables["accounts"] = accounts_table(w)
    tables["contracts"] = contracts(w)
    tables["orders"], tables["order_lines"] = orders_tables(w)
    tables["invoices"] = invoices(w)
    contact_people(w)
    tables["deals"] = deals(w)
    tables["leads"] = leads(w)
    tables["activities"], last_engaged = activities(w)
    tables["contacts"] = contacts(w, last_engaged)
    tables["content"] = content(w)
    return {name: tables[name] for name in TABLES}


def write_company(directory: Path | str, as_of: date | str | pd.Timestamp, accounts: int = 300,
                  seed: int = 7) -> dict[str, int]:
    """Write one `<table>.csv` per canonical table into `directory`; return the row counts."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in generate_company(as_of, accounts, seed).items():
        frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
        counts[name] = len(frame)
    return counts
