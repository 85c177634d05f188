"""Lift of shown cards over the control, with 95 % intervals, and when there is too little data to say.

The absolute lift's interval is Newcombe's hybrid score interval (method 10 of Newcombe 1998, from two
Wilson intervals): it keeps close to 95 % coverage at the small counts and low rates a holdout sees,
where the Wald interval does not.  The relative lift's is the log-ratio (Katz) interval.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

Z95 = 1.959963984540054
MIN_UNITS = 30   # per arm, matured
MIN_EVENTS = 10  # both arms together


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """95 % interval of p1 − p2."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def ratio_interval(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float] | None:
    """95 % interval of p1 / p2 − 1 (None when either arm has no event: the ratio is unbounded)."""
    if x1 == 0 or x2 == 0:
        return None
    ratio = (x1 / n1) / (x2 / n2)
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    return ratio * math.exp(-z * se) - 1, ratio * math.exp(z * se) - 1


@dataclass(frozen=True)
class Lift:
    family: str
    outcome: str
    n_shown: int
    x_shown: int
    n_control: int
    x_control: int
    enough: bool
    weeks_more: int | None = None      # when not enough: about how many more weeks at this volume
    rate_shown: float | None = None
    rate_control: float | None = None
    lift: float | None = None          # absolute: rate_shown − rate_control
    low: float | None = None
    high: float | None = None
    relative: float | None = None      # rate_shown / rate_control − 1
    relative_low: float | None = None
    relative_high: float | None = None

    @property
    def message(self) -> str:
        if self.enough:
            return (f"{self.lift:+.1%} ({self.low:+.1%} to {self.high:+.1%}); "
                    f"{self.x_shown}/{self.n_shown} shown vs {self.x_control}/{self.n_control} control")
        if self.weeks_more is not None:
            more = f"; about {self.weeks_more} more weeks at this volume"
        elif self.n_control == 0:
            more = "; no control cards yet, so no estimate of when"
        else:  # control cards, but no outcome in either arm yet: no rate to project from
            more = "; no outcome seen yet, so no estimate of when"
        return f"Not enough data yet ({self.n_shown} shown, {self.n_control} control{more})"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["message"] = self.message
        return out


def compare(family: str, outcome: str, x_shown: int, n_shown: int, x_control: int, n_control: int,
            weeks_observed: float = 1.0) -> Lift:
    """Shown vs control for one family's outcome.  `weeks_observed`: the span the matured units came
    from, so the shortfall can be put in weeks at this volume."""
    counts = {"n_shown": n_shown, "x_shown": x_shown, "n_control": n_control, "x_control": x_control}
    if n_shown < MIN_UNITS or n_control < MIN_UNITS or x_shown + x_control < MIN_EVENTS:
        return Lift(family, outcome, enough=False, weeks_more=weeks_needed(
            x_shown, n_shown, x_control, n_control, weeks_observed), **counts)
    p1, p2 = x_shown / n_shown, x_control / n_control
    low, high = newcombe(x_shown, n_shown, x_control, n_control)
    rel = ratio_interval(x_shown, n_shown, x_control, n_control)
    return Lift(family, outcome, enough=True, rate_shown=p1, rate_control=p2, lift=p1 - p2, low=low, high=high,
                relative=(p1 / p2 - 1) if x_control else None,
                relative_low=rel[0] if rel else None, relative_high=rel[1] if rel else None, **counts)


def weeks_needed(x_shown: int, n_shown: int, x_control: int, n_control: int, weeks_observed: float) -> int | None:
    """Weeks until both arms have MIN_UNITS matured units and MIN_EVENTS events, at the volume so far."""
    weeks = max(weeks_observed, 1.0)
    if n_control == 0:
        return None
    per_week_shown, per_week_control = n_shown / weeks, n_control / weeks
    rate = (x_shown + x_control) / (n_shown + n_control) if n_shown + n_control else 0.0
    need = [max(0, MIN_UNITS - n_control) / per_week_control]
    if per_week_shown > 0:
        need.append(max(0, MIN_UNITS - n_shown) / per_week_shown)
    if rate > 0:
        need.append(max(0.0, MIN_EVENTS - x_shown - x_control) / (rate * (per_week_shown + per_week_control)))
    elif x_shown + x_control < MIN_EVENTS:
        return None  # no event at all yet: no rate to project
    return max(1, math.ceil(max(need)))


@dataclass(frozen=True)
class Rate:
    """An outcome rate with its Wilson interval (accepted, dismissed, control, …)."""

    group: str
    n: int
    x: int
    rate: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, group: str, x: int, n: int) -> Rate:
        if n == 0:
            return cls(group, 0, 0, None, None, None)
        low, high = wilson(x, n)
        return cls(group, n, x, x / n, low, high)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def report(units: Any, responses: Any = None) -> dict[str, Any]:
    """The lift of every family's outcomes and overall (each family's headline outcome), and accepted vs
    dismissed vs control, from the holdout units (store HoldoutLog.units) and the reps' responses.

    Only matured units count: first day + window ≤ the last day outcomes were read."""
    import pandas as pd

    from stepwise.engine.outcomes import parse_outcomes

    rows: list[dict[str, Any]] = []
    for unit in units.itertuples(index=False):
        if unit.arm not in ("shown", "control") or not isinstance(unit.checked_on, str):
            continue
        start = pd.Timestamp(unit.first_day)
        for i, (kind, days) in enumerate(parse_outcomes(unit.outcomes)):
            end = start + pd.Timedelta(days=days)
            if end > pd.Timestamp(unit.checked_on):
                continue
            at = (unit.events or {}).get(kind)
            rows.append({"source": unit.source, "record_type": unit.record_type, "record_id": unit.record_id,
                         "action_id": unit.action_id, "period": unit.period, "arm": unit.arm, "family": unit.family,
                         "kind": kind, "headline": i == 0, "start": start,
                         "hit": at is not None and pd.Timestamp(at) <= end})
    frame = pd.DataFrame(rows, columns=["source", "record_type", "record_id", "action_id", "period", "arm", "family",
                                        "kind", "headline", "start", "hit"])
    out: dict[str, Any] = {"families": [], "overall": None, "responses": []}
    if frame.empty:
        out["overall"] = compare("overall", "headline outcome", 0, 0, 0, 0).to_dict()
        return out
    for (family, kind), part in frame.groupby(["family", "kind"], sort=True):
        out["families"].append(_compare(str(family), str(kind), part).to_dict())
    out["overall"] = _compare("overall", "headline outcome", frame[frame["headline"]]).to_dict()
    out["responses"] = _responses(frame[frame["headline"]], responses)
    return out


def _compare(family: str, kind: str, part: Any) -> Lift:
    shown, control = part[part["arm"] == "shown"], part[part["arm"] == "control"]
    span = (part["start"].max() - part["start"].min()).days / 7 + 1 / 7
    return compare(family, kind, int(shown["hit"].sum()), len(shown), int(control["hit"].sum()), len(control),
                   weeks_observed=span)


def _responses(headline: Any, responses: Any) -> list[dict[str, Any]]:
    """Was the rep right?  The headline outcome's rate among accepted, dismissed and unanswered shown
    cards, against the control's (which no rep saw)."""
    key = ["source", "record_type", "record_id", "action_id", "period"]
    status = {}
    if responses is not None and len(responses):
        ranked = responses.assign(order=responses["status"].map({"accepted": 0, "dismissed": 1}))
        status = ranked.sort_values("order").drop_duplicates(key).set_index(key)["status"].to_dict()
    groups: dict[str, list[bool]] = {"accepted": [], "dismissed": [], "no response": [], "control": []}
    for row in headline.itertuples(index=False):
        if row.arm == "control":
            groups["control"].append(bool(row.hit))
        else:
            groups[status.get(tuple(getattr(row, k) for k in key), "no response")].append(bool(row.hit))
    return [Rate.of(name, sum(hits), len(hits)).to_dict() for name, hits in groups.items()]
