"""The few statistics a record's signals take from the whole population, not from the record.

"High volume" is the top quarter of accounts by 365-day revenue, a deal's size is read against its
segment's median open deal, and a lead fits when its industry is one the company has won in.
These are computed once over everything a source delivered; a chunk of accounts scored on
another worker gets the same numbers, so fanning a run out never changes a recommendation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stepwise.engine.records import OPEN_STAGES, CanonicalData

HIGH_VOLUME_QUANTILE = 0.75


@dataclass(frozen=True)
class Population:
    high_volume_revenue: float                      # revenue_365d at or above this is "high volume"
    segment_median_amount: dict[str, float] = field(default_factory=dict)
    target_industries: frozenset[str] = frozenset()
    # Competitor names the portfolio knows (deals' competitor field, the content library): a chunk must
    # recognise a name that only another chunk's deals carry.
    competitors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (a task message); infinity means no account bought anything."""
        return {
            "high_volume_revenue": None if math.isinf(self.high_volume_revenue) else self.high_volume_revenue,
            "segment_median_amount": dict(self.segment_median_amount),
            "target_industries": sorted(self.target_industries),
            "competitors": list(self.competitors),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Population:
        threshold = raw.get("high_volume_revenue")
        return cls(
            high_volume_revenue=math.inf if threshold is None else float(threshold),
            segment_median_amount={str(k): float(v) for k, v in raw.get("segment_median_amount", {}).items()},
            target_industries=frozenset(raw.get("target_industries", ())),
            competitors=tuple(raw.get("competitors", ())),
        )


def population_of(data: CanonicalData, as_of: pd.Timestamp) -> Population:
    return Population(
        high_volume_revenue=high_volume_threshold(revenue_365d(data.table("orders"), as_of)),
        segment_median_amount=_segment_medians(data, as_of),
        target_industries=_won_industries(data),
        competitors=known_competitors(data, as_of),
    )


def known_competitors(data: CanonicalData, as_of: pd.Timestamp) -> tuple[str, ...]:
    """Competitor names the portfolio already knows: deals' `competitor` field (deals known by `as_of`,
    open or closed) and the content library's `competitor` column."""
    deals = data.table("deals")
    deals = deals[~(deals["created_at"] > as_of)]
    names = pd.concat([deals["competitor"], data.table("content")["competitor"]]).dropna().astype(str).str.strip()
    return tuple(sorted(set(names[names != ""])))


def revenue_365d(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Order value of the last 365 days per account (orders up to the day)."""
    orders = orders[orders["ordered_at"] <= as_of]
    age = (as_of - orders["ordered_at"]) / pd.Timedelta(days=1)
    return orders["total"].fillna(0.0).where(age <= 365, 0.0).groupby(orders["account_id"]).sum()


def high_volume_threshold(revenue: pd.Series) -> float:
    buying = revenue[revenue > 0]
    return float(buying.quantile(HIGH_VOLUME_QUANTILE)) if len(buying) else math.inf


def _segment_medians(data: CanonicalData, as_of: pd.Timestamp) -> dict[str, float]:
    deals = data.table("deals")
    deals = deals[~(deals["created_at"] > as_of)]
    deals = deals[deals["stage"].isin(OPEN_STAGES) & ~deals["is_closed"].fillna(False).astype(bool)]
    segment = data.table("accounts").set_index("account_id")["segment"]
    segment = segment[~segment.index.duplicated()].reindex(deals["account_id"]).to_numpy()
    medians = pd.Series(deals["amount"].to_numpy(dtype=float)).groupby(segment).median()
    return {str(k): float(v) for k, v in medians.items() if not np.isnan(v)}


def _won_industries(data: CanonicalData) -> frozenset[str]:
    deals = data.table("deals")
    won_accounts = deals.loc[deals["is_won"].astype(bool), "account_id"]
    accounts = data.table("accounts")
    return frozenset(accounts.loc[accounts["account_id"].isin(won_accounts), "industry"].dropna())
