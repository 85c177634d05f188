"""The store: runs, recommendations, a rep's feedback and sync cursors.

SQLAlchemy Core on SQLite (default) or PostgreSQL (by URL). Core rather than the
ORM because the hot path is a bulk upsert of 100k+ rows, which wants
dialect-specific INSERT … ON CONFLICT executed in batches, not unit-of-work objects.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from stepwise.engine.recommendation import Recommendation

log = logging.getLogger(__name__)

FEEDBACK_ACTIONS = ("accepted", "dismissed", "snoozed")
FEEDBACK_REASONS = ("wrong_timing", "unsuitable_product", "already_contacted", "not_relevant", "other")
RUN_STATUSES = ("running", "succeeded", "failed")
BATCH_SIZE = 1000


class StoreError(Exception):
    """Base of everything the store raises on purpose."""


class NotFound(StoreError):
    """The id names nothing in the store."""


class Conflict(StoreError):
    """The request contradicts what is already stored (e.g. a reused idempotency key)."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out: SQLite keeps no offset, PostgreSQL returns the session's zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = _as_utc(value)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else _as_utc(value)


Json = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("source", String(200), nullable=False),
    Column("as_of", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("counts", Json),
    Column("model_version", String(100)),
    Column("error", Text),
)

recommendations = Table(
    "recommendations", metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", String(32)),  # no FK: runs may be pruned while their recommendations live on
    Column("source", String(200), nullable=False),
    Column("record_type", String(16), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("deal_id", String(200)),
    Column("account_id", String(200)),
    Column("lead_id", String(200)),
    Column("action_id", String(200), nullable=False),
    Column("category", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("rank", Integer, nullable=False),
    # ISO date strings: they sort and compare correctly as text on every backend.
    Column("as_of", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(32)),
    Column("snooze_until", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("payload", Json, nullable=False),
    Index("ix_recommendations_record", "source", "record_type", "record_id"),
    # Account-level cards shown on a deal: every equality of that query, so the planner never prefers (source, as_of).
    Index("ix_recommendations_account_cards", "source", "account_id", "record_type", "as_of"),
    Index("ix_recommendations_source_as_of", "source", "as_of"),
    # A deal's account when deal_accounts does not know the deal: without it, every card for an unknown deal scanned the source.
    Index("ix_recommendations_deal", "source", "deal_id"),
)

feedback_events = Table(
    "feedback_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recommendation_id", String(64), ForeignKey("recommendations.id"), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("reason", String(32)),
    Column("note", Text),
    Column("snooze_until", UTCDateTime),
    Column("user", String(200), nullable=False),
    Column("idempotency_key", String(200), unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

sync_cursors = Table(
    "sync_cursors", metadata,
    Column("source", String(200), primary_key=True),
    Column("object", String(100), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

deal_accounts = Table(
    "deal_accounts", metadata,
    Column("source", String(200), primary_key=True),
    Column("deal_id", String(200), primary_key=True),
    Column("account_id", String(200), nullable=False),
)

# Tables for the dashboard live in their own MetaData so `counts()` (the core tables) keeps
# its shape; `_create_all` creates both.
insights_metadata = MetaData()

deal_outcomes = Table(
    "deal_outcomes", insights_metadata,
    Column("source", String(200), primary_key=True),
    Column("deal_id", String(200), primary_key=True),
    Column("stage", String(32), nullable=False),
    Column("is_closed", Boolean, nullable=False),
    Column("is_won", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

UNDO_WINDOW = timedelta(minutes=5)
UNDONE = "undone"  # the event action that records an undo (never accepted as rep feedback)
# What the dashboard may group response counts by: a whitelist, never a caller's column name.
_GROUPABLE = {
    "as_of": recommendations.c.as_of,
    "action_id": recommendations.c.action_id,
    "category": recommendations.c.category,
    "source": recommendations.c.source,
    "owner_id": recommendations.c.payload["owner_id"].as_string(),
    "model_version": recommendations.c.payload["model_version"].as_string(),
}
RESPONSE_STATUSES = ("new", "accepted", "dismissed", "snoozed", "expired")

# Columns refreshed when a recommendation is upserted again; status, status_reason and
# snooze_until are deliberately absent so a re-run never undoes a rep's accept/dismiss/snooze.
_REFRESHED = (
    "run_id", "record_type", "record_id", "deal_id", "account_id", "lead_id", "action_id",
    "category", "score", "urgency", "rank", "as_of", "updated_at", "payload",
)


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


class Store:
    """Persistence for runs, recommendations, feedback and cursors (thread-safe, one engine)."""

    def __init__(self, url: str) -> None:
        self.engine = _make_engine(url)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def sources(self) -> list[str]:
        """Every source that has recommendations (e.g. files, salesforce, hubspot-123)."""
        with self._connect() as conn:
            return sorted(conn.execute(select(recommendations.c.source).distinct()).scalars())

    def describe(self) -> str:
        """Where the store lives, safe to print (no password)."""
        return self.engine.url.render_as_string(hide_password=True)

    # -- plumbing ---------------------------------------------------------------------

    def _begin(self) -> AbstractContextManager[Connection]:
        self._ensure_schema()
        return self.engine.begin()

    def _connect(self) -> Connection:
        self._ensure_schema()
        return self.engine.connect()

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            for attempt in range(3):
                try:
                    _create_all(self.engine)
                    break
                except SQLAlchemyError:
                    # Another process (a second gunicorn or pool worker) may be creating the same
                    # tables between our existence check and CREATE; a retry sees them.
                    if attempt == 2:
                        raise
                    threading.Event().wait(0.2)
            self._schema_ready = True

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except SQLAlchemyError as exc:
            log.warning("store %s not reachable: %s", self, exc.__class__.__name__)
            return False

    def counts(self) -> dict[str, int]:
        with self._connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in metadata.sorted_tables}

    # -- runs -------------------------------------------------------------------------

    def start_run(self, source: str, as_of: str | date, model_version: str) -> str:
        run_id = uuid.uuid4().hex
        with self._begin() as conn:
            conn.execute(runs.insert().values(
                id=run_id, started_at=_now(), source=source, as_of=_day(as_of),
                status="running", model_version=model_version,
            ))
        return run_id

    def finish_run(self, run_id: str, counts: dict[str, Any], status: str = "succeeded", error: str | None = None) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {', '.join(RUN_STATUSES)}, got {status!r}")
        with self._begin() as conn:
            done = conn.execute(
                update(runs).where(runs.c.id == run_id)
                .values(finished_at=_now(), counts=counts, status=status, error=error)
            )
            if done.rowcount == 0:
                raise NotFound(f"no run {run_id!r}")

    def latest_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.started_at.desc()).limit(limit)).mappings()
            return [_jsonable(dict(r)) for r in rows]

    # -- recommendations --------------------------------------------------------------

    def upsert_recommendations(self, run_id: str, recs: Iterable[Recommendation]) -> int:
        """Insert or refresh by stable id; returns the number of distinct rows written."""
        table_dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = table_dialect.insert(recommendations)
        stmt = stmt.on_conflict_do_update(
            index_elements=[recommendations.c.id],
            set_={name: stmt.excluded[name] for name in _REFRESHED},
        )
        written = 0
        links: dict[tuple[str, str], str] = {}
        now = _now()
        with self._begin() as conn:
            for batch in _batched(recs, BATCH_SIZE):
                # One id twice in a batch would make PostgreSQL refuse a multi-row upsert.
                rows = {r.id: _row(run_id, r, now) for r in batch}
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
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(deal_accounts)
        stmt = stmt.on_conflict_do_update(
            index_elements=[deal_accounts.c.source, deal_accounts.c.deal_id],
            set_={"account_id": stmt.excluded.account_id},
        )
        rows = [{"source": s, "deal_id": d, "account_id": a} for (s, d), a in links.items()]
        for start in range(0, len(rows), BATCH_SIZE):
            conn.execute(stmt, rows[start:start + BATCH_SIZE])

    def expire_stale(self, source: str, as_of: str | date, keep_ids: set[str]) -> int:
        day = _day(as_of)
        t = recommendations
        with self._begin() as conn:
            # Filter keep_ids in Python: a NOT IN with 100k parameters breaks SQLite's limit.
            candidates = conn.execute(
                select(t.c.id).where(t.c.source == source, t.c.as_of < day, t.c.status.in_(("new", "snoozed")))
            ).scalars().all()
            stale = [i for i in candidates if i not in keep_ids]
            now = _now()
            for start in range(0, len(stale), BATCH_SIZE):
                conn.execute(
                    update(t).where(t.c.id.in_(stale[start:start + BATCH_SIZE]))
                    .values(status="expired", updated_at=now)
                )
        return len(stale)

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
        return [{**_payload(card if card is not None else payload), "status": status}
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
                  "now": process_now(now or _now()), "until": None if as_of is None else _day(as_of)}
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
                _sqlite_pragmas(reader, None)
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

    # -- feedback ---------------------------------------------------------------------

    def record_feedback(
        self, rec_id: str, action: str, user: str, reason: str | None = None, note: str | None = None,
        snooze_until: datetime | date | str | None = None, idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Store a rep's response and apply it to the recommendation, atomically.

        Returns the event as a dict with `replayed` true when the idempotency key had
        already been used (then nothing new is written).
        """
        if action not in FEEDBACK_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(FEEDBACK_ACTIONS)}, got {action!r}")
        if reason is not None and reason not in FEEDBACK_REASONS:
            raise ValueError(f"reason must be one of {', '.join(FEEDBACK_REASONS)}, got {reason!r}")
        if not user or not user.strip():
            raise ValueError("user is required")
        until = _parse_moment(snooze_until) if snooze_until is not None else None
        if action == "snoozed" and until is None:
            raise ValueError("snooze_until is required when action is snoozed")
        if action != "snoozed":
            until = None
        try:
            with self._begin() as conn:
                if idempotency_key and (first := self._event_by_key(conn, idempotency_key)):
                    return self._replay(first, rec_id)
                t = recommendations
                if conn.execute(select(t.c.id).where(t.c.id == rec_id)).first() is None:
                    raise NotFound(f"no recommendation {rec_id!r}")
                now = _now()
                values = {
                    "recommendation_id": rec_id, "action": action, "reason": reason, "note": note,
                    "snooze_until": until, "user": user, "idempotency_key": idempotency_key or None,
                    "created_at": now,
                }
                event_id = conn.execute(feedback_events.insert().values(**values)).inserted_primary_key[0]
                conn.execute(
                    update(t).where(t.c.id == rec_id)
                    .values(status=action, status_reason=reason, snooze_until=until, updated_at=now)
                )
        except IntegrityError:
            # Lost a race on the same idempotency key: the winner's event is the answer.
            if idempotency_key:
                with self._connect() as conn:
                    if first := self._event_by_key(conn, idempotency_key):
                        return self._replay(first, rec_id)
            raise
        return {**_event_dict({"id": event_id, **values}), "replayed": False}

    @staticmethod
    def _event_by_key(conn: Connection, key: str) -> dict[str, Any] | None:
        row = conn.execute(select(feedback_events).where(feedback_events.c.idempotency_key == key)).mappings().first()
        return None if row is None else dict(row)

    @staticmethod
    def _replay(first: dict[str, Any], rec_id: str) -> dict[str, Any]:
        if first["recommendation_id"] != rec_id:
            raise Conflict("idempotency key already used for another recommendation")
        return {**_event_dict(first), "replayed": True}

    def feedback_history(self, source: str) -> pd.DataFrame:
        """The reps' latest response per (record, action): what the engine must hold back next time."""
        t, f = recommendations, feedback_events
        # Timed by the feedback event, not the row: a re-run refreshes the row's updated_at.
        query = (
            select(t.c.record_id, t.c.action_id, f.c.action.label("status"), f.c.created_at.label("updated_at"),
                   f.c.snooze_until, f.c.reason, f.c.user)
            .join(t, t.c.id == f.c.recommendation_id)
            .where(t.c.source == source)
        )
        with self._connect() as conn:
            rows = conn.execute(query).mappings().all()
        return pd.DataFrame(rows, columns=["record_id", "action_id", "status", "updated_at", "snooze_until", "reason",
                                           "user"])

    def feedback_for(self, rec_id: str) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute(
                select(feedback_events).where(feedback_events.c.recommendation_id == rec_id).order_by(feedback_events.c.id)
            ).mappings()
            return [_event_dict(dict(r)) for r in rows]

    # -- cursors ----------------------------------------------------------------------

    def get_cursor(self, source: str, object: str) -> str | None:
        c = sync_cursors.c
        with self._connect() as conn:
            return conn.execute(
                select(c.cursor).where(c.source == source, c.object == object)
            ).scalar_one_or_none()

    def set_cursor(self, source: str, object: str, cursor: str) -> None:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(sync_cursors).values(source=source, object=object, cursor=cursor, updated_at=_now())
        stmt = stmt.on_conflict_do_update(
            index_elements=[sync_cursors.c.source, sync_cursors.c.object],
            set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
        )
        with self._begin() as conn:
            conn.execute(stmt)

    def cursors(self, source: str) -> dict[str, str]:
        """Every cursor the source keeps (object → value), for a connector's next pull."""
        c = sync_cursors.c
        with self._connect() as conn:
            return {row.object: row.cursor for row in conn.execute(select(c.object, c.cursor).where(c.source == source))}

    def set_cursors(self, source: str, cursors: dict[str, str]) -> None:
        for name, value in cursors.items():
            self.set_cursor(source, name, value)

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
                .values(status="expired", updated_at=_now())
            ).rowcount
        return int(expired or 0)

    # -- undo -------------------------------------------------------------------------

    def undo_feedback(
        self, rec_id: str, user: str, *, window: timedelta = UNDO_WINDOW, now: datetime | None = None,
    ) -> dict[str, Any]:
        """Take back the rep's latest dismissal if it is at most `window` old.

        Restores the status the recommendation had before the dismissal (replaying its
        events, so dismiss → undo → dismiss → undo lands where it started) and records an
        `undone` event, all in one transaction. Raises NotFound, or Conflict when the latest
        response is not a dismissal or is too old.
        """
        if not user or not user.strip():
            raise ValueError("user is required")
        now = now or _now()
        t, f = recommendations, feedback_events
        with self._begin() as conn:
            # Row lock (PostgreSQL) so two concurrent undos cannot both pass the checks.
            if conn.execute(select(t.c.id).where(t.c.id == rec_id).with_for_update()).first() is None:
                raise NotFound(f"no recommendation {rec_id!r}")
            events = conn.execute(select(f).where(f.c.recommendation_id == rec_id).order_by(f.c.id)).mappings().all()
            states: list[dict[str, Any]] = []
            for e in events:
                if e["action"] == UNDONE:
                    if states:
                        states.pop()
                else:
                    states.append(dict(e))
            last = events[-1] if events else None
            if last is None or last["action"] != "dismissed":
                raise Conflict("nothing to undo: the latest response is not a dismissal")
            if now - _as_utc(last["created_at"]) > window:
                minutes = int(window.total_seconds() // 60)
                raise Conflict(f"the dismissal is older than {minutes} minutes and can no longer be undone")
            before = states[-2] if len(states) >= 2 else None
            status = before["action"] if before else "new"
            values = {
                "recommendation_id": rec_id, "action": UNDONE, "reason": None,
                "note": f"undid dismissal #{last['id']}", "snooze_until": None, "user": user,
                "idempotency_key": None, "created_at": now,
            }
            event_id = conn.execute(f.insert().values(**values)).inserted_primary_key[0]
            conn.execute(update(t).where(t.c.id == rec_id).values(
                status=status, status_reason=before["reason"] if before else None,
                snooze_until=before["snooze_until"] if before else None, updated_at=now,
            ))
        return {**_event_dict({"id": event_id, **values}), "restored_status": status}

    # -- dashboard aggregates ---------------------------------------------------------

    def response_counts(
        self, group_by: Iterable[str], source: str | None = None, since: str | date | None = None,
    ) -> list[dict[str, Any]]:
        """How many recommendations were shown, and their current status, per group.

        `group_by` names from: as_of, action_id, category, source, owner_id, model_version.
        Counts use the current status, so an undone dismissal no longer counts as one.
        """
        keys = list(group_by)
        unknown = [k for k in keys if k not in _GROUPABLE]
        if unknown:
            raise ValueError(f"cannot group by {', '.join(unknown)}; choose from {', '.join(_GROUPABLE)}")
        t = recommendations
        cols = [_GROUPABLE[k].label(k) for k in keys]
        counts = [func.count().label("shown")] + [
            func.sum(case((t.c.status == s, 1), else_=0)).label(s) for s in RESPONSE_STATUSES
        ]
        query = select(*cols, *counts)
        if source is not None:
            query = query.where(t.c.source == source)
        if since is not None:
            query = query.where(t.c.as_of >= _day(since))
        if keys:
            query = query.group_by(*(_GROUPABLE[k] for k in keys)).order_by(*(_GROUPABLE[k] for k in keys))
        with self._connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [{**{k: r[k] for k in keys}, **{c: int(r[c] or 0) for c in ("shown", *RESPONSE_STATUSES)}} for r in rows]

    def dismissal_reasons(self, source: str | None = None) -> dict[str, int]:
        """Current dismissals by reason (None: no reason given), largest first."""
        t = recommendations
        query = select(t.c.status_reason, func.count()).where(t.c.status == "dismissed")
        if source is not None:
            query = query.where(t.c.source == source)
        with self._connect() as conn:
            rows = conn.execute(query.group_by(t.c.status_reason)).all()
        return dict(sorted(((r or "none", int(n)) for r, n in rows), key=lambda kv: (-kv[1], kv[0])))

    def upsert_deal_outcomes(self, source: str, rows: Iterable[dict[str, Any]]) -> int:
        """Remember each deal's current stage and outcome (from the CRM pull) for the dashboard."""
        now = _now()
        values = {
            (source, str(r["deal_id"])): {
                "source": source, "deal_id": str(r["deal_id"]), "stage": str(r["stage"]),
                "is_closed": bool(r.get("is_closed") or False), "is_won": bool(r.get("is_won") or False),
                "updated_at": now,
            }
            for r in rows
        }
        if not values:
            return 0
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(deal_outcomes)
        stmt = stmt.on_conflict_do_update(
            index_elements=[deal_outcomes.c.source, deal_outcomes.c.deal_id],
            set_={c: stmt.excluded[c] for c in ("stage", "is_closed", "is_won", "updated_at")},
        )
        rows_list = list(values.values())
        with self._begin() as conn:
            for start in range(0, len(rows_list), BATCH_SIZE):
                conn.execute(stmt, rows_list[start:start + BATCH_SIZE])
        return len(rows_list)

    def outcomes_by_response(self, source: str | None = None) -> list[dict[str, Any]]:
        """Win rate of deals by what the rep did with their recommendations.

        Each deal with a known outcome falls in one group: `accepted` (any of its deal
        recommendations accepted), else `dismissed`, else `shown` (recommended, no
        accept/dismiss), else `not shown`. Returned with counts so a small group is visible.
        """
        t, o = recommendations, deal_outcomes
        per_deal = (
            select(
                t.c.source, t.c.deal_id,
                func.max(case((t.c.status == "accepted", 1), else_=0)).label("accepted"),
                func.max(case((t.c.status == "dismissed", 1), else_=0)).label("dismissed"),
            )
            .where(t.c.deal_id.is_not(None))
            .group_by(t.c.source, t.c.deal_id)
            .subquery()
        )
        group = case(
            (per_deal.c.accepted == 1, "accepted"),
            (per_deal.c.dismissed == 1, "dismissed"),
            (per_deal.c.deal_id.is_not(None), "shown"),
            else_="not shown",
        ).label("response")
        query = (
            select(
                group, func.count().label("deals"),
                func.sum(case((o.c.is_closed, 1), else_=0)).label("closed"),
                func.sum(case((and_(o.c.is_closed, o.c.is_won), 1), else_=0)).label("won"),
            )
            .select_from(o.outerjoin(per_deal, and_(per_deal.c.source == o.c.source, per_deal.c.deal_id == o.c.deal_id)))
            .group_by(group)
        )
        if source is not None:
            query = query.where(o.c.source == source)
        with self._connect() as conn:
            found = {r.response: r for r in conn.execute(query).all()}
        out = []
        for name in ("accepted", "dismissed", "shown", "not shown"):
            r = found.get(name)
            deals, closed, won = (int(r.deals), int(r.closed or 0), int(r.won or 0)) if r else (0, 0, 0)
            out.append({"response": name, "deals": deals, "closed": closed, "won": won,
                        "win_rate": won / closed if closed else None})
        return out


# -- helpers ------------------------------------------------------------------------------


def _create_all(engine: Engine) -> None:
    metadata.create_all(engine)
    insights_metadata.create_all(engine)



def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"json_serializer": _dumps}
    if parsed.get_backend_name() == "sqlite":
        # Flask and worker threads share the engine; SQLite's own thread check would refuse that.
        kwargs["connect_args"] = {"check_same_thread": False}
        db = parsed.database or ""
        if db in ("", ":memory:") or "mode=memory" in str(parsed):
            kwargs["poolclass"] = StaticPool  # one connection, else every thread gets its own empty DB
        elif not db.startswith("file:"):
            Path(db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the card service) never block the writer (a run)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> Any:
    # numpy scalars and dates sneak into payloads built from DataFrames.
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _batched(items: Iterable[Recommendation], size: int) -> Iterator[list[Recommendation]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _row(run_id: str, rec: Recommendation, now: datetime) -> dict[str, Any]:
    return {
        "id": rec.id, "run_id": run_id, "source": rec.source, "record_type": rec.record_type,
        "record_id": rec.record_id, "deal_id": rec.deal_id, "account_id": rec.account_id, "lead_id": rec.lead_id,
        "action_id": rec.action_id, "category": rec.category, "score": float(rec.score), "urgency": rec.urgency,
        "rank": int(rec.rank), "as_of": _day(rec.as_of), "status": rec.status or "new",
        "status_reason": None, "snooze_until": None, "updated_at": now, "payload": rec.to_dict(),
    }


def _payload(payload: dict[str, Any] | str) -> dict[str, Any]:
    return json.loads(payload) if isinstance(payload, str) else payload


def _card_order(row: Any) -> tuple[int, float, str]:
    return row[3], -row[4], row[5]  # rank, then the higher score, then the id


def _same(value: Any) -> Any:
    return value


def _rec(payload: dict[str, Any] | str, status: str) -> Recommendation:
    return replace(Recommendation.from_dict(_payload(payload)), status=status)


def _event_dict(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "recommendation_id", "action", "reason", "note", "snooze_until", "user", "idempotency_key", "created_at")
    return _jsonable({k: row.get(k) for k in keys})


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day(value: str | date | datetime) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _parse_moment(value: datetime | date | str) -> datetime:
    """A date means the start of that day (UTC); a naive datetime is taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)  # "YYYY-MM-DD" parses as midnight
        except ValueError:
            raise ValueError(f"snooze_until must be an ISO date or datetime, got {value!r}") from None
    if isinstance(value, datetime):
        return _as_utc(value)
    return datetime.combine(value, time.min, tzinfo=UTC)
