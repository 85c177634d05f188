"""How learned models change a run: feedback shifts relevance, effectiveness sets impact, a capped share explores.

Used by engine.run.recommend(models=...).  With no history an action keeps its
catalog defaults (relevance, impact) and says so on the card: cold start is
stated, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stepwise.engine.models.effectiveness import ActionEffectiveness
from stepwise.engine.models.feedback import FeedbackPosteriors

COLD_START_NOTE = "No history yet for this action here: scored on the catalog's defaults."


@dataclass
class EngineModels:
    """What recommend() uses.  `feedback` is fitted on the history as of the run day, so clicks count at once."""

    version: str = "learned-1"
    effectiveness: ActionEffectiveness | None = None
    feedback: FeedbackPosteriors = field(default_factory=FeedbackPosteriors)
    exploration_share: float = 0.05   # at most this share of candidates get an optimism bonus
    exploration_points: float = 30.0  # the bonus's scale in relevance points (×UCB width, ≤ 0.5)
    wrong_timing_days: int = 21       # "wrong timing": re-offered after this long
    unsuitable_product_days: int = 180  # "unsuitable product": the action's products off the account this long


def context(candidates: pd.DataFrame, sig: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """segment, stage and rep per candidate (what the posteriors and effectiveness are keyed by)."""
    segment = sig["account"]["segment"] if not sig["account"].empty else pd.Series(dtype=object)
    stage = sig["deal"]["stage"] if not sig["deal"].empty else pd.Series(dtype=object)
    out = pd.DataFrame(index=candidates.index)
    out["action_id"] = candidates["action_id"]
    out["record_id"] = candidates["record_id"]
    out["segment"] = candidates["account_id"].map(segment).where(candidates["scope"] != "lead", "lead")
    out["stage"] = candidates["record_id"].map(stage).where(candidates["scope"] == "deal", candidates["scope"])
    out["rep"] = candidates.get("owner_id", None)
    return out


def history_context(history: pd.DataFrame, sig: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The feedback rows with the segment and rep they were given in (rep = the user who answered, else the owner)."""
    h = history.copy()
    seg_by_record = pd.concat([
        sig["account"]["segment"] if not sig["account"].empty else pd.Series(dtype=object),
        sig["deal"]["segment"] if not sig["deal"].empty else pd.Series(dtype=object),
        pd.Series("lead", index=sig["lead"].index, dtype=object),
    ])
    seg_by_record = seg_by_record[~seg_by_record.index.duplicated()]
    owner_by_record = pd.concat([sig[s]["owner_id"] for s in ("account", "deal", "lead") if not sig[s].empty] or
                                [pd.Series(dtype=object)])
    owner_by_record = owner_by_record[~owner_by_record.index.duplicated()]
    h["segment"] = h["record_id"].map(seg_by_record)
    rep = h["user"] if "user" in h else pd.Series(None, index=h.index, dtype=object)
    h["rep"] = rep.fillna(h["record_id"].map(owner_by_record))
    return h


def adjust(candidates: pd.DataFrame, sig: dict[str, pd.DataFrame], history: pd.DataFrame | None,
           models: EngineModels, as_of: pd.Timestamp) -> pd.DataFrame:
    """Candidates with relevance, impact, success_rate and a cold-start flag set from what was learned."""
    if candidates.empty:
        return candidates.assign(success_rate=pd.Series(dtype=float), cold_start=pd.Series(dtype=bool))
    ctx = context(candidates, sig)
    out = candidates.copy()
    past = pd.DataFrame(columns=["record_id", "action_id", "status"])
    if history is not None and not history.empty:
        past = history[~(pd.to_datetime(history["updated_at"], utc=True) > as_of)]
    posteriors = models.feedback.fit(history_context(past, sig) if not past.empty else past)
    _, evidence = posteriors.posterior(ctx)
    bonus = posteriors.exploration_bonus(ctx, models.exploration_share, f"{as_of:%Y-%m-%d}")
    out["relevance"] = np.clip(out["relevance"] * posteriors.multiplier(ctx) + models.exploration_points * bonus, 0, 100)

    rate = models.effectiveness.rate(ctx) if models.effectiveness is not None else np.full(len(ctx), np.nan)
    lift = models.effectiveness.lift(ctx) if models.effectiveness is not None else np.full(len(ctx), np.nan)
    known = ~np.isnan(rate)
    out["impact"] = np.where(known, np.clip(out["impact"] * np.nan_to_num(lift, nan=1.0), 0, 100), out["impact"])
    out["success_rate"] = np.where(known, np.round(rate, 3), np.nan)
    out["cold_start"] = ~known & (evidence == 0)
    return out
