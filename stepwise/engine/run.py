"""The engine's one entry point: canonical tables in, recommendations out (pure, no I/O).

signals → candidates → rules (guardrails) → score → hold back / resolve / limit → explain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from stepwise.engine import candidates as candidates_step
from stepwise.engine import explain, rules, scoring, signals, strategy
from stepwise.engine.catalog import Catalog
from stepwise.engine.models import apply as learned
from stepwise.engine.models.apply import EngineModels
from stepwise.engine.models.features import open_leads
from stepwise.engine.population import Population, population_of
from stepwise.engine.predictions import (
    Predictors,
    ProductScores,
    account_predictions,
    deal_predictions,
    lead_predictions,
    product_scores,
    value_weighted_impact,
)
from stepwise.engine.products import OFFER_COLUMNS, product_offers
from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import CanonicalData, as_utc

PRIOR_MODEL_VERSION = "priors-1"
RECORD_TYPE = {"deal": "deal", "lead": "lead", "account": "account"}


@dataclass
class EngineResult:
    recommendations: list[Recommendation]
    removed: pd.DataFrame
    notes: list[str]
    stats: dict[str, Any] = field(default_factory=dict)


def build_signals(data: CanonicalData, as_of: pd.Timestamp, population: Population | None = None,
                  predictors: Predictors | None = None, products: ProductScores | None = None) -> dict[str, pd.DataFrame]:
    """Facts and learned predictions per record.

    `population`: statistics of the whole source when `data` is one chunk of it (see engine/population.py).
    `predictors`: what was learned from the history (engine/predictions.py); None = cold start.
    """
    population = population or population_of(data, as_of)
    accounts = signals.account_signals(data, as_of, population)
    accounts = accounts.join(account_predictions(data, as_of, predictors, accounts.index, products))
    deals = signals.deal_signals(data, as_of, accounts, population)
    deals = deals.join(deal_predictions(data, as_of, predictors, deals.index))
    leads = signals.lead_signals(data, as_of, set(population.target_industries))
    if data.leads is not None:
        leads = leads.join(lead_predictions(data, as_of, predictors, leads.index, open_leads(data.table("leads"))))
    else:
        leads = leads.assign(**{c: pd.Series(dtype=object) for c in ("conversion_probability", "lead_expected_value",
                                                                    "lead_value_index", "lead_predicted")})
    return {"account": accounts, "deal": deals, "lead": leads}


def recommend(data: CanonicalData, as_of: str | pd.Timestamp, catalog: Catalog, source: str = "files",
              history: pd.DataFrame | None = None, model_version: str = PRIOR_MODEL_VERSION,
              models: EngineModels | None = None, population: Population | None = None,
              predictors: Predictors | None = None) -> EngineResult:
    """Recommendations for everything open on `as_of`.

    models=None: the catalog's priors (relevance, impact) and the plain feedback hold-back.  With models:
    dismissal reasons act differently, feedback posteriors shift relevance, action effectiveness sets
    impact and the card's success rate, and a capped share of candidates explores.
    population: the whole source's statistics when `data` is a chunk of it (a fanned-out run).
    predictors: the learned predictions (engine/predictions.py) the catalog's triggers and scores read;
    None = cold start, the catalog's thresholds apply and the cards say so.
    """
    as_of = as_utc(as_of)
    if models is not None and model_version == PRIOR_MODEL_VERSION:
        model_version = models.version
    day = as_of.strftime("%Y-%m-%d")
    products = product_scores(data, as_of, predictors)
    sig = build_signals(data, as_of, population, predictors, products)
    disabled = candidates_step.disabled_actions(catalog, data.present())
    notes = _disabled_notes(disabled)

    proposed = candidates_step.propose(sig, catalog, disabled)
    if predictors is not None:
        categories = proposed["action_id"].map({a.id: a.category for a in catalog.actions})
        proposed = value_weighted_impact(proposed, sig, categories).drop(columns="value_multiplier")
    offers = (product_offers(data, as_of, sig["account"], catalog.rules, products) if data.orders is not None
              else pd.DataFrame(columns=OFFER_COLUMNS))
    content = data.table("content")
    picks = rules.pick_content(proposed, sig, content, catalog)
    allowed, removed_by_rules = rules.apply_rules(proposed, sig["account"], offers, picks, catalog, sig,
                                                  product_data=data.order_lines is not None and data.products is not None)
    removed_by_reason = pd.DataFrame(columns=removed_by_rules.columns)
    all_feedback = history
    if models is not None:
        account_of = _account_of_records(sig)
        allowed, removed_by_reason, history = strategy.hold_back_by_reason(
            allowed, history, catalog, as_of, account_of, models.wrong_timing_days, models.unsuitable_product_days)
    held, removed_by_feedback = strategy.hold_back(allowed, history, catalog, as_of)
    if models is not None:
        held = learned.adjust(held, sig, all_feedback, models, as_of)
    removed_by_feedback = pd.concat([removed_by_reason, removed_by_feedback], ignore_index=True)
    scored = scoring.score(held, catalog.rules)
    chosen, alternatives, removed_by_strategy = strategy.select(scored, catalog)
    removed = pd.concat([removed_by_rules, removed_by_feedback, removed_by_strategy], ignore_index=True)

    recs = _explain_all(chosen, alternatives, removed, sig, offers, picks, content, catalog, source, day, model_version)
    stats = {
        "candidates": len(proposed),
        "removed_by_rule": removed["rule"].value_counts().to_dict(),
        "recommendations": len(recs),
        "records": {scope: len(frame) for scope, frame in sig.items()},
    }
    return EngineResult(recs, removed, notes, stats)


def _explain_all(chosen, alternatives, removed, sig, offers, picks, content, catalog: Catalog, source, day, model_version):
    """Column-wise per action (see explain.explain_all): ~a third of the run was this step done per object."""
    return explain.explain_all(chosen, alternatives, removed, sig, offers, picks, content, catalog, source, day, model_version)


def _account_of_records(sig: dict[str, pd.DataFrame]) -> pd.Series:
    """record id → account id, for the feedback that applies account-wide."""
    parts = [pd.Series(sig["account"].index, index=sig["account"].index)]
    if not sig["deal"].empty:
        parts.append(sig["deal"]["account_id"])
    out = pd.concat(parts)
    return out[~out.index.duplicated()]


def _disabled_notes(disabled: dict[str, str]) -> list[str]:
    """One line per missing table, not one per action: said once, readable."""
    by_reason: dict[str, list[str]] = {}
    for action_id, reason in sorted(disabled.items()):
        by_reason.setdefault(reason, []).append(action_id)
    return [f"{len(ids)} actions off, {reason}: {', '.join(ids)}" for reason, ids in sorted(by_reason.items())]
