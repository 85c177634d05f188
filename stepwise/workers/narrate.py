"""The optional LLM writer in the pipeline: explanation, phone script and email for the top recommendations.

Templates stay the default; a model draft replaces them only when it passes
every guardrail.  Drafts are cached by the recommendation's id and facts, so
re-scoring unchanged deals costs no model calls, and each run has a budget
(each of its chunks an equal share of it: workers/fanout.py).
A failing model never fails the run and the card says nothing about it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pandas as pd

from stepwise.engine.guardrails import approved_facts, build_messages, check_draft
from stepwise.engine.recommendation import Recommendation
from stepwise.integration.llm import ChatClient, LLMError

if TYPE_CHECKING:
    from stepwise.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Narrator:
    client: ChatClient
    budget: int = 200  # model calls per run
    delivery_hours: int = 48
    cache: MutableMapping[str, dict] = field(default_factory=dict)
    stats: Counter = field(default_factory=Counter)

    def narrate(self, recs: list[Recommendation], notes_for: Callable[[Recommendation], list[str]] = lambda r: []
                ) -> list[Recommendation]:
        order = sorted(range(len(recs)), key=lambda i: -recs[i].score)
        out = list(recs)
        calls = 0
        for i in order:
            rec = recs[i]
            key = _cache_key(rec)
            draft = self.cache.get(key)
            if draft is not None and draft.get("rejected"):
                self.stats["cached_rejection"] += 1  # the same facts were refused before: no new call
                continue
            if draft is None:
                if calls >= self.budget:
                    self.stats["over_budget"] += 1
                    continue
                calls += 1
                try:
                    draft = self.client.complete_json(build_messages(rec, notes_for(rec)))
                except LLMError as exc:
                    self.stats["model_failed"] += 1
                    log.warning("LLM draft for %s not used: %s", rec.id, exc)
                    continue
                verdict = check_draft(draft, rec, self.delivery_hours)
                if not verdict.ok:
                    self.cache[key] = {"rejected": True}
                    self.stats["rejected"] += 1
                    log.warning("LLM draft for %s rejected: %s", rec.id, "; ".join(verdict.reasons))
                    continue
                self.cache[key] = draft
            else:
                self.stats["cached"] += 1
            self.stats["used"] += 1
            out[i] = replace(rec, script=draft["script"], email=draft["email"],
                             extra={**rec.extra, "explanation": draft["explanation"]},
                             explained_by=f"llm:{self.client.model}")
        return out


def narrator_from(settings: Settings) -> Narrator | None:
    """The LLM writer when STEPWISE_LLM_URL is set; templates only otherwise."""
    if not settings.llm_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    client = ChatClient(settings.llm_url, settings.llm_model, key, settings.llm_timeout_seconds)
    return Narrator(client, budget=settings.llm_budget)


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


def _cache_key(rec: Recommendation) -> str:
    facts = json.dumps(approved_facts(rec), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{rec.id}|{facts}".encode()).hexdigest()
