"""What the LLM writer remembers between runs (workers/narrate.py), in two tables on the store's database.

- `llm_drafts`: each draft the model wrote and the guardrails' verdict on it, keyed by the
  recommendation and its approved facts (and the model and language), so a re-sync on unchanged facts
  reuses it — a used draft or a rejection — without a model call.
- `llm_budget`: the model calls made each day (UTC), reserved one at a time, so STEPWISE_LLM_BUDGET
  holds across a day's runs, their chunks and the workers that score them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update

from stepwise.store.database import Database, attach
from stepwise.store.engine import dialect_insert
from stepwise.store.schema import llm_budget as budget
from stepwise.store.schema import llm_drafts as drafts

_BATCH = 500


class LLMDrafts:
    def __init__(self, store: Database | Engine):
        self._db = attach(store)
        self.engine = self._db.engine

    def get(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The cached verdicts of these keys: {key: {status, model, draft, codes}}."""
        out: dict[str, dict[str, Any]] = {}
        with self._db._connect() as conn:
            for start in range(0, len(keys), _BATCH):
                rows = conn.execute(select(drafts.c.key, drafts.c.status, drafts.c.model, drafts.c.draft, drafts.c.codes)
                                    .where(drafts.c.key.in_(keys[start:start + _BATCH]))).all()
                out.update({r.key: {"status": r.status, "model": r.model, "draft": r.draft or {},
                                    "codes": list(r.codes or [])} for r in rows})
        return out

    def put(self, key: str, *, rec_id: str, day: str, model: str, status: str, draft: dict[str, Any] | None,
            codes: list[str]) -> None:
        """Remember a verdict ("used" with its draft, or "rejected" with its reason codes)."""
        stmt = dialect_insert(self.engine, drafts)
        stmt = stmt.on_conflict_do_update(index_elements=[drafts.c.key], set_={
            c: stmt.excluded[c] for c in ("rec_id", "day", "model", "status", "draft", "codes", "created_at")})
        with self._db._begin() as conn:
            conn.execute(stmt, {"key": key, "rec_id": rec_id, "day": day, "model": model, "status": status,
                                "draft": draft or None, "codes": codes, "created_at": datetime.now(UTC)})

    def reserve(self, day: str, limit: int) -> bool:
        """Take one model call from `day`'s budget; False when the day's `limit` is spent.  Atomic: the
        guarded UPDATE holds across processes on SQLite and PostgreSQL."""
        if limit <= 0:
            return False
        with self._db._begin() as conn:
            conn.execute(dialect_insert(self.engine, budget).on_conflict_do_nothing(index_elements=[budget.c.day]),
                         {"day": day, "calls": 0})
            taken = conn.execute(update(budget).where(budget.c.day == day, budget.c.calls < limit)
                                 .values(calls=budget.c.calls + 1))
            return taken.rowcount == 1

    def calls_on(self, day: str) -> int:
        with self._db._connect() as conn:
            return int(conn.execute(select(budget.c.calls).where(budget.c.day == day)).scalar() or 0)

    def forget_before(self, day: str) -> int:
        """Drop the drafts cached before `day` and the spent budgets of those days (a recommendation's id
        carries its day: older drafts are never asked for again)."""
        with self._db._begin() as conn:
            gone = conn.execute(delete(drafts).where(drafts.c.day < day)).rowcount
            conn.execute(delete(budget).where(budget.c.day < day))
        return gone
