"""A run fanned out across workers: plan (pull, cut into chunks) → score each chunk → finish.

The Celery tasks in workers/tasks.py call these three stages; each is safe to run again
after a crash (upserts by stable id, a chunk settles once, the finish is claimed once).
Scoring a chunk gives exactly what a single pass over everything gives, because the few
cross-record statistics travel with the plan (engine/population.py).  The finish writes
back once for the whole run: a CRM push that expires cards no longer current must see the
run's full set, never one chunk's.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from typing import Any

import joblib
import pandas as pd

from stepwise.engine.catalog import Catalog
from stepwise.engine.population import Population, population_of
from stepwise.engine.predictions import Predictors
from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import as_utc
from stepwise.engine.run import PRIOR_MODEL_VERSION
from stepwise.integration.base import Connector, PushResult
from stepwise.logs import run_scope
from stepwise.store import FanoutRun, RunChunks, Store
from stepwise.workers.chunking import DEFAULT_CHUNK_SIZE, pack, plan_chunks, split, unpack
from stepwise.workers.narrate import Narrator, recent_notes
from stepwise.workers.pipeline import _deal_accounts, _learned_models, predictors_for
from stepwise.workers.quarantine import recommend_or_quarantine

log = logging.getLogger(__name__)


def plan_run(connector: Connector, spec: str, as_of: str | pd.Timestamp, store: Store, *, full: bool = False,
             write_back: bool = True, chunk_size: int = DEFAULT_CHUNK_SIZE) -> tuple[str, int]:
    """Pull, store what the dashboard needs of the whole source, cut into chunks; returns (run id, chunks)."""
    as_of = as_utc(as_of)
    day = as_of.strftime("%Y-%m-%d")
    data = connector.pull()
    models = _learned_models(store, connector.source, day)
    run_id = store.start_run(connector.source, day, models.version if models is not None else PRIOR_MODEL_VERSION)
    with run_scope(run_id=run_id, source=connector.source):
        try:
            store.upsert_deal_links(connector.source, _deal_accounts(data))
            store.upsert_deal_outcomes(connector.source, data.table("deals")[["deal_id", "stage", "is_closed", "is_won"]]
                                       .to_dict("records"))
            expire_deleted = getattr(connector, "expire_deleted", None)
            if expire_deleted is not None:
                expire_deleted(store)
            plan = plan_chunks(data, chunk_size)
            parts = [(records, pack(part)) for records, part in zip(plan.records, split(data, plan))]
            predictors = predictors_for(data, connector.source, as_of, store)
            RunChunks(store).create(FanoutRun(
                run_id=run_id, source=connector.source, spec=spec, full=full, as_of=day, write_back=write_back,
                population=population_of(data, as_of).to_dict(), pulled=data.counts(), skipped_rows=len(data.skipped),
                chunks=plan.chunks), parts, predictors=_dumps(predictors) if predictors is not None else None)
        except Exception as exc:
            store.finish_run(run_id, {}, status="failed", error=f"{type(exc).__name__}: {exc}")
            raise
        log.info("planned %d chunk(s) of ≤ %d records: %d records pulled", plan.chunks, chunk_size, sum(plan.records))
    return run_id, plan.chunks


def score_chunk(run_id: str, chunk: int, catalog: Catalog, store: Store, narrator: Narrator | None = None) -> bool:
    """Score one chunk and store its recommendations; True when this call settled the run's last chunk
    (the caller then starts the finish)."""
    chunks = RunChunks(store)
    run = chunks.run(run_id)
    if run is None:
        raise LookupError(f"no fanned-out run {run_id}")
    with run_scope(run_id=run_id, source=run.source, chunk_id=str(chunk)):
        status, blob = chunks.take(run_id, chunk)
        if status != "pending" or blob is None:
            log.info("chunk already %s (a redelivery): nothing to score", status)
            return chunks.settle(run_id, chunk)
        data = unpack(blob)
        as_of = as_utc(run.as_of)
        learned = chunks.predictors(run_id)
        result, quarantined = recommend_or_quarantine(
            data, as_of, catalog, source=run.source, history=store.feedback_history(run.source),
            models=_learned_models(store, run.source, run.as_of), population=Population.from_dict(run.population),
            predictors=_loads(learned) if learned is not None else None)
        recs = result.recommendations
        if narrator is not None:
            # The budget is per run: each chunk gets its share.
            narrator.budget = -(-narrator.budget // max(run.chunks, 1))
            recs = narrator.narrate(recs, recent_notes(data.table("activities"), as_of))
        store.upsert_recommendations(run_id, recs)
        log.info("chunk scored: %d records, %d recommendations, %d quarantined",
                 sum(result.stats["records"].values()), len(recs), len(quarantined))
        return chunks.settle(run_id, chunk, {
            "candidates": result.stats["candidates"],
            "recommendations": len(recs),
            "removed_by_rule": result.stats["removed_by_rule"],
            "quarantined": [{"record": q.record, "error": q.error} for q in quarantined],
            "notes": result.notes,
        })


def chunk_failed(run_id: str, chunk: int, error: str, store: Store) -> bool:
    """A chunk that kept failing after its retries: recorded, and the run can still finish (as failed)."""
    log.error("chunk %d of run %s failed: %s", chunk, run_id, error)
    return RunChunks(store).settle(run_id, chunk, error=error[:2000])


def finish_run(run_id: str, connector: Connector | None, store: Store) -> dict[str, Any]:
    """Expire what the run did not keep, write the run back to the CRM in its batches, close the run."""
    chunks = RunChunks(store)
    run = chunks.run(run_id)
    if run is None:
        raise LookupError(f"no fanned-out run {run_id}")
    results = chunks.chunk_results(run_id)
    failed = [r for r in results if r["status"] == "failed"]
    with run_scope(run_id=run_id, source=run.source):
        recs = recommendations_of_run(store, run_id)
        if not failed:
            # With a failed chunk its records' cards stay until the periodic expiry: better old advice than none.
            store.expire_stale(run.source, run.as_of, {r.id for r in recs})
        pushed = PushResult()
        if run.write_back and connector is not None:
            pushed = connector.push(recs)
        counts = _counts(run, results, recs, pushed)
        error = "; ".join(f"chunk {r['chunk']}: {r['error']}" for r in failed)[:4000] or None
        store.finish_run(run_id, counts, status="failed" if failed else "succeeded", error=error)
        chunks.drop_predictors(run_id)
        for note in dict.fromkeys(n for r in results for n in (r["counts"] or {}).get("notes", [])):
            log.info(note)
        log.info("run finished: %d chunks (%d failed), %d recommendations, %d written back",
                 len(results), len(failed), len(recs), pushed.written)
    return counts


def _dumps(predictors: Predictors) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(predictors, buffer, compress=3)
    return buffer.getvalue()


def _loads(blob: bytes) -> Predictors:
    return joblib.load(io.BytesIO(blob))


def recommendations_of_run(store: Store, run_id: str) -> list[Recommendation]:
    """What the run stored, in the order a single pass returns it (the push's batches follow it)."""
    return sorted(store.recommendations_of_run(run_id), key=lambda r: (r.record_type, r.record_id, r.rank))


def _counts(run: FanoutRun, results: list[dict[str, Any]], recs: list[Recommendation], pushed: PushResult) -> dict:
    done = [r["counts"] or {} for r in results if r["status"] == "done"]
    removed: Counter[str] = Counter()
    for c in done:
        removed.update(c.get("removed_by_rule", {}))
    return {
        "quarantined": [q for c in done for q in c.get("quarantined", [])],
        "pulled": run.pulled,
        "skipped_rows": run.skipped_rows,
        "candidates": sum(c.get("candidates", 0) for c in done),
        "recommendations": len(recs),
        "removed_by_rule": dict(removed.most_common()),
        "written_back": pushed.written,
        "write_back_failed": len(pushed.failed),
        # What the CRM said about each rejected record (the first 100): an admin fixes the data from this.
        "write_back_errors": [{"id": rec_id, "error": error} for rec_id, error in pushed.failed[:100]],
        "chunks": {"total": len(results), "failed": sum(r["status"] == "failed" for r in results),
                   "redelivered": sum(r["attempts"] > 1 for r in results)},
    }
