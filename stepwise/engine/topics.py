"""Topics in activity text (seed 001's buyer signals), with negation handled.

"asked about ROI" is a budget signal; "no budget concerns" is not.  Counting
is vectorised (`Series.str.count`) over all texts at once.
"""

from __future__ import annotations

import re

import pandas as pd

TOPICS: dict[str, str] = {
    "budget": r"budget|\broi\b|return on investment|business case|cost savings?",
    "competitor": r"competitor|other vendors?|alternative vendors?|competing offer",
    "timeline": r"timeline|go-?live|deadline|rollout date|implementation date",
    "pricing": r"pricing|price list|\bprices?\b",
    "discount": r"discount|rebate|price reduction|better price",
    "security": r"security review|security questionnaire|compliance|\bgdpr\b|\bhipaa\b|iso ?27001|\bsoc ?2\b",
    "technical": r"technical validation|technical review|architecture|\bapi\b|deep[- ]dive",
    "integration": r"integrat",
    "pilot": r"\bpilot\b|\bpoc\b|proof of concept|\btrial\b",
    "legal": r"legal review|\blegal\b|redlines?|contract review|\bmsa\b",
    "exec_signoff": r"sign-?off|cfo approval|board approval|executive approval|executive sponsor",
    "objection": r"concerns?\b|concerned|objection|worried|hesitant|push ?back",
    "pain": r"pain points?|struggl|frustrat|manual process|bottleneck",
    "complaint": r"complain|late deliver|damaged|defective",
}

# A negator up to three words before the topic word cancels that mention.
_NEGATOR = r"(?:\bno\b|\bnot\b|\bwithout\b|\bnever\b|n't\b|\bnone\b)(?:\W+\w+){0,3}?\W+"


def _compile(pattern: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    return re.compile(f"(?:{pattern})", re.I), re.compile(f"{_NEGATOR}(?:{pattern})", re.I)


_COMPILED = {name: _compile(pattern) for name, pattern in TOPICS.items()}


def topic_mentions(text: pd.Series) -> pd.DataFrame:
    """One column per topic: the number of affirmative mentions in each text."""
    text = text.fillna("").astype(str)
    out = {}
    for name, (positive, negated) in _COMPILED.items():
        out[f"topic_{name}"] = (text.str.count(positive) - text.str.count(negated)).clip(lower=0)
    return pd.DataFrame(out, index=text.index)


def first_match(text: pd.Series, names: list[str]) -> pd.Series:
    """The first of `names` mentioned in each text (e.g. which competitor), or None."""
    if not names:
        return pd.Series(None, index=text.index, dtype=object)
    pattern = "(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")"
    found = text.fillna("").str.extract(pattern, flags=re.I, expand=False)
    lookup = {n.lower(): n for n in names}
    return found.str.lower().map(lookup).astype(object).where(found.notna(), None)
