"""Topics in activity text (seed 001's buyer signals), with negation handled.

"asked about ROI" is a budget signal; "no budget concerns" is not.  Counting
is vectorised (`Series.str.count`) over all texts at once.
"""

from __future__ import annotations

import re

import numpy as np
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
_NEGATED_BEFORE = re.compile(r"(?:\bno|\bnot|\bwithout|\bnever|n't|\bnone)(?:\W+\w+){0,3}?\W+$", re.I)
_LOOKBACK = 48
_ANY_TOPIC = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in TOPICS.items()), re.I)
_COLUMN = {name: i for i, name in enumerate(TOPICS)}


def _count(text: str, counts: np.ndarray) -> None:
    for match in _ANY_TOPIC.finditer(text):
        start = match.start()
        if not _NEGATED_BEFORE.search(text, max(0, start - _LOOKBACK), start):
            counts[_COLUMN[match.lastgroup]] += 1


def topic_mentions(text: pd.Series) -> pd.DataFrame:
    """One column per topic: the number of affirmative mentions in each text.

    One combined regex scan per text (in C) instead of a pass per topic: the
    texts are the only per-row work in the engine, so this is where it counts.
    """
    counts = np.zeros((len(text), len(TOPICS)), dtype=np.int64)
    for row, value in enumerate(text.to_numpy()):
        if isinstance(value, str) and value:
            _count(value, counts[row])
    return pd.DataFrame(counts, index=text.index, columns=[f"topic_{name}" for name in TOPICS])


def mentions_of(text: pd.Series, topic: str) -> pd.Series:
    """Mentions of a single topic (negations excluded): cheaper than all topics when one is needed."""
    pattern = re.compile(TOPICS[topic], re.I)
    negated = re.compile(_NEGATED_BEFORE.pattern.removesuffix("$") + f"(?:{TOPICS[topic]})", re.I)
    text = text.fillna("").astype(str)
    return (text.str.count(pattern) - text.str.count(negated)).clip(lower=0)


def first_match(text: pd.Series, names: list[str]) -> pd.Series:
    """The first of `names` mentioned in each text (e.g. which competitor), or None."""
    if not names:
        return pd.Series(None, index=text.index, dtype=object)
    pattern = "(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")"
    found = text.fillna("").str.extract(pattern, flags=re.I, expand=False)
    lookup = {n.lower(): n for n in names}
    return found.str.lower().map(lookup).astype(object).where(found.notna(), None)
