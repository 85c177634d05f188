"""`stepwise evaluate`'s report shows, per model, a reliability curve (bins of predicted probability: mean
prediction, observed rate, rows) in the Markdown and as a PNG, and what the model's own validation window showed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.models.base import reliability
from stepwise.engine.records import CanonicalData
from stepwise.engine.training import evaluate
from stepwise.learning.report import write_report
from tests.engine.models.test_honest_probabilities import END, crm_export, lead_export


def test_reliability_bins_a_person_can_check():
    y = np.array([0, 0, 1, 0, 1, 1, 1, 0])
    p = np.array([0.05, 0.08, 0.12, 0.55, 0.52, 0.58, 0.95, 1.0])
    table = reliability(y, p)
    assert list(table["bin"]) == ["0.0–0.1", "0.1–0.2", "0.5–0.6", "0.9–1.0"]
    assert list(table["n"]) == [2, 1, 3, 2]
    assert list(table["observed"]) == [0.0, 1.0, 2 / 3, 0.5]
    assert np.isclose(table["mean_p"].iloc[2], (0.55 + 0.52 + 0.58) / 3)


def test_evaluate_reports_reliability_and_self_check_per_model(tmp_path):
    crm, leads = crm_export(n_deals=900, seed=2), lead_export(n_leads=1500, seed=3)
    data = CanonicalData(accounts=crm.accounts, deals=crm.deals, leads=leads.leads,
                         activities=pd.concat([crm.activities, leads.activities], ignore_index=True))
    ev = evaluate(data, END, test_days=150)
    for name in ("win", "lead"):
        honesty = ev.results[name]["honesty"]
        assert honesty["method"] in ("out-of-time", "out-of-time (rolling)") and 0 <= honesty["weight"] <= 1
        assert {"auc", "brier_model", "brier_base_rate", "n"} <= set(honesty)
    assert ev.results["win"]["honesty"]["weight"] <= 0.5  # a coin flip: the base rate, said so
    assert ev.results["lead"]["honesty"]["weight"] > 0.5
    path = write_report(ev, pd.DataFrame(), None, tmp_path)
    text = path.read_text()
    for name in ("win", "lead"):
        assert (tmp_path / f"reliability_{name}.png").stat().st_size > 1000
        assert f"![reliability {name}](reliability_{name}.png)" in text
    assert "### Reliability: lead conversion (decided leads)" in text
    assert "| predicted | mean predicted | observed | rows |" in text
    lead_part = text.split("### Reliability: lead conversion")[1].split("![reliability")[0]
    rows = [line for line in lead_part.splitlines() if line.startswith("| 0.")]
    assert len(rows) >= 5 and sum(int(r.rsplit("|", 2)[1]) for r in rows) == ev.results["lead"]["n_test"]
    assert "**Self-check**" in text and "weight 0 on the model" in text  # the coin-flip win model says so
