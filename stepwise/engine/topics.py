"""Topics in activity text (seed 001's buyer signals), with negation handled.

"asked about ROI" is a budget signal; "no budget concerns" is not.  Each topic
is a list of words and phrases (a trailing `*` matches any ending, so
`integrat*` finds integrate, integration, integrating).  Matching is fully
vectorised: texts are split into one long Series of tokens, words and phrases
are looked up with dict maps, and a negator (no, not, without, never, none,
…n't) up to three words before a match cancels it.  A longer phrase wins over
the words inside it ("price reduction" is a discount, not also a price).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

TOPICS: dict[str, tuple[str, ...]] = {
    "budget": ("budget*", "roi", "return on investment", "business case", "cost saving", "cost savings"),
    "competitor": ("competitor*", "other vendor", "other vendors", "alternative vendor", "alternative vendors",
                   "competing offer", "competing offers"),
    "timeline": ("timeline*", "go live", "golive", "deadline*", "rollout date", "implementation date"),
    "pricing": ("pricing", "price", "prices", "price list"),
    "discount": ("discount*", "rebate*", "price reduction", "better price"),
    "security": ("security review", "security questionnaire", "complian*", "gdpr", "hipaa", "iso 27001", "soc2",
                 "soc 2", "infosec"),
    "technical": ("technical validation", "technical review", "architecture", "api", "apis", "deep dive"),
    "integration": ("integrat*",),
    "pilot": ("pilot*", "poc", "proof of concept", "trial", "trials"),
    "legal": ("legal", "redline*", "contract review", "msa"),
    "exec_signoff": ("sign off", "signoff", "cfo approval", "board approval", "executive approval", "executive sponsor"),
    "objection": ("concern", "concerns", "concerned", "objection*", "worried", "hesitant", "pushback", "push back"),
    "pain": ("pain point", "pain points", "struggl*", "frustrat*", "manual process", "manual processes", "bottleneck*"),
    "complaint": ("complain*", "late delivery", "late deliveries", "damaged", "defective"),
}

NEGATORS = frozenset({"no", "not", "without", "never", "none", "nor"})
NEGATION_WINDOW = 4  # a negator at most this many tokens before the match (three words in between)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _term_table(topics: dict[str, tuple[str, ...]]):
    exact: dict[str, str] = {}
    stems: list[tuple[str, str]] = []
    phrases: list[tuple[tuple[str, ...], str]] = []
    for topic, terms in topics.items():
        for term in terms:
            words = tuple(term.split())
            if len(words) > 1:
                phrases.append((words, topic))
            elif term.endswith("*"):
                stems.append((term[:-1], topic))
            else:
                exact[term] = topic
    # Longest phrases first: they claim their words before shorter matches can.
    phrases.sort(key=lambda p: -len(p[0]))
    return exact, stems, phrases


_EXACT, _STEMS, _PHRASES = _term_table(TOPICS)
_TOPIC_IDS = {name: i for i, name in enumerate(TOPICS)}


def _word_topic(word: str) -> int:
    topic = _EXACT.get(word) or next((t for stem, t in _STEMS if word.startswith(stem)), None)
    return _TOPIC_IDS[topic] if topic else -1


def _tokens(text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every token of every text: (row of its text, its word code, the vocabulary)."""
    lowered = text.fillna("").astype(str).str.lower().str.replace("’", "'", regex=False)
    found = lowered.str.findall(_TOKEN)
    lengths = found.str.len().fillna(0).to_numpy(dtype=np.int64)
    rows = np.repeat(np.arange(len(found)), lengths)
    words = [w for ws in found.to_numpy() if isinstance(ws, list) for w in ws]
    codes, vocab = pd.factorize(pd.Series(words, dtype=object))
    return rows, codes.astype(np.int64), np.asarray(vocab, dtype=object)


def _shifted(values: np.ndarray, rows: np.ndarray, by: int, fill: int) -> np.ndarray:
    """values[i - by] where it belongs to the same text, else `fill` (by < 0 looks ahead)."""
    out = np.full_like(values, fill)
    if by > 0:
        same = rows[by:] == rows[:-by]
        out[by:][same] = values[:-by][same]
    elif by < 0:
        same = rows[:by] == rows[-by:]
        out[:by][same] = values[-by:][same]
    return out


def topic_mentions(text: pd.Series, topics: list[str] | None = None) -> pd.DataFrame:
    """One column per topic: the number of affirmative mentions in each text.

    Vectorised over all tokens of all texts; the only Python loops run over the
    vocabulary (distinct words) and the handful of phrases, never over texts.
    """
    names = list(TOPICS) if topics is None else topics
    rows, codes, vocab = _tokens(text)
    counts = np.zeros((len(text), len(TOPICS)), dtype=np.int64)
    if len(codes):
        topic = np.array([_word_topic(w) for w in vocab], dtype=np.int64)[codes]
        claimed = np.zeros(len(codes), dtype=bool)
        code_of = {w: i for i, w in enumerate(vocab)}
        for words, name in _PHRASES:
            if not all(w in code_of for w in words):
                continue
            hit = ~claimed & (codes == code_of[words[0]])
            for offset, word in enumerate(words[1:], start=1):
                hit &= _shifted(codes, rows, -offset, -1) == code_of[word]
            topic[hit] = _TOPIC_IDS[name]
            for offset in range(1, len(words)):
                inside = _shifted(hit.astype(np.int64), rows, offset, 0).astype(bool)
                claimed |= inside
                topic[inside] = -1
            claimed |= hit
        negator = np.array([w in NEGATORS or w.endswith("n't") for w in vocab], dtype=bool)[codes]
        negated = np.zeros(len(codes), dtype=bool)
        for back in range(1, NEGATION_WINDOW + 1):
            negated |= _shifted(negator.astype(np.int64), rows, back, 0).astype(bool)
        keep = (topic >= 0) & ~negated
        np.add.at(counts, (rows[keep], topic[keep]), 1)
    wanted = [_TOPIC_IDS[n] for n in names]
    return pd.DataFrame(counts[:, wanted], index=text.index, columns=[f"topic_{n}" for n in names])


def mentions_of(text: pd.Series, topic: str) -> pd.Series:
    """Mentions of a single topic (negations excluded).

    A cheap substring pre-filter first: only texts that could mention the topic are tokenised.
    """
    words = sorted({term.rstrip("*").split()[0] for term in TOPICS[topic]})
    maybe = text.fillna("").str.contains("|".join(map(re.escape, words)), case=False, regex=True)
    out = pd.Series(0, index=text.index, dtype=np.int64)
    if maybe.any():
        out[maybe] = topic_mentions(text[maybe], [topic])[f"topic_{topic}"]
    return out


def first_match(text: pd.Series, names: list[str]) -> pd.Series:
    """The first of `names` mentioned in each text (e.g. which competitor), or None."""
    if not names:
        return pd.Series(None, index=text.index, dtype=object)
    pattern = "(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")"
    found = text.fillna("").str.extract(pattern, flags=re.I, expand=False)
    lookup = {n.lower(): n for n in names}
    return found.str.lower().map(lookup).astype(object).where(found.notna(), None)
