"""The Recommendation: what the engine hands to the store, the cards and the CRMs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
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


def card_key(source: str, record_type: str, record_id: str, action_id: str) -> str:
    """The card's key across days: the same source, record and action on any day.  The CRM copy of a
    card is kept under it (one record updated in place), while the store keeps each day's `id`."""
    digest = hashlib.sha256(f"{source}|{record_type}:{record_id}|{action_id}".encode()).hexdigest()
    return "card_" + digest[:24]


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
    card_key: str = ""  # the id without the day (card_key()): what a CRM keeps one record per
    today_rank: int | None = None  # 1..N: the card's place in its owner's "Today" list that day; None: not in it
    urgency_reason: str = ""  # why the card is HIGH or MEDIUM ("close date in 9 days"); empty when LOW

    def __post_init__(self) -> None:
        if not self.summary:
            object.__setattr__(self, "summary", summary_of(self.title, self.why))
        if not self.card_key:
            object.__setattr__(self, "card_key", card_key(self.source, self.record_type, self.record_id, self.action_id))

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape (`stepwise score --format json`): extend, never rename.

        Built field by field rather than with dataclasses.asdict, whose deep copies made this the
        card service's and the store's hottest line.
        """
        values = self.__dict__
        out = dict(values) if tuple(values) == _NAMES else {name: getattr(self, name) for name in _NAMES}
        out["factors"] = dict(vars(self.factors))
        out["offer"] = _json_copy(self.offer) if self.offer else {}
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
_NAMES = tuple(f.name for f in _FIELDS)


class _NotPlain(Exception):
    pass


def _json_copy(value: Any) -> Any:
    """json.loads(json.dumps(value, default=str)): a deep copy in JSON's own types.

    Walked directly when it holds only what JSON keeps as is (str-keyed dicts, lists, tuples, str,
    int, float, bool, None); anything else takes the JSON round trip itself.
    """
    try:
        return _plain_copy(value)
    except (_NotPlain, RecursionError):
        return json.loads(json.dumps(value, default=str))


def _plain_copy(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            out[key] = _plain_copy(item)
        return out
    if kind is list or kind is tuple:
        return [_plain_copy(item) for item in value]
    raise _NotPlain


def _maker(cls: type) -> Callable[..., Any]:
    """A constructor taking every field positionally, in declaration order, that skips the
    frozen dataclass's per-field object.__setattr__ and __post_init__: for the engine's hot
    path, where thousands are built from values already checked.  The instance is the same
    as cls(...) would give (same fields, same order in vars()).  Generated like dataclasses'
    own __init__: one dict display, one attribute store."""
    names = [f.name for f in fields(cls)]
    source = (f"def make({', '.join(names)}):\n"
              f"    obj = new(cls)\n"
              f"    set_dict(obj, '__dict__', {{{', '.join(f'{n!r}: {n}' for n in names)}}})\n"
              f"    return obj\n")
    namespace: dict[str, Any] = {"new": object.__new__, "set_dict": object.__setattr__, "cls": cls}
    exec(source, namespace)  # noqa: S102 — our own field names, nothing from outside
    make = namespace["make"]
    make.__qualname__ = f"new_{cls.__name__.lower()}"
    return make


new_factors: Callable[[float, float, float, float], Factors] = _maker(Factors)
new_alternative: Callable[[str, str, float, str], Alternative] = _maker(Alternative)
new_removal: Callable[[str, str, str | None, str | None], Removal] = _maker(Removal)
# Every field in order, `summary`, `card_key`, `today_rank` and `urgency_reason` included: pass what __post_init__ would fill in.
new_recommendation: Callable[..., Recommendation] = _maker(Recommendation)


def summary_of(title: str, why: tuple[str, ...]) -> str:
    """The title and the first reason, cut to what Salesforce's Description field holds."""
    return shorten(" — ".join([title, *why[:1]]), SUMMARY_LIMIT)
