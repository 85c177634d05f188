"""Step 4: score = relevance 40 + impact 30 + urgency 20 + feasibility 10 (weights from the rules file).

Each part is 0–100 and stays visible on the card.  Until the learning models
are trained, impact is the catalog's documented prior for the action.
"""

from __future__ import annotations

import pandas as pd

from stepwise.engine.catalog import Rules

PARTS = ("relevance", "impact", "urgency", "feasibility")


def score(candidates: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    total = sum(candidates[part] * rules.weights[part] for part in PARTS)
    return candidates.assign(score=pd.Series(total, index=candidates.index).round(1))


def urgency_label(urgency: pd.Series) -> pd.Series:
    return pd.cut(urgency, bins=[-1, 39.999, 69.999, 101], labels=["LOW", "MEDIUM", "HIGH"]).astype(str)
