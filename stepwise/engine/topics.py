"""Topics in activity text (the buyer signals of README, "What Stepwise does"), with negation handled.

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
from collections.abc import Iterable

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
_SEP = "\x00"
_TOKEN_OR_SEP = re.compile(_TOKEN.pattern + "|" + _SEP)


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
    """Every token of every text: (row of its text, its word code, the vocabulary).

    One regex pass over all texts joined by NUL (never part of a token, and no character lowercases
    to or from it), which also yields the NUL separators: a running count of them is each token's row.
    """
    values = _strings(text)
    joined = _SEP.join(values)
    if joined.count(_SEP) != max(len(values) - 1, 0):  # a NUL inside a text: it separates tokens like a space
        joined = _SEP.join(v.replace(_SEP, " ") for v in values)
    found = np.array(_TOKEN_OR_SEP.findall(joined.lower().replace("’", "'")), dtype=object)
    codes, vocab = pd.factorize(found)
    codes = codes.astype(np.int64)
    vocab = list(vocab)
    if _SEP not in vocab:  # (not `vocab == _SEP`: numpy compares strings without their trailing NULs)
        return np.zeros(len(codes), dtype=np.int64), codes, np.array(vocab, dtype=object)
    sep = vocab.index(_SEP)
    is_sep = codes == sep
    rows = np.cumsum(is_sep)[~is_sep]
    codes = codes[~is_sep]
    # Drop the separator from the vocabulary; codes above it move down by one.
    codes -= codes > sep
    del vocab[sep]
    return rows, codes, np.array(vocab, dtype=object)


def _strings(text: pd.Series) -> list[str]:
    """The texts as Python strings, missing ones as '' (text.fillna('').astype(str))."""
    return text.fillna("").astype(str).to_numpy(dtype=object).tolist()


def topic_mentions(text: pd.Series, topics: list[str] | None = None) -> pd.DataFrame:
    """One column per topic: the number of affirmative mentions in each text.

    Vectorised over all tokens of all texts; the only Python loops run over the
    vocabulary (distinct words) and the handful of phrases, never over texts.  Past
    the tokenising, work is proportional to the candidate matches, not to the tokens:
    phrases are checked from the positions of their first word, negators only behind
    a match.
    """
    names = list(TOPICS) if topics is None else topics
    rows, codes, vocab = _tokens(text)
    counts = np.zeros((len(text), len(TOPICS)), dtype=np.int64)
    if len(codes):
        topic = np.array([_word_topic(w) for w in vocab], dtype=np.int64)[codes]
        code_of = {w: i for i, w in enumerate(vocab)}
        phrases = [(words, name) for words, name in _PHRASES if all(w in code_of for w in words)]
        if phrases:
            _claim_phrases(phrases, rows, codes, code_of, topic)
        found = np.flatnonzero(topic >= 0)
        negator = np.array([w in NEGATORS or w.endswith("n't") for w in vocab], dtype=bool)
        negated = np.zeros(len(found), dtype=bool)
        for back in range(1, NEGATION_WINDOW + 1):
            before = found - back
            inside = before >= 0
            before = np.where(inside, before, 0)
            negated |= inside & (rows[before] == rows[found]) & negator[codes[before]]
        keep = found[~negated]
        counts = np.bincount(rows[keep] * len(TOPICS) + topic[keep], minlength=counts.size).reshape(counts.shape)
    wanted = [_TOPIC_IDS[n] for n in names]
    return pd.DataFrame(counts[:, wanted], index=text.index, columns=[f"topic_{n}" for n in names])


def _claim_phrases(phrases: list[tuple[tuple[str, ...], str]], rows: np.ndarray, codes: np.ndarray,
                   code_of: dict[str, int], topic: np.ndarray) -> None:
    """Mark phrase matches (longest first): the phrase's topic on its first token, its other tokens
    taken out (no topic of their own, and no later phrase can start there)."""
    n = len(codes)
    first_codes = np.array(sorted({code_of[words[0]] for words, _ in phrases}), dtype=np.int64)
    starts_all = np.flatnonzero(np.isin(codes, first_codes))
    start_codes = codes[starts_all]
    claimed = np.zeros(n, dtype=bool)
    for words, name in phrases:
        hit = starts_all[start_codes == code_of[words[0]]]
        hit = hit[~claimed[hit]]
        for offset, word in enumerate(words[1:], start=1):
            hit = hit[hit + offset < n]
            nxt = hit + offset
            hit = hit[(rows[nxt] == rows[hit]) & (codes[nxt] == code_of[word])]
        topic[hit] = _TOPIC_IDS[name]
        for offset in range(1, len(words)):
            claimed[hit + offset] = True
            topic[hit + offset] = -1
        claimed[hit] = True


def mentions_of(text: pd.Series, topic: str) -> pd.Series:
    """Mentions of a single topic (negations excluded).

    A cheap substring pre-filter first: only texts that could mention the topic are tokenised.
    A text can only count a mention if its lowercased form holds the first word of a term, so
    the other texts are 0 without tokenising them.
    """
    words = sorted({term.rstrip("*").split()[0] for term in TOPICS[topic]})
    maybe = _containing(text, words)
    out = pd.Series(0, index=text.index, dtype=np.int64)
    if maybe.any():
        out[maybe] = topic_mentions(text[maybe], [topic])[f"topic_{topic}"]
    return out


def _containing(text: pd.Series, words: list[str], lowered: list[str] | None = None) -> np.ndarray:
    """Which texts, lowercased, contain one of `words` (plain substrings): one scan per word
    over all texts joined, skipping to the next text after each hit."""
    if lowered is None:
        lowered = [v.lower() for v in _strings(text)]
    hit = np.zeros(len(lowered), dtype=bool)
    if not lowered:
        return hit
    ends = np.cumsum([len(v) + 1 for v in lowered])  # each text's end (its separator) in `joined`
    joined = _SEP.join(lowered)
    for word in words:
        at = joined.find(word)
        while 0 <= at < len(joined):
            row = int(np.searchsorted(ends, at, side="right"))
            hit[row] = True
            at = joined.find(word, int(ends[row]))
    return hit


def first_match(text: pd.Series, names: list[str]) -> pd.Series:
    """The first of `names` mentioned in each text (e.g. which competitor), or None.

    Only texts that can hold a name are searched with the case-insensitive pattern: those with a
    non-ASCII character, and ASCII ones whose lowercase contains a lowercased name (for ASCII
    text and names, the same test as the pattern's).
    """
    if not names:
        return pd.Series(None, index=text.index, dtype=object)
    pattern = "(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")"
    lookup = {n.lower(): n for n in names}
    if not len(text) or not all(n and n.isascii() for n in names):
        return _first_match_each(text, pattern, lookup)
    strings = _strings(text)
    candidates = _containing(text, sorted({n.lower() for n in names}), [v.lower() for v in strings])
    candidates |= np.array([not v.isascii() for v in strings], dtype=bool)
    values = np.full(len(text), None, dtype=object)
    if not candidates.any():
        return pd.Series(values, index=text.index, dtype=object, name=text.name)
    found = _first_match_each(text[candidates], pattern, lookup)
    values[candidates] = found.to_numpy(dtype=object)
    return pd.Series(values, index=text.index, dtype=object, name=found.name)


def _first_match_each(text: pd.Series, pattern: str, lookup: dict[str, str]) -> pd.Series:
    found = text.fillna("").str.extract(pattern, flags=re.I, expand=False)
    return found.str.lower().map(lookup).astype(object).where(found.notna(), None)


# ───────────────────────────── competitors named in text ─────────────────────────────
# A competitor is either a name the portfolio already knows (deals' `competitor` field, the content
# library's `competitor` column), matched in any case, or an unseen capitalised name of one to three
# words (optionally with Inc/Corp/Ltd…) next to a phrase that says it competes: "also evaluating X",
# "compared to X", "switching from X", "vs X", "X quoted lower", "X is cheaper".  A negator up to three
# words before the phrase (or before a known name) cancels it: "not also evaluating Acme".
# Each phrase with a word it cannot appear without (texts lacking every such word skip the regex).
COMPETITOR_BEFORE: tuple[tuple[str, str], ...] = (
    (r"also\s+evaluating", "evaluating"), (r"also\s+looking\s+at", "looking"), (r"also\s+considering", "considering"),
    (r"also\s+talking\s+(?:to|with)", "talking"), (r"compared?\s+(?:us\s+)?(?:to|with)", "compar"),
    (r"comparing\s+(?:us\s+)?(?:to|with)", "compar"), (r"switch(?:ing|ed)?\s+(?:away\s+)?from", "switch"),
    (r"moving\s+away\s+from", "moving"), (r"competing\s+(?:with|against)", "competing"),
    (r"vs\.?", "vs"), (r"versus", "versus"),
)
COMPETITOR_AFTER: tuple[tuple[str, str], ...] = (
    (r"quoted\s+(?:\w+\s+)?(?:lower|less|cheaper|below)", "quoted"),
    (r"offered\s+(?:\w+\s+)?(?:lower|less|cheaper|below)", "offered"),
    (r"priced\s+(?:\w+\s+)?(?:lower|less|cheaper|below)", "priced"),
    (r"(?:is|are|was|were|seems?|looks?)\s+(?:\w+\s+)?cheaper", "cheaper"),
    (r"came\s+in\s+(?:\w+\s+)?(?:lower|cheaper|under)", "came"),
    (r"undercuts?", "undercut"),
)
_NAME_WORD = r"[A-Z][A-Za-z0-9&\-]*"
_NAME = (rf"{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}}"
         r"(?:,?[ \t]+(?:Inc|Corp|Corporation|Ltd|LLC|GmbH|PLC|AG|SA|SRL)\b\.?)?")
# Capitalised words that start a sentence or name a time, never a competitor: stripped from the front.
_NOT_NAMES = frozenset({
    "the", "this", "that", "these", "those", "their", "them", "they", "we", "our", "us", "you", "your", "it", "its",
    "he", "she", "his", "her", "i", "a", "an", "and", "or", "but", "so", "also", "then", "now", "today", "yesterday",
    "tomorrow", "last", "next", "apparently", "however", "meanwhile", "maybe", "perhaps", "still", "mr", "mrs", "ms",
    "dr", "client", "customer", "buyer", "prospect", "team", "cfo", "ceo", "cto", "cio", "coo", "vp", "monday",
    "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april",
    "may", "june", "july", "august", "september", "october", "november", "december", "q1", "q2", "q3", "q4",
})


def competitor_pattern(known: Iterable[str] = ()) -> re.Pattern[str]:
    """One regex for every way a text can name a competitor (group `a`/`b`: unseen, group `k`: known)."""
    names = sorted({n.strip() for n in known if isinstance(n, str) and n.strip()}, key=len, reverse=True)
    parts = [
        rf"(?i:\b(?:{'|'.join(p for p, _ in COMPETITOR_BEFORE)})[ \t]+)(?P<a>{_NAME})",
        rf"(?<![\w&\-])(?P<b>{_NAME})(?i:[ \t]+(?:{'|'.join(p for p, _ in COMPETITOR_AFTER)})\b)",
    ]
    if names:
        parts.insert(0, rf"(?i:(?<!\w)(?P<k>{'|'.join(re.escape(n) for n in names)})(?!\w))")
    return re.compile("|".join(parts))


def _clean_name(raw: str) -> str | None:
    words = raw.strip().rstrip(".,").split()
    while words and words[0].lower().rstrip(".,") in _NOT_NAMES:
        words.pop(0)
    return " ".join(words) or None


def competitor_mentions(text: pd.Series, known: Iterable[str] = ()) -> pd.Series:
    """The first competitor each text names affirmatively (a known name in its known spelling), or None.

    A plain substring pre-filter (as in mentions_of), then one regex pass over the remaining texts
    joined by NUL; past the pre-filter the Python work is per match, never per text.
    """
    known = [n for n in known if isinstance(n, str) and n.strip()]
    values = np.full(len(text), None, dtype=object)
    if not len(text):
        return pd.Series(values, index=text.index, dtype=object)
    strings = _strings(text)
    # Only texts holding a phrase's key word or a known name (or non-ASCII ones, whose case folding
    # the plain substring test does not mirror) go through the regex.
    keys = sorted({k for _, k in COMPETITOR_BEFORE + COMPETITOR_AFTER} | {n.strip().lower() for n in known})
    maybe = _containing(text, keys, [v.lower() for v in strings])
    maybe |= np.array([not v.isascii() for v in strings], dtype=bool)
    rows = np.flatnonzero(maybe)
    if not len(rows):
        return pd.Series(values, index=text.index, dtype=object)
    chosen = [strings[r].replace(_SEP, " ") for r in rows]
    ends = np.cumsum([len(v) + 1 for v in chosen])  # each text's end (its separator) in `joined`
    joined = _SEP.join(chosen)
    spelling = {n.strip().lower(): n.strip() for n in known}
    for match in competitor_pattern(known).finditer(joined):
        at = int(np.searchsorted(ends, match.start(), side="right"))
        if values[rows[at]] is not None:
            continue
        start = ends[at - 1] if at else 0
        if _negated(joined[max(start, match.start() - 80):match.start()]):
            continue
        group = match.lastgroup  # each alternative has one named group
        raw = match.group(group) if group else ""
        name = raw.strip() if group == "k" else _clean_name(raw)
        if name:
            values[rows[at]] = spelling.get(name.lower(), name)
    return pd.Series(values, index=text.index, dtype=object)


def _negated(before: str) -> bool:
    """A negator among the last NEGATION_WINDOW words before a match."""
    words = _TOKEN.findall(before.lower().replace("’", "'"))[-NEGATION_WINDOW:]
    return any(w in NEGATORS or w.endswith("n't") for w in words)
