"""Template filling for titles, why/how lines and scripts: `{signal}` fields, safe formatting."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from typing import Any

import pandas as pd

EXTRA_FIELDS = {
    "asset_title", "asset_url", "asset_type", "products", "bundle", "max_discount", "topic",
    "substitute_note", "overdue_note",
}


def template_fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Count(int):
    """An integer that reads well in a sentence: `{n:times}` → once, twice, 3 times."""

    def __format__(self, spec: str) -> str:
        if spec == "times":
            return {1: "once", 2: "twice"}.get(int(self), f"{int(self)} times")
        return int.__format__(self, spec)


class Facts:
    """Template values over one or more mappings (first wins), without copying them.

    Whole numbers print without decimals, large ones with thousands separators, unknowns as
    'unknown'.  Built once per recommendation and reused for all its texts.
    """

    __slots__ = ("maps",)

    def __init__(self, *maps: Mapping[str, Any]):
        self.maps = maps

    def get(self, key: str, default: Any = None) -> Any:
        for m in self.maps:
            if key in m:
                return m[key]
        return default

    def __getitem__(self, key: str) -> Any:
        value = self.get(key)
        if isinstance(value, float):
            if math.isnan(value):
                return "unknown"
            return f"{value:,.0f}" if abs(value) >= 1000 else (Count(value) if value.is_integer() else round(value, 1))
        if value is None or value is pd.NA or value is pd.NaT:
            return "unknown"
        if isinstance(value, int) and not isinstance(value, bool):
            return Count(value)
        return value


def render(text: str, facts: Mapping[str, Any] | Facts) -> str:
    if not text:
        return ""
    return text.format_map(facts if isinstance(facts, Facts) else Facts(facts)).strip()
