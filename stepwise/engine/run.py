"""The engine's one entry point: canonical tables in, recommendations out (pure, no I/O).

signals → candidates → rules (guardrails) → score → hold back / resolve / limit → explain.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from stepwise.engine import candidates as candidates_step
from stepwise.engine import explain, rules, scoring, signals, strategy
from stepwise.engine.catalog import Catalog
from stepwise.engine.models import apply as learned
from stepwise.engine.models.apply import EngineModels
from stepwise.engine.population import Population, population_of
from stepwise.engine.products import OFFER_COLUMNS, discount_ceiling, product_offers
from stepwise.engine.recommendation import Alternative, Factors, Recommendation, Removal, recommendation_id
from stepwise.engine.records import CanonicalData, as_utc
from stepwise.engine.templates import Facts

PRIOR_MODEL_VERSION = "priors-1"
RECORD_TYPE = {"deal": "deal", "lead": "lead", "account": "account"}


@dataclass
class EngineResult:
    recommendations: list[Recommendation]
    removed: pd.DataFrame
    notes: list[str]
    stats: dict[str, Any] = field(default_factory=dict)


def build_signals(data: CanonicalData, as_of: pd.Timestamp, population: Population | None = None) -> dict[str, pd.DataFrame]:
    """`population`: statistics of the whole source when `data` is one chunk of it (see engine/population.py)."""
    population = population or population_of(data, as_of)
    accounts = signals.account_signals(data, as_of, population)
    return {
        "account": accounts,
        "deal": signals.deal_signals(data, as_of, accounts, population),
        "lead": signals.lead_signals(data, as_of, set(population.target_industries)),
    }


def recommend(data: CanonicalData, as_of: str | pd.Timestamp, catalog: Catalog, source: str = "files",
              history: pd.DataFrame | None = None, model_version: str = PRIOR_MODEL_VERSION,
              models: EngineModels | None = None, population: Population | None = None) -> EngineResult:
    """Recommendations for everything open on `as_of`.

    models=None: the catalog's priors (relevance, impact) and the plain feedback hold-back.  With models:
    dismissal reasons act differently, feedback posteriors shift relevance, action effectiveness sets
    impact and the card's success rate, and a capped share of candidates explores.
    population: the whole source's statistics when `data` is a chunk of it (a fanned-out run).
    """
    as_of = as_utc(as_of)
    if models is not None and model_version == PRIOR_MODEL_VERSION:
        model_version = models.version
    day = as_of.strftime("%Y-%m-%d")
    sig = build_signals(data, as_of, population)
    disabled = candidates_step.disabled_actions(catalog, data.present())
    notes = _disabled_notes(disabled)

    proposed = candidates_step.propose(sig, catalog, disabled)
    offers = product_offers(data, as_of, sig["account"], catalog.rules) if data.orders is not None else pd.DataFrame(columns=OFFER_COLUMNS)
    content = data.table("content")
    picks = rules.pick_content(proposed, sig, content, catalog)
    allowed, removed_by_rules = rules.apply_rules(proposed, sig["account"], offers, picks, catalog)
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
    if chosen.empty:
        return []
    ceiling = discount_ceiling(sig["account"], catalog.rules) if not sig["account"].empty else pd.Series(dtype=float)
    offers_by_account: dict[str, list[dict]] = {}
    for offer in offers.to_dict("records"):
        offers_by_account.setdefault(offer["account_id"], []).append(offer)
    assets = content.set_index("content_id")[["title", "type", "url"]].to_dict("index") if not content.empty else None
    alts = _group_rows(alternatives, lambda a: Alternative(
        a.action_id, catalog.by_id(a.action_id).title, float(a.score), scoring.urgency_level(a.urgency)))
    audit = _group_rows(removed, lambda r: Removal(
        rule=r.rule, reason=r.reason, action_id=r.action_id if isinstance(r.action_id, str) else None,
        product_id=r.product_id if isinstance(r.product_id, str) else None))
    urgency = scoring.urgency_label(chosen["urgency"]).to_numpy()
    picked = picks.dropna().to_dict()
    ceilings = ceiling.to_dict()
    needed = {scope: chosen.loc[chosen["scope"] == scope, "record_id"].unique() for scope in sig}
    # Only the columns some text or rule reads: to_dict on 100-column frames was a tenth of the run.
    used = catalog.template_signals | _EXPLAIN_COLUMNS
    rows = {scope: sig[scope].loc[ids, [c for c in sig[scope].columns if c in used]].to_dict("index")
            for scope, ids in needed.items() if len(ids)}
    accounts = sig["account"]
    account_rows = accounts.loc[accounts.index.intersection(chosen["account_id"].dropna().unique()),
                                [c for c in accounts.columns if c in _EXPLAIN_COLUMNS]].to_dict("index")
    as_of_ts = pd.Timestamp(day)
    out = []
    for idx, cand, level in zip(chosen.index, chosen.itertuples(), urgency):
        action = catalog.by_id(cand.action_id)
        row = rows[cand.scope][cand.record_id]
        extras: dict[str, Any] = {}
        account = account_rows.get(cand.account_id) if isinstance(cand.account_id, str) else None
        account_ceiling = float(ceilings[cand.account_id]) if account is not None and cand.account_id in ceilings else None
        account_offers = offers_by_account.get(cand.account_id, [])
        offer = explain.offer_for(action, account_offers, account_ceiling if (action.offers_discount or action.products) else None)
        asset = picked.get(idx)
        if isinstance(asset, str) and assets is not None:
            a = assets[asset]
            offer["asset"] = {"content_id": asset, "title": a["title"], "type": a["type"], "url": a["url"]}
            extras.update(asset_title=a["title"], asset_url=a["url"] or "", asset_type=a["type"].replace("_", " "))
        extras.update(_extra_facts(offer, account_ceiling, row))
        facts = Facts(extras, row)
        removals = tuple(audit.get((cand.scope, cand.record_id), ()))
        if cand.scope != "account" and action.products:
            removals += tuple(audit.get(("account", cand.account_id), ()))
        alt = tuple(replace(a, title=explain.render(a.title, facts)) for a in alts.get((cand.scope, cand.record_id), ()))
        out.append(Recommendation(
            id=recommendation_id(source, f"{cand.scope}:{cand.record_id}", action.id, day),
            source=source, record_type=RECORD_TYPE[cand.scope], record_id=cand.record_id,
            deal_id=cand.deal_id if cand.scope == "deal" else None,
            account_id=cand.account_id if isinstance(cand.account_id, str) else None,
            lead_id=cand.lead_id if cand.scope == "lead" else None,
            action_id=action.id, category=action.category, title=explain.render(action.title, facts),
            score=float(cand.score),
            factors=Factors(*(round(float(getattr(cand, part)), 1) for part in scoring.PARTS)),
            urgency=level, expected_impact=action.expected_impact,
            why=tuple(explain.render(t, facts) for t in action.why) + _cold_start(cand),
            how=tuple(explain.render(t, facts) for t in action.how) + explain.inclusion_requests(removals, facts),
            offer=offer,
            constraints=tuple(explain.constraints_for(account, catalog.rules, account_ceiling)),
            best_before=(as_of_ts + pd.Timedelta(days=action.best_before_days)).strftime("%Y-%m-%d"),
            success_rate=_success_rate(cand), alternatives=alt, removed=removals, model_version=model_version, as_of=day,
            rank=int(cand.rank), script=explain.render(action.script, facts), email=explain.render(action.email, facts),
            owner_id=facts.get("owner_id") if isinstance(facts.get("owner_id"), str) else None,
        ))
    return out


def _success_rate(cand) -> float | None:
    rate = getattr(cand, "success_rate", None)
    return None if rate is None or pd.isna(rate) else float(rate)


def _cold_start(cand) -> tuple[str, ...]:
    return (learned.COLD_START_NOTE,) if bool(getattr(cand, "cold_start", False)) else ()


def _account_of_records(sig: dict[str, pd.DataFrame]) -> pd.Series:
    """record id → account id, for the feedback that applies account-wide."""
    parts = [pd.Series(sig["account"].index, index=sig["account"].index)]
    if not sig["deal"].empty:
        parts.append(sig["deal"]["account_id"])
    out = pd.concat(parts)
    return out[~out.index.duplicated()]


# Read by the explain step itself (owner, constraints, inclusion requests, lead topic), beyond the templates.
_EXPLAIN_COLUMNS = frozenset({"owner_id", "segment", "industry", "top_visit_topic", "extended_terms_allowed",
                              "overdue_max_days", "payment_terms_days", "credit_headroom"})


def _group_rows(frame: pd.DataFrame, build) -> dict[tuple[str, str], list]:
    """One pass over the rows: (scope, record_id) → the objects built from its rows."""
    out: dict[tuple[str, str], list] = {}
    for row in frame.itertuples():
        out.setdefault((row.scope, row.record_id), []).append(build(row))
    return out


def _disabled_notes(disabled: dict[str, str]) -> list[str]:
    """One line per missing table, not one per action: said once, readable."""
    by_reason: dict[str, list[str]] = {}
    for action_id, reason in sorted(disabled.items()):
        by_reason.setdefault(reason, []).append(action_id)
    return [f"{len(ids)} actions off, {reason}: {', '.join(ids)}" for reason, ids in sorted(by_reason.items())]


def _extra_facts(offer: dict[str, Any], ceiling: float | None, facts: dict[str, Any]) -> dict[str, Any]:
    products = offer.get("products", [])
    topic = facts.get("top_visit_topic")
    return {
        "products": ", ".join(p["name"] for p in products) or "unknown",
        "bundle": offer.get("bundle", "unknown"),
        "max_discount": f"{ceiling:g}%" if ceiling is not None else "unknown",
        "topic": topic.replace("_", " ") if isinstance(topic, str) else "unknown",
        "substitute_note": next((f"{p['name']} replaces an out-of-stock product" for p in products if p["role"].startswith("substitute")), ""),
    }
