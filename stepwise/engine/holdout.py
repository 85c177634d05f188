"""The randomised holdout: which cards are held back as control, by a hash nobody can steer.

A card's arm is drawn from its `card_key` (source, record, action) and the assignment period, so it
is the same on a re-run, in any chunk and on any worker, and it cannot depend on the score.  The
period is the calendar month (README, "Measured lift"): long enough that a 14–30-day outcome window
mostly stays inside one assignment, short enough that no record loses an action for good.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from stepwise.engine.recommendation import Recommendation

ARMS = ("shown", "control", "excluded")
_SCALE = float(2**64)


class HoldoutRules(BaseModel):
    """The rules file's `holdout:` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    share: float = Field(0.05, ge=0, le=0.5)  # of eligible cards held back; 0 turns the holdout off
    always_show: tuple[str, ...] = ("resolve_overdue_payment",)  # action ids never held back


def period_of(day: str) -> str:
    """The assignment period of a YYYY-MM-DD day: its calendar month (YYYY-MM)."""
    return day[:7]


def draw(card_key: str, period: str) -> float:
    """A uniform number in [0, 1) fixed by the card and the period."""
    digest = hashlib.blake2b(f"{card_key}|{period}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def arm_of(card_key: str, action_id: str, period: str, rules: HoldoutRules, eligible: bool = True) -> str:
    """shown, control, or excluded (never held back: always_show, or no outcome to measure it by)."""
    if not eligible or action_id in rules.always_show or rules.share <= 0:
        return "excluded"
    return "control" if draw(card_key, period) < rules.share else "shown"


def propensity_shown(arm: str, rules: HoldoutRules) -> float:
    """The probability that this card was shown, given how it was assigned (for off-policy evaluation)."""
    return 1.0 if arm == "excluded" else 1.0 - rules.share


def policy_version(catalog: Any, model_version: str) -> str:
    """`catalog`: an engine.catalog.Catalog (not imported: catalog.py imports this module).  The model and a fingerprint of the catalog and rules that chose the cards: what a future policy is
    compared against."""
    spec = json.dumps([[a.spec.model_dump(mode="json") for a in catalog.actions],
                       catalog.rules.model_dump(mode="json")], sort_keys=True, default=str)
    return f"{model_version}+{hashlib.sha256(spec.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Split:
    shown: list[Recommendation]    # shown and excluded cards, in the engine's order
    control: list[Recommendation]  # held back, kept "as if shown"
    marks: dict[str, dict[str, Any]]  # rec id → its `holdout` mark (arm, propensity, policy, family, outcomes)


def split(recs: Sequence[Recommendation], rules: HoldoutRules, policy: str, family_of: dict[str, str],
          outcomes_of: dict[str, str]) -> Split:
    """Assign every card.  Only cards whose action has a defined outcome family are eligible: holding
    back a card nothing measures would cost a rep the card and teach nothing.

    The mark dicts are shared between cards of the same arm and family (the engine's hot path builds
    no dict per card); treat them as read-only."""
    shown: list[Recommendation] = []
    control: list[Recommendation] = []
    marks: dict[str, dict[str, Any]] = {}
    shared: dict[tuple[str, str, str], dict[str, Any]] = {}
    for rec in recs:
        period = period_of(rec.as_of)
        family = family_of.get(rec.action_id, "")
        arm = arm_of(rec.card_key, rec.action_id, period, rules, eligible=bool(family))
        key = (arm, family, period)
        mark = shared.get(key)
        if mark is None:
            mark = shared[key] = {"arm": arm, "p_shown": propensity_shown(arm, rules), "policy": policy,
                                  "period": period, "family": family or None,
                                  "outcomes": outcomes_of.get(family) or None}
        marks[rec.id] = mark
        (control if arm == "control" else shown).append(rec)
    return Split(shown, control, marks)


def assignments(recs: Iterable[Recommendation], rules: HoldoutRules, family_of: dict[str, str]) -> dict[str, str]:
    """rec id → arm: what a test compares between an in-process and a fanned-out run."""
    return {r.id: arm_of(r.card_key, r.action_id, period_of(r.as_of), rules, eligible=r.action_id in family_of)
            for r in recs}
