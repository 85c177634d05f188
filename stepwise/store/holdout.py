"""The holdout's tables: control cards, the units their outcomes are measured on, the stage history.

- `record_controls`: a run's held-back cards, with their score, rank and mark (the shown cards' marks
  travel in their `recommendations` payload, extra.holdout, so a run writes only the control's 5 %).
- `record_stages`: the stage/status each run sees, as change points.
- `gather_units`: each card's first day in its assignment period, from both, once a day.
- `open_units` / `settle`: what later runs read outcomes for, and what they found.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import Engine, String, and_, cast, func, literal, select, update

from stepwise.engine.recommendation import Recommendation
from stepwise.store.database import Database, attach
from stepwise.store.engine import dialect_insert
from stepwise.store.schema import holdout_cards as cards
from stepwise.store.schema import holdout_progress as progress
from stepwise.store.schema import holdout_units as units
from stepwise.store.schema import recommendations
from stepwise.store.schema import record_stages as stages
from stepwise.store.values import now

_BATCH = 1000
_UNIT_KEY = ("record_type", "record_id", "action_id", "period")


def offered_products(rec: Recommendation) -> str:
    items = rec.offer.get("products") if rec.offer else None
    return " ".join(str(i["product_id"]) for i in items or () if isinstance(i, dict) and i.get("product_id"))


class HoldoutLog:
    def __init__(self, store: Database | Engine):
        self._db = attach(store)
        self.engine = self._db.engine

    # -- written by a run ---------------------------------------------------------------------------

    def record_controls(self, run_id: str, recs: Iterable[Recommendation], marks: dict[str, dict[str, Any]]) -> int:
        stmt = dialect_insert(self.engine, cards)
        stmt = stmt.on_conflict_do_update(index_elements=[cards.c.id], set_={
            c: stmt.excluded[c] for c in ("run_id", "score", "rank", "p_shown", "policy", "products", "created_at")})
        at = now()
        rows = {r.id: {"id": r.id, "run_id": run_id, "source": r.source, "card_key": r.card_key,
                       "record_type": r.record_type, "record_id": r.record_id, "deal_id": r.deal_id,
                       "account_id": r.account_id, "lead_id": r.lead_id, "action_id": r.action_id,
                       "as_of": r.as_of, "period": marks[r.id]["period"], "score": float(r.score), "rank": int(r.rank),
                       "p_shown": marks[r.id]["p_shown"], "policy": marks[r.id]["policy"],
                       "family": marks[r.id]["family"], "outcomes": marks[r.id]["outcomes"],
                       "products": offered_products(r) or None, "created_at": at} for r in recs}
        batch = list(rows.values())
        with self._db._begin() as conn:
            for start in range(0, len(batch), _BATCH):
                conn.execute(stmt, batch[start:start + _BATCH])
        return len(batch)

    def record_stages(self, source: str, day: str, seen: Iterable[tuple[str, str, str]]) -> int:
        """Store (record_type, record_id, stage) where it differs from the last stage recorded."""
        with self._db._connect() as conn:
            rows = conn.execute(select(stages.c.record_type, stages.c.record_id, stages.c.stage)
                                .where(stages.c.source == source, stages.c.day <= day).order_by(stages.c.day)).all()
        last = {(t, r): s for t, r, s in rows}
        changed = [{"source": source, "record_type": t, "record_id": r, "day": day, "stage": s}
                   for t, r, s in seen if last.get((t, r)) != s]
        if changed:
            stmt = dialect_insert(self.engine, stages)
            stmt = stmt.on_conflict_do_update(index_elements=[stages.c.source, stages.c.record_type,
                                                              stages.c.record_id, stages.c.day],
                                              set_={"stage": stmt.excluded.stage})
            with self._db._begin() as conn:
                for start in range(0, len(changed), _BATCH):
                    conn.execute(stmt, changed[start:start + _BATCH])
        return len(changed)

    def stage_history(self, source: str) -> pd.DataFrame:
        with self._db._connect() as conn:
            rows = conn.execute(select(stages.c.record_type, stages.c.record_id, stages.c.day, stages.c.stage)
                                .where(stages.c.source == source)).all()
        return pd.DataFrame(rows, columns=["record_type", "record_id", "day", "stage"])

    def gather_units(self, source: str, through: str) -> int:
        """New units from the cards proposed since the last gathering (shown, excluded and control)."""
        with self._db._connect() as conn:
            since = conn.execute(select(progress.c.synced_through).where(progress.c.source == source)).scalar()
        r = recommendations
        mark = r.c.payload[("extra", "holdout")]
        period = func.substr(r.c.as_of, 1, 7)
        family = mark[("family",)].as_string()
        shown = (select(r.c.source, r.c.record_type, r.c.record_id, r.c.action_id, period.label("period"),
                        func.min(mark[("arm",)].as_string()).label("arm"), func.min(r.c.as_of).label("first_day"),
                        func.min(r.c.deal_id).label("deal_id"), func.min(r.c.account_id).label("account_id"),
                        func.min(r.c.lead_id).label("lead_id"), func.min(family).label("family"),
                        func.min(mark[("outcomes",)].as_string()).label("outcomes"),
                        func.min(cast(mark[("p_shown",)].as_float(), String)).label("p_shown"),
                        func.min(mark[("policy",)].as_string()).label("policy"))
                 .where(r.c.source == source, r.c.as_of <= through, family.isnot(None),
                        *([r.c.as_of >= since] if since else []))
                 .group_by(r.c.source, r.c.record_type, r.c.record_id, r.c.action_id, period))
        c = cards.c
        held = (select(c.source, c.record_type, c.record_id, c.action_id, c.period, literal("control").label("arm"),
                       func.min(c.as_of).label("first_day"), func.min(c.deal_id).label("deal_id"),
                       func.min(c.account_id).label("account_id"), func.min(c.lead_id).label("lead_id"),
                       func.min(c.family).label("family"), func.min(c.outcomes).label("outcomes"),
                       func.min(cast(c.p_shown, String)).label("p_shown"), func.min(c.policy).label("policy"))
                .where(c.source == source, c.as_of <= through, *([c.as_of >= since] if since else []))
                .group_by(c.source, c.record_type, c.record_id, c.action_id, c.period))
        found: list[dict[str, Any]] = []
        with self._db._connect() as conn:
            for query in (shown, held):
                found += [dict(m) for m in conn.execute(query).mappings()]
        rows = [{**f, "p_shown": float(f["p_shown"]), "products": None, "events": {}, "open": True} for f in found]
        stmt = dialect_insert(self.engine, units).on_conflict_do_nothing(
            index_elements=[units.c.source, *(units.c[k] for k in _UNIT_KEY)])
        mark_progress = dialect_insert(self.engine, progress)
        mark_progress = mark_progress.on_conflict_do_update(
            index_elements=[progress.c.source], set_={"synced_through": mark_progress.excluded.synced_through})
        # Counted, not summed from rowcount: PostgreSQL's driver reports -1 for a batched insert.
        count = select(func.count()).select_from(units).where(units.c.source == source)
        with self._db._begin() as conn:
            before = conn.execute(count).scalar_one()
            for start in range(0, len(rows), _BATCH):
                conn.execute(stmt, rows[start:start + _BATCH])
            conn.execute(mark_progress, {"source": source, "synced_through": through, "checked_on": through})
            return conn.execute(count).scalar_one() - before

    def open_units(self, source: str) -> pd.DataFrame:
        with self._db._connect() as conn:
            rows = conn.execute(select(units).where(units.c.source == source, units.c.open.is_(True))).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in units.columns])

    def fill_products(self, source: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The offered products of units that need them, read from the card of their first day."""
        from stepwise.engine.recommendation import recommendation_id

        need = frame[frame["products"].isna() & frame["outcomes"].str.contains("order_with_offered_product")]
        if need.empty:
            return frame
        # The engine's ids name the record with its scope ("account:ACC-1"), as explain.py builds them.
        ids = {recommendation_id(source, f"{rtype}:{rid}", aid, day): i
               for i, rtype, rid, aid, day in zip(need.index, need["record_type"], need["record_id"], need["action_id"],
                                                  need["first_day"])}
        found: dict[Any, str] = {}
        keys = list(ids)
        with self._db._connect() as conn:
            for start in range(0, len(keys), _BATCH):
                part = keys[start:start + _BATCH]
                for rid, payload in conn.execute(select(recommendations.c.id, recommendations.c.payload)
                                                 .where(recommendations.c.id.in_(part))):
                    rec = Recommendation.from_dict(payload if isinstance(payload, dict) else _loads(payload))
                    found[ids[rid]] = offered_products(rec)
                for rid, products in conn.execute(select(cards.c.id, cards.c.products).where(cards.c.id.in_(part))):
                    found[ids[rid]] = products or ""
        frame = frame.copy()
        for i, products in found.items():
            frame.at[i, "products"] = products
        return frame

    def settle(self, source: str, changes: list[dict[str, Any]], checked_on: str) -> int:
        """Store what a run found: each changed unit's events and whether it is still open."""
        key = and_(units.c.source == source, *(units.c[k] == _bind(k) for k in _UNIT_KEY))
        stmt = update(units).where(key).values(events=_bind("new_events"), open=_bind("new_open"),
                                               products=_bind("new_products"))
        with self._db._begin() as conn:
            for start in range(0, len(changes), _BATCH):
                conn.execute(stmt, [{**{f"b_{k}": c[k] for k in _UNIT_KEY}, "b_new_events": c["events"],
                                     "b_new_open": c["open"], "b_new_products": c["products"]}
                                    for c in changes[start:start + _BATCH]])
            conn.execute(update(progress).where(progress.c.source == source).values(checked_on=checked_on))
        return len(changes)

    # -- read for the lift ----------------------------------------------------------------------------

    def units(self, source: str | None = None) -> pd.DataFrame:
        query = select(units)
        if source is not None:
            query = query.where(units.c.source == source)
        with self._db._connect() as conn:
            rows = conn.execute(query).mappings().all()
            checked = dict(conn.execute(select(progress.c.source, progress.c.checked_on)).all())
        frame = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in units.columns])
        frame["checked_on"] = frame["source"].map(checked)
        return frame

    def responses(self, source: str | None = None) -> pd.DataFrame:
        """Accepted and dismissed shown cards, by unit (a unit counts as accepted if any day's card was)."""
        r = recommendations
        query = (select(r.c.source, r.c.record_type, r.c.record_id, r.c.action_id,
                        func.substr(r.c.as_of, 1, 7).label("period"), r.c.status)
                 .where(r.c.status.in_(("accepted", "dismissed"))))
        if source is not None:
            query = query.where(r.c.source == source)
        with self._db._connect() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame(rows, columns=["source", *_UNIT_KEY, "status"])

    def controls_of_run(self, run_id: str) -> list[dict[str, Any]]:
        with self._db._connect() as conn:
            return [dict(m) for m in conn.execute(select(cards).where(cards.c.run_id == run_id)
                                                  .order_by(cards.c.id)).mappings()]


def _bind(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(f"b_{name}")


def _loads(text: str) -> dict[str, Any]:
    import json

    return json.loads(text)
