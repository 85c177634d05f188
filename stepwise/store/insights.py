"""The dashboard's aggregates: responses per group, dismissal reasons, and deal outcomes by response."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, select

from stepwise.store.database import Database
from stepwise.store.engine import dialect_insert
from stepwise.store.recommendations import BATCH_SIZE
from stepwise.store.schema import deal_outcomes, recommendations
from stepwise.store.values import day, now

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


class InsightsMixin(Database):
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
            query = query.where(t.c.as_of >= day(since))
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
        at = now()
        values = {
            (source, str(r["deal_id"])): {
                "source": source, "deal_id": str(r["deal_id"]), "stage": str(r["stage"]),
                "is_closed": bool(r.get("is_closed") or False), "is_won": bool(r.get("is_won") or False),
                "updated_at": at,
            }
            for r in rows
        }
        if not values:
            return 0
        stmt = dialect_insert(self.engine, deal_outcomes)
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
