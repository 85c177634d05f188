"""Each rep's "Today" list (engine/today.py chooses it; the run's finish keeps it here, the API reads it).

One row per (source, day, owner, rank).  A run replaces the whole day's lists of its source at once: it
scored every record, so an owner it listed nothing for has no list that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, delete, func, select

from stepwise.engine.recommendation import Recommendation
from stepwise.engine.today import CLOSED, Listed
from stepwise.store.database import Database, attach
from stepwise.store.recommendations import stored_payload
from stepwise.store.schema import recommendations, today_lists

BATCH = 500


class TodayLists:
    def __init__(self, store: Database | Engine):
        self._db = attach(store)

    def lists(self, source: str, day: str) -> list[Listed]:
        """The day's lists as the last run kept them (empty before the day's first run)."""
        t = today_lists
        with self._db._connect() as conn:
            rows = conn.execute(select(t.c.owner_id, t.c.rank, t.c.card_key, t.c.recommendation_id, t.c.value,
                                       t.c.urgency).where(t.c.source == source, t.c.day == day)).all()
        return [Listed(*row) for row in rows]

    def closed(self, source: str, day: str) -> set[str]:
        """The day's recommendation ids the reps dismissed or snoozed (or that expired): never on a list."""
        t = recommendations
        with self._db._connect() as conn:
            return set(conn.execute(select(t.c.id).where(t.c.source == source, t.c.as_of == day,
                                                         t.c.status.in_(sorted(CLOSED)))).scalars())

    def replace(self, source: str, day: str, lists: Iterable[Listed]) -> int:
        rows = [{"source": source, "day": day, "owner_id": e.owner_id, "rank": e.rank, "card_key": e.card_key,
                 "recommendation_id": e.rec_id, "value": e.value, "urgency": e.urgency} for e in lists]
        t = today_lists
        with self._db._begin() as conn:
            conn.execute(delete(t).where(t.c.source == source, t.c.day == day))
            for start in range(0, len(rows), BATCH):
                conn.execute(t.insert(), rows[start:start + BATCH])
        return len(rows)

    def latest_day(self, sources: Iterable[str] | None) -> str | None:
        """The last day a run kept lists for these sources (None: every source); a given owner may have had
        nothing that day."""
        t = today_lists
        query = select(func.max(t.c.day))
        if sources is not None:
            query = query.where(t.c.source.in_(list(sources)))
        with self._db._connect() as conn:
            return conn.execute(query).scalar()

    def of_owner(self, owner_id: str, day: str, sources: Iterable[str] | None) -> list[Recommendation]:
        """The owner's list for the day, in rank order (then source), as the cards stand now: a card the
        rep dismissed or snoozed since the run is left out."""
        t, r = today_lists, recommendations
        query = (select(r.c.payload, r.c.status, t.c.rank)
                 .join(r, r.c.id == t.c.recommendation_id)
                 .where(t.c.owner_id == owner_id, t.c.day == day, r.c.status.not_in(sorted(CLOSED)))
                 .order_by(t.c.rank, t.c.source))
        if sources is not None:
            query = query.where(t.c.source.in_(list(sources)))
        with self._db._connect() as conn:
            rows = conn.execute(query).all()
        return [_rec(payload, status, rank) for payload, status, rank in rows]


def _rec(payload: dict[str, Any] | str, status: str, rank: int) -> Recommendation:
    data = stored_payload(payload)
    return Recommendation.from_dict({**data, "status": status, "today_rank": rank})
