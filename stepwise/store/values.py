"""How Python values become stored values and back: UTC moments, ISO days, JSON-ready rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any


def now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def day(value: str | date | datetime) -> str:
    """An ISO day: as_of columns are text, which sorts and compares correctly on every backend."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def parse_moment(value: datetime | date | str) -> datetime:
    """A date means the start of that day (UTC); a naive datetime is taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)  # "YYYY-MM-DD" parses as midnight
        except ValueError:
            raise ValueError(f"snooze_until must be an ISO date or datetime, got {value!r}") from None
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime.combine(value, time.min, tzinfo=UTC)


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def dumps(value: Any) -> str:
    """The engine's JSON serializer for Json columns."""
    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> Any:
    # numpy scalars and dates sneak into payloads built from DataFrames.
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
