"""Step 1 of the strategy: every catalog action whose trigger holds becomes a candidate.

One vectorised pass per action over its scope's signals frame; the score
parts (relevance, impact, urgency) are evaluated on the triggered rows only.
"""

from __future__ import annotations

import pandas as pd

from stepwise.engine.catalog import EFFORT_FEASIBILITY, Catalog

CANDIDATE_COLUMNS = ["scope", "record_id", "action_id", "account_id", "deal_id", "lead_id", "owner_id",
                     "relevance", "impact", "urgency", "feasibility"]


def disabled_actions(catalog: Catalog, present_tables: set[str]) -> dict[str, str]:
    """Actions that need a table the source does not have: action id → the reason, said once per run."""
    out = {}
    for action in catalog.actions:
        missing = [t for t in action.requires if t not in present_tables]
        if missing:
            out[action.id] = f"needs {', '.join(m + '.csv' for m in missing)}"
    return out


def propose(signals: dict[str, pd.DataFrame], catalog: Catalog, disabled: dict[str, str]) -> pd.DataFrame:
    frames = []
    for action in catalog.actions:
        if action.id in disabled:
            continue
        frame = signals[action.scope]
        if frame.empty:
            continue
        mask = action.trigger.mask(frame)
        if action.stages:
            mask &= frame["stage"].isin(action.stages)
        # Only the columns the score parts read: copying a 100-column frame per action costs more than the maths.
        needed = (action.relevance.names | action.impact.names | action.urgency.names) | {"account_id", "owner_id"}
        hit = frame.loc[mask.to_numpy(), [c for c in frame.columns if c in needed]]
        if hit.empty:
            continue
        part = pd.DataFrame({
            "scope": action.scope,
            "record_id": hit.index.to_numpy(),
            "action_id": action.id,
            "account_id": hit["account_id"].to_numpy() if "account_id" in hit else None,
            "deal_id": hit.index.to_numpy() if action.scope == "deal" else None,
            "lead_id": hit.index.to_numpy() if action.scope == "lead" else None,
            "owner_id": hit["owner_id"].to_numpy() if "owner_id" in hit else None,
            "relevance": action.relevance.evaluate(hit).to_numpy(dtype=float),
            "impact": action.impact.evaluate(hit).to_numpy(dtype=float),
            "urgency": action.urgency.evaluate(hit).to_numpy(dtype=float),
            "feasibility": EFFORT_FEASIBILITY[action.effort],
        })
        frames.append(part)
    if not frames:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    for part in ("relevance", "impact", "urgency", "feasibility"):
        out[part] = out[part].fillna(0).clip(0, 100)
    return out[CANDIDATE_COLUMNS]
