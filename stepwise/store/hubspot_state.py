"""What the HubSpot connector remembers between syncs, in its own tables on the store's database.

- `hubspot_rows`: the canonical raw rows built from the portal (deals, accounts,
  contacts, activities, order lines, products, and the mapped orders/invoices/stock/contracts).  An incremental sync re-reads only what changed and the
  engine still sees the whole portal, so this is what makes 1 % changed cost ~1 % of the calls.
- `hubspot_written`: a hash of what we last wrote onto each deal, so an unchanged
  recommendation is not written again (and its echo is recognised on the next pull).
- `hubspot_tasks`: tasks created on Accept, keyed by recommendation id, recorded before
  the rep's response is acknowledged so a retry never creates a second task.

The tables are in schema.py; the connector (integration/hubspot) uses them only through this class.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select

from stepwise.store.database import Database, attach
from stepwise.store.engine import dialect_insert
from stepwise.store.schema import hubspot_rows as rows
from stepwise.store.schema import hubspot_tasks as tasks
from stepwise.store.schema import hubspot_written as written

_BATCH = 500


class HubSpotState:
    def __init__(self, store: Database | Engine, account: str):
        """On the Store (or its engine), for one HubSpot account (a portal id, or "private")."""
        self._db = attach(store)
        self.engine, self.account = self._db.engine, account

    # -- rows -----------------------------------------------------------------------------

    def fingerprints(self, deal_ids: Iterable[str]) -> dict[str, str]:
        ids, out = list(deal_ids), {}
        with self._db._connect() as conn:
            for start in range(0, len(ids), _BATCH):
                chunk = ids[start:start + _BATCH]
                out.update(conn.execute(
                    select(rows.c.row_id, rows.c.fingerprint)
                    .where(rows.c.account == self.account, rows.c.tbl == "deals", rows.c.row_id.in_(chunk))
                ).all())
        return out

    def put(self, table: str, items: list[tuple[str, dict[str, Any], str | None, str | None]]) -> None:
        """Upsert (row_id, data, deal_id, fingerprint) rows of one table."""
        if not items:
            return
        latest = {row_id: (data, deal_id, fp) for row_id, data, deal_id, fp in items}
        keys = list(latest)
        # INSERT … ON CONFLICT by the primary key: one statement per batch, no lookup to plan.  (A
        # DELETE … IN per batch on a table filled in the same transaction ran on PostgreSQL with a
        # plan made while the table was empty — a scan per batch — and stalled a 100k sync.)
        stmt = dialect_insert(self.engine, rows)
        stmt = stmt.on_conflict_do_update(index_elements=[rows.c.account, rows.c.tbl, rows.c.row_id],
                                          set_={c: stmt.excluded[c] for c in ("deal_id", "fingerprint", "data")})
        with self._db._begin() as conn:
            for start in range(0, len(keys), _BATCH):
                conn.execute(stmt, [
                    {"account": self.account, "tbl": table, "row_id": k, "data": latest[k][0],
                     "deal_id": latest[k][1], "fingerprint": latest[k][2]} for k in keys[start:start + _BATCH]
                ])

    def drop_deal_context(self, table: str, deal_ids: Iterable[str]) -> None:
        """Forget the rows that came with these deals (their activities are about to be re-read)."""
        ids = list(deal_ids)
        with self._db._begin() as conn:
            for start in range(0, len(ids), _BATCH):
                conn.execute(delete(rows).where(rows.c.account == self.account, rows.c.tbl == table,
                                                rows.c.deal_id.in_(ids[start:start + _BATCH])))

    def remove(self, table: str, row_ids: Iterable[str]) -> None:
        ids = list(row_ids)
        with self._db._begin() as conn:
            for start in range(0, len(ids), _BATCH):
                conn.execute(delete(rows).where(rows.c.account == self.account, rows.c.tbl == table,
                                                rows.c.row_id.in_(ids[start:start + _BATCH])))

    def all_rows(self, table: str) -> list[dict[str, Any]]:
        with self._db._connect() as conn:
            return [r for (r,) in conn.execute(
                select(rows.c.data).where(rows.c.account == self.account, rows.c.tbl == table).order_by(rows.c.row_id)
            )]

    def rows_by_id(self, table: str, row_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids, out = list(row_ids), {}
        with self._db._connect() as conn:
            for start in range(0, len(ids), _BATCH):
                out.update(conn.execute(
                    select(rows.c.row_id, rows.c.data).where(rows.c.account == self.account, rows.c.tbl == table,
                                                             rows.c.row_id.in_(ids[start:start + _BATCH]))
                ).all())
        return out

    def row_ids(self, table: str) -> set[str]:
        with self._db._connect() as conn:
            return set(conn.execute(
                select(rows.c.row_id).where(rows.c.account == self.account, rows.c.tbl == table)
            ).scalars())

    def clear(self) -> None:
        """A full sync starts from nothing: rows deleted in HubSpot must not linger here."""
        with self._db._begin() as conn:
            conn.execute(delete(rows).where(rows.c.account == self.account))

    # -- write-back hashes --------------------------------------------------------------------

    def written_hashes(self) -> dict[str, str]:
        with self._db._connect() as conn:
            return dict(conn.execute(
                select(written.c.deal_id, written.c.hash).where(written.c.account == self.account)
            ).all())

    def remember_written(self, hashes: dict[str, str]) -> None:
        if not hashes:
            return
        now, keys = datetime.now(UTC), list(hashes)
        stmt = dialect_insert(self.engine, written)
        stmt = stmt.on_conflict_do_update(index_elements=[written.c.account, written.c.deal_id],
                                          set_={"hash": stmt.excluded.hash, "written_at": stmt.excluded.written_at})
        with self._db._begin() as conn:
            for start in range(0, len(keys), _BATCH):
                conn.execute(stmt, [{"account": self.account, "deal_id": k, "hash": hashes[k], "written_at": now}
                                    for k in keys[start:start + _BATCH]])

    # -- tasks created on Accept ----------------------------------------------------------------

    def task_for(self, recommendation_id: str) -> tuple[bool, str | None]:
        """(known, task_id): known with no id means a create may have happened before a crash."""
        with self._db._connect() as conn:
            row = conn.execute(select(tasks.c.task_id).where(tasks.c.recommendation_id == recommendation_id)).first()
        return (False, None) if row is None else (True, row.task_id)

    def reserve_task(self, recommendation_id: str, deal_id: str) -> None:
        with self._db._begin() as conn:
            conn.execute(tasks.insert().values(recommendation_id=recommendation_id, account=self.account,
                                               deal_id=deal_id, task_id=None, created_at=datetime.now(UTC)))

    def record_task(self, recommendation_id: str, task_id: str) -> None:
        with self._db._begin() as conn:
            conn.execute(tasks.update().where(tasks.c.recommendation_id == recommendation_id)
                         .values(task_id=task_id))
