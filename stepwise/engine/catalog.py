"""The action catalog and the business rules: data a sales-ops admin owns, validated at load.

Both are YAML (package defaults in engine/defaults/, overridable by a path in
settings).  A bad catalog is refused with a message naming the action and the
problem; nothing in it is ever executed as code (see expressions.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stepwise.engine.expressions import Expression, ExpressionError, parse
from stepwise.engine.holdout import HoldoutRules
from stepwise.engine.outcomes import Families, OutcomeError, families
from stepwise.engine.predictions import ACCOUNT_PREDICTIONS, DEAL_PREDICTIONS, LEAD_PREDICTIONS
from stepwise.engine.recommendation import CATEGORIES
from stepwise.engine.records import CONTENT_TYPES, OPEN_STAGES, TABLES
from stepwise.engine.signals import ACCOUNT_SIGNALS, DEAL_SIGNALS, LEAD_SIGNALS
from stepwise.engine.templates import EXTRA_FIELDS, template_fields
from stepwise.engine.urgency import CompiledBands, UrgencyBands, compile_bands

Scope = Literal["deal", "lead", "account"]
SCOPE_SIGNALS: dict[str, set[str]] = {
    "deal": set(DEAL_SIGNALS) | set(ACCOUNT_SIGNALS) | set(ACCOUNT_PREDICTIONS) | set(DEAL_PREDICTIONS),
    "lead": set(LEAD_SIGNALS) | set(LEAD_PREDICTIONS),
    "account": set(ACCOUNT_SIGNALS) | set(ACCOUNT_PREDICTIONS),
}
EFFORT_FEASIBILITY = {"low": 90.0, "medium": 70.0, "high": 50.0}


class CatalogError(ValueError):
    """The catalog or rules file is invalid; the message names the action and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContentPick(_Strict):
    """Which library asset a content action sends: by type, topic, industry and competitor."""

    types: tuple[str, ...]
    topic: str | None = None  # a fixed topic word, or "signal:NAME" to take it from a signal
    match_competitor: bool = False

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in CONTENT_TYPES]
        if unknown:
            raise ValueError(f"unknown content type {unknown[0]!r} (known: {', '.join(CONTENT_TYPES)})")
        return value


class ActionSpec(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    category: str
    scope: Scope = "deal"
    title: str
    trigger: str
    stages: tuple[str, ...] = ()
    relevance: float | str = 70
    impact: float | str = 50
    urgency: float | str = 50
    effort: Literal["low", "medium", "high"] = "medium"
    expected_impact: str = "Stage advance"
    exclusive_group: str | None = None
    cooldown_days: int = Field(7, ge=0)
    best_before_days: int = Field(3, ge=1)
    requires: tuple[str, ...] = ()
    offers_discount: bool = False
    offers_extended_terms: bool = False
    products: Literal["replenish", "cross_sell", "bundle"] | None = None
    content: ContentPick | None = None
    fallback: str | None = None  # content actions: the non-content action proposed when no asset fits
    why: tuple[str, ...]
    how: tuple[str, ...]
    script: str = ""
    email: str = ""

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r} (known: {', '.join(CATEGORIES)})")
        return value

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in OPEN_STAGES]
        if unknown:
            raise ValueError(f"unknown stage {unknown[0]!r} (open stages: {', '.join(OPEN_STAGES)})")
        return value

    @field_validator("requires")
    @classmethod
    def _known_tables(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in TABLES]
        if unknown:
            raise ValueError(f"unknown table {unknown[0]!r} in requires")
        return value


class TodayRules(_Strict):
    """A rep's "Today" list (engine/today.py, README "Today")."""

    size: int = Field(15, ge=1, le=100)
    max_per_action: int = Field(3, ge=1)      # cards of one action type
    max_per_account: int = Field(2, ge=1)     # cards on one account (a lead counts as its own)
    material_change_pct: float = Field(20, ge=0, le=1000)  # a listed card's value moving more than this re-ranks
    urgency_weight: dict[str, float] = Field(default_factory=lambda: {"HIGH": 3.0, "MEDIUM": 1.5, "LOW": 1.0})

    @field_validator("urgency_weight")
    @classmethod
    def _every_band(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != {"HIGH", "MEDIUM", "LOW"} or any(v <= 0 for v in value.values()):
            raise ValueError("urgency_weight needs HIGH, MEDIUM and LOW, each above 0")
        return value


def _builtin_urgency() -> UrgencyBands:
    """A rules file without `urgency:` gets the built-in bands (one source: defaults/rules.yaml)."""
    raw, _ = _read_yaml(None, "rules.yaml")
    return UrgencyBands(**raw["urgency"])


class Rules(_Strict):
    """Thresholds of the deterministic business rules (engine/rules.py) and of the strategy."""

    weak_signal_cutoff: float = Field(55, ge=0, le=100)
    max_per_record: int = Field(3, ge=1, le=10)
    max_per_rep_per_day: int | None = Field(None, ge=1)  # None: no cap beyond max_per_record
    alternatives: int = Field(3, ge=0, le=5)
    default_max_discount_pct: float = Field(10, ge=0, le=100)
    min_margin_pct: float = Field(15, ge=0, le=100)
    overdue_days: int = Field(30, ge=0)
    dismissed_cooldown_days: int = Field(14, ge=0)
    snooze_default_days: int = Field(7, ge=1)
    high_value_lead: float = Field(100_000, ge=0)
    delivery_promise_hours: int = Field(48, ge=0)
    weights: dict[str, float] = Field(default_factory=lambda: {"relevance": 0.4, "impact": 0.3, "urgency": 0.2, "feasibility": 0.1})
    holdout: HoldoutRules = Field(default_factory=HoldoutRules)  # the randomised holdout (engine/holdout.py)
    urgency: UrgencyBands = Field(default_factory=lambda: _builtin_urgency())  # the bands (engine/urgency.py)
    today: TodayRules = Field(default_factory=lambda: TodayRules())  # a rep's "Today" list (engine/today.py)

    @field_validator("weights")
    @classmethod
    def _weights_sum_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != {"relevance", "impact", "urgency", "feasibility"}:
            raise ValueError("weights needs exactly relevance, impact, urgency, feasibility")
        if abs(sum(value.values()) - 1) > 1e-6:
            raise ValueError("weights must add up to 1")
        return value


@dataclass(frozen=True)
class Action:
    """A validated catalog entry with its expressions compiled."""

    spec: ActionSpec
    trigger: Expression
    relevance: Expression
    impact: Expression
    urgency: Expression

    def __getattr__(self, name: str) -> Any:
        return getattr(self.spec, name)


@dataclass(frozen=True)
class Catalog:
    actions: tuple[Action, ...]
    rules: Rules
    outcomes: dict[str, Any] | None = field(default=None, compare=False)  # the catalog's `outcomes:` section; None: the defaults

    @cached_property
    def families(self) -> Families:
        """Each action's outcome family (engine/outcomes.py)."""
        return families(self.outcomes, ((a.id, a.scope) for a in self.actions))

    @cached_property
    def urgency_bands(self) -> CompiledBands:
        return compile_bands(self.rules.urgency, self.actions, SCOPE_SIGNALS)

    @cached_property
    def _index(self) -> dict[str, Action]:
        return {a.id: a for a in self.actions}

    def by_id(self, action_id: str) -> Action:
        return self._index[action_id]

    @cached_property
    def template_signals(self) -> frozenset[str]:
        """Every signal some title, why, how, script or email reads."""
        texts = (t for a in self.actions for t in (a.title, *a.why, *a.how, a.script, a.email))
        return frozenset(name for text in texts for name in template_fields(text))

    def for_scope(self, scope: str) -> list[Action]:
        return [a for a in self.actions if a.scope == scope]


def _read_yaml(path: Path | None, default: str) -> Any:
    if path is None:
        text = resources.files("stepwise.engine").joinpath("defaults", default).read_text(encoding="utf-8")
        where = f"(built-in {default})"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read ({exc.strerror})") from None
        where = str(path)
    try:
        return yaml.safe_load(text), where
    except yaml.YAMLError as exc:
        raise CatalogError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None


TEXT_FIELDS = ("title", "why", "how", "script", "email")


def load_catalog(catalog_path: Path | None = None, rules_path: Path | None = None,
                 templates_path: Path | None = None) -> Catalog:
    """The catalog, its rules, and optionally a template set (another language, your own wording)."""
    raw, where = _read_yaml(catalog_path, "catalog.yaml")
    if not isinstance(raw, dict) or not isinstance(raw.get("actions"), list):
        raise CatalogError(f"{where}: expected a mapping with an 'actions' list")
    if templates_path is not None:
        raw["actions"] = _with_templates(raw["actions"], templates_path)
    raw_rules, rules_where = _read_yaml(rules_path, "rules.yaml")
    try:
        rules = Rules(**(raw_rules or {}))
    except (ValidationError, TypeError) as exc:
        raise CatalogError(f"{rules_where}: {_first_error(exc)}") from None
    catalog = Catalog(tuple(_build_actions(raw["actions"], where)), rules, raw.get("outcomes"))
    try:
        catalog.urgency_bands  # noqa: B018 — validated at load, like the actions
    except ValueError as exc:
        raise CatalogError(f"{rules_where}: {exc}") from None
    try:
        catalog.families  # noqa: B018 — validated at load, like the actions
    except OutcomeError as exc:
        raise CatalogError(str(exc).replace("catalog:", f"{where}:", 1)) from None
    return catalog


def _with_templates(entries: list[Any], path: Path) -> list[Any]:
    """Replace the texts of the actions a template file names; everything else stays the catalog's."""
    raw, where = _read_yaml(Path(path), "")
    texts = raw.get("actions") if isinstance(raw, dict) else None
    if not isinstance(texts, dict):
        raise CatalogError(f"{where}: expected a mapping with an 'actions' mapping (action id → texts)")
    known = {e.get("id") for e in entries if isinstance(e, dict)}
    for action_id, fields in texts.items():
        if action_id not in known:
            raise CatalogError(f"{where}: action {action_id}: not in the catalog")
        if not isinstance(fields, dict) or set(fields) - set(TEXT_FIELDS):
            extra = sorted(set(fields) - set(TEXT_FIELDS)) if isinstance(fields, dict) else ["(not a mapping)"]
            raise CatalogError(f"{where}: action {action_id}: only {', '.join(TEXT_FIELDS)} can be translated, not {extra[0]}")
    return [{**e, **texts.get(e.get("id"), {})} if isinstance(e, dict) else e for e in entries]


def _build_actions(entries: list[Any], where: str) -> list[Action]:
    actions: list[Action] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        name = entry.get("id", f"#{position}") if isinstance(entry, dict) else f"#{position}"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: action {name}: expected a mapping")
        try:
            spec = ActionSpec(**entry)
        except ValidationError as exc:
            raise CatalogError(f"{where}: action {name}: {_first_error(exc)}") from None
        if spec.id in seen:
            raise CatalogError(f"{where}: action {spec.id}: duplicate id")
        seen.add(spec.id)
        known = SCOPE_SIGNALS[spec.scope]
        try:
            compiled = {key: parse(getattr(spec, key), known) for key in ("trigger", "relevance", "impact", "urgency")}
        except ExpressionError as exc:
            raise CatalogError(f"{where}: action {spec.id}: {exc}") from None
        if spec.scope != "deal" and spec.stages:
            raise CatalogError(f"{where}: action {spec.id}: stages only apply to deal actions")
        for text in (spec.title, *spec.why, *spec.how, spec.script, spec.email):
            try:
                unknown = sorted(template_fields(text) - known - EXTRA_FIELDS)
            except ValueError as exc:
                raise CatalogError(f"{where}: action {spec.id}: bad template {text!r} ({exc})") from None
            if unknown:
                raise CatalogError(f"{where}: action {spec.id}: unknown field {{{unknown[0]}}} in {text!r}")
        if spec.fallback is not None and spec.content is None:
            raise CatalogError(f"{where}: action {spec.id}: fallback only applies to content actions")
        actions.append(Action(spec, **compiled))
    _check_fallbacks(actions, where)
    return actions


def _check_fallbacks(actions: list[Action], where: str) -> None:
    """A content action's fallback names an existing non-content action of the same scope."""
    by_id = {a.id: a for a in actions}
    for action in actions:
        if action.fallback is None:
            continue
        other = by_id.get(action.fallback)
        if other is None:
            raise CatalogError(f"{where}: action {action.id}: fallback {action.fallback!r} is not in the catalog")
        if other.content is not None:
            raise CatalogError(f"{where}: action {action.id}: fallback {other.id} is a content action "
                               "(it needs an asset too); name a non-content action")
        if other.scope != action.scope:
            raise CatalogError(f"{where}: action {action.id}: fallback {other.id} has scope {other.scope}, "
                               f"not {action.scope}")


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return f"{loc}: {err['msg']}" if loc else err["msg"]
    return str(exc)
