"""The words the draft allowlist (engine/allowlist.py) knows, one file per language in engine/defaults.

A language has a vocabulary file (vocabulary.<language>.yaml) for every shipped template set: English
for the catalog, Romanian for templates.ro.yaml.  Text is compared folded (`fold`): lower case, without
diacritics, so "reducere" and "reducére", "ş" and "ș" read the same.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

_DASHES = str.maketrans({"–": "-", "—": "-", "‒": "-", "−": "-", "’": "'", "‘": "'", "´": "'", "`": "'",
                         "ş": "ș", "ţ": "ț", "Ş": "Ș", "Ţ": "Ț", "\u00a0": " ", "\u202f": " "})


def fold(text: str) -> str:
    """Lower case, no diacritics, plain dashes and quotes; same length per character kept where it can be."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).lower()
    stripped = unicodedata.normalize("NFKD", text)
    return "".join(c for c in stripped if not unicodedata.combining(c))


def phrase_pattern(phrases: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word alternatives over folded text; `word*` matches any ending, spaces match spaces or dashes."""
    parts = []
    for phrase in sorted({fold(p) for p in phrases}, key=len, reverse=True):
        star = phrase.endswith("*")
        words = [re.escape(w) for w in phrase.rstrip("*").split()]
        body = r"[\s-]+".join(words) + (r"[\w'-]*" if star else "")
        parts.append(body)
    return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])" if parts else r"(?!x)x")


@dataclass(frozen=True)
class Vocabulary:
    language: str
    function_words: frozenset[str]
    negations: tuple[str, ...]
    numbers: dict[str, float]
    scales: dict[str, float]
    connectors: frozenset[str]
    weak_numbers: frozenset[str]
    articles: frozenset[str]
    fillers: frozenset[str]
    percent_units: tuple[str, ...]
    hour_units: dict[str, float]
    currencies: tuple[str, ...]
    relative_times: dict[str, float]
    months: dict[str, int]
    weekdays: dict[str, int]
    commitments: dict[str, tuple[str, ...]]
    not_names: frozenset[str]
    instructions: tuple[str, ...]


def _words(values: Any) -> frozenset[str]:
    return frozenset(fold(str(v)) for v in values or ())


def _vocabulary(raw: dict[str, Any]) -> Vocabulary:
    units = raw.get("units") or {}
    return Vocabulary(
        language=raw["language"], function_words=_words(raw.get("function_words")),
        negations=tuple(fold(str(v)) for v in raw.get("negations") or ()),
        numbers={fold(k): float(v) for k, v in (raw.get("numbers") or {}).items()},
        scales={fold(k): float(v) for k, v in (raw.get("scales") or {}).items()},
        connectors=_words(raw.get("connectors")), weak_numbers=_words(raw.get("weak_numbers")),
        articles=_words(raw.get("articles")), fillers=_words(raw.get("fillers")),
        percent_units=tuple(str(u) for u in units.get("percent") or ()),
        hour_units={fold(k): float(v) for k, v in (units.get("hours") or {}).items()},
        currencies=tuple(str(u) for u in units.get("currency") or ()),
        relative_times={fold(k): float(v) for k, v in (raw.get("relative_times") or {}).items()},
        months={fold(k): int(v) for k, v in (raw.get("months") or {}).items()},
        weekdays={fold(k): int(v) for k, v in (raw.get("weekdays") or {}).items()},
        commitments={k: tuple(str(p) for p in v) for k, v in (raw.get("commitments") or {}).items()},
        not_names=_words(raw.get("not_names")),
        instructions=tuple(str(p) for p in raw.get("instructions") or ()),
    )


@cache
def vocabularies() -> dict[str, Vocabulary]:
    """Every language the allowlist speaks, by code."""
    out = {}
    for entry in sorted(resources.files("stepwise.engine").joinpath("defaults").iterdir(), key=lambda e: e.name):
        name = entry.name
        if name.startswith("vocabulary.") and name.endswith(".yaml"):
            vocab = _vocabulary(yaml.safe_load(entry.read_text(encoding="utf-8")))
            out[vocab.language] = vocab
    return out


@cache
def foreign_words() -> frozenset[str]:
    """Common words of languages without a template set: a draft reading like them is refused."""
    raw = yaml.safe_load(resources.files("stepwise.engine").joinpath("defaults", "foreign_words.yaml")
                         .read_text(encoding="utf-8"))
    return _words(raw.get("words"))
