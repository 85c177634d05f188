"""Poison input must not sink a run: isolate the records that crash the engine, score the rest.

The engine runs over everything at once.  If that raises, the batch is split
into chunks of accounts (with their deals, orders, activities…) and leads, and
failing chunks are halved until the failing records are alone; those are
quarantined with the error, everything else is scored.  The chunks share the
whole batch's population statistics (engine/population.py), so a record
scores the same whichever way it got scored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from stepwise.engine.population import population_of
from stepwise.engine.records import CanonicalData, as_utc
from stepwise.engine.run import EngineResult, recommend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quarantined:
    record: str  # "account:ACC-1" or "lead:L-1"
    error: str


def recommend_or_quarantine(data: CanonicalData, as_of, catalog, chunk_size: int = 500,
                            **kwargs) -> tuple[EngineResult, list[Quarantined]]:
    try:
        return recommend(data, as_of, catalog, **kwargs), []
    except Exception as exc:  # noqa: BLE001 - any engine failure triggers isolation, never a lost run
        log.error("engine failed on the whole batch (%s: %s); isolating the failing records", type(exc).__name__, exc)
    if kwargs.get("population") is None:
        try:
            kwargs["population"] = population_of(data, as_utc(as_of))
        except Exception:  # noqa: BLE001 - the poison may be in the statistics too: each chunk computes its own then
            log.exception("population statistics failed; each chunk uses its own")
    records = [("account", a) for a in data.table("accounts")["account_id"]] + [("lead", lead) for lead in data.table("leads")["lead_id"]]
    results: list[EngineResult] = []
    quarantined: list[Quarantined] = []
    pending = [records[i:i + chunk_size] for i in range(0, len(records), chunk_size)]
    while pending:
        chunk = pending.pop()
        subset = data.subset({r for k, r in chunk if k == "account"}, {r for k, r in chunk if k == "lead"})
        try:
            results.append(recommend(subset, as_of, catalog, **kwargs))
        except Exception as exc:  # noqa: BLE001
            if len(chunk) == 1:
                kind, record_id = chunk[0]
                quarantined.append(Quarantined(f"{kind}:{record_id}", f"{type(exc).__name__}: {exc}"))
                log.error("quarantined %s %s: %s: %s", kind, record_id, type(exc).__name__, exc)
            else:
                half = len(chunk) // 2
                pending += [chunk[:half], chunk[half:]]
    return _merge(results), quarantined


def _merge(results: list[EngineResult]) -> EngineResult:
    if not results:
        return EngineResult([], pd.DataFrame(), [], {"candidates": 0, "removed_by_rule": {}, "recommendations": 0, "records": {}})
    removed = pd.concat([r.removed for r in results], ignore_index=True)
    recs = sorted((rec for r in results for rec in r.recommendations), key=lambda rec: (rec.record_type, rec.record_id, rec.rank))
    notes = list(dict.fromkeys(n for r in results for n in r.notes))
    records: dict[str, int] = {}
    for r in results:
        for scope, n in r.stats["records"].items():
            records[scope] = records.get(scope, 0) + n
    stats = {
        "candidates": sum(r.stats["candidates"] for r in results),
        "removed_by_rule": removed["rule"].value_counts().to_dict() if not removed.empty else {},
        "recommendations": len(recs),
        "records": records,
    }
    return EngineResult(recs, removed, notes, stats)
