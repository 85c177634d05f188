"""The column-wise explain path gives exactly the texts and values of the one-record-at-a-time path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stepwise.engine.explain import _round1
from stepwise.engine.recommendation import _json_copy
from stepwise.engine.templates import Facts, compile_template, format_column, render, render_column

VALUES = [0.0, -0.0, 1.0, 2.5, 0.15, 2.675, 999.94, 999.96, 1000.0, -1234.5, 1e20, float("nan"), float("inf"),
          3, 0, -7, 2, True, False, None, pd.NA, pd.NaT, "", " text ", "a_b", pd.Timestamp("2026-11-23"), np.float64(1.5)]
TEMPLATES = ["", "plain, no field", "{x}", "  {x} and {x:times} ", "{x!r}|{x!s}", "{{literal}} {x}", "{x:>8}",
             "{0}", "{x.real}", "{x[0]}", "{}"]


def _outcome(fill):
    try:
        return fill()
    except Exception as exc:  # the same error either way is the same behaviour
        return type(exc).__name__


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_column_fills_like_render(template):
    compiled = compile_template(template)
    for value in VALUES:
        expected = _outcome(lambda v=value: render(template, {"x": v}))
        if compiled.fmt is None:  # left to render itself, record by record
            continue
        got = _outcome(lambda v=value: render_column(compiled, [format_column([v], conv, spec) for _, conv, spec in compiled.keys], 1)[0])
        assert got == expected, (template, value)


def test_facts_win_in_order_and_missing_reads_unknown():
    assert render("{a} {b} {c}", Facts({"a": 1}, {"a": 2, "b": 2.5})) == "1 2.5 unknown"


def test_round1_is_pythons_round():
    rng = np.random.default_rng(7)
    values = [*rng.uniform(-2000, 2000, 50_000).tolist(), *(k / 20 for k in range(-2000, 2000)), 0.0, -0.0, 1e-20, -1e-20,
              float("nan"), float("inf"), 2.0**60, 7, np.int64(3)]
    got, expected = _round1(values), [round(float(v), 1) for v in values]
    assert [repr(v) for v in got] == [repr(v) for v in expected]
    assert all(type(v) is float for v in got)


@pytest.mark.parametrize("offer", [
    {"max_discount_pct": 5.0, "products": [{"product_id": "P1", "name": "A", "margin_pct": None}], "bundle": "A + B"},
    {"a": (1, 2), "b": [float("nan"), -0.0, True]},
    {"a": np.float64(1.5), "b": np.int64(3), "c": pd.Timestamp("2026-01-01")},
    {1: "int key"},
])
def test_offer_copy_is_the_json_round_trip(offer):
    expected = json.loads(json.dumps(offer, default=str))
    got = _json_copy(offer)
    assert json.dumps(got) == json.dumps(expected) and repr(got) == repr(expected)
