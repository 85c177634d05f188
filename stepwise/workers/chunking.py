"""How a pulled source is cut into chunks that are scored independently, and put back together.

A chunk is a set of accounts (with their deals, orders, activities…) and leads, about `chunk_size`
records, so one slow chunk never holds up the rest and a crashed worker redoes only its own.  Accounts are never split: every signal of a deal reads its account.
A chunk travels through the store as a compressed pickle of its canonical tables.  Poison
isolation (workers/quarantine.py) cuts a failing chunk in halves the same way.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import CanonicalData
from stepwise.engine.run import EngineResult

DEFAULT_CHUNK_SIZE = 5000


@dataclass(frozen=True)
class ChunkPlan:
    account_chunk: pd.Series  # account_id → chunk number
    lead_chunk: pd.Series     # lead_id → chunk number
    chunks: int
    records: list[int]        # accounts + deals + leads per chunk


def plan_chunks(data: CanonicalData, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ChunkPlan:
    """Consecutive accounts (weighted 1 + their deals), then leads, until a chunk holds `chunk_size` records.

    Leads fill the last accounts' chunk before they start their own: each chunk costs an engine pass of its
    own, so a source that fits in one chunk is scored in one pass."""
    if chunk_size < 1:
        raise ValueError(f"chunk size must be at least 1, got {chunk_size}")
    accounts, leads = _record_ids(data)
    weight = np.concatenate([_weights(data, accounts), np.ones(len(leads), dtype=np.int64)])
    numbers = (np.cumsum(weight) - weight) // chunk_size
    chunks = int(numbers[-1]) + 1 if len(numbers) else 1
    return _plan(accounts, numbers[:len(accounts)], weight[:len(accounts)], leads, numbers[len(accounts):], chunks)


def halves(data: CanonicalData) -> list[CanonicalData]:
    """The records (accounts, then leads) in two parts of as many records each, give or take one; a single
    record cannot be halved (an empty list then)."""
    accounts, leads = _record_ids(data)
    records = len(accounts) + len(leads)
    if records < 2:
        return []
    numbers = (np.arange(records) >= records // 2).astype(np.int64)
    plan = _plan(accounts, numbers[:len(accounts)], _weights(data, accounts), leads, numbers[len(accounts):], 2)
    return split(data, plan)


def only_record(data: CanonicalData) -> str | None:
    """"account:ID" or "lead:ID" when the data holds exactly one record (what quarantine names)."""
    accounts, leads = _record_ids(data)
    if len(accounts) + len(leads) != 1:
        return None
    return f"account:{accounts[0]}" if len(accounts) else f"lead:{leads[0]}"


def split(data: CanonicalData, plan: ChunkPlan) -> list[CanonicalData]:
    return data.partition(plan.account_chunk, plan.lead_chunk, plan.chunks)


def pack(data: CanonicalData) -> bytes:
    # Level 1: the payload is written once and read once; speed matters more than size.
    return zlib.compress(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack(blob: bytes) -> CanonicalData:
    # Only ever a blob this module wrote into Stepwise's own store (like the model store's joblib files).
    return pickle.loads(zlib.decompress(blob))  # noqa: S301


def in_run_order(recs: Iterable[Recommendation]) -> list[Recommendation]:
    """The order a single pass over everything returns: by record, then rank.  The score JSON and the
    CRM push's batches follow it, whichever chunks the recommendations came from."""
    return sorted(recs, key=lambda rec: (rec.record_type, rec.record_id, rec.rank))


def merge_results(results: list[EngineResult]) -> EngineResult:
    """The engine results of disjoint parts of the records as one result, as a single pass returns it."""
    if not results:
        return EngineResult([], pd.DataFrame(), [], {"candidates": 0, "removed_by_rule": {}, "recommendations": 0,
                                                     "records": {}})
    if len(results) == 1:
        return results[0]
    removed = pd.concat([r.removed for r in results], ignore_index=True)
    recs = in_run_order(rec for r in results for rec in r.recommendations)
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
    return EngineResult(recs, removed, list(dict.fromkeys(n for r in results for n in r.notes)), stats)


def _record_ids(data: CanonicalData) -> tuple[np.ndarray, np.ndarray]:
    return (data.table("accounts")["account_id"].drop_duplicates().to_numpy(),
            data.table("leads")["lead_id"].drop_duplicates().to_numpy())


def _weights(data: CanonicalData, accounts: np.ndarray) -> np.ndarray:
    deals_per_account = data.table("deals")["account_id"].value_counts()
    return 1 + deals_per_account.reindex(accounts).fillna(0).to_numpy(dtype=np.int64)


def _plan(accounts: np.ndarray, account_numbers: np.ndarray, weight: np.ndarray, leads: np.ndarray,
          lead_numbers: np.ndarray, chunks: int) -> ChunkPlan:
    records = np.bincount(account_numbers, weights=weight, minlength=chunks) + np.bincount(lead_numbers, minlength=chunks)
    return ChunkPlan(pd.Series(account_numbers, index=accounts), pd.Series(lead_numbers, index=leads), chunks,
                     [int(r) for r in records])
