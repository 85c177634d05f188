"""A fanned-out run's plan and progress, in the store: which chunks exist, which are done.

The store, not Redis, holds this so a restarted broker loses nothing but queued messages,
progress is visible to `stepwise status`, and completion is decided by one conditional
UPDATE (the chunk that settles the last one claims the finish; a redelivered chunk cannot
claim it twice).  A chunk's input rides along as a blob and is dropped once it is scored.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, case, exists, func, select, update

from stepwise.store.database import Database, attach
from stepwise.store.schema import fanout_runs, run_chunks, run_predictors
from stepwise.store.values import now as _now

SETTLED = ("done", "failed")


@dataclass(frozen=True)
class FanoutRun:
    run_id: str
    source: str
    spec: str
    full: bool
    as_of: str
    write_back: bool
    population: dict[str, Any]
    pulled: dict[str, int]
    skipped_rows: int
    chunks: int


class RunChunks:
    def __init__(self, store: Database | Engine) -> None:
        self._db = attach(store)
        self.engine = self._db.engine

    def create(self, run: FanoutRun, parts: list[tuple[int, bytes]], predictors: bytes | None = None) -> None:
        """The plan, every chunk's input and the run's learned predictions, in one transaction: a run is either
        planned whole or not at all."""
        now = _now()
        with self._db._begin() as conn:
            if predictors is not None:
                conn.execute(run_predictors.insert().values(run_id=run.run_id, artifact=predictors, created_at=now))
            conn.execute(fanout_runs.insert().values(
                run_id=run.run_id, source=run.source, spec=run.spec, full=run.full, as_of=run.as_of, write_back=run.write_back,
                population=run.population, pulled=run.pulled, skipped_rows=run.skipped_rows, chunks=run.chunks,
                finishing=False, created_at=now))
            for number, (records, blob) in enumerate(parts):
                conn.execute(run_chunks.insert().values(
                    run_id=run.run_id, chunk=number, status="pending", records=records, attempts=0,
                    payload=blob, updated_at=now))

    def run(self, run_id: str) -> FanoutRun | None:
        with self._db._connect() as conn:
            row = conn.execute(select(fanout_runs).where(fanout_runs.c.run_id == run_id)).mappings().first()
        if row is None:
            return None
        return FanoutRun(**{k: row[k] for k in FanoutRun.__dataclass_fields__})

    def predictors(self, run_id: str) -> bytes | None:
        with self._db._connect() as conn:
            return conn.execute(select(run_predictors.c.artifact).where(run_predictors.c.run_id == run_id)).scalar()

    def drop_predictors(self, run_id: str) -> None:
        """Once the run is finished nothing reads them again (the store keeps `stepwise train` models apart)."""
        with self._db._begin() as conn:
            conn.execute(run_predictors.delete().where(run_predictors.c.run_id == run_id))

    def take(self, run_id: str, chunk: int) -> tuple[str, bytes | None]:
        """(status, input) of a chunk, counting the attempt; a settled chunk has no input left."""
        with self._db._begin() as conn:
            conn.execute(update(run_chunks).where(_key(run_id, chunk), run_chunks.c.status == "pending")
                         .values(attempts=run_chunks.c.attempts + 1, updated_at=_now()))
            row = conn.execute(select(run_chunks.c.status, run_chunks.c.payload).where(_key(run_id, chunk))).first()
        if row is None:
            raise LookupError(f"run {run_id} has no chunk {chunk}")
        return row.status, row.payload

    def settle(self, run_id: str, chunk: int, counts: dict[str, Any] | None = None, error: str | None = None) -> bool:
        """Mark a chunk done (or failed) and drop its input; True for the one call that settles the run's last
        chunk, which then owns the run's finish."""
        with self._db._begin() as conn:
            conn.execute(update(run_chunks).where(_key(run_id, chunk), run_chunks.c.status == "pending").values(
                status="failed" if error else "done", counts=counts, error=error, payload=None,
                worker=f"{socket.gethostname()}:{os.getpid()}", updated_at=_now()))
        return self._claim_finish(run_id)

    def _claim_finish(self, run_id: str) -> bool:
        unsettled = exists().where(run_chunks.c.run_id == run_id, run_chunks.c.status.not_in(SETTLED))
        with self._db._begin() as conn:
            claimed = conn.execute(update(fanout_runs).where(
                fanout_runs.c.run_id == run_id, fanout_runs.c.finishing.is_(False), ~unsettled,
            ).values(finishing=True))
        return claimed.rowcount == 1

    def chunk_results(self, run_id: str) -> list[dict[str, Any]]:
        with self._db._connect() as conn:
            rows = conn.execute(select(run_chunks.c.chunk, run_chunks.c.status, run_chunks.c.records,
                                       run_chunks.c.attempts, run_chunks.c.counts, run_chunks.c.error,
                                       run_chunks.c.worker)
                                .where(run_chunks.c.run_id == run_id).order_by(run_chunks.c.chunk)).mappings()
            return [dict(r) for r in rows]

    def progress(self, run_ids: list[str]) -> dict[str, dict[str, int]]:
        """Per run: chunks, done, failed, records (planned) and scored (in done chunks)."""
        if not run_ids:
            return {}
        c = run_chunks.c
        query = (select(c.run_id, func.count().label("chunks"),
                        func.sum(_when(c.status == "done", 1)).label("done"),
                        func.sum(_when(c.status == "failed", 1)).label("failed"),
                        func.sum(c.records).label("records"),
                        func.sum(_when(c.status == "done", c.records)).label("scored"))
                 .where(c.run_id.in_(run_ids)).group_by(c.run_id))
        with self._db._connect() as conn:
            return {r.run_id: {k: int(getattr(r, k) or 0) for k in ("chunks", "done", "failed", "records", "scored")}
                    for r in conn.execute(query)}


def _when(condition, value):
    return case((condition, value), else_=0)


def _key(run_id: str, chunk: int):
    return and_(run_chunks.c.run_id == run_id, run_chunks.c.chunk == chunk)
