"""Urgency bands: HIGH only with a real deadline or loss in sight, and the card says which.

The score's urgency part (0–100, from each action's `urgency` expression) still weighs in the score;
the band a rep sees comes from the rules file's `urgency:` section:

- HIGH when one of its `high` conditions holds on the card's record (an order window closing, a
  contract ending, a quote unanswered past its window, an overdue invoice, a close date inside two
  weeks), each limited to the actions, categories or scopes it names;
- else MEDIUM when a `medium` condition holds or the urgency part is at least `medium_from`;
- else LOW.

The first condition that holds writes the card's `urgency_reason` from its `reason` template.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from stepwise.engine.expressions import Expression, ExpressionError, parse
from stepwise.engine.templates import render, template_fields

SCOPES = ("deal", "lead", "account")


class UrgencyCondition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    when: str                                  # an expression over the record's signals (as a trigger)
    reason: str                                # the card's urgency_reason: a template over the same signals
    actions: tuple[str, ...] = ()              # only these actions (empty: every action …)
    categories: tuple[str, ...] = ()           # … of these categories (empty: every category)
    scopes: tuple[Literal["deal", "lead", "account"], ...] = ()  # empty: every scope whose signals it reads


class UrgencyBands(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    medium_from: float = Field(60, ge=0, le=100)  # the score's urgency part at or above: MEDIUM
    high: tuple[UrgencyCondition, ...] = ()
    medium: tuple[UrgencyCondition, ...] = ()


@dataclass(frozen=True)
class Compiled:
    level: str
    expression: Expression
    reason: str
    fields: frozenset[str]
    actions: frozenset[str]  # the action ids it applies to
    scopes: tuple[str, ...]   # the scopes it is evaluated in


@dataclass(frozen=True)
class CompiledBands:
    medium_from: float
    conditions: tuple[Compiled, ...]  # HIGH ones first, in the file's order


def compile_bands(bands: UrgencyBands, actions: Iterable[Any], scope_signals: dict[str, set[str]]) -> CompiledBands:
    """Check every condition against the catalog (ValueError naming the condition) and compile it."""
    actions = list(actions)
    compiled = []
    for level, conditions in (("HIGH", bands.high), ("MEDIUM", bands.medium)):
        for n, cond in enumerate(conditions, start=1):
            where = f"urgency.{level.lower()}[{n}] ({cond.when!r})"
            try:
                fields = frozenset(template_fields(cond.reason))
            except ValueError as exc:
                raise ValueError(f"{where}: bad reason {cond.reason!r} ({exc})") from None
            applies = [a for a in actions if (not cond.actions or a.id in cond.actions)
                       and (not cond.categories or a.category in cond.categories)
                       and (not cond.scopes or a.scope in cond.scopes)]
            # A condition no action of this catalog matches (a custom catalog without renewals, say) is
            # inert, not an error: the built-in bands must suit any catalog.  Its text is still checked.
            scopes = tuple(s for s in SCOPES if any(a.scope == s for a in applies))
            checked_in = scopes or tuple(s for s in (cond.scopes or SCOPES))
            expression = _checked(cond, where, fields, checked_in, scope_signals, every=bool(scopes))
            compiled.append(Compiled(level, expression, cond.reason, fields, frozenset(a.id for a in applies), scopes))
    return CompiledBands(bands.medium_from, tuple(compiled))


def _checked(cond: UrgencyCondition, where: str, fields: frozenset[str], scopes: tuple[str, ...],
             scope_signals: dict[str, set[str]], *, every: bool) -> Expression:
    """The condition compiled: it must read only signals of every scope it applies to (`every`), or,
    when it applies to no action here, of at least one scope (a typo is refused either way)."""
    compiled, errors = None, []
    for scope in scopes:
        try:
            expression = parse(cond.when, scope_signals[scope])
            missing = sorted(fields - scope_signals[scope])
            if missing:
                raise ExpressionError(f"unknown field {{{missing[0]}}} in reason")
        except ExpressionError as exc:
            errors.append(f"{where}: {exc} (in {scope} scope)")
            continue
        compiled = compiled or expression
    if compiled is None or (every and errors):
        raise ValueError(errors[0])
    return compiled


def assign(cards: pd.DataFrame, sig: dict[str, pd.DataFrame], bands: CompiledBands) -> tuple[np.ndarray, list[str]]:
    """(band, reason) per row of `cards` (columns scope, record_id, action_id, urgency: the score's part).

    Evaluated per condition and scope on the signal rows of the cards it may apply to, so the cost
    is one vectorised expression per condition, not one per card."""
    n = len(cards)
    factor = cards["urgency"].to_numpy(dtype=float)
    level = np.where(factor >= bands.medium_from, "MEDIUM", "LOW").astype(object)
    reasons: list[str] = [""] * n
    decided = np.zeros(n, dtype=bool)
    scope = cards["scope"].to_numpy()
    action = cards["action_id"].to_numpy()
    record = cards["record_id"].to_numpy()
    for cond in bands.conditions:
        for s in cond.scopes:
            table = sig.get(s)
            if table is None or table.empty:
                continue
            rows = np.flatnonzero((scope == s) & ~decided & np.isin(action, list(cond.actions)))
            if not len(rows):
                continue
            facts = table.reindex(record[rows])
            hit = cond.expression.mask(facts).to_numpy()
            for i, values in zip(rows[hit], _facts(facts[hit], cond.fields)):
                level[i] = cond.level
                reasons[i] = render(cond.reason, values)
                decided[i] = True
    for i in np.flatnonzero(~decided & (level == "MEDIUM")):
        reasons[i] = f"time matters here (urgency {factor[i]:.0f}/100)"
    return level, reasons


def _facts(frame: pd.DataFrame, fields: frozenset[str]) -> list[dict[str, Any]]:
    """The reason's fields per row; a count of days reads without its sign (the condition says whether
    the date is ahead or past: "order overdue by 3 days", not "by -3 days")."""
    if not fields:
        return [{} for _ in range(len(frame))]
    columns = {f: frame[f].tolist() for f in fields}
    return [{f: _unsigned(f, columns[f][j]) for f in fields} for j in range(len(frame))]


def _unsigned(name: str, value: Any) -> Any:
    if name.startswith("days") and isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return abs(round(value))
    return value
