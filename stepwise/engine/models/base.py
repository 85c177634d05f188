"""Shared pieces: a tabular probability model that degrades to the base rate, group base rates, metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits


class ProbabilityModel:
    """Features → P(outcome).  Too few examples of either class → the training base rate, honestly.

    Subclasses pick the estimator in `_estimator`; everything else (the fallback,
    clipping, the 1-d output) is shared.
    """

    def __init__(self, numeric: list[str], categorical: list[str] | None = None, min_per_class: int = 20):
        self.numeric = list(numeric)
        self.categorical = list(categorical or [])
        self.min_per_class = min_per_class

    def _estimator(self):
        raise NotImplementedError

    def fit(self, X: pd.DataFrame, y) -> ProbabilityModel:
        y = np.asarray(y, dtype=int)
        self.base_rate_ = float(y.mean()) if len(y) else 0.0
        self.n_train_ = int(len(y))
        positives = int(y.sum())
        self.fitted_ = min(positives, len(y) - positives) >= self.min_per_class
        self.pipeline_ = None
        if self.fitted_:
            # One thread: these fits are small, and OpenMP fighting the workers' own processes made them 6x slower.
            with threadpool_limits(limits=1):
                self.pipeline_ = self._estimator().fit(X[self.numeric + self.categorical], y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(outcome) per row, a 1-d array (not sklearn's two columns: there is one outcome)."""
        if self.pipeline_ is None or len(X) == 0:
            return np.full(len(X), self.base_rate_)
        with threadpool_limits(limits=1):
            return self.pipeline_.predict_proba(X[self.numeric + self.categorical])[:, 1]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(int)


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
