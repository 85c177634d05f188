"""Benchmarks never run in the suite, but a smoke-size run does, so the scripts cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_engine_benchmark_runs_at_smoke_size():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "engine_throughput.py"), "--accounts", "20", "40",
                          "--repeat", "1"], capture_output=True, text=True, timeout=300, check=True)
    lines = run.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["deals", "open"]
    assert len(lines) == 4 and lines[-1].startswith("growth: engine time ratio")


def test_vectorisation_benchmark_runs_at_smoke_size():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "vectorisation.py"), "--accounts", "30", "--repeat", "1"],
                         capture_output=True, text=True, timeout=300, check=True)
    header, row = run.stdout.strip().splitlines()
    assert header.split()[:2] == ["open", "deals"] and row.endswith("×")
