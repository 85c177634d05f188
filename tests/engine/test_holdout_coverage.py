"""A small version of bench/holdout_coverage.py: the real assignment, outcome readers and interval, on a
simulated company with a known effect and a null, cover the truth about 95 % of the time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "holdout_coverage.py"


def _bench():
    spec = importlib.util.spec_from_file_location("holdout_coverage", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_intervals_cover_the_true_lift_and_the_null_about_95_percent_of_the_time():
    bench = _bench()
    result = bench.coverage(seeds=40, accounts=1500, first_seed=1000)
    assert result["seeds"] == 40
    # 40 seeds: a 95 % coverage gives ≥ 34 of 40 with probability > 0.99; a broken interval (or a biased
    # assignment) falls far below.
    assert result["effect"] >= 34 / 40 and result["null"] >= 34 / 40
    one = bench.simulate(7, 1500)["call_for_replenishment"]
    assert one.enough and 0 < one.low < bench.EFFECT < one.high  # the effect is found, not just covered
