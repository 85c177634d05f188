"""The CRM API-call benchmark at smoke size: it runs, prints its table, and every sync stays within 1.05× the minimum."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_crm_calls_benchmark_runs_at_smoke_size():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "crm_calls.py"), "--sizes", "300"],
                         capture_output=True, text=True, timeout=300, check=True, cwd=ROOT)
    lines = run.stdout.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["crm", "size", "phase"])
    assert lines[header].split()[3:7] == ["calls", "minimum", "ratio", "seconds"]
    rows = [line.split() for line in lines[header + 1:-1] if line.split()[1:2] == ["300"] and not line.split()[2].endswith(":")]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("salesforce", "300", "first"), ("salesforce", "300", "incr"), ("salesforce", "300", "same-day"),
        ("salesforce", "300", "next-day"),
        ("hubspot", "300", "first"), ("hubspot", "300", "incr-echo"), ("hubspot", "300", "incr"),
        ("hubspot", "300", "same-day"), ("hubspot", "300", "next-day")]
    assert "salesforce 300 opportunities: 300 Stepwise_Recommendation__c records" in run.stdout
    for crm, _size, phase, calls, minimum, ratio, *_ in rows:
        assert int(calls) >= int(minimum) > 0, (crm, phase, calls, minimum)
        assert float(ratio) <= 1.05, (crm, phase, ratio)
    assert lines[-1].startswith("worst ratio") and lines[-1].endswith("met")
