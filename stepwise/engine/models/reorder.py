"""Reorder timing per account: P(an order in the next `horizon` days) and the expected next order date.

Recency alone misleads: the most "overdue" accounts are mostly lapsed ones, so a
rule like "days since last order ≥ mean interval" ranks barely better than
chance on real data, while plain frequency does far better.  The classifier
sees recency, frequency, tenure and interval spread together (trained on
out-of-time snapshots, see learning/jobs.py), so it can learn that a little
overdue means "due now" and far overdue means "gone".  `lapsed` states the
latter as churn risk: contact for retention, not a replenishment call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from stepwise.engine.models.base import ProbabilityModel, seeded_sample
from stepwise.engine.models.features import ACCOUNT_NUMERIC


class ReorderModel(ProbabilityModel):
    def __init__(self, horizon_days: int = 14, lapse_ratio: float = 2.0, learning_rate: float = 0.08,
                 max_iter: int = 120, min_samples_leaf: int = 40, min_per_class: int = 20,
                 max_train_rows: int = 150_000):
        super().__init__(ACCOUNT_NUMERIC, [], min_per_class)
        self.horizon_days = horizon_days
        self.lapse_ratio = lapse_ratio
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.min_samples_leaf = min_samples_leaf
        self.max_train_rows = max_train_rows

    def fit(self, X: pd.DataFrame, y) -> ReorderModel:
        """A uniform, seeded sample beyond `max_train_rows` snapshot rows: the same rates, a bounded fit time."""
        y = np.asarray(y, dtype=int)
        keep = seeded_sample(len(X), self.max_train_rows)
        if keep is not None:
            X, y = X.iloc[keep], y[keep]
        super().fit(X, y)
        return self

    def _estimator(self):
        # Trees handle the non-monotone shape (due → likely, far overdue → unlikely) and missing intervals.
        return HistGradientBoostingClassifier(learning_rate=self.learning_rate, max_iter=self.max_iter,
                                              min_samples_leaf=self.min_samples_leaf, random_state=0)

    def lapsed(self, X: pd.DataFrame) -> np.ndarray:
        """Overdue by far: more than `lapse_ratio` typical intervals (widened by the account's own spread)."""
        spread = X["interval_cv"].fillna(0).clip(upper=1.0)
        return (X["due_ratio"] > self.lapse_ratio * (1 + spread)).fillna(False).to_numpy()

    def expected_next_order(self, X: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
        """Last order + the median interval, not earlier than the day; None when lapsed or only one order."""
        interval = pd.to_timedelta(X["median_interval"], unit="D")
        when = (X["last_order_at"] + interval).where(lambda s: s >= day, day)
        return when.where(X["median_interval"].notna() & ~self.lapsed(X))


def due_rule_score(X: pd.DataFrame) -> np.ndarray:
    """Naive baseline 1: 'days since the last order ≥ mean interval → call' (a yes/no rule)."""
    return (X["days_since_last_order"] >= X["mean_interval"]).fillna(False).astype(float).to_numpy()


def frequency_score(X: pd.DataFrame) -> np.ndarray:
    """Naive baseline 2: plain order frequency (orders in the last 365 days)."""
    return X["orders_365d"].fillna(0).to_numpy(dtype=float)
