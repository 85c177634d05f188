"""The state every table of the sample company draws on, and the helpers that turn arrays into CSV text."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stepwise.engine.records import TABLES
from stepwise.sample.vocabulary import FIRST, KINDS, LAST, LEGAL, REGIONS, STEMS, TLD


@dataclass
class World:
    """Shared state: the as-of clock and the arrays later tables draw on."""

    rng: np.random.Generator
    now: int  # as-of day at 00:00 UTC, epoch seconds; every event is before it
    today: int  # the as-of day, days since epoch
    n: int
    year: int
    acc: dict[str, np.ndarray] = field(default_factory=dict)
    prod: dict[str, np.ndarray] = field(default_factory=dict)
    con: dict[str, np.ndarray] = field(default_factory=dict)
    deal: dict[str, np.ndarray] = field(default_factory=dict)
    lead: dict[str, np.ndarray] = field(default_factory=dict)
    inv: dict[str, np.ndarray] = field(default_factory=dict)
    # A second stream for what makes deal outcomes predictable (deal health and its traces), so adding
    # it left every other table's draws where they were.
    signal: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    # A third for the catalogue's long tail (its prices, margins, stock), drawn after the named products.
    tail: np.random.Generator = field(default_factory=lambda: np.random.default_rng(1))


# ---------------------------------------------------------------- formatting

def obj(values: np.ndarray | list | tuple) -> np.ndarray:
    return np.asarray(values, dtype=object)


def make_ids(prefix: str, count: int, width: int) -> np.ndarray:
    digits = np.char.zfill(np.arange(1, count + 1).astype(str), width)
    return np.char.add(prefix, digits).astype(object)


def ref(ids: np.ndarray, index: np.ndarray) -> np.ndarray:
    """ids[index], with -1 meaning 'none' (an empty CSV cell)."""
    if len(ids) == 0:
        return np.full(len(index), "", dtype=object)
    return np.where(index >= 0, ids[np.maximum(index, 0)], "").astype(object)


def times(seconds: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(np.asarray(seconds, dtype="int64").astype("datetime64[s]"), unit="s",
                                 timezone="UTC")
    return text.astype(object)


def dates(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(days, dtype="int64").astype("datetime64[D]")).astype(object)


def num(values: np.ndarray, decimals: int = 2) -> np.ndarray:
    return np.char.mod(f"%.{decimals}f", np.asarray(values, dtype=float)).astype(object)


def bool_text(values: np.ndarray) -> np.ndarray:
    return np.where(values, "true", "false").astype(object)


def blank_where(text: np.ndarray, missing: np.ndarray) -> np.ndarray:
    out = text.copy()
    out[missing] = ""
    return out


def text_frame(name: str, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    names = TABLES[name].names
    assert set(columns) == set(names), (name, set(columns) ^ set(names))
    return pd.DataFrame({c: columns[c] for c in names})


def within(counts: np.ndarray) -> np.ndarray:
    """Position of each repeated row inside its group (0, 1, 2, 0, 1, ...)."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(starts, counts)


def pick_share(rng: np.random.Generator, candidates: np.ndarray, share: float, size: int) -> np.ndarray:
    """A boolean mask choosing round(share * len) of candidates, at least one when any exist.

    Situations the tests and demos rely on must exist even at tiny scales, so
    they are sampled by count rather than by independent coin flips.
    """
    mask = np.zeros(size, dtype=bool)
    if len(candidates):
        k = min(len(candidates), max(1, round(share * len(candidates))))
        mask[rng.choice(candidates, k, replace=False)] = True
    return mask


def split_templates(texts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split 'a {slot} b' into ('a ', 'slot', ' b') so rows can be filled by array concatenation."""
    pre, slot, post = [], [], []
    for text in texts:
        head, brace, rest = text.partition("{")
        name, _, tail = rest.partition("}")
        assert "{" not in tail, f"one slot per template: {text}"
        pre.append(head)
        slot.append(name if brace else "")
        post.append(tail if brace else "")
    return obj(pre), np.asarray(slot), obj(post)


def company_names(rng: np.random.Generator, industry: np.ndarray, country: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(industry)
    stem = obj(STEMS)[rng.integers(0, len(STEMS), n)]
    kind = obj([k for row in KINDS for k in row])[industry * 4 + rng.integers(0, 4, n)]
    base = stem + " " + kind
    # Repeat names get a region so a 20,000-account book still reads as distinct companies.
    repeat = pd.Series(base).groupby(base, sort=False).cumcount().to_numpy()
    region = np.where(repeat > 0, obj(REGIONS)[(repeat - 1) % len(REGIONS)], "").astype(object)
    spaced = np.where(repeat > 0, " " + region, "").astype(object)
    name = base + spaced + " " + obj(LEGAL)[country]
    slug = pd.Series(base + spaced).str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).to_numpy(dtype=object)
    domain = slug + "." + obj(TLD)[country]
    return name, domain


def people(rng: np.random.Generator, n: int, domain: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    first_i = rng.integers(0, len(FIRST), n)
    last_i = rng.integers(0, len(LAST), n)
    first, last = obj(FIRST)[first_i], obj(LAST)[last_i]
    handle = obj([f.lower() for f in FIRST])[first_i] + "." + obj([x.lower().replace(" ", "") for x in LAST])[last_i]
    return first + " " + last, first, handle + "@" + domain
