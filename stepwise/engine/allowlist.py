"""The draft allowlist: a model's draft may say only what the rules approved for its card.

Pure and deterministic (README, "Explanations: templates first, an LLM only behind guardrails").
Everything a draft could promise is read in every language with a vocabulary (engine/vocabulary.py)
and must be found in the card's approved facts:

- quantities, normalised: "fifteen", "15 %", "15 percent", "cincisprezece la sută" are the percent 15;
  "three months", "90 de zile", "tomorrow", "mâine" are durations in hours; "30 November", "30.11",
  "2026-11-30" are dates; "€1,200" an amount.  Each must equal one the facts carry (any digit the
  reader cannot place is refused too);
- names: a capitalised word (not opening a sentence, not a greeting) must be a word of the facts;
- commercial commitments (discount, price, free, guarantee, payment terms, extended terms, delivery,
  returns) only where a fact that is not a prohibition speaks of the same thing; a discount only under
  the rules' ceiling, with no number in its sentence above it;
- the language: one with a vocabulary, and the card's own when it is known.

Anything else fails, with a reason code per kind of failure (`Finding.code`), and the template stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from stepwise.engine.vocabulary import fold, foreign_words, phrase_pattern, vocabularies

#: Reason codes, as counted in a run's counts and the metrics.
CODES = ("missing", "too_long", "personal_data", "link", "placeholder", "language", "number", "name",
         "removed_product", "discount_above_ceiling", "commitment")


@dataclass(frozen=True)
class Finding:
    code: str     # one of CODES
    detail: str   # what a person reads in the log


# -- what the facts allow ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    kind: str                   # percent | hours | date | number (a count or an amount)
    values: frozenset[Any]      # the readings of the text: "1.200" is 1200 or 1.2
    start: int
    end: int
    text: str


@dataclass
class Allowed:
    """What one card's approved facts allow a draft to say."""

    percents: set[float] = field(default_factory=set)
    hours: set[float] = field(default_factory=set)
    dates: set[Any] = field(default_factory=set)
    numbers: set[float] = field(default_factory=set)
    words: set[str] = field(default_factory=set)          # folded words of every fact: names live here
    sentences: set[str] = field(default_factory=set)      # folded fact sentences, quotable as they are
    backed: set[str] = field(default_factory=set)          # commitment kinds an affirmative fact speaks of
    ceiling: float = 0.0                                    # the rules' maximum discount, in percent
    names: list[str] = field(default_factory=list)          # product and asset names, read as names
    links: set[str] = field(default_factory=set)


def fact_texts(facts: dict[str, Any]) -> list[str]:
    offer = facts.get("offer") or {}
    texts = [str(facts.get("action") or ""), *map(str, facts.get("why") or ()), *map(str, facts.get("how") or ()),
             *map(str, facts.get("constraints") or ())]
    texts += [str(offer.get(k)) for k in ("bundle", "asset") if offer.get(k)]
    texts += [str(p) for p in offer.get("products") or ()]
    return [t for t in texts if t]


def allowed_by(facts: dict[str, Any]) -> Allowed:
    """Read the approved facts (guardrails.approved_facts) into what a draft may say."""
    offer = facts.get("offer") or {}
    allowed = Allowed(ceiling=float(offer.get("max_discount_pct") or 0))
    allowed.names = [str(n) for n in [*(offer.get("products") or ()), offer.get("bundle"), offer.get("asset")] if n]
    if allowed.ceiling > 0:
        allowed.percents.add(allowed.ceiling)
        allowed.numbers.add(allowed.ceiling)
        allowed.backed.add("discount")
    best_before = facts.get("best_before")
    if best_before:
        try:
            day = date.fromisoformat(str(best_before)[:10])
            allowed.dates |= {(day.month, day.day, day.year), (day.month, day.day, None), ("weekday", day.weekday()),
                              ("month", day.month)}
        except ValueError:
            pass
    lexicon = _lexicon()
    for text in fact_texts(facts):
        folded = fold(text)
        allowed.words |= set(re.findall(r"[\w'-]+", folded))
        allowed.links |= set(_LINK.findall(folded))
        masked = _mask(folded, allowed.names)
        # "38 days ago" allows "it has been 38" too: every number of a fact, before its unit.
        allowed.numbers |= {v for _, _, values, _ in _numbers(masked, lexicon) for v in values}
        for q in quantities(masked):
            target = {"percent": allowed.percents, "hours": allowed.hours, "date": allowed.dates}.get(q.kind)
            if target is not None:
                target |= q.values
            if q.kind != "date":
                allowed.numbers |= {v for v in q.values if isinstance(v, float)}
        for sentence in sentences(folded):
            allowed.sentences.add(_squash(sentence))
            if not lexicon.negation.search(sentence):
                allowed.backed |= {kind for kind, pattern in lexicon.commitments.items() if pattern.search(sentence)}
    return allowed


# -- reading a text ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lexicon:
    """Every vocabulary at once: a draft may mix languages, its promises are read in all of them."""

    numbers: dict[str, float]
    scales: dict[str, float]
    connectors: frozenset[str]
    weak: frozenset[str]
    articles: frozenset[str]
    hour_units: dict[str, float]
    relative: re.Pattern[str]
    relative_hours: dict[str, float]
    months: dict[str, int]
    weekdays: dict[str, int]
    unit_after: re.Pattern[str]
    currency_before: re.Pattern[str]
    month_before: re.Pattern[str]
    negation: re.Pattern[str]
    commitments: dict[str, re.Pattern[str]]
    not_names: frozenset[str]
    function_words: frozenset[str]


@cache
def _lexicon() -> Lexicon:
    vocabs = list(vocabularies().values())

    def union(attr: str) -> Any:
        out: Any = {} if isinstance(getattr(vocabs[0], attr), dict) else set()
        for v in vocabs:
            out.update(getattr(v, attr)) if isinstance(out, dict) else out.update(getattr(v, attr))
        return out

    fillers = sorted(union("fillers"), key=len, reverse=True)
    hour_units = union("hour_units")
    percent = [u for v in vocabs for u in v.percent_units]
    currency = [u for v in vocabs for u in v.currencies]
    months = union("months")

    def alt(words: Iterable[str]) -> str:
        return "|".join(_word_rx(w) for w in sorted({fold(w) for w in words}, key=len, reverse=True))

    unit_after = re.compile(
        rf"(?:[\s-]*(?:{alt(fillers)})(?![\w]))*[\s-]*"
        rf"(?:(?P<percent>{alt(percent)})|(?P<hours>{alt(hour_units)})|(?P<currency>{alt(currency)})|"
        rf"(?P<month>{alt(months)}))(?![\w])")
    commitments: dict[str, list[str]] = {}
    for v in vocabs:
        for kind, phrases in v.commitments.items():
            commitments.setdefault(kind, []).extend(phrases)
    return Lexicon(
        numbers=union("numbers"), scales=union("scales"), connectors=frozenset(union("connectors")),
        weak=frozenset(union("weak_numbers")), articles=frozenset(union("articles")), hour_units=hour_units,
        relative=phrase_pattern(list(union("relative_times"))), relative_hours=union("relative_times"),
        months=months, weekdays=union("weekdays"), unit_after=unit_after,
        currency_before=re.compile(rf"(?:{alt(currency)})[\s-]*$"),
        month_before=re.compile(rf"(?<![\w])(?P<month>{alt(months)})\.?\s+$"),
        negation=phrase_pattern([n for v in vocabs for n in v.negations]),
        commitments={k: phrase_pattern(p) for k, p in commitments.items()},
        not_names=frozenset(union("not_names")), function_words=frozenset(union("function_words")),
    )


def _word_rx(word: str) -> str:
    if word.endswith("*"):
        return r"[\s-]+".join(re.escape(w) for w in word[:-1].split()) + r"[\w'-]*"
    body = r"[\s-]+".join(re.escape(w) for w in word.split())
    return body if not word[:1].isalnum() else rf"(?<![^\W\d_]){body}"  # "48h" is a unit, "each" holds no "h"


_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_ISO_DATE = re.compile(r"(?<![\d.,])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d])")
_DMY = re.compile(r"(?<![\d.,])(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?(?![\d]|[.,]\d)")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_RANGE = re.compile(r"\s*(?:-|to|or|and|sau|si|pana la)\s*$")
_LINK = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|ro|net|org|io|eu|biz|info)\b(?:/\S*)?")


def sentences(folded: str) -> list[str]:
    return [s.strip() for s in re.split(r"[.!?;](?=\s|$)|\n", folded) if s.strip()]


def _squash(text: str) -> str:
    return " ".join(re.findall(r"[\w%]+", text))


def _mask(folded: str, names: Iterable[str]) -> str:
    """Blank out the approved names (a product may be called "Cleaner 3000"): their digits are not numbers."""
    for name in sorted({fold(n) for n in names if n}, key=len, reverse=True):
        folded = re.sub(rf"(?<![\w]){re.escape(name)}(?![\w])", lambda m: " " * len(m.group()), folded)
    return folded


def _digit_values(token: str) -> frozenset[float]:
    """Both readings where separators are ambiguous: 1.200 and 1,200 are 1200 (ro, en) or 1.2."""
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", token):
        values = {float(re.sub(r"[.,]", "", token))}
        if token.count(".") + token.count(",") == 1:
            values.add(float(token.replace(",", ".")))
        return frozenset(values)
    if re.fullmatch(r"\d+(?:[.,]\d+)?", token):
        return frozenset({float(token.replace(",", "."))})
    # 1.2.3, 10,5,1: read every group as its own number, all must be allowed.
    return frozenset(float(g) for g in re.split(r"[.,]", token))


def quantities(folded: str) -> list[Quantity]:
    """Every quantity in a folded text: percents, durations (hours), dates, counts and amounts."""
    lex = _lexicon()
    out: list[Quantity] = []
    text = folded

    def blank(m: re.Match[str]) -> None:
        nonlocal text
        text = text[:m.start()] + " " * (m.end() - m.start()) + text[m.end():]

    for m in list(_ISO_DATE.finditer(text)):
        out.append(Quantity("date", frozenset({(int(m[2]), int(m[3]), int(m[1]))}), m.start(), m.end(), m[0]))
        blank(m)
    for m in list(_DMY.finditer(text)):
        day, month = int(m[1]), int(m[2])
        year = int(m[3]) if m[3] else None
        if year is not None and year < 100:
            year += 2000
        if 1 <= month <= 12 and 1 <= day <= 31 and (m[3] or "." in m[0] or "/" in m[0]):
            out.append(Quantity("date", frozenset({(month, day, year)}), m.start(), m.end(), m[0]))
            blank(m)
    for m in lex.relative.finditer(text):
        said = re.sub(r"\s+", " ", m.group())
        hours = lex.relative_hours.get(said, lex.relative_hours.get(said.replace("-", " "), 0.0))
        out.append(Quantity("hours", frozenset({hours}), m.start(), m.end(), m.group()))
    text = lex.relative.sub(lambda m: " " * len(m.group()), text)

    numbers = _numbers(text, lex)
    taken = 0  # the end of the last unit read: "la sută" is a unit, its "sută" no number of its own
    for index, (start, end, values, weak) in enumerate(numbers):
        if start < taken:
            continue
        after = lex.unit_after.match(text, end)
        if after is not None:
            taken = after.end()
        before = text[:start]
        if after is None and index + 1 < len(numbers) and _RANGE.fullmatch(text[end:numbers[index + 1][0]]):
            # "35–45 days", "between 30 and 60 zile": the unit after the range is each end's.
            after = lex.unit_after.match(text, numbers[index + 1][1])
        if after is not None and after.group("month") and not weak:
            month = lex.months[after.group("month").strip()]
            year = re.match(r"\s*,?\s*(\d{4})(?!\d)", text[after.end():])
            taken = after.end() + (year.end() if year else 0)
            out.append(Quantity("date", frozenset((month, int(v), int(year[1]) if year else None) for v in values),
                                start, taken, text[start:taken]))
            continue
        month_before = lex.month_before.search(before)
        if month_before is not None and not weak and all(1 <= v <= 31 and v.is_integer() for v in values):
            month = lex.months[month_before.group("month")]
            out.append(Quantity("date", frozenset((month, int(v), None) for v in values), month_before.start(), end,
                                 text[month_before.start():end]))
            continue
        if after is not None and after.group("percent"):
            out.append(Quantity("percent", values, start, after.end(), text[start:after.end()]))
        elif after is not None and after.group("hours"):
            factor = lex.hour_units[re.sub(r"[\s-]+", " ", after.group("hours").strip())]
            out.append(Quantity("hours", frozenset(round(v * factor, 3) for v in values), start, after.end(),
                                text[start:after.end()]))
        elif weak:
            continue  # "one of", "o comandă nouă": a pronoun or an adjective, not a number
        else:
            currency = after is not None and after.group("currency") or lex.currency_before.search(before)
            out.append(Quantity("number", values, start, end, text[start:end] + (" (amount)" if currency else "")))
    # A weekday or a month alone ("by Friday", "vineri", "until March") is a date too; not the months
    # spelled like other words ("may", "mai" = more) or abbreviated, which are dates only beside a number.
    for m in _WORD.finditer(text):
        word = m.group()
        if len(word) > 4 and word in lex.months and not any(q.start <= m.start() < q.end for q in out):
            out.append(Quantity("date", frozenset({("month", lex.months[word])}), m.start(), m.end(), word))
        if word in lex.weekdays and not any(q.start <= m.start() < q.end for q in out):  # "trei luni": months
            out.append(Quantity("date", frozenset({("weekday", lex.weekdays[word])}), m.start(), m.end(), word))
    return out


def _numbers(text: str, lex: Lexicon) -> list[tuple[int, int, frozenset[float], bool]]:
    """(start, end, values, weak) of every number, in digits or in words, in text order."""
    found: list[tuple[int, int, frozenset[float], bool]] = []
    for m in _DIGITS.finditer(text):
        found.append((m.start(), m.end(), _digit_values(m.group()), False))
    words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"[a-z]+", text)]
    i = 0
    while i < len(words):
        run: list[tuple[int, int, str]] = []
        j = i
        while j < len(words):
            start, end, word = words[j]
            gap = text[run[-1][1]:start] if run else ""
            if run and not re.fullmatch(r"[\s-]*", gap):
                break
            joins = run and word in lex.connectors and j + 1 < len(words) and (
                words[j + 1][2] in lex.numbers or words[j + 1][2] in lex.scales)
            if word in lex.numbers or word in lex.scales or joins:
                run.append(words[j])
            elif not run and word in lex.articles and j + 1 < len(words) and words[j + 1][2] in lex.scales:
                run.append((start, end, "__one__"))
            else:
                break
            j += 1
        if run:
            value = _word_value([w for _, _, w in run], lex)
            weak = len(run) == 1 and run[0][2] in lex.weak
            found.append((run[0][0], run[-1][1], frozenset({value}), weak))
            i = j
            continue
        start, end, word = words[i]
        after = lex.unit_after.match(text, end)
        if word in lex.articles and after is not None and after.group("hours"):
            found.append((start, end, frozenset({1.0}), False))  # "a day", "o lună", "un an"
        i += 1
    return sorted(found, key=lambda f: f[0])


def _word_value(words: list[str], lex: Lexicon) -> float:
    total = current = 0.0
    for word in words:
        if word == "__one__":
            current += 1
        elif word in lex.numbers:
            current += lex.numbers[word]
        elif word in lex.scales:
            current = max(current, 1) * lex.scales[word]
            if lex.scales[word] >= 1000:
                total, current = total + current, 0.0
    return total + current


# -- the check ------------------------------------------------------------------------------------


def _hits(text: str) -> tuple[int, dict[str, int], int]:
    words = _WORD.findall(fold(text))
    hits = {code: sum(w in v.function_words for w in words) for code, v in vocabularies().items()}
    return len(words), hits, sum(w in foreign_words() for w in words)


def language_of(text: str) -> str | None:
    """The vocabulary language a text reads as, or None (too few of its words known, or another language's)."""
    count, hits, foreign = _hits(text)
    best = max(hits, key=lambda code: hits[code])
    if hits[best] < max(3, 0.2 * count) or foreign >= hits[best]:
        return None
    return best


def _reads_as_other(field: str, language: str) -> bool:
    """A field (maybe too short to say what it is) that reads more like another language than `language`."""
    _, hits, foreign = _hits(field)
    own = hits.get(language, 0)
    return foreign > own or any(n > own for code, n in hits.items() if code != language)


_SENTENCE_START = re.compile(r"(?:^|[.!?:\n]|\n\n)[\s\"'(«„“]*$")
_NAME = re.compile(r"[^\W\d_][\w'’-]*|\w*\d\w*")


def _unknown_names(text: str, allowed: Allowed) -> list[str]:
    lex = _lexicon()
    masked = text
    for name in sorted(allowed.names, key=len, reverse=True):
        masked = re.sub(re.escape(name), lambda m: " " * len(m.group()), masked, flags=re.I)
    tokens = list(_NAME.finditer(masked))
    unknown = []
    for k, m in enumerate(tokens):
        token = m.group()
        if not token[0].isupper() or token.isdigit():
            continue
        folded = fold(token).strip("'-")
        if folded in allowed.words or folded in lex.not_names or folded in lex.months or folded in lex.weekdays:
            continue
        initial = bool(_SENTENCE_START.search(masked[:m.start()]))
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        followed = nxt is not None and nxt.group()[0].isupper() and masked[m.end():nxt.start()].strip() == ""
        if initial and not followed:
            continue  # a capital that opens a sentence, not a name
        if initial and folded in lex.function_words:
            continue
        unknown.append(token)
    return unknown


def check_text(fields: Sequence[str], allowed: Allowed, language: str | None = None) -> list[Finding]:
    """Everything in a draft's fields the approved facts do not allow, as findings (none: it may go out)."""
    findings: list[Finding] = []
    lex = _lexicon()
    text = "\n".join(fields)
    spoken = language_of(text)
    if spoken is None:
        findings.append(Finding("language", "written in a language no template set speaks"))
    elif language is not None and spoken != language:
        findings.append(Finding("language", f"written in {spoken}, the card's templates are in {language}"))
    elif any(_reads_as_other(f, spoken) for f in fields):  # no French script behind an English email
        findings.append(Finding("language", f"a field is not in {spoken}, the draft's language"))
    if language is not None and language not in vocabularies():
        findings.append(Finding("language", f"no vocabulary for the template language {language!r}"))
    folded = fold(text)
    for link in _LINK.findall(folded):
        if link not in allowed.links:
            findings.append(Finding("link", f"links to {link}, which no fact does"))
    masked = _mask(folded, allowed.names)
    for q in quantities(masked):
        known = {"percent": allowed.percents, "hours": allowed.hours, "date": allowed.dates}.get(q.kind, allowed.numbers)
        if not q.values & known:
            findings.append(Finding("number", f"says {q.text.strip()!r} ({q.kind}), which no approved fact says"))
    for name in dict.fromkeys(_unknown_names(text, allowed)):
        findings.append(Finding("name", f"names {name!r}, which no approved fact names"))
    for sentence in sentences(masked):
        if _squash(sentence) in allowed.sentences:
            continue  # an approved fact, quoted as it is
        for kind, pattern in lex.commitments.items():
            match = pattern.search(sentence)
            if match is not None and kind not in allowed.backed:
                findings.append(Finding("commitment", f"commits to {kind} ({match.group()!r}), which no approved "
                                                      "fact offers"))
        if lex.commitments["discount"].search(sentence):
            above = [v for q in quantities(sentence) if q.kind in ("percent", "number")
                     for v in q.values if isinstance(v, float) and v > allowed.ceiling]
            if above:
                findings.append(Finding("discount_above_ceiling",
                                        f"a discount of {max(above):g}, above the {allowed.ceiling:g}% ceiling"))
    return list(dict.fromkeys(findings))
