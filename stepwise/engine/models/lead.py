"""Lead conversion: P(a lead converts | it gets decided), from what its activities say, its source and its fit.

A regularised logistic on: activity counts per type and direction (log-scaled), the last activity's type and
subject, a bag of words of every activity's subject and body (type and direction as tokens too; the vocabulary
is learned at fit, words seen in fewer than `min_df` leads dropped, at most `max_words` kept; each lead's
words scaled to unit length), source, industry, size, value and seniority.  C is chosen by cross-validated log-loss on the training set; the
shared ProbabilityModel then calibrates out of time (leads ordered by creation) and shrinks to the base rate.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from stepwise.engine.models.base import ProbabilityModel
from stepwise.engine.models.features import LEAD_CATEGORICAL, LEAD_COUNTS, LEAD_NUMERIC, LEAD_TEXT


class TextBag(BaseEstimator, TransformerMixin):
    """Binary bag of words and word pairs with a bounded vocabulary, each lead's row scaled to unit length (a lead
    with a long history does not out-shout the numbers); no words at all → no columns (not an error)."""

    def __init__(self, min_df: int = 5, max_words: int = 3000):
        self.min_df = min_df
        self.max_words = max_words

    def fit(self, texts, y=None) -> TextBag:
        texts = np.asarray(texts, dtype=object).ravel()
        self.vectorizer_ = TfidfVectorizer(min_df=min(self.min_df, max(1, len(texts))), max_features=self.max_words,
                                           ngram_range=(1, 2), binary=True, use_idf=False, norm="l2")
        try:
            self.vectorizer_.fit(texts)
        except ValueError:  # empty vocabulary: no activity text in the training set
            self.vectorizer_ = None
        return self

    def transform(self, texts):
        texts = np.asarray(texts, dtype=object).ravel()
        if self.vectorizer_ is None:
            return sp.csr_matrix((len(texts), 0))
        return self.vectorizer_.transform(texts)


class LeadConversionModel(ProbabilityModel):
    def __init__(self, Cs: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0), min_per_class: int = 15,
                 numeric: list[str] | None = None, categorical: list[str] | None = None, text: str | None = LEAD_TEXT,
                 min_df: int = 5, max_words: int = 3000, time_column: str = "created_at"):
        super().__init__(numeric if numeric is not None else LEAD_NUMERIC,
                         categorical if categorical is not None else LEAD_CATEGORICAL, min_per_class,
                         time_column=time_column)
        self.Cs = Cs
        self.text = text
        self.min_df = min_df
        self.max_words = max_words

    def _columns(self) -> list[str]:
        return self.numeric + self.categorical + ([self.text] if self.text else [])

    def _estimator(self):
        counts = [c for c in self.numeric if c in LEAD_COUNTS]
        rest = [c for c in self.numeric if c not in LEAD_COUNTS]
        parts = [("counts", make_pipeline(SimpleImputer(strategy="constant", fill_value=0),
                                          FunctionTransformer(np.log1p), StandardScaler()), counts),
                 ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), rest)]
        if self.categorical:
            parts.append(("cat", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10), self.categorical))
        if self.text:
            parts.append(("text", TextBag(self.min_df, self.max_words), self.text))
        model = LogisticRegressionCV(Cs=list(self.Cs), cv=StratifiedKFold(4), scoring="neg_log_loss", max_iter=2000,
                                     l1_ratios=(0.0,), use_legacy_attributes=False)
        return Pipeline([("features", ColumnTransformer(parts, sparse_threshold=0.0 if not self.text else 0.3)),
                         ("model", model)])
