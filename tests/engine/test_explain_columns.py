"""The column-wise explain path gives exactly the texts and values of the one-record-at-a-time path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stepwise.engine.explain import _round1, _Rows, _Signals, _Texts
from stepwise.engine.recommendation import _json_copy
from stepwise.engine.templates import Facts, compile_template, format_column, render, render_column

VALUES = [0.0, -0.0, 1.0, 2.5, 0.15, 2.675, 999.94, 999.96, 1000.0, -1234.5, 1e20, float("nan"), float("inf"),
          3, 0, -7, 2, True, False, None, pd.NA, pd.NaT, "", " text ", "a_b", pd.Timestamp("2026-11-23"), np.float64(1.5)]
TEMPLATES = ["", "plain, no field", "{x}", "  {x} and {x:times} ", "{x!r}|{x!s}", "{{literal}} {x}", "{x:>8}",
             "{0}", "{x.real}", "{x[0]}", "{}"]


# What the column-wise path leaves to `render`, record by record: attribute or index lookups, positional fields.
ONE_BY_ONE = {"{0}", "{x.real}", "{x[0]}", "{}"}


def _outcome(fill):
    try:
        return fill()
    except Exception as exc:  # the same error either way is the same behaviour
        return type(exc).__name__


def _signal_frame(value) -> pd.DataFrame:
    return pd.DataFrame({"x": [value]}, index=["r1"], dtype=object)


def _filled_by_explain(template, value):
    """The text explain writes for one record whose signal `x` holds `value` (whichever path it takes)."""
    signals = _Signals(_signal_frame(value), frozenset({"x"}))
    return _Texts(_Rows(signals, ["r1"]), [{}], 1).fill(template)[0]


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_column_fills_like_render(template):
    compiled = compile_template(template)
    assert (compiled.fmt is None) == (template in ONE_BY_ONE), "which templates take the column-wise path"
    for value in VALUES:
        if compiled.fmt is not None:
            expected = _outcome(lambda v=value: render(template, {"x": v}))
            got = _outcome(lambda v=value: render_column(compiled, [format_column([v], conv, spec) for _, conv, spec in compiled.keys], 1)[0])
            assert got == expected, (template, value)
        # explain reads a record's signals as DataFrame.to_dict gives them (native Python scalars)
        record = _signal_frame(value).to_dict("records")[0]
        expected = _outcome(lambda r=record: render(template, r))
        assert _outcome(lambda v=value: _filled_by_explain(template, v)) == expected, (template, value)


@pytest.mark.parametrize(("template", "value", "expected"), [
    ("{x.real}", 2.5, "2.5"),
    ("{x.real}", 7, "7"),
    ("{x[0]}", "a_b", "a"),
    ("{x[0]}", None, "u"),  # an unknown value reads "unknown" before the lookup
    ("{x.real}", "text", "AttributeError"),
    ("{x[0]}", 2.5, "TypeError"),
    ("{0}", 1, "ValueError"),  # positional fields have no record value to take
    ("{}", 1, "ValueError"),
])
def test_templates_left_to_render_give_its_text_or_its_error(template, value, expected):
    assert _outcome(lambda: _filled_by_explain(template, value)) == expected


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
