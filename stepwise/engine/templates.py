"""Template filling for titles, why/how lines and scripts: `{signal}` fields, safe formatting.

Two ways to fill the same template, giving the same text: `render` for one record (a Facts
mapping), and `compile_template` + `format_column` + `render_column` for many records at
once — each field is formatted once per record for all the texts that use it, and each text
is one C-level `str.format` per record instead of a `format_map` calling back into Python.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import pandas as pd

EXTRA_FIELDS = {
    "asset_title", "asset_url", "asset_type", "products", "bundle", "max_discount", "topic",
    "substitute_note", "overdue_note", "stock_note", "offer_note",
}


def template_fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Count(int):
    """An integer that reads well in a sentence: `{n:times}` → once, twice, 3 times."""

    def __format__(self, spec: str) -> str:
        if spec == "times":
            return {1: "once", 2: "twice"}.get(int(self), f"{int(self)} times")
        return int.__format__(self, spec)


def fact_value(value: Any) -> Any:
    """What a template sees for a raw value: whole numbers without decimals, large ones with
    thousands separators, unknowns as 'unknown'."""
    if isinstance(value, float):
        if math.isnan(value):
            return "unknown"
        return f"{value:,.0f}" if abs(value) >= 1000 else (Count(value) if value.is_integer() else round(value, 1))
    if value is None or value is pd.NA or value is pd.NaT:
        return "unknown"
    if isinstance(value, int) and not isinstance(value, bool):
        return Count(value)
    return value


class Facts:
    """Template values over one or more mappings (first wins), without copying them.

    Values read as `fact_value` says.  Built once per recommendation and reused for all its texts.
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
        return fact_value(self.get(key))


def render(text: str, facts: Mapping[str, Any] | Facts) -> str:
    if not text:
        return ""
    return text.format_map(facts if isinstance(facts, Facts) else Facts(facts)).strip()


# --- many records at once -------------------------------------------------------------------

FieldKey = tuple[str, str | None, str]  # (field name, conversion, format spec)


class Compiled(NamedTuple):
    """A template split once: `fmt` takes the formatted fields positionally, in `keys` order.

    `fmt` is None for the rare template the column-wise path does not handle (attribute or index
    lookups, nested specs, positional fields): those are rendered record by record with `render`.
    """

    text: str
    fmt: str | None
    keys: tuple[FieldKey, ...]
    constant: str | None  # the whole text, already filled and stripped, when it has no field


@lru_cache(maxsize=4096)
def compile_template(text: str) -> Compiled:
    if not text:
        return Compiled(text, "", (), "")
    try:
        pieces = list(string.Formatter().parse(text))
    except ValueError:
        return Compiled(text, None, (), None)
    parts: list[str] = []
    keys: list[FieldKey] = []
    for literal, name, spec, conversion in pieces:
        parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        if not name.isidentifier() or "{" in (spec or "") or conversion not in (None, "r", "s", "a"):
            return Compiled(text, None, (), None)
        parts.append(f"{{{len(keys)}}}")
        keys.append((name, conversion, spec or ""))
    fmt = "".join(parts)
    return Compiled(text, fmt, tuple(keys), None if keys else fmt.format().strip())


_CONVERT = {"r": repr, "s": str, "a": ascii}


def format_column(values: Sequence[Any], conversion: str | None = None, spec: str = "") -> list[str]:
    """One field for many records: exactly what `format_map` over a Facts would insert for each."""
    if conversion is None and not spec:
        return [value if type(value) is str else _plain(value) for value in values]
    out = []
    append = out.append
    convert = _CONVERT.get(conversion) if conversion else None
    for value in values:
        value = value if type(value) is str else fact_value(value)
        if convert is not None:
            value = convert(value)
        append(value if not spec and type(value) is str else format(value, spec))
    return out


def _plain(value: Any) -> str:
    """format(fact_value(value), "") with the common types spelled out (same text)."""
    kind = type(value)
    if kind is float:
        if math.isnan(value):
            return "unknown"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return str(int(value)) if value.is_integer() else str(round(value, 1))
    if kind is int:
        return str(value)
    return format(fact_value(value), "")


def render_column(compiled: Compiled, columns: Sequence[Sequence[str]], n: int) -> list[str]:
    """The filled text for n records, given the formatted columns of `compiled.keys` in order."""
    if compiled.constant is not None:
        return [compiled.constant] * n
    fill = compiled.fmt.format
    return [fill(*args).strip() for args in zip(*columns)]
