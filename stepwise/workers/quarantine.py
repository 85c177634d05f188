"""Poison input must not sink a run: isolate the records that crash the engine, score the rest.

A chunk is scored in one engine pass.  If that raises, the chunk is cut in halves (whole
accounts with their deals, orders, activities…, and leads: workers/chunking.py) and failing
halves are halved again until the failing records are alone; those are quarantined with the
error, everything else is scored.  Every piece reads the whole source's population statistics
(engine/population.py), so a record scores the same whichever way it got scored
(README, "Deploying": a record that crashes the engine does not sink the run).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from stepwise.engine.catalog import Catalog
from stepwise.engine.population import Population
from stepwise.engine.records import CanonicalData
from stepwise.engine.run import EngineResult, recommend
from stepwise.workers.chunking import halves, merge_results, only_record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quarantined:
    record: str  # "account:ACC-1" or "lead:L-1"
    error: str


def recommend_or_quarantine(data: CanonicalData, as_of: pd.Timestamp, catalog: Catalog, *, population: Population,
                            **kwargs) -> tuple[EngineResult, list[Quarantined]]:
    """`recommend` over `data`, minus the records it cannot score; `kwargs` go to `recommend`."""
    results: list[EngineResult] = []
    quarantined: list[Quarantined] = []
    pending = [data]
    while pending:
        piece = pending.pop()
        try:
            results.append(recommend(piece, as_of, catalog, population=population, **kwargs))
        except Exception as exc:  # noqa: BLE001 - any engine failure triggers isolation, never a lost run
            error = f"{type(exc).__name__}: {exc}"
            record = only_record(piece)
            if record is not None:
                quarantined.append(Quarantined(record, error))
                log.error("quarantined %s: %s", record.replace(":", " ", 1), error)
                continue
            parts = halves(piece)
            if not parts:
                raise  # no record to blame: the engine fails on no input at all, a bug rather than poison
            if piece is data:
                log.error("engine failed on the whole batch (%s); isolating the failing records", error)
            pending += parts
    return merge_results(results), quarantined
