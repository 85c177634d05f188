"""What the HubSpot connector remembers between syncs, in its own tables on the store's database.

- `hubspot_rows`: the canonical raw rows built from the portal (deals, accounts,
  contacts, activities, order lines, products, and the mapped orders/invoices/stock/contracts).  An incremental sync re-reads only what changed and the
  engine still sees the whole portal, so this is what makes 1 % changed cost ~1 % of the calls.
- `hubspot_written`: a hash of what we last wrote onto each deal, so an unchanged
  recommendation is not written again (and its echo is recognised on the next pull).
- `hubspot_tasks`: tasks created on Accept, keyed by recommendation id, recorded before
  the rep's response is acknowledged so a retry never creates a second task.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Engine, Index, MetaData, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

metadata = MetaData()

rows = Table(
    "hubspot_rows", metadata,
    Column("account", String(64), primary_key=True),
    Column("tbl", String(32), primary_key=True),
    Column("row_id", String(200), primary_key=True),
    Column("deal_id", String(200)),      # the deal whose context this row came with (activities)
    Column("fingerprint", String(64)),   # deals: the hash of the properties we read
    Column("data", JSON, nullable=False),
    # deal_id first: with (account, tbl, …) PostgreSQL, planning on stale statistics right after a
    # big load, picked this index for `row_id IN (…)` lookups and scanned the whole table each time.
    Index("ix_hubspot_rows_by_deal", "deal_id", "account", "tbl"),
)

written = Table(
    "hubspot_written", metadata,
    Column("account", String(64), primary_key=True),
    Column("deal_id", String(200), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False),
)

tasks = Table(
    "hubspot_tasks", metadata,
    Column("recommendation_id", String(64), primary_key=True),
    Column("account", String(64), nullable=False),
    Column("deal_id", String(200), nullable=False),
    Column("task_id", String(64)),  # null between "about to create" and "created"
    Column("created_at", DateTime(timezone=True), nullable=False),
)

_BATCH = 500


def _dialect(engine: Engine):
    return postgresql if engine.dialect.name == "postgresql" else sqlite


class HubSpotState:
    def __init__(self, engine: Engine, account: str):
        self.engine, self.account = engine, account
        self._ready = False
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    metadata.create_all(self.engine)
                    self._ready = True

    # -- rows -----------------------------------------------------------------------------

    def fingerprints(self, deal_ids: Iterable[str]) -> dict[str, str]:
        self._ensure()
        ids, out = list(deal_ids), {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _BATCH):
                chunk = ids[start:start + _BATCH]
                out.update(conn.execute(
                    select(rows.c.row_id, rows.c.fingerprint)
                    .where(rows.c.account == self.account, rows.c.tbl == "deals", rows.c.row_id.in_(chunk))
                ).all())
        return out

    def put(self, table: str, items: list[tuple[str, dict[str, Any], str | None, str | None]]) -> None:
        """Upsert (row_id, data, deal_id, fingerprint) rows of one table."""
        self._ensure()
        if not items:
            return
        latest = {row_id: (data, deal_id, fp) for row_id, data, deal_id, fp in items}
        keys = list(latest)
        # INSERT … ON CONFLICT by the primary key: one statement per batch, no lookup to plan.  (A
        # DELETE … IN per batch on a table filled in the same transaction ran on PostgreSQL with a
        # plan made while the table was empty — a scan per batch — and stalled a 100k sync.)
        stmt = _dialect(self.engine).insert(rows)
        stmt = stmt.on_conflict_do_update(index_elements=[rows.c.account, rows.c.tbl, rows.c.row_id],
                                          set_={c: stmt.excluded[c] for c in ("deal_id", "fingerprint", "data")})
        with self.engine.begin() as conn:
            for start in range(0, len(keys), _BATCH):
                conn.execute(stmt, [
                    {"account": self.account, "tbl": table, "row_id": k, "data": latest[k][0],
                     "deal_id": latest[k][1], "fingerprint": latest[k][2]} for k in keys[start:start + _BATCH]
                ])

    def drop_deal_context(self, table: str, deal_ids: Iterable[str]) -> None:
        """Forget the rows that came with these deals (their activities are about to be re-read)."""
        self._ensure()
        ids = list(deal_ids)
        with self.engine.begin() as conn:
            for start in range(0, len(ids), _BATCH):
                conn.execute(delete(rows).where(rows.c.account == self.account, rows.c.tbl == table,
                                                rows.c.deal_id.in_(ids[start:start + _BATCH])))

    def remove(self, table: str, row_ids: Iterable[str]) -> None:
        self._ensure()
        ids = list(row_ids)
        with self.engine.begin() as conn:
            for start in range(0, len(ids), _BATCH):
                conn.execute(delete(rows).where(rows.c.account == self.account, rows.c.tbl == table,
                                                rows.c.row_id.in_(ids[start:start + _BATCH])))

    def all_rows(self, table: str) -> list[dict[str, Any]]:
        self._ensure()
        with self.engine.connect() as conn:
            return [r for (r,) in conn.execute(
                select(rows.c.data).where(rows.c.account == self.account, rows.c.tbl == table).order_by(rows.c.row_id)
            )]

    def rows_by_id(self, table: str, row_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._ensure()
        ids, out = list(row_ids), {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _BATCH):
                out.update(conn.execute(
                    select(rows.c.row_id, rows.c.data).where(rows.c.account == self.account, rows.c.tbl == table,
                                                             rows.c.row_id.in_(ids[start:start + _BATCH]))
                ).all())
        return out

    def row_ids(self, table: str) -> set[str]:
        self._ensure()
        with self.engine.connect() as conn:
            return set(conn.execute(
                select(rows.c.row_id).where(rows.c.account == self.account, rows.c.tbl == table)
            ).scalars())

    def clear(self) -> None:
        """A full sync starts from nothing: rows deleted in HubSpot must not linger here."""
        self._ensure()
        with self.engine.begin() as conn:
            conn.execute(delete(rows).where(rows.c.account == self.account))

    # -- write-back hashes --------------------------------------------------------------------

    def written_hashes(self) -> dict[str, str]:
        self._ensure()
        with self.engine.connect() as conn:
            return dict(conn.execute(
                select(written.c.deal_id, written.c.hash).where(written.c.account == self.account)
            ).all())

    def remember_written(self, hashes: dict[str, str]) -> None:
        self._ensure()
        if not hashes:
            return
        now, keys = datetime.now(UTC), list(hashes)
        stmt = _dialect(self.engine).insert(written)
        stmt = stmt.on_conflict_do_update(index_elements=[written.c.account, written.c.deal_id],
                                          set_={"hash": stmt.excluded.hash, "written_at": stmt.excluded.written_at})
        with self.engine.begin() as conn:
            for start in range(0, len(keys), _BATCH):
                conn.execute(stmt, [{"account": self.account, "deal_id": k, "hash": hashes[k], "written_at": now}
                                    for k in keys[start:start + _BATCH]])

    # -- tasks created on Accept ----------------------------------------------------------------

    def task_for(self, recommendation_id: str) -> tuple[bool, str | None]:
        """(known, task_id): known with no id means a create may have happened before a crash."""
        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(select(tasks.c.task_id).where(tasks.c.recommendation_id == recommendation_id)).first()
        return (False, None) if row is None else (True, row.task_id)

    def reserve_task(self, recommendation_id: str, deal_id: str) -> None:
        self._ensure()
        with self.engine.begin() as conn:
            conn.execute(tasks.insert().values(recommendation_id=recommendation_id, account=self.account,
                                               deal_id=deal_id, task_id=None, created_at=datetime.now(UTC)))

    def record_task(self, recommendation_id: str, task_id: str) -> None:
        self._ensure()
        with self.engine.begin() as conn:
            conn.execute(tasks.update().where(tasks.c.recommendation_id == recommendation_id)
                         .values(task_id=task_id))
