"""The evaluation report: Markdown + PNG plots (calibration, reliability per model, lift/gain, reorder precision@k,
acceptance by action).

Says plainly when a model does not beat its baseline: a model near the base rate is reported as such, and
each model's reliability curve (bins of predicted probability: mean prediction, observed rate, count) shows
whether its probabilities mean what they say.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window (workers and CI have no display)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from stepwise.engine.models.base import precision_at_k, reliability  # noqa: E402
from stepwise.engine.training import Evaluation  # noqa: E402

TITLES = {"win": "Win probability (open deals)", "reorder": "Reorder in the next 14 days (accounts)",
          "lead": "Lead conversion (decided leads)"}


def write_report(evaluation: Evaluation, audit: pd.DataFrame, history: pd.DataFrame | None, out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _calibration_plot(evaluation, out_dir / "calibration.png")
    reliability_pngs = {name: f"reliability_{name}.png" for name in evaluation.curves}
    for name, png in reliability_pngs.items():
        _reliability_plot(name, evaluation.curves[name], out_dir / png)
    _gain_plot(evaluation, out_dir / "gain.png")
    _precision_plot(evaluation, out_dir / "reorder_precision_at_k.png")
    _acceptance_plot(history, out_dir / "acceptance_by_action.png")
    lines = ["# Model evaluation (out-of-time)\n",
             f"Trained on what was known on **{evaluation.cutoff}**, tested on what happened from then to "
             f"**{evaluation.end}**. Nothing after the cut-off was read for training.\n"]
    for name, r in evaluation.results.items():
        lines += _model_section(name, r)
        if name in evaluation.curves:
            lines += _reliability_section(name, evaluation.curves[name], reliability_pngs[name])
    lines += ["## Plots\n", "![calibration](calibration.png)\n", "![gain](gain.png)\n",
              "![reorder precision@k](reorder_precision_at_k.png)\n", "![acceptance by action](acceptance_by_action.png)\n"]
    lines += ["## Bias audit\n", "Share of open deals with a recommendation, and the share of answered ones accepted, "
              "by industry, segment and deal size (quartiles). Large gaps deserve a look before they become policy.\n",
              _table(audit), ""]
    if evaluation.notes:
        lines += ["## Notes\n", *[f"- {n}" for n in evaluation.notes], ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _model_section(name: str, r: dict) -> list[str]:
    out = [f"## {TITLES.get(name, name)}\n",
           f"Test rows: {r['n_test']}, positive rate {_fmt(r['positive_rate_test'])} (training base rate "
           f"{_fmt(r['train_base_rate'])}); predictions average {_fmt(r['mean_p'])} with spread {_fmt(r['p_spread'])}.\n",
           "| score | AUC | Brier |", "|---|---|---|"]
    for key, value in r["auc"].items():
        out.append(f"| {key} | {_fmt(value)} | {_fmt(r['brier'].get(key))} |")
    out.append(f"| constant base rate | 0.500 | {_fmt(r['brier']['base rate'])} |")
    if "precision_at_k" in r:
        out += ["", f"Precision at k = {r['k']} accounts per weekly snapshot:", "", "| score | precision@k |", "|---|---|"]
        out += [f"| {key} | {_fmt(v)} |" for key, v in r["precision_at_k"].items()]
        out += ["", f"Overdue by far (lapsed, {r['lapsed_share']:.1%} of rows) ordered within 14 days at a rate of "
                f"{_fmt(r['lapsed_order_rate'])}: read as churn risk (contact for retention), not as a replenishment call."]
    out += ["", _verdict(name, r), ""]
    if r.get("honesty"):
        out += [_honesty_line(r["honesty"]), ""]
    return out


def _honesty_line(h: dict) -> str:
    """What the model's own validation window (the latest part of its training data) showed, and the trust it earned."""
    if h.get("method", "none") == "none":
        return ("**Self-check:** too little history to validate: the model predicts the training base rate.")
    w = float(h.get("weight", 0.0))
    where = ("the latest part of its training data" if h["method"] == "out-of-time" else
             "the later parts of its training data, each scored by a fit on the rows before it")
    text = (f"**Self-check** on {where} ({h['n']} rows): AUC {_fmt(h.get('auc'))}, Brier {_fmt(h.get('brier_model'))} "
            f"calibrated vs {_fmt(h.get('brier_base_rate'))} for the base rate "
            f"({'recalibrated' if h.get('recalibrated') else 'scores kept as they were'}, {h.get('calibration')}). ")
    if w == 0:
        return text + "It did not beat the base rate there, so it predicts the base rate (weight 0 on the model)."
    return text + (f"Predictions are {w:.0%} model and {1 - w:.0%} base rate" +
                   (" (full trust)." if w == 1 else ": shrunk because the evidence was limited."))


def _reliability_section(name: str, curve: dict, png: str) -> list[str]:
    table = reliability(curve["y"], curve["p"])
    out = [f"### Reliability: {TITLES.get(name, name).lower()}\n",
           "Test rows binned by predicted probability: when the model says 30 %, about 30 % should happen.\n"]
    if table.empty:
        return out + ["_No test rows._", ""]
    out += ["| predicted | mean predicted | observed | rows |", "|---|---|---|---|"]
    out += [f"| {row.bin} | {_fmt(row.mean_p)} | {_fmt(row.observed)} | {int(row.n)} |" for row in table.itertuples()]
    return out + ["", f"![reliability {name}]({png})", ""]


def _verdict(name: str, r: dict) -> str:
    auc = r["auc"]["model"]
    best = max((v for k, v in r["auc"].items() if k != "model" and not math.isnan(v)), default=0.5)
    better_brier = r["brier"]["model"] < r["brier"]["base rate"]
    if math.isnan(auc):
        return "**Verdict:** not measurable (one class only in the test window)."
    # Hanley–McNeil standard error: a gain smaller than two of them is noise, not a model.
    n_pos = max(1.0, r["n_test"] * r["positive_rate_test"])
    n_neg = max(1.0, r["n_test"] - n_pos)
    se = math.sqrt(auc * (1 - auc) / min(n_pos, n_neg))
    if auc - best >= 0.05 and auc - best < 2 * se:
        return (f"**Verdict: too few test rows to tell.** AUC {auc:.3f} vs best baseline {best:.3f}, but the gap is "
                f"within two standard errors ({se:.3f}); re-run with more history before trusting the ranking.")
    if auc < 0.55 or auc - best < 2 * se:
        return (f"**Verdict: little or no signal.** AUC {auc:.3f} vs best baseline {best:.3f}; the model stays near the "
                f"base rate (spread {r['p_spread']:.3f}) rather than inventing confidence. Use it as a base rate, not a ranking.")
    return (f"**Verdict:** beats its best baseline out-of-time (AUC {auc:.3f} vs {best:.3f})"
            + ("; Brier better than the base rate." if better_brier else "; but Brier is not better than the base rate: calibration needs work."))


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_No open deals to audit._"
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(_fmt(v) if isinstance(v, float) else str(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return head + "\n" + "\n".join(rows)


def _calibration_plot(ev: Evaluation, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", label="perfect")
    for name, c in ev.curves.items():
        y, p = np.asarray(c["y"]), np.asarray(c["p"])
        if len(y) < 10:
            continue
        bins = np.clip((p * 10).astype(int), 0, 9)
        frame = pd.DataFrame({"b": bins, "y": y, "p": p}).groupby("b").agg(p=("p", "mean"), y=("y", "mean"), n=("y", "size"))
        frame = frame[frame["n"] >= 5]
        ax.plot(frame["p"], frame["y"], "o-", label=name)
    ax.set(xlabel="predicted probability", ylabel="observed rate", title="Calibration (out-of-time)", xlim=(0, 1), ylim=(0, 1))
    ax.legend()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def _reliability_plot(name: str, curve: dict, path: Path) -> None:
    """Observed rate against mean prediction per bin (marker size ∝ rows), with the rows per bin underneath."""
    table = reliability(curve["y"], curve["p"])
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], "k:", label="perfect")
    if not table.empty:
        size = 20 + 200 * table["n"] / table["n"].max()
        ax.plot(table["mean_p"], table["observed"], "-", color="tab:blue")
        ax.scatter(table["mean_p"], table["observed"], s=size, color="tab:blue", label=f"{name} (n={int(table['n'].sum())})")
        bx.bar(table["mean_p"], table["n"], width=0.06, color="tab:gray")
    ax.set(ylabel="observed rate", title=f"Reliability: {TITLES.get(name, name)}", xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8)
    bx.set(xlabel="predicted probability", ylabel="rows")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def _gain_plot(ev: Evaluation, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", label="random")
    for name, c in ev.curves.items():
        y, p = np.asarray(c["y"]), np.asarray(c["p"])
        if y.sum() == 0:
            continue
        order = np.argsort(-p, kind="stable")
        gain = np.cumsum(y[order]) / y.sum()
        ax.plot(np.arange(1, len(y) + 1) / len(y), gain, label=name)
    ax.set(xlabel="share contacted (highest score first)", ylabel="share of outcomes captured", title="Cumulative gain")
    ax.legend()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def _precision_plot(ev: Evaluation, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    c = ev.curves.get("reorder")
    if c is not None and len(c["y"]):
        frame = pd.DataFrame({"s": c["snapshot"], "y": c["y"]})
        scores = {k: np.asarray(v) for k, v in c.items() if k not in ("y", "snapshot")}
        ks = [5, 10, 20, 40, 80]
        for name, score in scores.items():
            vals = [np.mean([precision_at_k(frame.loc[g.index, "y"], score[g.index], k) for _, g in frame.groupby("s")])
                    for k in ks]
            ax.plot(ks, vals, "o-", label="model" if name == "p" else name)
    ax.set(xlabel="k (accounts called per week)", ylabel="precision@k", title="Reorder: precision at k", ylim=(0, 1))
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def _acceptance_plot(history: pd.DataFrame | None, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    answered = history[history["status"].isin(["accepted", "dismissed"])] if history is not None and not history.empty else None
    if answered is None or answered.empty:
        ax.text(0.5, 0.5, "no feedback yet", ha="center", va="center")
        ax.set_axis_off()
    else:
        rate = (answered["status"] == "accepted").groupby(answered["action_id"]).mean().sort_values()
        ax.barh(rate.index, rate.to_numpy())
        ax.set(xlabel="acceptance rate", title="Acceptance by action", xlim=(0, 1))
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
