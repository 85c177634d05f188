"""The small estimators: fall back to the base rate without data, shrink sparse cells, weigh reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.models.effectiveness import ActionEffectiveness
from stepwise.engine.models.features import DEAL_NUMERIC
from stepwise.engine.models.feedback import FeedbackPosteriors
from stepwise.engine.models.win import WinModel


def test_too_little_history_predicts_the_base_rate():
    X = pd.DataFrame({c: np.arange(10.0) for c in DEAL_NUMERIC}).assign(segment="smb", industry="retail")
    model = WinModel().fit(X, [1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    assert not model.fitted_
    assert np.allclose(model.predict_proba(X), 0.2)


def test_no_signal_stays_near_the_base_rate():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({c: rng.normal(size=2000) for c in DEAL_NUMERIC}).assign(segment="smb", industry="retail")
    p = WinModel().fit(X, rng.random(2000) < 0.4).predict_proba(X)
    assert abs(p.mean() - 0.4) < 0.03 and p.std() < 0.05


def test_effectiveness_shrinks_sparse_cells_and_says_when_it_does_not_know():
    events = pd.DataFrame({
        "action_id": ["a"] * 40 + ["b"] * 40,
        "stage": ["proposal"] * 38 + ["negotiation"] * 2 + ["proposal"] * 40,
        "segment": "smb",
        "success": [True] * 20 + [False] * 18 + [True, True] + [True] * 8 + [False] * 32,
    })
    eff = ActionEffectiveness().fit(events)
    q = pd.DataFrame({"action_id": ["a", "a", "b", "never"], "stage": ["proposal", "negotiation", "proposal", "proposal"],
                      "segment": "smb"})
    rate = eff.rate(q)
    assert rate[0] > rate[2]  # a works more often than b
    assert rate[0] < rate[1] < 1.0  # two wins out of two, shrunk toward a's own rate: not 100 %
    assert np.isnan(rate[3])  # no history yet


def test_reasons_weigh_differently():
    history = pd.DataFrame({
        "action_id": ["a"] * 10 + ["b"] * 10 + ["c"] * 10,
        "status": ["dismissed"] * 30,
        "reason": ["wrong_timing"] * 10 + ["not_relevant"] * 10 + ["already_contacted"] * 10,
    })
    post = FeedbackPosteriors().fit(history)
    mean, evidence = post.posterior(pd.DataFrame({"action_id": ["a", "b", "c"]}))
    assert mean[1] < mean[0] < mean[2]  # "not relevant" hurts most, "already contacted" says the action was right


def test_exploration_is_capped_and_reproducible():
    post = FeedbackPosteriors().fit(pd.DataFrame(columns=["action_id", "status"]))
    frame = pd.DataFrame({"record_id": [f"D{i}" for i in range(2000)], "action_id": "new_action"})
    bonus = post.exploration_bonus(frame, 0.05, "2026-11-23")
    assert 0.03 < (bonus > 0).mean() < 0.07
    assert np.array_equal(bonus, post.exploration_bonus(frame, 0.05, "2026-11-23"))
