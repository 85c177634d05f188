"""Writing recommendations (the bulk upsert of a run, deal → account links) and expiring them.

The upsert is dialect-specific INSERT … ON CONFLICT in batches (SQLAlchemy Core, not the ORM): a run
writes 100k+ rows, which wants batched statements, not unit-of-work objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from stepwise.engine.recommendation import Recommendation
from stepwise.store.database import Database
from stepwise.store.engine import dialect_insert
from stepwise.store.schema import deal_accounts, recommendations
from stepwise.store.values import day, now

BATCH_SIZE = 1000

# Columns refreshed when a recommendation is upserted again; status, status_reason and
# snooze_until are deliberately absent so a re-run never undoes a rep's accept/dismiss/snooze.
_REFRESHED = (
    "run_id", "record_type", "record_id", "deal_id", "account_id", "lead_id", "action_id",
    "category", "score", "urgency", "rank", "as_of", "updated_at", "payload",
)


class RecommendationsMixin(Database):
    def upsert_recommendations(self, run_id: str, recs: Iterable[Recommendation]) -> int:
        """Insert or refresh by stable id; returns the number of distinct rows written."""
        stmt = dialect_insert(self.engine, recommendations)
        stmt = stmt.on_conflict_do_update(
            index_elements=[recommendations.c.id],
            set_={name: stmt.excluded[name] for name in _REFRESHED},
        )
        written = 0
        links: dict[tuple[str, str], str] = {}
        at = now()
        with self._begin() as conn:
            for batch in _batched(recs, BATCH_SIZE):
                # One id twice in a batch would make PostgreSQL refuse a multi-row upsert.
                rows = {r.id: _row(run_id, r, at) for r in batch}
                for r in batch:
                    if r.record_type == "deal" and r.deal_id and r.account_id:
                        links[(r.source, r.deal_id)] = r.account_id
                conn.execute(stmt, list(rows.values()))
                written += len(rows)
            self._upsert_links(conn, links)
        return written

    def upsert_deal_links(self, source: str, pairs: Iterable[tuple[str, str]]) -> int:
        """Remember which account each deal belongs to (for account-level cards on a deal)."""
        links = {(source, deal_id): account_id for deal_id, account_id in pairs}
        with self._begin() as conn:
            self._upsert_links(conn, links)
        return len(links)

    def _upsert_links(self, conn: Connection, links: dict[tuple[str, str], str]) -> None:
        if not links:
            return
        stmt = dialect_insert(self.engine, deal_accounts)
        stmt = stmt.on_conflict_do_update(
            index_elements=[deal_accounts.c.source, deal_accounts.c.deal_id],
            set_={"account_id": stmt.excluded.account_id},
        )
        rows = [{"source": s, "deal_id": d, "account_id": a} for (s, d), a in links.items()]
        for start in range(0, len(rows), BATCH_SIZE):
            conn.execute(stmt, rows[start:start + BATCH_SIZE])

    def expire_stale(self, source: str, as_of: str | date, keep_ids: set[str]) -> int:
        cutoff = day(as_of)
        t = recommendations
        with self._begin() as conn:
            # Filter keep_ids in Python: a NOT IN with 100k parameters breaks SQLite's limit.
            candidates = conn.execute(
                select(t.c.id).where(t.c.source == source, t.c.as_of < cutoff, t.c.status.in_(("new", "snoozed")))
            ).scalars().all()
            stale = [i for i in candidates if i not in keep_ids]
            at = now()
            for start in range(0, len(stale), BATCH_SIZE):
                conn.execute(
                    update(t).where(t.c.id.in_(stale[start:start + BATCH_SIZE]))
                    .values(status="expired", updated_at=at)
                )
        return len(stale)

    def expire_deleted(self, source: str, deleted: dict[str, Iterable[str]]) -> int:
        """Expire the open recommendations of records the CRM deleted, now rather than at tomorrow's run.

        `deleted` maps a recommendation column (deal_id, account_id, lead_id) to the deleted ids."""
        t = recommendations
        matches = [t.c[column].in_(ids[i:i + 500])
                   for column, values in deleted.items()
                   for ids in [sorted(set(values))]
                   for i in range(0, len(ids), 500)]
        if not matches:
            return 0
        with self._begin() as conn:
            expired = conn.execute(
                update(t).where(t.c.source == source, t.c.status.in_(("new", "snoozed")), or_(*matches))
                .values(status="expired", updated_at=now())
            ).rowcount
        return int(expired or 0)

    def recommendations_of_run(self, run_id: str) -> list[Recommendation]:
        """Every recommendation a run wrote (a fanned-out run's write-back reads them back)."""
        t = recommendations
        with self._connect() as conn:
            rows = conn.execute(select(t.c.payload, t.c.status).where(t.c.run_id == run_id)).all()
        return [_rec(payload, status) for payload, status in rows]

    def get_recommendation(self, rec_id: str) -> Recommendation | None:
        t = recommendations
        with self._connect() as conn:
            row = conn.execute(select(t.c.payload, t.c.status).where(t.c.id == rec_id)).first()
        return None if row is None else _rec(row.payload, row.status)


def stored_payload(payload: dict[str, Any] | str) -> dict[str, Any]:
    """The payload column as a dict: PostgreSQL's driver decodes JSONB, raw SQLite reads return the text."""
    return json.loads(payload) if isinstance(payload, str) else payload


def _rec(payload: dict[str, Any] | str, status: str) -> Recommendation:
    return replace(Recommendation.from_dict(stored_payload(payload)), status=status)


def _batched(items: Iterable[Recommendation], size: int) -> Iterator[list[Recommendation]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _row(run_id: str, rec: Recommendation, at: datetime) -> dict[str, Any]:
    return {
        "id": rec.id, "run_id": run_id, "source": rec.source, "record_type": rec.record_type,
        "record_id": rec.record_id, "deal_id": rec.deal_id, "account_id": rec.account_id, "lead_id": rec.lead_id,
        "action_id": rec.action_id, "category": rec.category, "score": float(rec.score), "urgency": rec.urgency,
        "rank": int(rec.rank), "as_of": day(rec.as_of), "status": rec.status or "new",
        "status_reason": None, "snooze_until": None, "updated_at": at, "payload": rec.to_dict(),
    }
