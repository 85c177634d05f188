"""The optional LLM writer in the pipeline: explanation, phone script and email for the top recommendations.

Templates stay the default; a model draft replaces them only when it passes every guardrail
(engine/guardrails.py: the allowlist).  Drafts and rejections are kept in the store (store/llm_drafts.py)
keyed by the recommendation, its approved facts, the model and the language, so a re-sync on unchanged
facts costs no model call — in any later run of the day, in any process.  STEPWISE_LLM_BUDGET is the
calls of a day (UTC) across runs and chunks: each call is reserved in the store first, and each chunk
of a run may spend its share of the budget (workers/fanout.py).  Without a store (a Narrator on its
own) the cache and the budget are the Narrator's.  A failing model never fails the run and the card
says nothing about it; every outcome is counted (`stats`, the run's counts, the worker metrics).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from stepwise.engine.guardrails import approved_facts, check_draft, prompt_for
from stepwise.engine.recommendation import Recommendation
from stepwise.integration.llm import ChatClient, LLMError
from stepwise.store import LLMDrafts
from stepwise.workers import metrics

if TYPE_CHECKING:
    from stepwise.settings import Settings

log = logging.getLogger(__name__)

#: How long cached drafts are kept: a recommendation's id carries its day, so only that day asks again.
KEEP_DAYS = 3


def _utc_today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


@dataclass
class Narrator:
    client: ChatClient
    budget: int = 200               # model calls this narrator may make (a run's chunk: its share)
    daily_budget: int | None = None  # model calls per UTC day across runs; None: `budget`
    language: str | None = "en"      # the cards' template language: drafts must be in it
    drafts: LLMDrafts | None = None  # the store's cache and day budget; None: this narrator's own
    cache: MutableMapping[str, dict] = field(default_factory=dict)
    stats: Counter = field(default_factory=Counter)
    today: Callable[[], str] = _utc_today
    _spent: Counter = field(default_factory=Counter, repr=False)  # calls per day, without a store

    def __post_init__(self) -> None:
        if self.daily_budget is None:
            self.daily_budget = self.budget

    def narrate(self, recs: list[Recommendation], notes_for: Callable[[Recommendation], list[str]] = lambda r: []
                ) -> list[Recommendation]:
        order = sorted(range(len(recs)), key=lambda i: -recs[i].score)
        out = list(recs)
        keys = {i: self._key(recs[i]) for i in order}
        cached = self._cached(list(keys.values()))
        before = Counter(self.stats)
        calls, day = 0, self.today()
        for i in order:
            rec, key = recs[i], keys[i]
            entry = cached.get(key)
            if entry is not None and entry["status"] == "rejected":
                self.stats["cached_rejection"] += 1  # the same facts were refused before: no new call
                continue
            if entry is not None:
                verdict = check_draft(entry["draft"], rec, self.language)  # today's guardrails, not the day's
                if not verdict.ok:
                    self._reject(rec, key, day, verdict.codes, verdict.reasons, entry["model"])
                    continue
                self.stats["cached"] += 1
                out[i] = _with_draft(rec, verdict.draft, entry["model"])
                continue
            if calls >= self.budget or not self._reserve(day):
                self.stats["over_budget"] += 1
                continue
            calls += 1
            prompt = prompt_for(rec, notes_for(rec), self.language or "en")
            self.stats["notes_dropped"] += prompt.dropped
            self.stats["calls"] += 1
            try:
                draft = self.client.complete_json(prompt.messages)
            except LLMError as exc:
                self.stats["model_failed"] += 1
                log.warning("LLM draft for %s not used: %s", rec.id, exc)
                continue
            verdict = check_draft(draft, rec, self.language)
            if not verdict.ok:
                self._reject(rec, key, day, verdict.codes, verdict.reasons, self.client.model)
                continue
            self._remember(key, rec, day, "used", verdict.draft, [], self.client.model)
            self.stats["used"] += 1
            out[i] = _with_draft(rec, verdict.draft, self.client.model)
        metrics.count_drafts(self.stats - before)
        return out

    def _key(self, rec: Recommendation) -> str:
        facts = json.dumps(approved_facts(rec), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(f"{rec.id}|{self.client.model}|{self.language}|{facts}".encode()).hexdigest()

    def _cached(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        if self.drafts is None:
            return {k: self.cache[k] for k in keys if k in self.cache}
        self.drafts.forget_before((datetime.fromisoformat(self.today()) - timedelta(days=KEEP_DAYS)).strftime("%Y-%m-%d"))
        return self.drafts.get(keys)

    def _reserve(self, day: str) -> bool:
        if self.drafts is not None:
            return self.drafts.reserve(day, int(self.daily_budget or 0))
        if self._spent[day] >= int(self.daily_budget or 0):
            return False
        self._spent[day] += 1
        return True

    def _remember(self, key: str, rec: Recommendation, day: str, status: str, draft: dict | None, codes: list[str],
                  model: str) -> None:
        entry = {"status": status, "model": model, "draft": draft or {}, "codes": codes}
        if self.drafts is None:
            self.cache[key] = entry
        else:
            self.drafts.put(key, rec_id=rec.id, day=day, model=model, status=status, draft=draft, codes=codes)

    def _reject(self, rec: Recommendation, key: str, day: str, codes: tuple[str, ...], reasons: tuple[str, ...],
                model: str) -> None:
        self._remember(key, rec, day, "rejected", None, list(codes), model)
        self.stats["rejected"] += 1
        for code in codes:
            self.stats[f"rejected:{code}"] += 1
        log.warning("LLM draft for %s rejected: %s", rec.id, "; ".join(reasons))


def _with_draft(rec: Recommendation, draft: Mapping[str, str], model: str) -> Recommendation:
    return replace(rec, script=draft["script"], email=draft["email"],
                   extra={**rec.extra, "explanation": draft["explanation"]}, explained_by=f"llm:{model}")


def llm_counts(stats: Mapping[str, int]) -> dict[str, Any]:
    """A run's (or a chunk's) writer counts as the run's counts keep them: rejections by reason."""
    by_reason = {k.split(":", 1)[1]: n for k, n in sorted(stats.items()) if k.startswith("rejected:") and n}
    plain = {k: int(n) for k, n in stats.items() if ":" not in k and n}
    return {**plain, "rejected_by_reason": by_reason} if plain or by_reason else {}


def add_llm_counts(total: dict[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    """Sum two `llm_counts` (a run's chunks)."""
    out = dict(total)
    for k, v in part.items():
        if k == "rejected_by_reason":
            reasons = Counter(out.get(k, {}))
            reasons.update(v)
            out[k] = dict(sorted(reasons.items()))
        else:
            out[k] = out.get(k, 0) + v
    return out


def template_language(path: Path | None) -> str | None:
    """The language of the cards' template set: the catalog's English, or the file's `locale`."""
    if path is None:
        return "en"
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None  # the catalog load reports the file; the allowlist then accepts no draft
    locale = raw.get("locale") if isinstance(raw, dict) else None
    return str(locale).split("_")[0].split("-")[0].lower() if locale else None


def narrator_from(settings: Settings) -> Narrator | None:
    """The LLM writer when STEPWISE_LLM_URL is set; templates only otherwise."""
    if not settings.llm_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    client = ChatClient(settings.llm_url, settings.llm_model, key, settings.llm_timeout_seconds)
    return Narrator(client, budget=settings.llm_budget, language=template_language(settings.templates))


def recent_notes(activities: pd.DataFrame, as_of: pd.Timestamp, days: int = 30, per_record: int = 3
                 ) -> Callable[[Recommendation], list[str]]:
    """The last few activity texts of each record, for context (redacted later, fenced as data)."""
    recent = activities[(activities["occurred_at"] <= as_of) & (activities["occurred_at"] > as_of - pd.Timedelta(days=days))]
    recent = recent.sort_values("occurred_at", ascending=False)
    text = (recent["subject"].fillna("") + ". " + recent["body"].fillna("")).str.strip(". ")
    by: dict[str, dict[str, list[str]]] = {}
    for column in ("deal_id", "account_id", "lead_id"):
        keyed = pd.DataFrame({"key": recent[column], "text": text}).dropna()
        by[column] = keyed.groupby("key")["text"].apply(lambda s: list(s[:per_record])).to_dict()

    def notes_for(rec: Recommendation) -> list[str]:
        if rec.deal_id:
            return by["deal_id"].get(rec.deal_id, [])
        if rec.lead_id:
            return by["lead_id"].get(rec.lead_id, [])
        return by["account_id"].get(rec.account_id, [])

    return notes_for
