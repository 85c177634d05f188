"""Feedback posteriors: how reps answer an action, as Beta posteriors per action × segment × rep.

Each level is shrunk toward the one above it (all actions → action → action ×
segment → action × segment × rep), so a rep's two clicks move their own view a
little and a month of a team's clicks moves it a lot.  Reasons weigh
differently: a "wrong timing" dismissal says little against the action itself,
"already contacted" says the action was right, "not relevant" says it was not.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

# (success, failure) weight of one response; snoozes and expiries carry no verdict.
RESPONSE_WEIGHTS: dict[tuple[str, str | None], tuple[float, float]] = {
    ("accepted", None): (1.0, 0.0),
    ("dismissed", "wrong_timing"): (0.0, 0.25),
    ("dismissed", "already_contacted"): (0.5, 0.0),
    ("dismissed", "unsuitable_product"): (0.0, 1.0),
    ("dismissed", "not_relevant"): (0.0, 1.0),
    ("dismissed", "other"): (0.0, 1.0),
    ("dismissed", None): (0.0, 1.0),
}
LEVELS = (["action_id"], ["action_id", "segment"], ["action_id", "segment", "rep"])


class FeedbackPosteriors:
    def __init__(self, prior_strength: float = 10.0, level_strength: float = 8.0, prior_rate: float = 0.3,
                 min_multiplier: float = 0.6, max_multiplier: float = 1.4):
        self.prior_strength = prior_strength
        self.level_strength = level_strength
        self.prior_rate = prior_rate
        self.min_multiplier = min_multiplier
        self.max_multiplier = max_multiplier

    def fit(self, history: pd.DataFrame) -> FeedbackPosteriors:
        """history: action_id, status, [reason], [segment], [rep]: one row per response."""
        h = history.copy()
        for col in ("reason", "segment", "rep"):
            if col not in h:
                h[col] = None
        reason = h["reason"].where(h["reason"].isin(["wrong_timing", "already_contacted", "unsuitable_product",
                                                     "not_relevant", "other"]), None)
        keys = list(zip(h["status"], reason.where(h["status"] == "dismissed", None)))
        weights = [RESPONSE_WEIGHTS.get(k, (0.0, 0.0)) for k in keys]
        h["s"] = [w[0] for w in weights]
        h["f"] = [w[1] for w in weights]
        h[["segment", "rep"]] = h[["segment", "rep"]].fillna("unknown")
        total = h["s"].sum() + h["f"].sum()
        # The pooled acceptance rate anchors everything; with no feedback at all it is the stated prior.
        self.overall_ = float((h["s"].sum() + self.prior_strength * self.prior_rate) / (total + self.prior_strength))
        self.tables_: list[pd.DataFrame] = [h.groupby(level)[["s", "f"]].sum() for level in LEVELS]
        return self

    def posterior(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(posterior mean acceptance, evidence count) per row of action_id, segment, rep."""
        f = frame.assign(**{c: frame[c].fillna("unknown") if c in frame else "unknown" for c in ("segment", "rep")})
        mean = np.full(len(f), self.overall_)
        evidence = np.zeros(len(f))
        strength = self.prior_strength
        for level, table in zip(LEVELS, self.tables_):
            keys = pd.MultiIndex.from_frame(f[level]) if len(level) > 1 else pd.Index(f[level[0]])
            sf = table.reindex(keys).fillna(0.0).to_numpy()
            s, fail = sf[:, 0], sf[:, 1]
            mean = (s + strength * mean) / (s + fail + strength)
            evidence = np.maximum(evidence, s + fail)
            strength = self.level_strength
        return mean, evidence

    def multiplier(self, frame: pd.DataFrame) -> np.ndarray:
        """How much to scale relevance: posterior ÷ pooled rate, capped so feedback shifts, never flips, a ranking."""
        mean, _ = self.posterior(frame)
        return np.clip(mean / self.overall_, self.min_multiplier, self.max_multiplier)

    def exploration_bonus(self, frame: pd.DataFrame, share: float, day: str, scale: float = 1.0) -> np.ndarray:
        """An optimism bonus (UCB-style, 0..1) for a capped, reproducible share of candidates.

        Actions with little feedback get the most; which candidates explore is a
        hash of (record, action, day), so a re-run is identical and at most
        `share` of candidates ever explore.
        """
        if share <= 0 or frame.empty:
            return np.zeros(len(frame))
        mean, evidence = self.posterior(frame)
        ucb = scale * np.sqrt(mean * (1 - mean) / (evidence + 1))
        picked = np.array([_unit_hash(f"{r}|{a}|{day}") < share
                           for r, a in zip(frame["record_id"], frame["action_id"])])
        return np.where(picked, ucb, 0.0)


def _unit_hash(text: str) -> float:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2**64
