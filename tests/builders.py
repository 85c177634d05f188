"""Builders for small hand-built companies: rows typed exactly as a connector types them."""

from __future__ import annotations

import pandas as pd

from stepwise.engine.records import CanonicalData, coerce_table

AS_OF = "2026-11-23"


def make_data(**tables: list[dict]) -> CanonicalData:
    """CanonicalData from lists of row dicts, typed exactly as a connector would type them."""
    data = CanonicalData()
    for name, rows in tables.items():
        frame, issues = coerce_table(name, pd.DataFrame(rows, dtype=object))
        assert not issues, issues
        setattr(data, name, frame)
    return data


def days_ago(n: float, as_of: str = AS_OF) -> str:
    return (pd.Timestamp(as_of, tz="UTC") - pd.Timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


def days_ahead(n: float, as_of: str = AS_OF) -> str:
    return days_ago(-n, as_of)
