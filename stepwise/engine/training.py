"""Training sets from snapshots, and the train/predict/evaluate logic (pure: frames in, models and numbers out).

Every training row is a snapshot: features from the view "as known on day S",
the label from what happened after S — and only outcomes known on the cut day
are used, because the data handed in is itself a view cut at that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stepwise.engine.history import as_known_on, closed_at, lead_decided_by
from stepwise.engine.models.action_events import action_events
from stepwise.engine.models.base import GroupRate, auc, brier, precision_at_k, seeded_sample
from stepwise.engine.models.effectiveness import ActionEffectiveness
from stepwise.engine.models.features import (
    OBJECTION_FLAG,
    account_order_features,
    deal_features,
    lead_features,
    objection_flags,
    open_leads,
    orders_within,
)
from stepwise.engine.models.lead import LeadConversionModel
from stepwise.engine.models.products import ProductModel
from stepwise.engine.models.reorder import ReorderModel, due_rule_score, frequency_score
from stepwise.engine.models.win import WinModel
from stepwise.engine.records import CanonicalData, as_utc

# Bumped when a stored artifact of the previous family can no longer be read as predictions (learned-2: the
# calibrated, shrunk estimators and the product model); an older one is skipped and the run learns its own.
MODEL_FAMILY = "learned-2"


@dataclass
class ModelBundle:
    """Everything one training run produced: stored as one joblib artifact with its metrics and window."""

    version: str
    trained_as_of: str
    train_from: str
    win: WinModel
    lead: LeadConversionModel
    reorder: ReorderModel
    effectiveness: ActionEffectiveness | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    products: ProductModel | None = None
    reference_value: dict[str, float] = field(default_factory=dict)

    def predictors(self):
        """The part a scoring run reads: engine/predictions.Predictors."""
        from stepwise.engine.predictions import Predictors

        return Predictors(version=self.version, trained_as_of=self.trained_as_of, reorder=self.reorder, win=self.win,
                          lead=self.lead, products=getattr(self, "products", None),
                          reference_value=dict(getattr(self, "reference_value", {}) or {}), notes=list(self.notes))


def _days(start: pd.Timestamp, stop: pd.Timestamp, step: int) -> list[pd.Timestamp]:
    out, day = [], stop
    while day >= start:
        out.append(day)
        day -= pd.Timedelta(days=step)
    return sorted(out)


# ─────────────────────────────── training sets ───────────────────────────────
def win_set(data: CanonicalData, days: list[pd.Timestamp]) -> tuple[pd.DataFrame, np.ndarray]:
    """Deals open on each snapshot day whose outcome is in `data` (closed by the day `data` is cut at)."""
    deals = data.table("deals")
    closed = deals[deals["is_closed"].fillna(False).astype(bool)]
    outcome = pd.Series(closed["is_won"].astype(bool).to_numpy(), index=closed["deal_id"])
    done_at = pd.Series(closed_at(closed).to_numpy(), index=closed["deal_id"])
    frames = []
    activities = data.table("activities")
    activities = activities[activities["deal_id"].notna()]
    activities = activities.assign(**{OBJECTION_FLAG: objection_flags(activities)})  # once, not per snapshot
    for day in days:
        light = CanonicalData(accounts=data.accounts, deals=data.deals, activities=activities, orders=data.orders,
                              contacts=data.contacts)
        X = deal_features(as_known_on(light, day), day)
        X = X[X.index.isin(outcome.index) & (done_at.reindex(X.index) > day).to_numpy()]
        frames.append(X.assign(snapshot=day))
    X = pd.concat(frames) if frames else deal_features(data, days[-1] if days else pd.Timestamp.now(tz="UTC")).iloc[:0]
    return X, outcome.reindex(X.index).astype(int).to_numpy()


def reorder_set(data: CanonicalData, days: list[pd.Timestamp], horizon: int) -> tuple[pd.DataFrame, np.ndarray]:
    frames = []
    for day in days:
        light = CanonicalData(orders=data.orders)
        X = account_order_features(as_known_on(light, day), day)
        frames.append(X.assign(snapshot=day, y=X.index.isin(orders_within(data, day, horizon).index)))
    X = pd.concat(frames) if frames else account_order_features(CanonicalData(), pd.Timestamp.now(tz="UTC"))
    y = X.pop("y").astype(int).to_numpy() if "y" in X else np.zeros(0, dtype=int)
    return X, y


def lead_set(data: CanonicalData, day: pd.Timestamp, created_before: pd.Timestamp | None = None,
             created_from: pd.Timestamp | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Leads decided (converted or disqualified) as known on `day`; label = converted."""
    leads = data.table("leads")
    decided = leads[lead_decided_by(leads, data.activities, day) & ~(leads["created_at"] > day)]
    if created_before is not None:
        decided = decided[decided["created_at"] < created_before]
    if created_from is not None:
        decided = decided[decided["created_at"] >= created_from]
    X = lead_features(data, day, decided)
    return X, (X["status"] == "converted").astype(int).to_numpy()


# ─────────────────────────────── train / predict ───────────────────────────────
def train(data: CanonicalData, as_of: str | pd.Timestamp, window_days: int = 730, step_days: int = 28,
          horizon_days: int = 14, effectiveness_events: pd.DataFrame | None = None,
          feedback: pd.DataFrame | None = None, effectiveness: bool = True, reorder_step_days: int = 14,
          version: str | None = None, max_win_accounts: int | None = None) -> ModelBundle:
    """Fit every model on what was known on `as_of` (the data is cut here first, whatever was passed).

    Action effectiveness learns from `effectiveness_events` when given, else from the history itself
    (activities that are catalog actions, and the reps' accepted recommendations in `feedback`, each
    followed by its outcome: see action_events.py).  `effectiveness=False` skips it (predict needs none).
    """
    day = as_utc(as_of)
    known = as_known_on(data, day)
    start = day - pd.Timedelta(days=window_days)
    notes: list[str] = []
    Xw, yw = win_set(sample_accounts(known, max_win_accounts), _days(start, day - pd.Timedelta(days=1), step_days))
    win = WinModel().fit(Xw, yw)
    Xr, yr = reorder_set(known, _days(day - pd.Timedelta(days=365), day - pd.Timedelta(days=horizon_days),
                                      reorder_step_days), horizon_days)
    reorder = ReorderModel(horizon_days=horizon_days).fit(Xr, yr)
    products = ProductModel().fit(known, day) if data.order_lines is not None and data.orders is not None else None
    Xl, yl = lead_set(known, day)
    lead = LeadConversionModel().fit(Xl, yl)
    for name, model in (("win", win), ("lead conversion", lead), ("reorder", reorder)):
        if not model.fitted_:
            notes.append(f"{name}: too little history ({model.n_train_} examples): predicting the base rate "
                         f"{model.base_rate_:.2f}")
    events = effectiveness_events
    if events is None and effectiveness:
        events = action_events(known, day, feedback)
    learned = None
    if events is not None and not events.empty:
        learned = ActionEffectiveness().fit(events)
    metrics = {"train_rows": {"win": len(yw), "lead": len(yl), "reorder": len(yr)},
               "base_rate": {"win": win.base_rate_, "lead": lead.base_rate_, "reorder": reorder.base_rate_},
               "effectiveness": _effectiveness_metrics(events, learned)}
    bundle = ModelBundle(version=version or f"{MODEL_FAMILY}@{day:%Y-%m-%d}", trained_as_of=f"{day:%Y-%m-%d}",
                         train_from=f"{start:%Y-%m-%d}", win=win, lead=lead, reorder=reorder,
                         effectiveness=learned, metrics=metrics, notes=notes, products=products)
    from stepwise.engine.predictions import reference_values

    bundle.reference_value = reference_values(bundle.predictors(), Xw, Xr, Xl)
    return bundle


def train_predictors(data: CanonicalData, as_of: str | pd.Timestamp):
    """What a scoring run learns for itself when no `stepwise train` model is stored: the same models on a
    lighter snapshot schedule (QUICK_SCHEDULE), no action effectiveness.  Deterministic: the same data and
    day give the same predictions, whichever process trains them."""
    day = as_utc(as_of)
    return train_quick(data, day).predictors()


# A run that learns for itself (score, predict without `stepwise train`): deal snapshots every 8 weeks over
# two years, order snapshots every 2 weeks over one (every 4 beyond SMALL_HISTORY orders, where the rows are
# plenty and building them is the cost); the same for both commands, so they agree.
QUICK_SCHEDULE = {"window_days": 730, "step_days": 56, "max_win_accounts": 6000}
SMALL_HISTORY = 150_000


def train_quick(data: CanonicalData, as_of: str | pd.Timestamp) -> ModelBundle:
    day = as_utc(as_of)
    return train(data, day, effectiveness=False, version=f"{MODEL_FAMILY}-auto@{day:%Y-%m-%d}",
                 reorder_step_days=reorder_step(data), **QUICK_SCHEDULE)


def sample_accounts(data: CanonicalData, limit: int | None) -> CanonicalData:
    """At most `limit` accounts with deals (seeded, so the same data gives the same sample), with everything
    hanging off them: a training set's cost bounded, its rows still whole accounts' histories."""
    accounts = np.sort(data.table("deals")["account_id"].dropna().unique().astype(str))
    keep = seeded_sample(len(accounts), limit)
    return data if keep is None else data.subset(set(accounts[keep]), set())


def reorder_step(data: CanonicalData) -> int:
    return 14 if len(data.table("orders")) <= SMALL_HISTORY else 28


def _effectiveness_metrics(events: pd.DataFrame | None, learned: ActionEffectiveness | None) -> dict[str, Any]:
    """How much history the success rates stand on: events, and the actions that have a rate."""
    if events is None or events.empty or learned is None:
        return {"events": 0, "actions_with_rate": 0, "overall_rate": None, "rates": {}}
    evidence = events["evidence"].value_counts().to_dict() if "evidence" in events else {}
    return {"events": int(len(events)), "from": {str(k): int(v) for k, v in evidence.items()},
            "actions_with_rate": int(len(learned.action_rate_)), "overall_rate": round(learned.overall_, 4),
            "rates": {a: {"rate": round(float(r), 4), "n": int(learned.action_n_[a])}
                      for a, r in learned.action_rate_.sort_index().items()}}


def predict(data: CanonicalData, as_of: str | pd.Timestamp, bundle: ModelBundle | None = None) -> dict[str, Any]:
    """The `stepwise predict` contract (README, "`stepwise predict` (public contract)"), from what was known on `as_of` only."""
    day = as_utc(as_of)
    if bundle is not None and as_utc(bundle.trained_as_of) > day:
        raise ValueError(f"model {bundle.version} was trained after {day:%Y-%m-%d}: it has seen the future")
    known = as_known_on(data, day)
    bundle = bundle or train_quick(known, day)
    out: dict[str, Any] = {"model_version": bundle.version, "deals": [], "accounts": [], "leads": [],
                           "account_products": []}
    if data.deals is not None:
        X = deal_features(known, day).sort_index()
        out["deals"] = [{"deal_id": d, "win_probability": _p(p)} for d, p in zip(X.index, bundle.win.predict_proba(X))]
    if data.orders is not None:
        X = account_order_features(known, day).sort_index()
        nxt = bundle.reorder.expected_next_order(X, day) if len(X) else pd.Series(dtype=object)
        from stepwise.engine.predictions import account_predictions

        churn = account_predictions(known, day, bundle.predictors(), X.index)["churn_risk"] if len(X) else pd.Series(dtype=float)
        out["accounts"] = [
            {"account_id": a, "expected_next_order_at": None if pd.isna(n) else f"{n:%Y-%m-%d}", "p_order_next_14d": _p(p),
             "churn_risk": None if pd.isna(c) else _p(c)}
            for a, n, p, c in zip(X.index, nxt, bundle.reorder.predict_proba(X), churn.reindex(X.index))
        ]
        out["account_products"] = _account_products(known, day, getattr(bundle, "products", None))
    if data.leads is not None:
        leads = open_leads(known.table("leads"))
        X = lead_features(known, day, leads).sort_index()
        out["leads"] = [{"lead_id": lid, "conversion_probability": _p(p)}
                        for lid, p in zip(X.index, bundle.lead.predict_proba(X))]
    return out


def _account_products(known: CanonicalData, day: pd.Timestamp, model: ProductModel | None,
                      due: int = 5, new: int = 3) -> list[dict[str, Any]]:
    """Per account: its `due` likeliest products to reorder, and `new` never-bought ones by co-purchase."""
    if model is None or known.order_lines is None:
        return []
    again = model.due_products(known, day).sort_values(["account_id", "propensity", "product_id"],
                                                      ascending=[True, False, True], kind="stable")
    again = again.groupby("account_id").head(due).assign(kind="reorder", because_id=None)
    fresh = model.new_products(known, day, per_account=new).assign(kind="cross_sell")
    both = pd.concat([again, fresh], ignore_index=True).sort_values(["account_id", "kind", "propensity"],
                                                                   ascending=[True, True, False], kind="stable")
    return [{"account_id": a, "product_id": p, "kind": k, "propensity": _p(v),
             "bought_with": b if isinstance(b, str) else None}
            for a, p, k, v, b in zip(both["account_id"], both["product_id"], both["kind"], both["propensity"],
                                     both["because_id"])]


def _p(value: float) -> float:
    return round(float(value), 4)


# ─────────────────────────────── out-of-time evaluation ───────────────────────────────
@dataclass
class Evaluation:
    cutoff: str
    end: str
    results: dict[str, dict[str, Any]]  # model → metrics; plus arrays for the plots under "curves"
    curves: dict[str, dict[str, np.ndarray]]
    notes: list[str]


def evaluate(data: CanonicalData, as_of: str | pd.Timestamp, test_days: int = 120, horizon_days: int = 14,
             step_days: int = 28) -> Evaluation:
    """Train on what was known at the cut-off (as_of − test_days), test on what happened after it."""
    end = as_utc(as_of)
    cut = end - pd.Timedelta(days=test_days)
    data = as_known_on(data, end)
    known = as_known_on(data, cut)
    results: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, np.ndarray]] = {}
    notes: list[str] = []

    # Win: train on snapshots before the cut (outcomes known at the cut), test on deals open at test snapshots.
    Xtr, ytr = win_set(known, _days(cut - pd.Timedelta(days=730), cut - pd.Timedelta(days=1), step_days))
    Xte, yte = win_set(data, _days(cut, end - pd.Timedelta(days=1), step_days))
    win = WinModel().fit(Xtr, ytr)
    stage = GroupRate("stage").fit(Xtr, ytr)
    results["win"] = _binary(yte, win.predict_proba(Xte), {"stage base rate": stage.predict_proba(Xte)}, win.base_rate_)
    results["win"]["stage_known_share_test"] = float((Xte["stage"] != "unknown").mean()) if len(Xte) else float("nan")
    results["win"]["honesty"] = _honesty(win)
    curves["win"] = {"y": yte, "p": win.predict_proba(Xte)}

    # Reorder: snapshots every 7 days after the cut, labels = an order within the horizon.
    Xtr, ytr = reorder_set(known, _days(cut - pd.Timedelta(days=365), cut - pd.Timedelta(days=horizon_days), 14),
                           horizon_days)
    test_days_list = _days(cut, end - pd.Timedelta(days=horizon_days), 7)
    Xte, yte = reorder_set(data, test_days_list, horizon_days)
    reorder = ReorderModel(horizon_days=horizon_days).fit(Xtr, ytr)
    p = reorder.predict_proba(Xte)
    baselines = {"days since last order ≥ mean interval": due_rule_score(Xte), "order frequency (365 d)": frequency_score(Xte)}
    results["reorder"] = _binary(yte, p, baselines, reorder.base_rate_)
    k = max(10, int(round(0.1 * Xte.groupby("snapshot").size().mean()))) if len(Xte) else 10
    results["reorder"]["k"] = k
    results["reorder"]["precision_at_k"] = {
        name: _per_snapshot_precision(Xte["snapshot"], yte, s, k)
        for name, s in {"model": p, **baselines}.items()
    }
    lapsed = reorder.lapsed(Xte)
    results["reorder"]["lapsed_share"] = float(lapsed.mean()) if len(Xte) else float("nan")
    results["reorder"]["lapsed_order_rate"] = float(yte[lapsed].mean()) if lapsed.any() else float("nan")
    results["reorder"]["due_order_rate"] = float(yte[(due_rule_score(Xte) == 1) & ~lapsed].mean()) if len(Xte) else float("nan")
    curves["reorder"] = {"y": yte, "p": p, "snapshot": Xte["snapshot"].to_numpy(), **{n: s for n, s in baselines.items()}}

    # Leads carry no decision date: split by creation day, label = the final status.
    Xtr, ytr = lead_set(data, end, created_before=cut)
    Xte, yte = lead_set(data, end, created_from=cut)
    lead = LeadConversionModel().fit(Xtr, ytr)
    source = GroupRate("source").fit(Xtr, ytr)
    results["lead"] = _binary(yte, lead.predict_proba(Xte), {"source base rate": source.predict_proba(Xte)}, lead.base_rate_)
    results["lead"]["honesty"] = _honesty(lead)
    curves["lead"] = {"y": yte, "p": lead.predict_proba(Xte)}
    notes.append("Leads have no decision date in the export: the lead split is by creation day (train: created "
                 "before the cut-off, test: after), with each lead's final status as its label.")
    return Evaluation(f"{cut:%Y-%m-%d}", f"{end:%Y-%m-%d}", results, curves, notes)


def _honesty(model) -> dict[str, Any]:
    """What the model's own out-of-time validation window showed, and how far it trusts itself (the weight w)."""
    v = dict(getattr(model, "validation_", None) or {})
    return {k: (float(x) if isinstance(x, (float, np.floating)) else x) for k, x in v.items()}


def _binary(y, p, baselines: dict[str, np.ndarray], base_rate: float) -> dict[str, Any]:
    y = np.asarray(y, dtype=int)
    return {
        "n_test": int(len(y)), "positive_rate_test": float(y.mean()) if len(y) else float("nan"),
        "train_base_rate": base_rate,
        "auc": {"model": auc(y, p), **{n: auc(y, s) for n, s in baselines.items()}},
        "brier": {"model": brier(y, p), "base rate": brier(y, np.full(len(y), base_rate)),
                  **{n: brier(y, s) for n, s in baselines.items() if np.all((s >= 0) & (s <= 1))}},
        "mean_p": float(np.mean(p)) if len(y) else float("nan"), "p_spread": float(np.std(p)) if len(y) else float("nan"),
    }


def _per_snapshot_precision(snapshot: pd.Series, y: np.ndarray, score: np.ndarray, k: int) -> float:
    frame = pd.DataFrame({"s": snapshot.to_numpy(), "y": y, "score": score})
    values = [precision_at_k(g["y"], g["score"], k) for _, g in frame.groupby("s")]
    return float(np.mean(values)) if values else float("nan")
