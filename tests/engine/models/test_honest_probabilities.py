"""Win and lead-conversion probabilities that never claim more than they know, on generated exports a person can read:

(a) a CRM export where the outcome is a coin flip independent of every column: the model must say the base rate;
(b) a lead export like the public "Lead Scoring" ones (38 % convert, conversion driven by what the activities
    say and by the source, with noise): the model must read the activities and beat the source's base rate;
(c) a CRM export with real signal: shrinkage toward the base rate must not kill it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stepwise.engine.history import as_known_on
from stepwise.engine.models.base import GroupRate, ProbabilityModel, auc, brier, reliability
from stepwise.engine.models.features import DEAL_NUMERIC
from stepwise.engine.models.lead import LeadConversionModel
from stepwise.engine.models.win import WinModel
from stepwise.engine.training import _days, lead_set, win_set
from tests.builders import make_data

END = pd.Timestamp("2026-11-23", tz="UTC")
DAY = pd.Timedelta(days=1)


def _t(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


# ─────────────────────────────── generators ───────────────────────────────
def crm_export(n_accounts: int = 300, n_deals: int = 1500, signal: float = 0.0, seed: int = 0):
    """Accounts, deals created over two years and their activity log.

    signal = 0: won or lost is a coin flip (32 %) independent of everything in the export.
    signal > 0: buyers who call and write back, see demos and get quotes win more (log-odds scale `signal`).
    """
    rng = np.random.default_rng(seed)
    industries = ["retail", "manufacturing", "healthcare", "software", "logistics"]
    segments = ["smb", "mid_market", "enterprise"]
    accounts = [{"account_id": f"A{i}", "name": f"Account {i}", "industry": industries[i % 5],
                 "segment": segments[i % 3]} for i in range(n_accounts)]
    start = END - 760 * DAY
    created = start + pd.to_timedelta(np.sort(rng.random(n_deals)) * 740, unit="D")
    duration = rng.gamma(2.0, 35.0, n_deals) + 7
    engagement = rng.normal(size=n_deals)  # the buyer's interest: drives touches always, the outcome only with signal
    logit = -0.75 + signal * engagement
    won = rng.random(n_deals) < 1 / (1 + np.exp(-logit))
    deals, activities = [], []
    for i in range(n_deals):
        closed_on = created[i] + duration[i] * DAY
        is_closed = closed_on <= END
        deals.append({"deal_id": f"D{i}", "account_id": f"A{rng.integers(n_accounts)}",
                      "stage": ("closed_won" if won[i] else "closed_lost") if is_closed else "proposal",
                      "amount": float(np.round(rng.lognormal(9.5, 1.0), 2)), "created_at": _t(created[i]),
                      "stage_changed_at": _t(closed_on) if is_closed else None,
                      "close_date": _t(closed_on) if is_closed else None,
                      "is_closed": bool(is_closed), "is_won": bool(won[i] and is_closed)})
        rate = np.exp(0.4 * engagement[i]) * 0.12  # touches per day
        n = rng.poisson(rate * duration[i]) + 1
        when = created[i] + pd.to_timedelta(np.sort(rng.random(n)) * duration[i], unit="D")
        inbound_p = 1 / (1 + np.exp(-(engagement[i] - 0.3)))
        for j in range(n):
            if when[j] > END:
                break
            kind = rng.choice(["email", "call", "meeting", "demo", "quote_sent", "note"],
                              p=[0.45, 0.25, 0.12, 0.06, 0.06, 0.06])
            if signal and engagement[i] > 0.8 and rng.random() < 0.3:
                kind = rng.choice(["demo", "quote_sent"])
            activities.append({"activity_id": f"X{i}-{j}", "occurred_at": _t(when[j]), "type": kind,
                               "deal_id": f"D{i}", "account_id": deals[-1]["account_id"],
                               "direction": "inbound" if rng.random() < inbound_p else "outbound",
                               "subject": f"{kind} about the proposal", "body": ""})
    return make_data(accounts=accounts, deals=deals, activities=activities)


LEAD_SOURCES = {"Google": 0.0, "Direct Traffic": -0.3, "Olark Chat": -0.6, "Organic Search": 0.0,
                "Reference": 1.2, "Welingak Website": 1.5, "Referral Sites": -0.2}
# (type, direction, subject, effect on the log-odds of converting, how often it occurs)
LEAD_SUBJECTS = [
    ("email", "inbound", "Email Opened", 0.3, 0.30),
    ("email", "outbound", "Email Bounced", -1.2, 0.05),
    ("email", "inbound", "Will revert after reading the email", 2.0, 0.08),
    ("call", "outbound", "Had a Phone Conversation", 1.6, 0.06),
    ("call", "outbound", "Ringing", -1.3, 0.12),
    ("call", "outbound", "Unreachable", -0.9, 0.05),
    ("note", "inbound", "Interested in other courses", -1.8, 0.06),
    ("note", "inbound", "Not doing further education", -1.6, 0.03),
    ("email", "outbound", "SMS Sent", 1.0, 0.10),
    ("web_visit", "inbound", "Page Visited on Website", 0.1, 0.10),
    ("web_visit", "inbound", "Olark Chat Conversation", -0.6, 0.05),
]


def lead_export(n_leads: int = 3000, seed: int = 1):
    """Leads created over two years, each decided (38 % converted), with activity rows like a real export's
    Last Activity / Tags / time-on-site columns mapped into activities (type, direction, subject)."""
    rng = np.random.default_rng(seed)
    created = END - 700 * DAY + pd.to_timedelta(np.sort(rng.random(n_leads)) * 640, unit="D")
    sources = list(LEAD_SOURCES)
    source = rng.choice(sources, n_leads, p=[0.3, 0.25, 0.18, 0.12, 0.06, 0.04, 0.05])
    probs = np.array([s[4] for s in LEAD_SUBJECTS])
    probs = probs / probs.sum()
    n_acts = rng.integers(1, 5, n_leads)
    logit = np.array([LEAD_SOURCES[s] for s in source]) + rng.normal(0, 0.8, n_leads)  # noise: what no column says
    rows = []
    for i in range(n_leads):
        picks = rng.choice(len(LEAD_SUBJECTS), n_acts[i], p=probs)
        logit[i] += sum(LEAD_SUBJECTS[k][3] for k in picks) / np.sqrt(n_acts[i])
        when = created[i] + pd.to_timedelta(np.sort(rng.random(n_acts[i])) * 25, unit="D")
        for j, k in enumerate(picks):
            kind, direction, subject, _, _ = LEAD_SUBJECTS[k]
            rows.append({"activity_id": f"L{i}-{j}", "occurred_at": _t(when[j]), "type": kind, "lead_id": f"LEAD{i}",
                         "direction": direction, "subject": subject,
                         "body": "https://example.com/courses" if kind == "web_visit" else ""})
        # time on site: page views, more for the interested (a weak signal)
        for j in range(rng.poisson(1.0 + 0.2 * max(logit[i], 0))):
            rows.append({"activity_id": f"L{i}-v{j}", "occurred_at": _t(created[i] + rng.random() * 20 * DAY),
                         "type": "web_visit", "lead_id": f"LEAD{i}", "direction": "inbound",
                         "subject": "Course page", "body": "https://example.com/courses/data-science"})
    shift = np.quantile(logit, 1 - 0.38)
    converted = rng.random(n_leads) < 1 / (1 + np.exp(-2.0 * (logit - shift)))
    titles = ["Student", "Working Professional", "Manager", "Director of Learning", "Unemployed"]
    leads = [{"lead_id": f"LEAD{i}", "created_at": _t(created[i]), "name": f"Lead {i}", "source": source[i],
              "status": "converted" if converted[i] else "disqualified", "title": titles[rng.integers(5)],
              "industry": ["education", "it", "finance"][rng.integers(3)]} for i in range(n_leads)]
    return make_data(leads=leads, activities=rows)


# ─────────────────────────────── helpers ───────────────────────────────
def _win_split(data, test_days: int = 150):
    cut = END - test_days * DAY
    known = as_known_on(data, cut)
    Xtr, ytr = win_set(known, _days(cut - 730 * DAY, cut - DAY, 14))
    Xte, yte = win_set(data, _days(cut, END - DAY, 14))
    return Xtr, ytr, Xte, yte


def _lead_split(data, test_share: float = 0.3):
    created = data.leads["created_at"].sort_values()
    cut = created.iloc[int(len(created) * (1 - test_share))]
    Xtr, ytr = lead_set(data, END, created_before=cut)
    Xte, yte = lead_set(data, END, created_from=cut)
    return Xtr, ytr, Xte, yte


# ─────────────────────────────── (a) nothing predicts ───────────────────────────────
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_win_on_pure_noise_is_no_worse_than_the_base_rate(seed):
    Xtr, ytr, Xte, yte = _win_split(crm_export(seed=seed))
    assert len(yte) > 300 and 0.2 < ytr.mean() < 0.45
    model = WinModel().fit(Xtr, ytr)
    p = model.predict_proba(Xte)
    base = brier(yte, np.full(len(yte), model.base_rate_))
    assert brier(yte, p) <= 1.02 * base
    assert p.std() < 0.03  # it does not invent a ranking either
    assert model.validation_["weight"] <= 0.5


def test_a_flexible_estimator_on_noise_is_shrunk_to_the_base_rate():
    """The honesty is the base class's: even trees that overfit noise end at the base rate."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    class Trees(ProbabilityModel):
        def _estimator(self):
            return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.3, min_samples_leaf=5, random_state=0)

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(4000, 6)), columns=list("abcdef"))
    X["snapshot"] = np.repeat(np.arange(20), 200)
    y = (rng.random(4000) < 0.3).astype(int)
    raw = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.3, min_samples_leaf=5,
                                         random_state=0).fit(X[list("abcdef")], y)
    model = Trees(list("abcdef")).fit(X, y)
    Xn = pd.DataFrame(rng.normal(size=(3000, 6)), columns=list("abcdef"))
    yn = (rng.random(3000) < 0.3).astype(int)
    base = brier(yn, np.full(3000, model.base_rate_))
    assert brier(yn, raw.predict_proba(Xn)[:, 1]) > 1.1 * base  # what the raw estimator would have said
    assert brier(yn, model.predict_proba(Xn)) <= 1.02 * base
    assert model.validation_["method"] == "out-of-time" and model.validation_["weight"] == 0.0


# ─────────────────────────────── (b) what the activities say ───────────────────────────────
@pytest.fixture(scope="module")
def leads_split():
    return _lead_split(lead_export())


def test_lead_model_reads_the_activities_and_beats_the_source(leads_split):
    Xtr, ytr, Xte, yte = leads_split
    assert 0.33 < ytr.mean() < 0.43 and len(yte) > 700
    model = LeadConversionModel().fit(Xtr, ytr)
    p = model.predict_proba(Xte)
    source = GroupRate("source").fit(Xtr, ytr).predict_proba(Xte)
    assert auc(yte, p) >= 0.75
    assert auc(yte, p) > auc(yte, source) + 0.05
    assert brier(yte, p) < brier(yte, np.full(len(yte), model.base_rate_))
    assert brier(yte, p) < brier(yte, source)
    assert model.validation_["weight"] > 0.5 and model.validation_["auc"] > 0.7


def test_lead_words_carry_the_signal(leads_split):
    """The same leads with subjects blanked out: the model loses most of what it knew (so it reads the words)."""
    Xtr, ytr, Xte, yte = leads_split
    blind = LeadConversionModel(text=None, categorical=["source", "industry"]).fit(Xtr, ytr)
    reading = LeadConversionModel().fit(Xtr, ytr)
    assert auc(yte, reading.predict_proba(Xte)) > auc(yte, blind.predict_proba(Xte)) + 0.05


def test_lead_features_count_types_directions_and_keep_the_last_subject():
    data = lead_export(n_leads=5, seed=4)
    X = lead_features_of(data)
    acts = data.activities
    first = acts[acts["lead_id"] == "LEAD0"].sort_values("occurred_at")
    row = X.loc["LEAD0"]
    assert row["acts_total"] == len(first)
    assert row["acts_inbound"] == (first["direction"] == "inbound").sum()
    assert row["acts_call"] == (first["type"] == "call").sum()
    assert row["last_activity_subject"] == first["subject"].iloc[-1].lower()
    assert all(s.lower() in row["activity_text"].lower() for s in first["subject"])
    assert "t_call d_outbound" in row["activity_text"] or "t_call" not in " ".join("t_" + first["type"])


def lead_features_of(data):
    from stepwise.engine.models.features import lead_features

    return lead_features(data, END)


# ─────────────────────────────── (c) real signal survives ───────────────────────────────
def test_win_keeps_real_signal():
    Xtr, ytr, Xte, yte = _win_split(crm_export(signal=1.5, seed=5))
    model = WinModel().fit(Xtr, ytr)
    p = model.predict_proba(Xte)
    assert auc(yte, p) >= 0.68
    assert brier(yte, p) < 0.95 * brier(yte, np.full(len(yte), model.base_rate_))
    assert model.validation_["weight"] >= 0.6
    assert p.std() > 0.07


def test_calibrated_probabilities_match_observed_rates():
    """Out of time on the lead export, each well-filled bin's observed rate is near its mean prediction."""
    Xtr, ytr, Xte, yte = _lead_split(lead_export(seed=7))
    p = LeadConversionModel().fit(Xtr, ytr).predict_proba(Xte)
    curve = reliability(yte, p)
    assert curve["n"].sum() == len(yte) and (curve["n"] >= 40).sum() >= 6  # it spreads its predictions
    # count-weighted gap between predicted and observed per bin (expected calibration error)
    ece = float(((curve["observed"] - curve["mean_p"]).abs() * curve["n"]).sum() / curve["n"].sum())
    assert ece < 0.06
    assert abs(p.mean() - yte.mean()) < 0.04


def test_deterministic():
    Xtr, ytr, Xte, _ = _lead_split(lead_export(n_leads=800, seed=9))
    a = LeadConversionModel().fit(Xtr, ytr).predict_proba(Xte)
    b = LeadConversionModel().fit(Xtr, ytr).predict_proba(Xte)
    assert np.array_equal(a, b)
    X = pd.DataFrame({c: np.arange(10.0) for c in DEAL_NUMERIC}).assign(segment="smb", industry="retail")
    assert WinModel().fit(X, [1, 0] * 5).validation_["weight"] == 0.0  # too little: the base rate
