"""What was alerted to the reps' Slack or Teams webhooks (workers/alerts.py), in two tables.

- `alert_log`: one row per (card, day, channel), written *before* the message is sent, so two runs,
  chunks, workers or processes finishing the same day never both send it: only the one whose insert
  (or guarded update) took the row sends.
- `alert_quota`: the alerts reserved per rep and day, taken by a guarded UPDATE (the row lock holds
  it across processes on PostgreSQL, the database lock on SQLite), so the daily cap holds too.

A crash between the reservation and the send leaves a row "reserved": once it is older than the
lease (longer than any send with its retries takes) a later run of the day takes it over and sends.
A failed send ("failed") is taken over by the next run at once.  Either costs no new quota, and
both stop after `max_attempts` sends.  So an alert is sent at least once if any run of the day
can reach the webhook, and twice only if a process dies in the instant between the webhook's
answer and the row's "sent".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Engine, and_, delete, func, or_, select, update

from stepwise.store.database import Database, attach
from stepwise.store.engine import dialect_insert
from stepwise.store.schema import alert_log as log_table
from stepwise.store.schema import alert_quota as quota

#: "new"/"retry": this caller sends it; "done": sent, in flight elsewhere or given up; "over_cap": the rep's day is full
Taken = Literal["new", "retry", "done", "over_cap"]


@dataclass(frozen=True)
class AlertKey:
    card_key: str
    day: str
    channel: str


class AlertLog:
    def __init__(self, store: Database | Engine):
        self._db = attach(store)
        self.engine = self._db.engine

    def in_memory(self) -> bool:
        """A scratch in-memory database forgets what was sent when the process ends: "once" cannot hold."""
        return self.engine.dialect.name == "sqlite" and self.engine.url.database in (None, "", ":memory:")

    def take(self, key: AlertKey, *, source: str, owner_id: str, rec_id: str, cap: int,
             lease_seconds: float = 600.0, max_attempts: int = 3) -> Taken:
        """Reserve the alert `key` for this caller (see the module docstring)."""
        now = datetime.now(UTC)
        pk = and_(log_table.c.card_key == key.card_key, log_table.c.day == key.day,
                  log_table.c.channel == key.channel)
        with self._db._begin() as conn:
            # RETURNING, not rowcount: psycopg reports no rowcount for an INSERT … ON CONFLICT here.
            inserted = conn.execute(
                dialect_insert(self.engine, log_table).on_conflict_do_nothing().returning(log_table.c.card_key),
                {"card_key": key.card_key, "day": key.day, "channel": key.channel, "source": source,
                 "owner_id": owner_id, "rec_id": rec_id, "status": "reserved", "attempts": 1,
                 "reserved_at": now, "sent_at": None, "error": None}).first()
            if inserted is None:
                stale = now - timedelta(seconds=lease_seconds)
                retaken = conn.execute(
                    update(log_table).where(pk, log_table.c.attempts < max_attempts, or_(
                        log_table.c.status == "failed",
                        and_(log_table.c.status == "reserved", log_table.c.reserved_at < stale)))
                    .values(status="reserved", attempts=log_table.c.attempts + 1, reserved_at=now)).rowcount
                return "retry" if retaken == 1 else "done"
            conn.execute(dialect_insert(self.engine, quota).on_conflict_do_nothing(),
                         {"owner_id": owner_id, "day": key.day, "reserved": 0})
            granted = conn.execute(
                update(quota).where(quota.c.owner_id == owner_id, quota.c.day == key.day, quota.c.reserved < cap)
                .values(reserved=quota.c.reserved + 1)).rowcount
            if granted != 1:
                conn.execute(delete(log_table).where(pk))  # the rep's day is full: keep no trace of this one
                return "over_cap"
            return "new"

    def sent(self, *keys: AlertKey) -> None:
        self._settle(keys, status="sent", sent_at=datetime.now(UTC), error=None)

    def failed(self, *keys: AlertKey, error: str) -> None:
        self._settle(keys, status="failed", error=error[:500])

    def _settle(self, keys: tuple[AlertKey, ...], **values: object) -> None:
        # One transaction for a message's alerts (a rep's digest).
        with self._db._begin() as conn:
            for key in keys:
                conn.execute(update(log_table).where(log_table.c.card_key == key.card_key, log_table.c.day == key.day,
                                                     log_table.c.channel == key.channel).values(**values))

    def statuses(self, day: str) -> dict[AlertKey, str]:
        """Every alert of `day` and where it stands."""
        with self._db._connect() as conn:
            rows = conn.execute(select(log_table.c.card_key, log_table.c.channel, log_table.c.status)
                                .where(log_table.c.day == day)).all()
        return {AlertKey(r.card_key, day, r.channel): r.status for r in rows}

    def reserved_on(self, day: str) -> dict[str, int]:
        """Each rep's alerts reserved on `day` (what the daily cap counts)."""
        with self._db._connect() as conn:
            return {r.owner_id: int(r.reserved) for r in conn.execute(
                select(quota.c.owner_id, quota.c.reserved).where(quota.c.day == day))}

    def reserved_for(self, owner_id: str, day: str) -> int:
        with self._db._connect() as conn:
            return int(conn.execute(select(func.coalesce(quota.c.reserved, 0))
                                    .where(quota.c.owner_id == owner_id, quota.c.day == day)).scalar() or 0)

    def forget_before(self, day: str) -> int:
        """Drop the log and the quotas of days before `day` (nothing asks about them again)."""
        with self._db._begin() as conn:
            gone = conn.execute(delete(log_table).where(log_table.c.day < day)).rowcount
            conn.execute(delete(quota).where(quota.c.day < day))
        return gone
