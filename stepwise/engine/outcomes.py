"""What each action family is measured by, and reading those outcomes from the canonical tables.

The catalog's `outcomes:` section names the families, their actions (or a scope) and their outcomes
with windows (defaults below, README "Measured lift").  A unit is one card in one assignment period
(its `card_key` and month), exposed on the first day the engine proposed it that month; its outcome
is read on later runs, out of time: an event strictly after that day and at most `window` days later,
never after the run's own day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stepwise.engine.records import STAGES

OutcomeKind = Literal["order", "order_with_offered_product", "stage_advance", "won", "paid", "converted"]
KINDS: tuple[str, ...] = OutcomeKind.__args__  # type: ignore[attr-defined]
DAY = pd.Timedelta(days=1)


class OutcomeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: OutcomeKind
    days: int = Field(ge=1, le=365)


class FamilySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    actions: tuple[str, ...] = ()       # these actions…
    scope: Literal["deal", "lead", "account"] | None = None  # …or every action of this scope not named elsewhere
    outcomes: tuple[OutcomeSpec, ...] = Field(min_length=1)  # the first is the family's headline outcome


DEFAULT_FAMILIES: dict[str, dict[str, Any]] = {
    "replenishment": {"actions": ["call_for_replenishment", "contact_for_retention"],
                      "outcomes": [{"kind": "order", "days": 14}]},
    "cross_sell": {"actions": ["propose_complementary_products", "propose_bundle"],
                   "outcomes": [{"kind": "order_with_offered_product", "days": 30}]},
    "overdue_payment": {"actions": ["resolve_overdue_payment"], "outcomes": [{"kind": "paid", "days": 14}]},
    "deal": {"scope": "deal", "outcomes": [{"kind": "stage_advance", "days": 14}, {"kind": "won", "days": 90}]},
    "lead": {"scope": "lead", "outcomes": [{"kind": "converted", "days": 30}]},
}


@dataclass(frozen=True)
class Families:
    """The validated `outcomes:` section, resolved against the catalog's actions."""

    specs: dict[str, FamilySpec]
    family_of: dict[str, str]   # action id → family
    outcomes_of: dict[str, str]  # family → "kind:days,kind:days" (what a card's holdout mark carries)


class OutcomeError(ValueError):
    pass


def families(raw: dict[str, Any] | None, actions: Iterable[tuple[str, str]], where: str = "catalog") -> Families:
    """`raw`: the catalog's `outcomes:` mapping (None: the defaults); `actions`: (action id, scope) pairs."""
    try:
        specs = {str(name): FamilySpec(**(body or {})) for name, body in (raw or DEFAULT_FAMILIES).items()}
    except (ValidationError, TypeError) as exc:
        raise OutcomeError(f"{where}: outcomes: {str(exc).splitlines()[0]}") from None
    pairs = list(actions)
    known = {a for a, _ in pairs}
    family_of: dict[str, str] = {}
    for name, spec in specs.items():
        for action in spec.actions:
            if action in known:  # a custom catalog may drop an action the defaults name
                family_of.setdefault(action, name)
    for name, spec in specs.items():
        if spec.scope is not None:
            for action, scope in pairs:
                if scope == spec.scope:
                    family_of.setdefault(action, name)
    outcomes_of = {name: ",".join(f"{o.kind}:{o.days}" for o in spec.outcomes) for name, spec in specs.items()}
    return Families(specs, family_of, outcomes_of)


def parse_outcomes(text: str | None) -> list[tuple[str, int]]:
    """"stage_advance:14,won:90" → [("stage_advance", 14), ("won", 90)]."""
    out = []
    for part in (text or "").split(","):
        if ":" in part:
            kind, days = part.split(":", 1)
            out.append((kind, int(days)))
    return out


# -- reading outcomes --------------------------------------------------------------------------------

UNIT_COLUMNS = ("unit_id", "record_type", "record_id", "deal_id", "account_id", "lead_id", "first_day", "kind",
                "days", "products")
_STAGE_RANK = {s: i for i, s in enumerate(STAGES)}
_STAGE_RANK["closed_lost"] = -1  # losing is never an advance


def observe(units: pd.DataFrame, tables: dict[str, pd.DataFrame], stages: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """For each open unit: the first outcome event seen by `as_of` (event_day, or NaT) and whether the
    unit is settled (an event, or its window over).

    `units`: UNIT_COLUMNS (first_day a YYYY-MM-DD string, products a space-separated string);
    `tables`: the canonical orders, order_lines, invoices, deals; `stages`: the stage history the runs
    recorded (record_type, record_id, day, stage)."""
    out = pd.DataFrame({"unit_id": units["unit_id"].to_numpy(), "event_day": pd.Series(pd.NaT, index=units.index,
                                                                                    dtype="datetime64[ns]").to_numpy()})
    if units.empty:
        out["settled"] = []
        return out
    today = pd.Timestamp(as_of).tz_localize(None).normalize()
    u = units.reset_index(drop=True).copy()
    u["start"] = pd.to_datetime(u["first_day"])
    u["end"] = np.minimum(u["start"] + pd.to_timedelta(u["days"], unit="D") + DAY, today + DAY)  # exclusive
    events = pd.Series(pd.NaT, index=u.index, dtype="datetime64[ns]")
    for kind, part in u.groupby("kind"):
        reader = _READERS.get(str(kind))
        if reader is not None:
            found = reader(part, tables, stages)
            events.loc[found.index] = found
    out["event_day"] = events.to_numpy()
    over = (u["start"] + pd.to_timedelta(u["days"], unit="D")) <= today
    out["settled"] = (events.notna() | over).to_numpy()
    return out


def _naive(series: pd.Series) -> pd.Series:
    values = pd.to_datetime(series, utc=True, errors="coerce")
    return values.dt.tz_localize(None)


def _first_in_window(part: pd.DataFrame, key: str, events: pd.DataFrame) -> pd.Series:
    """The first event day of `events` (columns `key`, `at`) in each unit's window (start, end)."""
    if events.empty or part.empty:
        return pd.Series(pd.NaT, index=part.index, dtype="datetime64[ns]")
    left = part[[key, "start", "end"]].reset_index()
    joined = left.merge(events[[key, "at"]], on=key, how="inner")
    joined = joined[(joined["at"] >= joined["start"] + DAY) & (joined["at"] < joined["end"])]
    first = joined.groupby("index")["at"].min().dt.normalize()
    return first.reindex(part.index)


def _orders(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    orders = tables.get("orders")
    if orders is None or orders.empty:
        return pd.DataFrame(columns=["account_id", "order_id", "at"])
    return pd.DataFrame({"account_id": orders["account_id"].astype(str), "order_id": orders["order_id"].astype(str),
                         "at": _naive(orders["ordered_at"])})


def _read_order(part, tables, stages) -> pd.Series:
    return _first_in_window(part.assign(account_id=part["account_id"].astype(str)), "account_id", _orders(tables))


def _read_order_with_product(part, tables, stages) -> pd.Series:
    orders, lines = _orders(tables), tables.get("order_lines")
    if lines is None or lines.empty or orders.empty:
        return pd.Series(pd.NaT, index=part.index, dtype="datetime64[ns]")
    bought = orders.merge(pd.DataFrame({"order_id": lines["order_id"].astype(str),
                                        "product_id": lines["product_id"].astype(str)}), on="order_id")
    offered = (part.assign(product_id=part["products"].fillna("").str.split())
               .explode("product_id").dropna(subset=["product_id"]))
    offered = offered[offered["product_id"] != ""]
    offered = offered.assign(pair=offered["account_id"].astype(str) + "|" + offered["product_id"])
    bought = bought.assign(pair=bought["account_id"] + "|" + bought["product_id"])
    found = _first_in_window(offered, "pair", bought[["pair", "at"]])
    return found.groupby(level=0).min().reindex(part.index)


def _read_paid(part, tables, stages) -> pd.Series:
    invoices = tables.get("invoices")
    if invoices is None or invoices.empty:
        return pd.Series(pd.NaT, index=part.index, dtype="datetime64[ns]")
    inv = pd.DataFrame({"account_id": invoices["account_id"].astype(str), "due": _naive(invoices["due_at"]),
                        "at": _naive(invoices["paid_at"])}).dropna(subset=["at"])
    left = part.assign(account_id=part["account_id"].astype(str))[["account_id", "start", "end"]].reset_index()
    joined = left.merge(inv, on="account_id")
    # Overdue when the card was proposed, and paid in the window.
    joined = joined[(joined["due"] < joined["start"]) & (joined["at"] >= joined["start"] + DAY)
                    & (joined["at"] < joined["end"])]
    return joined.groupby("index")["at"].min().dt.normalize().reindex(part.index)


def _stage_changes(part: pd.DataFrame, stages: pd.DataFrame, record_type: str) -> pd.DataFrame:
    """Each unit's record's recorded stages, with the stage it had on its first day."""
    history = stages[stages["record_type"] == record_type]
    left = part[["record_id", "start", "end"]].reset_index()
    joined = left.merge(history[["record_id", "day", "stage"]], on="record_id")
    joined["at"] = pd.to_datetime(joined["day"])
    before = joined[joined["at"] <= joined["start"]].sort_values("at").groupby("index")["stage"].last()
    joined["stage_then"] = joined["index"].map(before)
    return joined[(joined["at"] >= joined["start"] + DAY) & (joined["at"] < joined["end"])]


def _read_stage_advance(part, tables, stages) -> pd.Series:
    after = _stage_changes(part, stages, "deal")
    rank_now = after["stage"].map(_STAGE_RANK)
    rank_then = after["stage_then"].map(_STAGE_RANK)
    after = after[rank_then.notna() & (rank_now > rank_then)]
    return after.groupby("index")["at"].min().reindex(part.index)


def _read_won(part, tables, stages) -> pd.Series:
    after = _stage_changes(part, stages, "deal")
    return after[after["stage"] == "closed_won"].groupby("index")["at"].min().reindex(part.index)


def _read_converted(part, tables, stages) -> pd.Series:
    after = _stage_changes(part, stages, "lead")
    return after[after["stage"] == "converted"].groupby("index")["at"].min().reindex(part.index)


_READERS = {"order": _read_order, "order_with_offered_product": _read_order_with_product, "paid": _read_paid,
            "stage_advance": _read_stage_advance, "won": _read_won, "converted": _read_converted}


def stage_changes(last: dict[tuple[str, str], str], seen: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """(record_type, record_id, stage) rows whose stage differs from the last one recorded: the history
    keeps change points, so a run writes only the records that moved."""
    return [(t, r, s) for t, r, s in seen if last.get((t, r)) != s]
