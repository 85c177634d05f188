"""A run in one process: pull from a connector → score every chunk here → store → write back.

`stepwise score`, `stepwise sync`, the demo and the benches run this; the Celery tasks run the same
stages (workers/fanout.py) with the chunks spread over workers, so there is one code path to trust.
Re-running the same day is idempotent: recommendation ids are stable and the store upserts by id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from stepwise.engine.catalog import Catalog
from stepwise.engine.records import CanonicalData
from stepwise.engine.run import EngineResult
from stepwise.integration.base import Connector, PushResult
from stepwise.store import Store
from stepwise.workers import fanout
from stepwise.workers.chunking import merge_results
from stepwise.workers.intake import keep_cursors, take_in
from stepwise.workers.narrate import Narrator

log = logging.getLogger(__name__)

#: Where a run without a store keeps its state for its duration (see `run_pipeline`).
SCRATCH_STORE_URL = "sqlite://"
#: A chunk size no source reaches: the in-process run's one chunk.
WHOLE_SOURCE = 2**62


@dataclass
class PipelineResult:
    run_id: str | None
    engine: EngineResult
    data: CanonicalData
    pushed: PushResult = field(default_factory=PushResult)

    @property
    def recommendations(self):
        return self.engine.recommendations


def run_pipeline(connector: Connector, catalog: Catalog, as_of: str | pd.Timestamp,
                 store: Store | None = None, write_back: bool = True, narrator: Narrator | None = None, *,
                 chunk_size: int | None = None) -> PipelineResult:
    """Plan, score each chunk and finish, as the workers do, in this process.

    By default the whole source is one chunk: chunks exist to spread a run over workers, and in one
    process each chunk would only add an engine pass of its own (at 100,000 deals, 28 chunks of
    `STEPWISE_CHUNK_SIZE` made `stepwise score` 37 % slower than one pass).  Tests pass `chunk_size`
    to run the same stages over many chunks.

    Without a store (`stepwise score` without `--store`) the run keeps its state in a scratch in-memory
    SQLite store, dropped at the end: the stages then run as they do against the real store, rather than
    along a second path of `if store` branches; only the writes nothing would read (the cards, the
    dashboard's deal rows) are skipped there.  Nothing is remembered: no stored models, no reps' responses, no cursors (`run_id`
    is then None)."""
    pulled = take_in(connector, store)
    state = store if store is not None else Store(SCRATCH_STORE_URL)
    try:
        plan = fanout.plan_in_process(connector.source, pulled.data, as_of, state, write_back=write_back,
                                      chunk_size=chunk_size or WHOLE_SOURCE, scratch=store is None)
        try:
            results = [fanout.score_in_process(plan, chunk, catalog, state, narrator) for chunk in range(plan.run.chunks)]
            # Every recommendation of the pull is stored now: the next pull may start where this one ended.
            keep_cursors(connector, store, pulled)
            result = merge_results(results)
            pushed = fanout.finish_in_process(plan, connector, state, result.recommendations)
        except Exception as exc:
            fanout.fail_run(state, plan.run.run_id, exc)
            raise
    finally:
        if store is None:
            state.close()
    return PipelineResult(plan.run.run_id if store is not None else None, result, pulled.data, pushed)
