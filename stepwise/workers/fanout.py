"""Every run's three stages: plan (pull, cut into chunks) → score each chunk → finish.

The Celery tasks (workers/tasks.py) fan the chunks out across workers; `run_pipeline`
(workers/pipeline.py) scores them one after another in its own process.  Each stage is safe
to run again after a crash (upserts by stable id, a chunk settles once, the finish is claimed
once).  Scoring a chunk gives exactly what a single pass over everything gives, because the
few cross-record statistics and the learned predictions travel with the plan (README, "How a
run fans out").  The finish writes back once for the whole run: a CRM push that expires cards
no longer current must see the run's full set, never one chunk's.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import joblib
import pandas as pd

from stepwise.engine import today
from stepwise.engine.catalog import Catalog, TodayRules
from stepwise.engine.models.apply import EngineModels
from stepwise.engine.population import Population, population_of
from stepwise.engine.predictions import Predictors
from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import CanonicalData, as_utc
from stepwise.engine.run import PRIOR_MODEL_VERSION, EngineResult
from stepwise.integration.base import Connector, PushResult
from stepwise.logs import run_scope
from stepwise.store import FanoutRun, LLMDrafts, RunChunks, Store, TodayLists
from stepwise.workers.alerts import alert_run
from stepwise.workers.chunking import DEFAULT_CHUNK_SIZE, in_run_order, pack, plan_chunks, split, unpack
from stepwise.workers.holdout import hold_back, track_outcomes
from stepwise.workers.intake import keep_cursors, take_in
from stepwise.workers.narrate import Narrator, add_llm_counts, llm_counts, recent_notes
from stepwise.workers.quarantine import recommend_or_quarantine
from stepwise.workers.run_models import engine_models, learned_models, predictors_from, stored_bundle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkInputs:
    """What every chunk of a run scores with besides its own records."""

    population: Population         # the whole source's statistics (engine/population.py)
    predictors: Predictors | None  # learned once for the run (workers/run_models.py)
    models: EngineModels | None    # the stored `stepwise train` models; None: the catalog's priors
    history: pd.DataFrame | None   # the reps' responses so far


@dataclass(frozen=True)
class Plan:
    """A planned run as the process that planned it holds it: the chunks' records and their inputs."""

    run: FanoutRun
    parts: list[CanonicalData]
    inputs: ChunkInputs
    #: False for a run on a scratch store (`stepwise score` without `--store`): its cards and the
    #: dashboard's deal rows would be written only to be dropped, ~10 s at 100,000 deals.
    keeps_results: bool = True


def plan_run(connector: Connector, spec: str, as_of: str | pd.Timestamp, store: Store, *, full: bool = False,
             write_back: bool = True, chunk_size: int = DEFAULT_CHUNK_SIZE) -> tuple[str, int]:
    """Pull, store what the dashboard needs of the whole source, cut into chunks that wait in the store for
    the workers; returns (run id, chunks)."""
    pulled = take_in(connector, store)
    plan = _plan(connector.source, pulled.data, spec, as_of, store, full=full, write_back=write_back,
                 chunk_size=chunk_size, in_store=True)
    # Every chunk is in the store now: a worker that crashes later scores it again, never the pull.
    keep_cursors(connector, store, pulled)
    return plan.run.run_id, plan.run.chunks


def score_chunk(run_id: str, chunk: int, catalog: Catalog, store: Store, narrator: Narrator | None = None) -> bool:
    """Score one chunk waiting in the store and store its recommendations; True when this call settled the
    run's last chunk (the caller then starts the finish)."""
    chunks = RunChunks(store)
    run = _planned(chunks, run_id)
    with run_scope(run_id=run_id, source=run.source, chunk_id=str(chunk)):
        status, blob = chunks.take(run_id, chunk)
        if status != "pending" or blob is None:
            log.info("chunk already %s (a redelivery): nothing to score", status)
            return chunks.settle(run_id, chunk)
        learned = chunks.predictors(run_id)
        inputs = ChunkInputs(Population.from_dict(run.population), _loads(learned) if learned is not None else None,
                             learned_models(store, run.source, run.as_of), store.feedback_history(run.source))
        _, finishing = _score(chunks, run, chunk, unpack(blob), inputs, catalog, store, narrator, logging.INFO)
    return finishing


def chunk_failed(run_id: str, chunk: int, error: str, store: Store) -> bool:
    """A chunk that kept failing after its retries: recorded, and the run can still finish (as failed)."""
    log.error("chunk %d of run %s failed: %s", chunk, run_id, error)
    return RunChunks(store).settle(run_id, chunk, error=error[:2000])


def finish_run(run_id: str, connector: Connector | None, store: Store) -> dict[str, Any]:
    """Expire what the run did not keep, write the run back to the CRM in its batches, close the run."""
    chunks = RunChunks(store)
    run = _planned(chunks, run_id)
    with run_scope(run_id=run_id, source=run.source):
        counts, _ = _finish(chunks, run, connector, store, recommendations_of_run(store, run_id), logging.INFO)
    return counts


# The same stages for a run whose chunks are scored in the process that planned it (workers/pipeline.py):
# the chunks' records, the learned predictions and the recommendations stay in memory rather than make
# a round trip through the store that nothing else reads.  Its progress is logged at debug level: its
# caller reports the run (`stepwise score` prints only the recommendations), a worker has only its log.

def plan_in_process(source: str, data: CanonicalData, as_of: str | pd.Timestamp, store: Store, *,
                    write_back: bool = True, chunk_size: int = DEFAULT_CHUNK_SIZE, scratch: bool = False) -> Plan:
    return _plan(source, data, source, as_of, store, full=False, write_back=write_back, chunk_size=chunk_size,
                 in_store=False, keeps_results=not scratch)


def score_in_process(plan: Plan, chunk: int, catalog: Catalog, store: Store,
                     narrator: Narrator | None = None) -> EngineResult:
    chunks = RunChunks(store)
    with run_scope(run_id=plan.run.run_id, source=plan.run.source, chunk_id=str(chunk)):
        chunks.take(plan.run.run_id, chunk)  # counts the attempt, as a worker's does
        result, _ = _score(chunks, plan.run, chunk, plan.parts[chunk], plan.inputs, catalog, store, narrator,
                           logging.DEBUG, keep=plan.keeps_results)
    return result


def finish_in_process(plan: Plan, connector: Connector | None, store: Store,
                      recs: list[Recommendation]) -> PushResult:
    """`recs`: every chunk's recommendations, in run order."""
    with run_scope(run_id=plan.run.run_id, source=plan.run.source):
        _, pushed = _finish(RunChunks(store), plan.run, connector, store, recs, logging.DEBUG)
    return pushed


def fail_run(store: Store, run_id: str, exc: BaseException) -> None:
    store.finish_run(run_id, {}, status="failed", error=f"{type(exc).__name__}: {exc}")


def _plan(source: str, data: CanonicalData, spec: str, as_of: str | pd.Timestamp, store: Store, *, full: bool,
          write_back: bool, chunk_size: int, in_store: bool, keeps_results: bool = True) -> Plan:
    """Start the run on pulled data: deal links and outcomes for the dashboard, the chunks, the population
    statistics and the learned predictions (written to the store for other processes when `in_store`)."""
    as_of = as_utc(as_of)
    day = as_of.strftime("%Y-%m-%d")
    bundle = stored_bundle(store, source, day)
    models = engine_models(bundle)
    run_id = store.start_run(source, day, models.version if models is not None else PRIOR_MODEL_VERSION)
    with run_scope(run_id=run_id, source=source):
        try:
            if keeps_results:
                deals = data.table("deals")
                store.upsert_deal_links(source, list(zip(deals["deal_id"], deals["account_id"])))
                # Outcomes feed the dashboard's "accepted vs dismissed vs not shown" win rates.
                store.upsert_deal_outcomes(source, deals[["deal_id", "stage", "is_closed", "is_won"]]
                                           .to_dict("records"))
                # The holdout's outcomes are read from this pull, out of time (README, "Measured lift").
                log.debug("holdout: %s", track_outcomes(store, source, data, day))
            chunking = plan_chunks(data, chunk_size)
            parts = split(data, chunking) if chunking.chunks > 1 else [data]  # one chunk: the whole pull, uncopied
            predictors = predictors_from(bundle, data, as_of)
            population = population_of(data, as_of)
            run = FanoutRun(run_id=run_id, source=source, spec=spec, full=full, as_of=day, write_back=write_back,
                            population=population.to_dict(), pulled=data.counts(), skipped_rows=len(data.skipped),
                            chunks=chunking.chunks)
            blobs = [pack(part) if in_store else None for part in parts]
            learned = _dumps(predictors) if in_store and predictors is not None else None
            RunChunks(store).create(run, list(zip(chunking.records, blobs)), predictors=learned)
            # In process the reps' responses are read once for every chunk; a worker reads them as it scores.
            history = None if in_store else store.feedback_history(source)
        except Exception as exc:
            fail_run(store, run_id, exc)
            raise
        log.log(logging.INFO if in_store else logging.DEBUG, "planned %d chunk(s) of ≤ %d records: %d records pulled",
                chunking.chunks, chunk_size, sum(chunking.records))
    return Plan(run, parts, ChunkInputs(population, predictors, models, history), keeps_results)


def _score(chunks: RunChunks, run: FanoutRun, chunk: int, data: CanonicalData, inputs: ChunkInputs,
           catalog: Catalog, store: Store, narrator: Narrator | None, progress: int,
           keep: bool = True) -> tuple[EngineResult, bool]:
    """Score a chunk's records, store its recommendations, settle it; True when this call settled the run's
    last chunk."""
    as_of = as_utc(run.as_of)
    result, quarantined = recommend_or_quarantine(
        data, as_of, catalog, source=run.source, history=inputs.history, models=inputs.models,
        population=inputs.population, predictors=inputs.predictors)
    if keep:  # control cards are stored apart and never narrated, pushed, listed or alerted
        result.recommendations = hold_back(result.recommendations, catalog, store, run.run_id)
    llm: dict[str, Any] = {}
    if narrator is not None:
        # Each chunk gets its share of the budget, the shares add up to it (a copy: the caller's narrator keeps
        # the whole, for the next chunk in process); the day's calls are reserved in the store, so the budget
        # also holds across the day's runs.  Drafts are cached there, by recommendation and facts.
        share = replace(narrator, budget=narrator.budget // run.chunks + (chunk < narrator.budget % run.chunks),
                        stats=Counter(), drafts=narrator.drafts or LLMDrafts(store))
        result.recommendations = share.narrate(result.recommendations, recent_notes(data.table("activities"), as_of))
        narrator.stats.update(share.stats)
        llm = llm_counts(share.stats)
    if keep:
        store.upsert_recommendations(run.run_id, result.recommendations)
    log.log(progress, "chunk scored: %d records, %d recommendations, %d quarantined",
            sum(result.stats["records"].values()), len(result.recommendations), len(quarantined))
    finishing = chunks.settle(run.run_id, chunk, {
        "candidates": result.stats["candidates"],
        "recommendations": len(result.recommendations),
        "removed_by_rule": result.stats["removed_by_rule"],
        "quarantined": [{"record": q.record, "error": q.error} for q in quarantined],
        "notes": result.notes,
        "llm": llm,
        # The rules' Today settings travel to the finish (which has no catalog) with the chunk's counts.
        "today": catalog.rules.today.model_dump(),
    })
    return result, finishing


def _finish(chunks: RunChunks, run: FanoutRun, connector: Connector | None, store: Store,
            recs: list[Recommendation], progress: int) -> tuple[dict[str, Any], PushResult]:
    results = chunks.chunk_results(run.run_id)
    failed = [r for r in results if r["status"] == "failed"]
    # In place: an in-process caller's list (what `stepwise score` prints) gets the ranks the CRM gets.
    recs[:] = _with_today(store, run, results, recs)
    if not failed:
        # With a failed chunk its records' cards stay until the periodic expiry: better old advice than none.
        store.expire_stale(run.source, run.as_of, {r.id for r in recs})
    pushed = PushResult()
    if run.write_back and connector is not None:
        pushed = connector.push(recs, as_of=str(run.as_of)[:10])
    counts = run_counts(run, results, recs, pushed)
    counts.update(alert_run(run, recs, connector, store))  # after the write-back: never fails the run
    error = "; ".join(f"chunk {r['chunk']}: {r['error']}" for r in failed)[:4000] or None
    store.finish_run(run.run_id, counts, status="failed" if failed else "succeeded", error=error)
    chunks.drop_predictors(run.run_id)
    for note in dict.fromkeys(n for r in results for n in (r["counts"] or {}).get("notes", [])):
        log.info(note)
    log.log(progress, "run finished: %d chunks (%d failed), %d recommendations, %d written back",
            len(results), len(failed), len(recs), pushed.written)
    return counts, pushed


def _with_today(store: Store, run: FanoutRun, results: list[dict[str, Any]],
                recs: list[Recommendation]) -> list[Recommendation]:
    """Choose every rep's "Today" over the whole run (never per chunk: a rep's records span chunks), keep
    the lists, and store today_rank in the listed cards' payloads; the recommendations with their ranks."""
    settings = next((TodayRules(**counts["today"]) for r in results
                     if (counts := r["counts"] or {}).get("today")), TodayRules())
    day, lists = str(run.as_of)[:10], TodayLists(store)
    chosen = today.choose(recs, day, settings, lists.lists(run.source, day), lists.closed(run.source, day))
    ranked = today.with_ranks(recs, chosen)
    # The chunks stored every card without a rank: only the listed ones change.
    store.upsert_recommendations(run.run_id, [r for r in ranked if r.today_rank is not None])
    lists.replace(run.source, day, chosen)
    return ranked


def recommendations_of_run(store: Store, run_id: str) -> list[Recommendation]:
    """What the run stored, in the order a single pass returns it (the push's batches follow it)."""
    return in_run_order(store.recommendations_of_run(run_id))


def run_counts(run: FanoutRun, results: list[dict[str, Any]], recs: list[Recommendation], pushed: PushResult) -> dict:
    """The run's counts (`stepwise status`, the runs API) from its settled chunks and its push."""
    done = [r["counts"] or {} for r in results if r["status"] == "done"]
    removed: Counter[str] = Counter()
    llm: dict[str, Any] = {}
    for c in done:
        removed.update(c.get("removed_by_rule", {}))
        llm = add_llm_counts(llm, c.get("llm") or {})
    counts = {
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
    if llm:
        # The LLM writer's drafts, when it ran: calls, used, cached, rejected by the allowlist's reason, over budget.
        counts["llm"] = llm
    return counts


def _planned(chunks: RunChunks, run_id: str) -> FanoutRun:
    run = chunks.run(run_id)
    if run is None:
        raise LookupError(f"no fanned-out run {run_id}")
    return run


def _dumps(predictors: Predictors) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(predictors, buffer, compress=3)
    return buffer.getvalue()


def _loads(blob: bytes) -> Predictors:
    return joblib.load(io.BytesIO(blob))
