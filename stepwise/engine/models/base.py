"""Shared pieces: a tabular probability model that never claims more than validation supports, group base rates, metrics.

Honesty, in three steps (ProbabilityModel.fit):

1. out-of-time validation: the latest part of the training rows in time (`time_column`, e.g. the snapshot
   day or the lead's creation) is held out; the estimator is fitted on the earlier part and scored there
   (a small training set: rolling origin, each later block scored by a fit on the blocks before it);
2. calibration on that window (Platt scaling; isotonic only with plenty of rows), cross-fitted so the
   window also tells how good the calibrated probabilities are;
3. shrinkage toward the training base rate: p = w · calibrated + (1 − w) · base rate, with w in [0, 1]
   minimising the window's log-loss: w = 0 when the model does not beat the base rate there.

The estimator is then refitted on all rows; the calibrator and w are kept.  What the window showed
(`validation_`) travels with the model so the evaluation report and the card can say it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

_EPS = 1e-4
_WEIGHTS = np.linspace(0.0, 1.0, 21)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def log_loss(y, p) -> float:
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(y) else float("nan")


class Calibrator:
    """Raw score → probability: Platt (a 1-d logistic on the logit) or isotonic; pure and deterministic.

    Platt is kept only when it fits the window clearly better than the scores as they are (likelihood
    ratio test, 2 degrees of freedom, 5 %): a well-calibrated estimator is not bent by a small window's noise.
    Rows of one record (`groups`: a deal seen at many snapshots) count as one record's worth of evidence.
    """

    def __init__(self, method: str = "platt", lr_threshold: float = 5.99):
        self.method = method
        self.lr_threshold = lr_threshold

    def fit(self, p, y, groups=None) -> Calibrator:
        y = np.asarray(y, dtype=int)
        self.identity_ = False
        if self.method == "isotonic":
            self.model_ = IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip").fit(np.asarray(p, float), y)
            return self
        self.model_ = LogisticRegression(C=1e4).fit(_logit(p).reshape(-1, 1), y)
        lr = 2 * len(y) * (log_loss(y, p) - log_loss(y, self.model_.predict_proba(_logit(p).reshape(-1, 1))[:, 1]))
        if groups is not None and len(y):
            lr *= pd.Series(np.asarray(groups)).nunique() / len(y)  # the design effect of repeated records
        self.identity_ = bool(lr < self.lr_threshold)
        return self

    def transform(self, p) -> np.ndarray:
        if self.method == "isotonic":
            return self.model_.predict(np.asarray(p, dtype=float))
        if self.identity_:
            return np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
        return self.model_.predict_proba(_logit(p).reshape(-1, 1))[:, 1]


def _gain_z(y: np.ndarray, q: np.ndarray, groups: np.ndarray | None) -> float:
    """How many standard errors the calibrated scores beat the window's own constant rate by, in log-loss.

    Rows of one record (a deal over many snapshots) are not independent: the gain is summed per record
    and its standard error taken across records, so a few deals seen twenty times do not count as many.
    """
    y = np.asarray(y, dtype=float)
    c = np.clip(y.mean(), _EPS, 1 - _EPS)
    qc = np.clip(q, _EPS, 1 - _EPS)
    gain = -(y * np.log(c) + (1 - y) * np.log(1 - c)) + (y * np.log(qc) + (1 - y) * np.log(1 - qc))
    per = pd.Series(gain).groupby(groups if groups is not None else np.arange(len(y))).sum()
    if len(per) < 3 or per.std() == 0:
        return 0.0
    return float(per.mean() / (per.std() / np.sqrt(len(per))))


class ProbabilityModel:
    """Features → P(outcome), calibrated out of time and shrunk toward the base rate by what validation shows.

    Too few examples of either class → the training base rate, honestly.  Subclasses pick the estimator in
    `_estimator`; everything else (validation, calibration, shrinkage, the fallback, the 1-d output) is shared.
    Rows are ordered in time by `time_column` when X has it, else by their order in X.
    """

    def __init__(self, numeric: list[str], categorical: list[str] | None = None, min_per_class: int = 20,
                 time_column: str = "snapshot", holdout_share: float = 0.25, calibration: str = "auto",
                 shrink: bool = True, min_z: float = 2.0, min_window_rows: int = 400):
        self.numeric = list(numeric)
        self.categorical = list(categorical or [])
        self.min_per_class = min_per_class
        self.time_column = time_column
        self.holdout_share = holdout_share
        self.calibration = calibration
        self.shrink = shrink
        self.min_z = min_z
        self.min_window_rows = min_window_rows

    def _estimator(self):
        raise NotImplementedError

    def _columns(self) -> list[str]:
        return self.numeric + self.categorical

    # ─────────────── fit ───────────────
    def fit(self, X: pd.DataFrame, y) -> ProbabilityModel:
        y = np.asarray(y, dtype=int)
        self.base_rate_ = float(y.mean()) if len(y) else 0.0
        self.n_train_ = int(len(y))
        positives = int(y.sum())
        self.fitted_ = min(positives, len(y) - positives) >= self.min_per_class
        self.pipeline_ = None
        self.calibrator_ = None
        self.shrink_weight_ = 0.0
        self.validation_: dict[str, Any] = {"method": "none", "weight": 0.0}
        if not self.fitted_:
            return self
        cols = self._columns()
        # One thread: these fits are small, and OpenMP fighting the workers' own processes made them 6x slower.
        with threadpool_limits(limits=1):
            p_val, y_val, groups, how = self._validation_scores(X, y, cols)
            if p_val is not None:
                self._calibrate_and_shrink(p_val, y_val, groups, how)
            self.pipeline_ = self._estimator().fit(X[cols], y)
        return self

    def _order(self, X: pd.DataFrame) -> np.ndarray:
        if self.time_column in X.columns:
            t = X[self.time_column]
            key = (t.astype("int64") if hasattr(t, "dt") else pd.to_numeric(t, errors="coerce")).to_numpy()
            return np.argsort(key, kind="stable")
        return np.arange(len(X))

    def _validation_scores(self, X: pd.DataFrame, y: np.ndarray, cols: list[str]):
        """Scores of estimators fitted only on earlier rows, on later rows: (scores, labels, records, method).

        Enough rows: one window, the latest `holdout_share`.  A small training set: rolling origin instead
        (blocks in time, each scored by a fit on the blocks before it), so the verdict stands on more rows.
        """
        order = self._order(X)
        n = len(y)
        need = max(10, self.min_per_class // 2)
        t = X[self.time_column].to_numpy()[order] if self.time_column in X.columns else None

        def whole_steps(pos: int) -> int:  # a snapshot day is either before a window or in it
            return int(np.searchsorted(t, t[pos], side="left")) if t is not None and pos < n else pos

        def enough(rows: np.ndarray) -> bool:
            return len(rows) > 0 and min(y[rows].sum(), len(rows) - y[rows].sum()) >= need

        index = X.index.to_numpy()
        cut_pos = whole_steps(n - int(round(n * self.holdout_share)))
        early, late = order[:cut_pos], order[cut_pos:]
        if len(late) >= self.min_window_rows and enough(late) and enough(early):
            # The same record in both parts would let the early fit recognise it: drop it there when affordable.
            keep = ~pd.Index(index[early]).isin(index[late])
            if keep.mean() >= 0.5 and enough(early[keep]):
                early = early[keep]
            model = self._estimator().fit(X.iloc[early][cols], y[early])
            return model.predict_proba(X.iloc[late][cols])[:, 1], y[late], index[late], "out-of-time"
        bounds = sorted({whole_steps(int(round(n * k / 4))) for k in range(1, 4)} | {n})
        scored, parts = [], []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            before, block = order[:lo], order[lo:hi]
            if enough(before) and len(block):
                p = self._estimator().fit(X.iloc[before][cols], y[before]).predict_proba(X.iloc[block][cols])[:, 1]
                scored.append(block)
                parts.append(p)
        rows = np.concatenate(scored) if scored else np.zeros(0, dtype=int)
        if len(rows) and min(y[rows].sum(), len(rows) - y[rows].sum()) >= 5:
            return np.concatenate(parts), y[rows], index[rows], "out-of-time (rolling)"
        return None, None, None, "none"

    def _calibrate_and_shrink(self, p_val: np.ndarray, y_val: np.ndarray, groups: np.ndarray, how: str) -> None:
        n_min = int(min(y_val.sum(), len(y_val) - y_val.sum()))
        method = self.calibration
        if method == "auto":
            method = "isotonic" if len(y_val) >= 5000 and n_min >= 500 else "platt"
        # Cross-fitted calibrated scores: each part calibrated by a calibrator that did not see it.
        q = np.empty(len(y_val))
        parts = np.array_split(np.arange(len(y_val)), 5)
        for k, part in enumerate(parts):
            rest = np.concatenate([f for j, f in enumerate(parts) if j != k])
            if y_val[rest].min() == y_val[rest].max():
                q[part] = y_val[rest].mean()
            else:
                q[part] = Calibrator(method).fit(p_val[rest], y_val[rest], groups[rest]).transform(p_val[part])
        self.calibrator_ = Calibrator(method).fit(p_val, y_val, groups)
        base = np.full(len(y_val), self.base_rate_)
        losses = [log_loss(y_val, w * q + (1 - w) * base) for w in _WEIGHTS]
        w = float(_WEIGHTS[int(np.argmin(losses))]) if self.shrink else 1.0
        z = _gain_z(y_val, q, groups)
        if self.shrink and (not losses[int(np.argmin(losses))] < losses[0] or z < self.min_z):
            w = 0.0
        self.shrink_weight_ = w = round(w, 4)
        final = w * q + (1 - w) * base
        self.validation_ = {
            "method": how, "calibration": method, "weight": w, "n": int(len(y_val)),
            "positive_rate": float(y_val.mean()),
            "recalibrated": not getattr(self.calibrator_, "identity_", False),
            "auc": auc(y_val, p_val), "gain_z": z, "brier_model": brier(y_val, q), "brier_shrunk": brier(y_val, final),
            "brier_base_rate": brier(y_val, base), "log_loss_model": log_loss(y_val, q),
            "log_loss_base_rate": log_loss(y_val, base),
        }

    # ─────────────── predict ───────────────
    def raw_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The estimator's own P(outcome), before calibration and shrinkage (for diagnostics)."""
        if self.pipeline_ is None or len(X) == 0:
            return np.full(len(X), self.base_rate_)
        with threadpool_limits(limits=1):
            return self.pipeline_.predict_proba(X[self._columns()])[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(outcome) per row, a 1-d array (not sklearn's two columns: there is one outcome)."""
        if self.pipeline_ is None or len(X) == 0 or self.calibrator_ is None or self.shrink_weight_ == 0.0:
            return np.full(len(X), self.base_rate_)
        q = self.calibrator_.transform(self.raw_proba(X))
        return self.shrink_weight_ * q + (1 - self.shrink_weight_) * self.base_rate_

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(int)



def seeded_sample(n: int, limit: int | None) -> np.ndarray | None:
    """Sorted positions of a seeded uniform sample of `limit` out of `n`, or None when all `n` fit: a training
    set's cost bounded, and the same data always gives the same sample (whichever process trains)."""
    if not limit or n <= limit:
        return None
    return np.sort(np.random.default_rng(0).choice(n, limit, replace=False))

def logistic_pipeline(numeric: list[str], categorical: list[str], C: float) -> Pipeline:
    """Scaled numbers + one-hot categories → L2 logistic; strong regularisation keeps weak signal near the base rate."""
    parts = [("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)]
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=10), categorical))
    return Pipeline([("features", ColumnTransformer(parts)), ("model", LogisticRegression(C=C, max_iter=1000))])


class GroupRate:
    """The naive baseline: the outcome rate per group (stage, source), shrunk toward the overall rate."""

    def __init__(self, column: str, prior_strength: float = 10.0):
        self.column = column
        self.prior_strength = prior_strength

    def fit(self, X: pd.DataFrame, y) -> GroupRate:
        y = pd.Series(np.asarray(y, dtype=float), index=X.index)
        self.overall_ = float(y.mean()) if len(y) else 0.0
        stats = y.groupby(X[self.column].fillna("unknown").to_numpy()).agg(["sum", "count"])
        self.rates_ = ((stats["sum"] + self.prior_strength * self.overall_) / (stats["count"] + self.prior_strength)).to_dict()
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        keys = X[self.column].fillna("unknown")
        return keys.map(self.rates_).fillna(self.overall_).to_numpy(dtype=float)


def auc(y, score) -> float:
    y = np.asarray(y, dtype=int)
    if len(y) == 0 or y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, np.asarray(score, dtype=float)))


def brier(y, p) -> float:
    y = np.asarray(y, dtype=int)
    return float(brier_score_loss(y, np.clip(np.asarray(p, dtype=float), 0, 1))) if len(y) else float("nan")


def precision_at_k(y, score, k: int) -> float:
    """Share of the k highest-scored that had the outcome (ties broken by order, stable)."""
    y = np.asarray(y, dtype=int)
    if len(y) == 0:
        return float("nan")
    top = np.argsort(-np.asarray(score, dtype=float), kind="stable")[:k]
    return float(y[top].mean())


def reliability(y, p, bins: int = 10) -> pd.DataFrame:
    """Bins of predicted probability → mean prediction, observed rate and count (empty bins left out)."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0, 1)
    if len(y) == 0:
        return pd.DataFrame(columns=["bin", "mean_p", "observed", "n"])
    b = np.clip((p * bins).astype(int), 0, bins - 1)
    frame = pd.DataFrame({"b": b, "y": y, "p": p}).groupby("b").agg(mean_p=("p", "mean"), observed=("y", "mean"),
                                                                      n=("y", "size")).reset_index()
    frame["bin"] = [f"{k / bins:.1f}–{(k + 1) / bins:.1f}" for k in frame["b"]]
    return frame[["bin", "mean_p", "observed", "n"]]
