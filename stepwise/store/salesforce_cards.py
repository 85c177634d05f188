"""What the Salesforce write-back knows of the org's Stepwise_Recommendation__c records, one row per card.

The org keeps one record per card (source, record, action), updated in place; this table is how the
connector knows, without reading the org back, which records exist, what each one last received (a
hash of the fields written, so an unchanged card costs no call), which recommendation it shows (a
rep's answer in Salesforce is recorded against that one) and since when it has not been recommended
(Expired records are deleted after the retention).  The table is in schema.py; the connector
(integration/salesforce) uses it only through this class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select

from stepwise.store.database import Database, attach
from stepwise.store.engine import dialect_insert
from stepwise.store.schema import feedback_events
from stepwise.store.schema import salesforce_cards as cards
from stepwise.store.values import now

_BATCH = 500


@dataclass(frozen=True)
class CardRow:
    sf_id: str | None = None
    rec_id: str | None = None
    hash: str | None = None
    retired_on: str | None = None  # ISO day; None while the card is recommended
    best_before: str | None = None  # Best_Before__c as last written (ISO day)


class SalesforceCards:
    def __init__(self, store: Database | Engine | str, org: str):
        """On the Store (or its engine, or a URL), for one org (its instance)."""
        self._db = attach(store)
        self.org = org

    def all(self) -> dict[str, CardRow]:
        with self._db._connect() as conn:
            return {key: CardRow(*row) for key, *row in conn.execute(
                select(cards.c.card_key, cards.c.sf_id, cards.c.rec_id, cards.c.hash, cards.c.retired_on,
                       cards.c.best_before).where(cards.c.org == self.org))}

    def count(self) -> int:
        with self._db._connect() as conn:
            return int(conn.execute(select(func.count()).select_from(cards).where(cards.c.org == self.org)).scalar_one())

    def save(self, rows: Mapping[str, CardRow]) -> None:
        """Upsert these cards' rows (INSERT … ON CONFLICT: one statement per batch)."""
        if not rows:
            return
        stmt = dialect_insert(self._db.engine, cards)
        stmt = stmt.on_conflict_do_update(index_elements=[cards.c.org, cards.c.card_key],
                                          set_={c: stmt.excluded[c] for c in ("sf_id", "rec_id", "hash", "retired_on",
                                                                              "best_before", "updated_at")})
        at, keys = now(), list(rows)
        with self._db._begin() as conn:
            for start in range(0, len(keys), _BATCH):
                conn.execute(stmt, [{"org": self.org, "card_key": k, "sf_id": rows[k].sf_id, "rec_id": rows[k].rec_id,
                                     "hash": rows[k].hash, "retired_on": rows[k].retired_on,
                                     "best_before": rows[k].best_before, "updated_at": at}
                                    for k in keys[start:start + _BATCH]])

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the rows of records that are gone from the org."""
        ids = list(keys)
        with self._db._begin() as conn:
            for start in range(0, len(ids), _BATCH):
                conn.execute(delete(cards).where(cards.c.org == self.org, cards.c.card_key.in_(ids[start:start + _BATCH])))

    def rec_ids(self, keys: Iterable[str]) -> dict[str, str]:
        """card key → the recommendation its record shows (the one a rep's answer is about)."""
        ids, out = list(dict.fromkeys(keys)), {}
        with self._db._connect() as conn:
            for start in range(0, len(ids), _BATCH):
                out.update((k, r) for k, r in conn.execute(
                    select(cards.c.card_key, cards.c.rec_id)
                    .where(cards.c.org == self.org, cards.c.card_key.in_(ids[start:start + _BATCH]))) if r)
        return out

    def answers(self) -> dict[str, str]:
        """card key → the rep's latest answer on the recommendation its record shows ("accepted", "dismissed",
        "snoozed"); an undo clears it."""
        latest: dict[str, str] = {}
        with self._db._connect() as conn:
            for key, action in conn.execute(
                    select(cards.c.card_key, feedback_events.c.action)
                    .join(feedback_events, feedback_events.c.recommendation_id == cards.c.rec_id)
                    .where(cards.c.org == self.org).order_by(feedback_events.c.id)):
                latest[key] = action
        return {key: action for key, action in latest.items() if action in ("accepted", "dismissed", "snoozed")}
