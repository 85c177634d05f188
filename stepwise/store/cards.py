"""The card reads: what a rep sees on a record now. The card endpoint's hot path (bench/card_service.py).

One statement, one round trip, one snapshot, run on the DBAPI connection with nothing decoded in Python.
"""

from __future__ import annotations

import os
import threading
from datetime import date, datetime
from functools import cached_property
from operator import itemgetter
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from stepwise.engine.recommendation import Recommendation
from stepwise.store.database import Database
from stepwise.store.engine import sqlite_pragmas
from stepwise.store.recommendations import stored_payload
from stepwise.store.schema import recommendations
from stepwise.store.values import day
from stepwise.store.values import now as clock  # `now` is the card methods' argument

# The card query: one statement, one round trip, one snapshot. The latest day of the source (or the
# latest on or before `until`), the record's own cards and, for a deal, its account's account-level
# cards (deal_id null); the account comes from deal_accounts, else from any of the deal's rows.
# Each branch and subquery is an equality seek on its own index: an OR across the branches made the
# planner scan the whole day, and "account_id IS NOT NULL" (rather than the COALESCE) let it walk the
# account index of the whole source for a deal it does not know. Sorted in Python (rank, -score, id), as
# every backend's collation agrees there.
_CARD_DAY = "(SELECT max(as_of) FROM recommendations WHERE source = :source{until})"
_CARD_VISIBLE = "(status = 'new' OR (status = 'snoozed' AND snooze_until <= :now))"
_CARD_SQL = f"""
SELECT {{card}}, status, rank, score, id FROM recommendations
 WHERE source = :source AND record_type = :record_type AND record_id = :record_id
   AND as_of = {_CARD_DAY} AND {_CARD_VISIBLE}
UNION ALL
SELECT {{card}}, status, rank, score, id FROM recommendations
 WHERE :record_type = 'deal' AND source = :source AND record_type = 'account' AND deal_id IS NULL
   AND account_id = COALESCE(
         NULLIF((SELECT account_id FROM deal_accounts WHERE source = :source AND deal_id = :record_id), ''),
         (SELECT account_id FROM recommendations
           WHERE source = :source AND deal_id = :record_id AND COALESCE(account_id, '') <> '' LIMIT 1))
   AND as_of = {_CARD_DAY} AND {_CARD_VISIBLE}
"""
# SQLite keeps the payload as the text json.dumps wrote; its json_set returns that text minified with the
# status set in place (appended when absent), which is byte for byte Flask's compact JSON of
# {**payload, "status": status} for such text: tokens are copied as written (json.dumps' escapes and
# numbers), only the blanks between them go. json_valid first: NaN (which json.dumps writes) is no RFC
# JSON, and SQLite's JSON5 reading would turn it into null, so such rows come back as the plain payload.
_CARD_COLUMNS = {
    "sqlite": "CASE WHEN json_valid(payload) THEN json_set(payload, '$.status', status) END,"
              " CASE WHEN NOT json_valid(payload) THEN payload END",
    "default": "NULL, payload",
}


class CardsMixin(Database):
    def recommendations_for(
        self, source: str, record_type: str, record_id: str, as_of: str | date | None = None,
        *, now: datetime | None = None,
    ) -> list[Recommendation]:
        """What a rep should see on a record now: new, or snoozed past its date, from the latest run.

        For a deal this includes the account-level actions (deal_id null) of its account.
        """
        return [Recommendation.from_dict(p) for p in self.card_payloads_for(source, record_type, record_id, as_of, now=now)]

    def card_payloads_for(
        self, source: str, record_type: str, record_id: str, as_of: str | date | None = None,
        *, now: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The same as recommendations_for, as the stored JSON (with the current status)."""
        return [{**stored_payload(card if card is not None else payload), "status": status}
                for card, payload, status in self.card_rows_for(source, record_type, record_id, as_of, now=now)]

    def card_rows_for(
        self, source: str, record_type: str, record_id: str, as_of: str | date | None = None,
        *, now: datetime | None = None,
    ) -> list[tuple[str | None, str | dict[str, Any] | None, str]]:
        """(card JSON, stored payload, current status) of each card on the record, in card order.

        The card endpoint's hot path: one query on the DBAPI connection, nothing decoded in Python.
        On SQLite the database writes the card: the stored JSON, compact, with the row's status set
        (payload None; see _CARD_COLUMNS). Otherwise the card is None and the payload is what the
        driver returns (a dict from PostgreSQL's JSONB; the text of a SQLite row that is no strict JSON).
        """
        sql, arrange, process_now = self._card_queries[as_of is not None]
        params = {"source": source, "record_type": record_type, "record_id": record_id,
                  "now": process_now(now or clock()), "until": None if as_of is None else day(as_of)}
        self._ensure_schema()
        rows = self._card_fetch(sql, arrange(params))
        rows.sort(key=_card_order)
        return [(row[0], row[1], row[2]) for row in rows]

    def _card_fetch(self, sql: str, args: Any) -> list[Any]:
        """Run the card query on the DBAPI connection: for a SQLite file this thread's own reader (a pool
        checkout and check-in cost a third of the query), else a pooled connection. Driver errors are
        raised as SQLAlchemy's (OperationalError: the service answers 503), as Connection.execute does."""
        dialect = self.engine.dialect
        own = self._card_reader() if self._card_readers else None
        conn = own if own is not None else self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, args)
                return cursor.fetchall()
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            if own is not None:  # the next query opens a new reader
                self._card_local.reader = None
                own.close()
            elif dialect.is_disconnect(exc, conn, None):
                conn.invalidate()
            raise DBAPIError.instance(sql, args, exc, dialect.loaded_dbapi.Error) from exc
        finally:
            if own is None:
                conn.close()  # back to the pool, which rolls the read back

    @cached_property
    def _card_readers(self) -> bool:
        """One reader per thread for a SQLite file (not for an in-memory database: its one shared connection)."""
        return self.engine.dialect.name == "sqlite" and not isinstance(self.engine.pool, StaticPool)

    @cached_property
    def _card_local(self) -> threading.local:
        return threading.local()

    def _card_reader(self) -> Any:
        """This thread's SQLite connection for card reads, opened as the engine opens its own (same URL
        arguments, same pragmas), and again in a forked child (a connection never crosses a fork).
        It reads in autocommit: each query sees the latest committed run; WAL keeps writers unblocked."""
        local = self._card_local
        reader = getattr(local, "reader", None)
        if reader is None or local.pid != os.getpid():
            dialect = self.engine.dialect
            cargs, cparams = dialect.create_connect_args(self.engine.url)
            try:
                reader = dialect.loaded_dbapi.connect(*cargs, **cparams)
                sqlite_pragmas(reader, None)
            except dialect.loaded_dbapi.Error as exc:
                raise DBAPIError.instance(None, None, exc, dialect.loaded_dbapi.Error) from exc
            local.reader, local.pid = reader, os.getpid()
        return reader

    @cached_property
    def _card_queries(self) -> dict[bool, tuple[str, Any, Any]]:
        """The card SQL in this dialect's paramstyle, what turns the named parameters into the driver's
        (a tuple in SQL order for positional styles) and the bind processing of `now` (SQLite compares
        stored datetime text), keyed by "has an as_of"."""
        dialect = self.engine.dialect
        process_now = recommendations.c.snooze_until.type.dialect_impl(dialect).bind_processor(dialect) or _same
        columns = _CARD_COLUMNS.get(dialect.name, _CARD_COLUMNS["default"])
        queries = {}
        for until in (False, True):
            sql = _CARD_SQL.replace("{until}", " AND as_of <= :until" if until else "").replace("{card}", columns)
            compiled = text(sql).compile(dialect=dialect)
            arrange = itemgetter(*compiled.positiontup) if compiled.positional and compiled.positiontup else _same
            queries[until] = (compiled.string, arrange, process_now)
        return queries


def _card_order(row: Any) -> tuple[int, float, str]:
    return row[3], -row[4], row[5]  # rank, then the higher score, then the id


def _same(value: Any) -> Any:
    return value
