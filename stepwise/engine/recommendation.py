"""The Recommendation: what the engine hands to the store, the cards and the CRMs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

CATEGORIES = ("engagement", "content", "process", "risk", "replenishment", "cross-sell", "renewal", "finance")
URGENCIES = ("HIGH", "MEDIUM", "LOW")
STATUSES = ("new", "accepted", "dismissed", "snoozed", "expired")


SUMMARY_LIMIT = 255  # Salesforce's native Description field


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis, so a short field never ends mid-word."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:—-")
    return cut + "…"


def recommendation_id(source: str, record_id: str, action_id: str, day: str) -> str:
    """Stable id: re-running the same source, record, action and day gives the same id."""
    digest = hashlib.sha256(f"{source}|{record_id}|{action_id}|{day}".encode()).hexdigest()
    return "rec_" + digest[:24]


@dataclass(frozen=True)
class Factors:
    relevance: float
    impact: float
    urgency: float
    feasibility: float


@dataclass(frozen=True)
class Alternative:
    action_id: str
    title: str
    score: float
    urgency: str


@dataclass(frozen=True)
class Removal:
    """One thing the business rules took away, and why (the audit)."""

    rule: str
    reason: str
    action_id: str | None = None
    product_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "reason": self.reason}
        if self.action_id is not None:
            out["action_id"] = self.action_id
        if self.product_id is not None:
            out["product_id"] = self.product_id
        return out


@dataclass(frozen=True)
class Recommendation:
    id: str
    source: str
    record_type: str  # deal | lead | account: the record the card is attached to
    record_id: str
    deal_id: str | None
    account_id: str | None
    lead_id: str | None
    action_id: str
    category: str
    title: str
    score: float
    factors: Factors
    urgency: str
    expected_impact: str
    why: tuple[str, ...]
    how: tuple[str, ...]
    offer: dict[str, Any]
    constraints: tuple[str, ...]
    best_before: str
    success_rate: float | None
    alternatives: tuple[Alternative, ...]
    removed: tuple[Removal, ...]
    model_version: str
    as_of: str
    rank: int = 1
    script: str = ""
    owner_id: str | None = None
    status: str = "new"
    extra: dict[str, Any] = field(default_factory=dict)
    email: str = ""  # an email opener/draft the rep can send as is
    summary: str = ""  # ≤ 255 characters: what fits Salesforce's native Description field
    explained_by: str = "template"  # "template", or "llm:<model>" when a draft passed the guardrails

    def __post_init__(self) -> None:
        if not self.summary:
            object.__setattr__(self, "summary", shorten(" — ".join([self.title, *self.why[:1]]), SUMMARY_LIMIT))

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape (`stepwise score --format json`): extend, never rename.

        Built field by field rather than with dataclasses.asdict, whose deep copies made this the
        card service's and the store's hottest line.
        """
        out = {f.name: getattr(self, f.name) for f in _FIELDS}
        out["factors"] = dict(vars(self.factors))
        out["offer"] = json.loads(json.dumps(self.offer, default=str)) if self.offer else {}
        out["extra"] = dict(self.extra)
        out["why"] = list(self.why)
        out["how"] = list(self.how)
        out["constraints"] = list(self.constraints)
        out["alternatives"] = [dict(vars(a)) for a in self.alternatives]
        out["removed"] = [r.to_dict() for r in self.removed]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recommendation:
        data = dict(data)
        data["factors"] = Factors(**data["factors"])
        data["why"] = tuple(data.get("why", ()))
        data["how"] = tuple(data.get("how", ()))
        data["constraints"] = tuple(data.get("constraints", ()))
        data["alternatives"] = tuple(Alternative(**a) for a in data.get("alternatives", ()))
        data["removed"] = tuple(Removal(**r) for r in data.get("removed", ()))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


_FIELDS = fields(Recommendation)
