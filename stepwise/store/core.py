"""The Store: one facade over runs, recommendations, card reads, feedback, cursors and the dashboard.

SQLAlchemy Core on SQLite (default) or PostgreSQL (by URL). Each concern is a mixin in its own module
(runs.py, recommendations.py, cards.py, feedback.py, cursors.py, insights.py) over `Database` (the
engine and the schema, database.py). Mixins rather than delegation: every public method keeps its name,
signature and docstring on Store with no forwarding code, and the card reads (the hot path) pay no extra
call.
"""

from __future__ import annotations

from sqlalchemy import func, select

from stepwise.store.cards import CardsMixin
from stepwise.store.cursors import CursorsMixin
from stepwise.store.database import Database
from stepwise.store.feedback import FeedbackMixin
from stepwise.store.insights import InsightsMixin
from stepwise.store.recommendations import RecommendationsMixin
from stepwise.store.runs import RunsMixin
from stepwise.store.schema import COUNTED, recommendations


class Store(RunsMixin, RecommendationsMixin, CardsMixin, FeedbackMixin, CursorsMixin, InsightsMixin, Database):
    """Persistence for runs, recommendations, feedback and cursors (thread-safe, one engine per URL)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)

    def sources(self) -> list[str]:
        """Every source that has recommendations (e.g. files, salesforce, hubspot-123)."""
        with self._connect() as conn:
            return sorted(conn.execute(select(recommendations.c.source).distinct()).scalars())

    def counts(self) -> dict[str, int]:
        with self._connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in COUNTED}
