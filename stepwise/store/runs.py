"""The runs: when each started and finished, on which source and day, with what counts."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select, update

from stepwise.store.database import Database, NotFound
from stepwise.store.schema import runs
from stepwise.store.values import day, jsonable, now

RUN_STATUSES = ("running", "succeeded", "failed")


class RunsMixin(Database):
    def start_run(self, source: str, as_of: str | date, model_version: str) -> str:
        run_id = uuid.uuid4().hex
        with self._begin() as conn:
            conn.execute(runs.insert().values(
                id=run_id, started_at=now(), source=source, as_of=day(as_of),
                status="running", model_version=model_version,
            ))
        return run_id

    def finish_run(self, run_id: str, counts: dict[str, Any], status: str = "succeeded", error: str | None = None) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {', '.join(RUN_STATUSES)}, got {status!r}")
        with self._begin() as conn:
            done = conn.execute(
                update(runs).where(runs.c.id == run_id)
                .values(finished_at=now(), counts=counts, status=status, error=error)
            )
            if done.rowcount == 0:
                raise NotFound(f"no run {run_id!r}")

    def latest_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.started_at.desc()).limit(limit)).mappings()
            return [jsonable(dict(r)) for r in rows]
