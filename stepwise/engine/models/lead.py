"""Lead conversion: P(a lead converts | it gets decided), from visits, engagement, source and fit."""

from __future__ import annotations

from stepwise.engine.models.base import ProbabilityModel, logistic_pipeline
from stepwise.engine.models.features import LEAD_CATEGORICAL, LEAD_NUMERIC


class LeadConversionModel(ProbabilityModel):
    def __init__(self, C: float = 0.1, min_per_class: int = 15,
                 numeric: list[str] | None = None, categorical: list[str] | None = None):
        super().__init__(numeric if numeric is not None else LEAD_NUMERIC,
                         categorical if categorical is not None else LEAD_CATEGORICAL, min_per_class)
        self.C = C

    def _estimator(self):
        return logistic_pipeline(self.numeric, self.categorical, self.C)
