"""Action effectiveness: how often an action is followed by the outcome it aims at, per action × stage × segment.

Sparse cells borrow strength: a cell's rate is shrunk toward the action's rate
in the segment, which is shrunk toward the action's overall rate, which is
shrunk toward the rate of all actions.  Events whose stage is not known (the
export keeps no stage history, so a closed deal's stage on the day of the
action is lost) carry stage "any": they count for the action and the segment,
not for any one stage.  An action never seen in the history has no rate at all
(NaN): the card says "no history yet" rather than inventing a number.

Events come from engine/models/action_events.py (activities that are a catalog
action, and accepted recommendations, each followed by its outcome).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["action_id", "stage", "segment"]


class ActionEffectiveness:
    def __init__(self, action_strength: float = 20.0, cell_strength: float = 10.0, min_events: int = 5):
        self.action_strength = action_strength
        self.cell_strength = cell_strength
        self.min_events = min_events

    def fit(self, events: pd.DataFrame) -> ActionEffectiveness:
        """events: action_id, stage, segment, success (bool): one row per time the action was taken."""
        events = events.assign(**{k: events[k].fillna("any") if k in events else "any" for k in KEYS[1:]})
        success = events["success"].astype(float)
        self.overall_ = float(success.mean()) if len(events) else float("nan")
        per_action = success.groupby(events["action_id"]).agg(["sum", "count"])
        per_action = per_action[per_action["count"] >= self.min_events]
        self.action_rate_ = ((per_action["sum"] + self.action_strength * self.overall_)
                             / (per_action["count"] + self.action_strength))
        self.action_n_ = per_action["count"]
        seg = success.groupby([events["action_id"], events["segment"]]).agg(["sum", "count"]).reset_index()
        seg = seg[seg["action_id"].isin(self.action_rate_.index)]
        prior = seg["action_id"].map(self.action_rate_)
        seg["rate"] = (seg["sum"] + self.cell_strength * prior) / (seg["count"] + self.cell_strength)
        self.segment_rate_ = seg.set_index(["action_id", "segment"])["rate"]
        cells = success.groupby([events[k] for k in KEYS]).agg(["sum", "count"]).reset_index()
        cells = cells[cells["action_id"].isin(self.action_rate_.index) & (cells["stage"] != "any")]
        prior = pd.Series(self.segment_rate_.reindex(pd.MultiIndex.from_frame(cells[["action_id", "segment"]]))
                          .to_numpy(), index=cells.index)
        cells["rate"] = (cells["sum"] + self.cell_strength * prior) / (cells["count"] + self.cell_strength)
        self.cell_rate_ = cells.set_index(KEYS)["rate"]
        return self

    def rate(self, frame: pd.DataFrame) -> np.ndarray:
        """Shrunk success rate per row of (action_id[, stage, segment]); NaN = no history yet."""
        if not hasattr(self, "action_rate_") or frame.empty:
            return np.full(len(frame), np.nan)
        base = frame["action_id"].map(self.action_rate_)
        cols = [frame[k].fillna("any") if k in frame else pd.Series("any", index=frame.index) for k in KEYS]
        cell = pd.Series(self.cell_rate_.reindex(pd.MultiIndex.from_arrays(cols)).to_numpy(), index=frame.index)
        seg = pd.Series(np.nan, index=frame.index)
        if hasattr(self, "segment_rate_") and len(self.segment_rate_):  # artifacts stored before it existed lack it
            seg[:] = self.segment_rate_.reindex(pd.MultiIndex.from_arrays([cols[0], cols[2]])).to_numpy()
        return cell.fillna(seg).fillna(base).to_numpy(dtype=float)

    def lift(self, frame: pd.DataFrame) -> np.ndarray:
        """Rate ÷ the rate of all actions: > 1 moves the outcome more than the average action (NaN = unknown)."""
        if not hasattr(self, "overall_") or not self.overall_ or np.isnan(self.overall_):
            return np.full(len(frame), np.nan)
        return self.rate(frame) / self.overall_
