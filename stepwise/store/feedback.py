"""A rep's responses: record them (idempotently), undo a dismissal, read them back for the next run."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from stepwise.store.database import Conflict, Database, NotFound
from stepwise.store.schema import feedback_events, recommendations
from stepwise.store.values import as_utc, jsonable, parse_moment
from stepwise.store.values import now as clock  # `now` is undo_feedback's argument

FEEDBACK_ACTIONS = ("accepted", "dismissed", "snoozed")
FEEDBACK_REASONS = ("wrong_timing", "unsuitable_product", "already_contacted", "not_relevant", "other")
UNDO_WINDOW = timedelta(minutes=5)
UNDONE = "undone"  # the event action that records an undo (never accepted as rep feedback)


class FeedbackMixin(Database):
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
        until = parse_moment(snooze_until) if snooze_until is not None else None
        if action == "snoozed" and until is None:
            raise ValueError("snooze_until is required when action is snoozed")
        if action != "snoozed":
            until = None
        try:
            with self._begin() as conn:
                if idempotency_key and (first := _event_by_key(conn, idempotency_key)):
                    return _replay(first, rec_id)
                t = recommendations
                if conn.execute(select(t.c.id).where(t.c.id == rec_id)).first() is None:
                    raise NotFound(f"no recommendation {rec_id!r}")
                at = clock()
                values = {
                    "recommendation_id": rec_id, "action": action, "reason": reason, "note": note,
                    "snooze_until": until, "user": user, "idempotency_key": idempotency_key or None,
                    "created_at": at,
                }
                event_id = conn.execute(feedback_events.insert().values(**values)).inserted_primary_key[0]
                conn.execute(
                    update(t).where(t.c.id == rec_id)
                    .values(status=action, status_reason=reason, snooze_until=until, updated_at=at)
                )
        except IntegrityError:
            # Lost a race on the same idempotency key: the winner's event is the answer.
            if idempotency_key:
                with self._connect() as conn:
                    if first := _event_by_key(conn, idempotency_key):
                        return _replay(first, rec_id)
            raise
        return {**_event_dict({"id": event_id, **values}), "replayed": False}

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
        now = now or clock()
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
            if now - as_utc(last["created_at"]) > window:
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


def _event_by_key(conn: Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(select(feedback_events).where(feedback_events.c.idempotency_key == key)).mappings().first()
    return None if row is None else dict(row)


def _replay(first: dict[str, Any], rec_id: str) -> dict[str, Any]:
    if first["recommendation_id"] != rec_id:
        raise Conflict("idempotency key already used for another recommendation")
    return {**_event_dict(first), "replayed": True}


def _event_dict(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "recommendation_id", "action", "reason", "note", "snooze_until", "user", "idempotency_key", "created_at")
    return jsonable({k: row.get(k) for k in keys})
