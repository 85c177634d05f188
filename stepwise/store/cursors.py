"""Sync cursors: where each source's next incremental pull starts, per CRM object."""

from __future__ import annotations

from sqlalchemy import select

from stepwise.store.database import Database
from stepwise.store.engine import dialect_insert
from stepwise.store.schema import sync_cursors
from stepwise.store.values import now


class CursorsMixin(Database):
    def get_cursor(self, source: str, object: str) -> str | None:
        c = sync_cursors.c
        with self._connect() as conn:
            return conn.execute(
                select(c.cursor).where(c.source == source, c.object == object)
            ).scalar_one_or_none()

    def set_cursor(self, source: str, object: str, cursor: str) -> None:
        stmt = dialect_insert(self.engine, sync_cursors).values(source=source, object=object, cursor=cursor,
                                                                updated_at=now())
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
