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


def test_worker_benchmark_runs_at_smoke_size():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "workers.py"), "--deals", "300", "--workers", "1", "2",
                          "--chunk-size", "100", "--sqlite"], capture_output=True, text=True, timeout=300, check=True)
    lines = run.stdout.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["workers", "pull"])
    rows = [line.split() for line in lines[header + 1:header + 3]]
    assert [r[0] for r in rows] == ["1", "2"]
    assert all(float(r[-1]) <= 1.05 for r in rows), "API calls within 5 % of the minimum"
    assert rows[1][9] == "2", "both processes scored chunks"


def test_training_benchmark_runs_at_smoke_size():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "training.py"), "--accounts", "60", "--no-full"],
                         capture_output=True, text=True, timeout=300, check=True)
    out = run.stdout
    for step in ("read the CSV folder", "reorder model fit", "product model fit", "win model fit",
                 "quick schedule, all models", "peak RSS"):
        assert step in out, step


def test_cdnow_benchmark_writes_the_real_history_in_the_csv_contract(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "cdnow.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300, check=True)
    assert "accounts: 23,570 rows" in run.stdout
    orders = (tmp_path / "orders.csv").read_text().splitlines()
    assert orders[0] == "order_id,account_id,ordered_at,total,status" and len(orders) == 67_592
