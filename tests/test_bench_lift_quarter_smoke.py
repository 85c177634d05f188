"""bench/lift_quarter.py (the lift screenshot's simulated quarter) at smoke size, so the script cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_lift_quarter_runs_at_smoke_size_and_reports_the_lift(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "lift_quarter.py"), "--accounts", "40", "--weeks", "3",
                          "--json", "--store", f"sqlite:///{tmp_path / 'q.db'}"],
                         capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(run.stdout)
    assert [r["day"] for r in out["runs"]] == ["2026-09-07", "2026-09-14", "2026-09-21"]
    assert out["runs"][0]["new_units"] > 0 and sum(out["events_drawn"].values()) > 0
    # Three weeks: day 1's 14-day units are over, so some family is counted; none with a 30-day window yet.
    counted = {(r["family"], r["outcome"]) for r in out["lift"]["families"]}
    assert counted and all(outcome in ("order", "stage_advance") for _, outcome in counted)
    assert out["lift"]["overall"]["n_shown"] > 0
