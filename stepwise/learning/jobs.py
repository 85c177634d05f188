"""Learning orchestration: train, evaluate, predict — used by the CLI and the monthly retraining task.

The models and their honesty live in engine/models (pure); this module reads
the source, the store and the model store, writes the report, and watches drift.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from stepwise.engine import training
from stepwise.engine.records import CanonicalData, as_utc
from stepwise.engine.training import ModelBundle

log = logging.getLogger(__name__)

ACCEPTANCE_DROP = 0.10      # points of acceptance rate lost, last 30 days vs the 60 before, that raise a warning
CALIBRATION_SHIFT = 0.05    # |mean predicted − observed| on the newest out-of-time window that raises a warning


def pull(source: str) -> tuple[str, CanonicalData]:
    """The whole source as of now (a full read: training wants all of the history, and a pull writes nothing)."""
    from stepwise.integration.sources import connector_for

    connector = connector_for(source)
    return connector.source, connector.pull().data


def train_and_store(data: CanonicalData, source: str, as_of: str, database_url: str) -> ModelBundle:
    from stepwise.store import ModelStore

    # Accepted recommendations count as actions taken (with the activities that are actions).
    bundle = training.train(data, as_of, feedback=accepted_feedback(database_url, source))
    evaluation = training.evaluate(data, as_of)
    bundle.metrics["out_of_time"] = _headline(evaluation)
    for note in bundle.notes:
        log.warning(note)
    store = ModelStore(database_url)
    try:
        previous = store.history(source, limit=1)
        for warning in drift_warnings(evaluation, previous[0]["metrics"] if previous else None, None):
            log.warning(warning)
        store.save(source, bundle)
    finally:
        store.close()
    return bundle


def accepted_feedback(database_url: str, source: str) -> pd.DataFrame:
    """The reps' answers in the store: its feedback events joined to their recommendations."""
    from stepwise.store import Store

    store = Store(database_url)
    try:
        return store.feedback_history(source)
    finally:
        store.close()


def predict(data: CanonicalData, as_of: str, bundle: ModelBundle | None = None) -> dict[str, Any]:
    return training.predict(data, as_of, bundle)


def evaluate(data: CanonicalData, as_of: str, out_dir: Path, history: pd.DataFrame | None = None,
             test_days: int = 120, catalog=None, card_days: int = 0) -> Path:
    """Out-of-time evaluation + bias audit → Markdown and PNGs in out_dir; returns the report path.

    With a catalog and `card_days`, the report opens with the cards' scorecard (engine/scorecard.py):
    the engine run as of past days, its cards against what customers did next and naive baselines.
    """
    from stepwise.engine import scorecard
    from stepwise.learning.report import write_report

    evaluation = training.evaluate(data, as_of, test_days=test_days)
    audit = bias_audit(data, as_of, history)
    for warning in drift_warnings(evaluation, None, history, as_of):
        log.warning(warning)
        evaluation.notes.append(f"Drift: {warning}")
    path = write_report(evaluation, audit, history, out_dir)
    if catalog is not None and card_days > 0 and data.orders is not None:
        card = scorecard.scorecard(data, scorecard.evaluation_days(data, as_of, count=card_days), catalog)
        table = scorecard.to_markdown(card) + "\n" + _probability_table(evaluation)
        text = path.read_text(encoding="utf-8")
        heading, _, rest = text.partition("\n")
        path.write_text(f"{heading}\n\n## The cards against what customers did next (same count)\n\n"
                        "Each as-of day: the engine as it would have run that morning (models learned from what was "
                        "known then), its account cards compared with the orders placed afterwards.\n\n"
                        f"{table}\n{rest}", encoding="utf-8")
        (path.parent / "scorecard.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    return path


def _probability_table(evaluation) -> str:
    """Win and lead models against their base rates, out of time: Brier, AUC, mean prediction vs observed rate."""
    lines = ["| model | n test | Brier model | Brier base rate | AUC model | AUC naive group rate | mean p | observed rate |",
             "|---|---|---|---|---|---|---|---|"]
    for name, group in (("win", "stage base rate"), ("lead", "source base rate")):
        r = evaluation.results.get(name)
        if not r or not r.get("n_test"):
            continue

        def f(value):
            return "–" if value is None or value != value else f"{value:.3f}"

        lines.append(f"| {name} | {r['n_test']:,} | {f(r['brier']['model'])} | {f(r['brier']['base rate'])} | "
                     f"{f(r['auc']['model'])} | {f(r['auc'].get(group))} | {f(r['mean_p'])} | {f(r['positive_rate_test'])} |")
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def bias_audit(data: CanonicalData, as_of: str, history: pd.DataFrame | None) -> pd.DataFrame:
    """Recommendation and acceptance rates by industry, segment and deal size, on a run of the engine."""
    from stepwise.engine.catalog import load_catalog
    from stepwise.engine.run import build_signals, recommend

    day = as_utc(as_of)
    result = recommend(data, day, load_catalog(), history=history)
    deals = build_signals(data, day)["deal"]
    if deals.empty:
        return pd.DataFrame(columns=["dimension", "group", "records", "recommended_share", "accepted_share"])
    recs = pd.DataFrame([{"record_id": r.record_id, "id": r.id} for r in result.recommendations if r.record_type == "deal"])
    frame = deals[["industry", "segment", "amount"]].copy()
    frame["deal_size"] = pd.qcut(frame["amount"].rank(method="first"), 4, labels=["Q1 (smallest)", "Q2", "Q3", "Q4 (largest)"])
    frame["recommended"] = frame.index.isin(recs["record_id"]) if not recs.empty else False
    accepted = set()
    if history is not None and not history.empty:
        accepted = set(history.loc[history["status"] == "accepted", "record_id"])
    frame["answered"] = frame.index.isin(set(history["record_id"])) if history is not None and not history.empty else False
    frame["accepted"] = frame.index.isin(accepted)
    rows = []
    for dim in ("industry", "segment", "deal_size"):
        g = frame.groupby(dim, observed=True)
        for group, part in g:
            answered = int(part["answered"].sum())
            rows.append({"dimension": dim, "group": str(group), "records": len(part),
                         "recommended_share": float(part["recommended"].mean()),
                         "accepted_share": float(part["accepted"].sum() / answered) if answered else float("nan")})
    return pd.DataFrame(rows)


def drift_warnings(evaluation: training.Evaluation | None, previous_metrics: dict | None,
                   history: pd.DataFrame | None, as_of: str | None = None) -> list[str]:
    """Falling acceptance or a calibration shift: said in the logs (and the report), never silently absorbed."""
    out: list[str] = []
    if evaluation is not None:
        for name, result in evaluation.results.items():
            shift = result["mean_p"] - result["positive_rate_test"]
            if result["n_test"] >= 30 and abs(shift) > CALIBRATION_SHIFT:
                out.append(f"{name}: calibration shift — predicted {result['mean_p']:.2f} on average, "
                           f"observed {result['positive_rate_test']:.2f} after {evaluation.cutoff}")
            if previous_metrics:
                before = previous_metrics.get("out_of_time", {}).get(name, {}).get("brier")
                if before is not None and result["brier"]["model"] > before + 0.02:
                    out.append(f"{name}: Brier score worse than the previous model ({result['brier']['model']:.3f} vs {before:.3f})")
    if history is not None and not history.empty and as_of is not None:
        day = as_utc(as_of)
        h = history[history["status"].isin(["accepted", "dismissed"])]
        age = (day - pd.to_datetime(h["updated_at"], utc=True)) / pd.Timedelta(days=1)
        recent, before = h[(age >= 0) & (age < 30)], h[(age >= 30) & (age < 90)]
        if len(recent) >= 20 and len(before) >= 20:
            r, b = (recent["status"] == "accepted").mean(), (before["status"] == "accepted").mean()
            if b - r > ACCEPTANCE_DROP:
                out.append(f"acceptance rate fell from {b:.0%} to {r:.0%} over the last 30 days")
    return out


def _headline(evaluation: training.Evaluation) -> dict[str, Any]:
    return {name: {"auc": r["auc"]["model"], "brier": r["brier"]["model"], "n_test": r["n_test"]}
            for name, r in evaluation.results.items()}


def retrain(source: str, as_of: str) -> str:
    """The monthly retraining task (wrap it in Celery): pull, train on what is known on as_of, store, watch drift."""
    from stepwise.settings import get_settings

    name, data = pull(source)
    bundle = train_and_store(data, name, as_of, get_settings().database_url)
    log.info("trained %s for %s (window %s → %s)", bundle.version, name, bundle.train_from, bundle.trained_as_of)
    return bundle.version
