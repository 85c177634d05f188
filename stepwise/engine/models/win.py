"""Win probability for open deals: a regularised logistic on engineered deal signals.

Trained on snapshots (win_set: every deal open on each snapshot day, labelled by how it closed), it is checked on
the latest snapshots before the training cut, recalibrated there when its scores are off, and shrunk toward the
base rate as far as that window says (ProbabilityModel): on an export where nothing predicts the outcome it says
the base rate instead of inventing a ranking.  `validation_` holds what the window showed.
"""

from __future__ import annotations

from stepwise.engine.models.base import ProbabilityModel, logistic_pipeline
from stepwise.engine.models.features import DEAL_CATEGORICAL, DEAL_NUMERIC


class WinModel(ProbabilityModel):
    def __init__(self, C: float = 0.05, min_per_class: int = 20,
                 numeric: list[str] | None = None, categorical: list[str] | None = None):
        super().__init__(numeric if numeric is not None else DEAL_NUMERIC,
                         categorical if categorical is not None else DEAL_CATEGORICAL, min_per_class)
        self.C = C

    def _estimator(self):
        return logistic_pipeline(self.numeric, self.categorical, self.C)
