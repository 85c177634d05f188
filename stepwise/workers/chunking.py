"""How a pulled source is cut into chunks that workers score independently.

A chunk is a set of accounts (with their deals, orders, activities…) and leads of about
`chunk_size` records, so one slow chunk never holds up the rest and a crashed worker
redoes only its own.  Accounts are never split: every signal of a deal reads its account.
A chunk travels through the store as a compressed pickle of its canonical tables.
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stepwise.engine.records import CanonicalData

DEFAULT_CHUNK_SIZE = 5000


@dataclass(frozen=True)
class ChunkPlan:
    account_chunk: pd.Series  # account_id → chunk number
    lead_chunk: pd.Series     # lead_id → chunk number
    chunks: int
    records: list[int]        # accounts + deals + leads per chunk


def plan_chunks(data: CanonicalData, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ChunkPlan:
    """Consecutive accounts (weighted 1 + their deals) until a chunk holds `chunk_size` records; then leads."""
    if chunk_size < 1:
        raise ValueError(f"chunk size must be at least 1, got {chunk_size}")
    accounts = data.table("accounts")["account_id"].drop_duplicates().to_numpy()
    deals_per_account = data.table("deals")["account_id"].value_counts()
    weight = 1 + deals_per_account.reindex(accounts).fillna(0).to_numpy(dtype=np.int64)
    account_numbers = (np.cumsum(weight) - weight) // chunk_size if len(accounts) else np.array([], dtype=np.int64)
    first_lead_chunk = int(account_numbers[-1]) + 1 if len(accounts) else 0
    leads = data.table("leads")["lead_id"].drop_duplicates().to_numpy()
    lead_numbers = first_lead_chunk + np.arange(len(leads)) // chunk_size
    chunks = max(first_lead_chunk + (int(lead_numbers[-1]) - first_lead_chunk + 1 if len(leads) else 0), 1)
    records = np.bincount(account_numbers, weights=weight, minlength=chunks) + np.bincount(lead_numbers, minlength=chunks)
    return ChunkPlan(pd.Series(account_numbers, index=accounts), pd.Series(lead_numbers, index=leads), chunks,
                     [int(r) for r in records])


def split(data: CanonicalData, plan: ChunkPlan) -> list[CanonicalData]:
    return data.partition(plan.account_chunk, plan.lead_chunk, plan.chunks)


def pack(data: CanonicalData) -> bytes:
    # Level 1: the payload is written once and read once; speed matters more than size.
    return zlib.compress(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack(blob: bytes) -> CanonicalData:
    # Only ever a blob this module wrote into Stepwise's own store (like the model store's joblib files).
    return pickle.loads(zlib.decompress(blob))  # noqa: S301
