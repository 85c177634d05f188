"""Step 4: score = relevance 40 + impact 30 + urgency 20 + feasibility 10 (weights from the rules file).

Each part is 0–100 and stays visible on the card.  Until the learning models
are trained, impact is the catalog's documented prior for the action.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.catalog import Rules

PARTS = ("relevance", "impact", "urgency", "feasibility")


def score(candidates: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    total = sum(candidates[part] * rules.weights[part] for part in PARTS)
    return candidates.assign(score=pd.Series(total, index=candidates.index).round(1))


def urgency_level(urgency: float) -> str:
    return "HIGH" if urgency >= 70 else "MEDIUM" if urgency >= 40 else "LOW"


def urgency_label(urgency: pd.Series) -> pd.Series:
    return pd.Series(np.select([urgency >= 70, urgency >= 40], ["HIGH", "MEDIUM"], "LOW"), index=urgency.index)
