"""A rep's "Today": one short ranked list across all their deals, accounts and leads (README, "Today").

Pure: the run's recommendations, the day's previous list and the rules in; the ranks out.

- Value: the card's score, times how the record's expected value compares with the run's typical one for
  that record type (square-rooted and held within ×¼…×4, so a big deal counts more without drowning
  everything else); a record without a prediction counts as typical.
- Priority: value × the urgency band's weight (`today.urgency_weight`).
- Chosen greedily by priority (ties: card_key), at most `max_per_action` of one action type and
  `max_per_account` on one account, until `size`.
- Stable within a day: a card already on the day's list (an incumbent) keeps the value it was listed with
  unless something material changed for it (it left the candidates, its band changed, or its value moved
  by more than `material_change_pct`); a card not on the list must beat an incumbent by more than that
  margin to displace it.  So a re-sync with nothing material changed gives the same list, in the same order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from statistics import median

from stepwise.engine.catalog import TodayRules
from stepwise.engine.recommendation import Recommendation

CLOSED = frozenset({"dismissed", "snoozed", "expired"})  # never on the list, whatever the run says
VALUE_SPREAD = 4.0  # the expected value moves a card's value by at most this factor either way


@dataclass(frozen=True)
class Listed:
    """One card on a rep's list for a day: what the next sync of the day compares against."""

    owner_id: str
    rank: int
    card_key: str
    rec_id: str
    value: float
    urgency: str


def choose(recs: Iterable[Recommendation], day: str, settings: TodayRules,
           previous: Iterable[Listed] = (), excluded: Iterable[str] = ()) -> list[Listed]:
    """Every rep's list for `day`, from the run's recommendations.

    previous: the lists stored by an earlier run of the same day (empty on the day's first run);
    excluded: recommendation ids the reps dismissed or snoozed (the store's word, not the run's)."""
    skip = set(excluded)
    candidates = [r for r in recs if r.owner_id and r.as_of[:10] == day and r.status not in CLOSED and r.id not in skip]
    typical = _typical_values(candidates)
    before: dict[str, dict[str, Listed]] = {}
    for entry in previous:
        before.setdefault(entry.owner_id, {})[entry.card_key] = entry
    by_owner: dict[str, list[Recommendation]] = {}
    for rec in candidates:
        by_owner.setdefault(rec.owner_id, []).append(rec)  # type: ignore[arg-type]
    out: list[Listed] = []
    for owner in sorted(by_owner):
        out.extend(_one_list(owner, by_owner[owner], typical, settings, before.get(owner, {})))
    return out


def with_ranks(recs: list[Recommendation], lists: Iterable[Listed]) -> list[Recommendation]:
    """The recommendations with `today_rank` set from the lists (None off them), in the same order."""
    rank = {entry.rec_id: entry.rank for entry in lists}
    return [rec if rec.today_rank == rank.get(rec.id) else replace(rec, today_rank=rank.get(rec.id)) for rec in recs]


def value_of(rec: Recommendation, typical: Mapping[str, float]) -> float:
    """The card's score weighed by its record's expected value against the typical one of its record type."""
    expected = _expected_value(rec)
    base = typical.get(rec.record_type)
    if expected is None or not base:
        return float(rec.score)
    ratio = min(max(expected / base, 1 / VALUE_SPREAD**2), VALUE_SPREAD**2)
    return float(rec.score) * math.sqrt(ratio)


def material(entry: Listed, rec: Recommendation, value: float, settings: TodayRules) -> bool:
    """Whether a listed card changed enough since it was listed to be ranked afresh."""
    if rec.urgency != entry.urgency:
        return True
    if entry.value <= 0:
        return value > 0
    return abs(value / entry.value - 1) * 100 > settings.material_change_pct


def _one_list(owner: str, recs: list[Recommendation], typical: Mapping[str, float], settings: TodayRules,
              before: Mapping[str, Listed]) -> list[Listed]:
    margin = 1 + settings.material_change_pct / 100
    ranked = []
    for rec in recs:
        value = round(value_of(rec, typical), 6)  # as stored: a re-sync compares like with like
        kept = before.get(rec.card_key)
        if kept is not None and not material(kept, rec, value, settings):
            value, bias = kept.value, 1.0  # an incumbent keeps the value it was listed with
        else:
            bias = 1 / margin if before and kept is None else 1.0  # a challenger must beat the list by the margin
        ranked.append((value * settings.urgency_weight.get(rec.urgency, 1.0) * bias, rec.card_key, rec, value))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    per_action: Counter[str] = Counter()
    per_account: Counter[str] = Counter()
    chosen: list[Listed] = []
    for _, key, rec, value in ranked:
        if len(chosen) == settings.size:
            break
        account = rec.account_id or f"{rec.record_type}:{rec.record_id}"
        if per_action[rec.action_id] >= settings.max_per_action or per_account[account] >= settings.max_per_account:
            continue
        per_action[rec.action_id] += 1
        per_account[account] += 1
        chosen.append(Listed(owner, len(chosen) + 1, key, rec.id, value, rec.urgency))
    return chosen


def _expected_value(rec: Recommendation) -> float | None:
    value = rec.extra.get("expected_value") if rec.extra else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def _typical_values(recs: list[Recommendation]) -> dict[str, float]:
    """The median expected value per record type, over the run's candidates (the same in every chunking)."""
    values: dict[str, list[float]] = {}
    for rec in recs:
        expected = _expected_value(rec)
        if expected is not None:
            values.setdefault(rec.record_type, []).append(expected)
    return {kind: median(v) for kind, v in values.items()}
