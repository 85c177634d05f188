"""The commands a new user types first: demo, sample-data, score, check-catalog, settings errors."""

from __future__ import annotations

import os
import subprocess
import sys


def stepwise(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stepwise.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


def test_demo_runs_the_pipeline_and_shows_cards(tmp_path):
    db = tmp_path / "demo.db"
    run = stepwise("demo", "--dir", str(tmp_path / "sample"), "--accounts", "40", "--as-of", "2026-11-23",
                   cwd=tmp_path, env={"STEPWISE_DATABASE_URL": f"sqlite:///{db}"})
    assert run.returncode == 0, run.stderr
    assert "NEXT BEST ACTION" in run.stdout and "Score " in run.stdout and "Why" in run.stdout
    assert "stepwise serve" in run.stdout and str(db) in run.stdout
    assert (tmp_path / "sample" / "deals.csv").exists() and db.exists()
    status = stepwise("status", "--json", env={"STEPWISE_DATABASE_URL": f"sqlite:///{db}"})
    assert '"status": "succeeded"' in status.stdout


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path):
    run = stepwise("status", env={"STEPWISE_DATABASE_URL": "mysql://nope"})
    assert run.returncode == 2
    assert run.stderr.strip() == "error: STEPWISE_DATABASE_URL: Value error, must be a sqlite:/// or postgresql:// URL"


def test_a_bad_date_and_a_bad_catalog_are_clear(tmp_path):
    run = stepwise("score", "--source", f"files:{tmp_path}", "--as-of", "23/11/2026")
    assert run.returncode == 2 and "'23/11/2026' is not a date (YYYY-MM-DD)" in run.stderr
    bad = tmp_path / "catalog.yaml"
    bad.write_text("actions:\n  - id: x\n    category: engagement\n    title: t\n    trigger: nope > 1\n    why: []\n    how: []\n")
    run = stepwise("check-catalog", str(bad))
    assert run.returncode == 2 and "action x: 'nope > 1': unknown signal 'nope'" in run.stderr
    assert "Traceback" not in run.stderr


def test_every_command_has_help():
    for command in ("demo", "sample-data", "score", "serve", "status", "check-catalog", "signals", "worker", "beat"):
        run = stepwise(command, "--help")
        assert run.returncode == 0 and "Usage:" in run.stdout, command


def test_the_json_writer_writes_exactly_what_json_dump_writes():
    import io
    import json

    from stepwise.cli.core import _write_json_array

    for items in ([], [{"a": 1}], [{"a": i, "é": "ü"} for i in range(5)], [{"a": i} for i in range(6)]):
        ours, reference = io.StringIO(), io.StringIO()
        _write_json_array(iter(items), ours, batch=3)
        json.dump(items, reference, ensure_ascii=False, default=str)
        assert ours.getvalue() == reference.getvalue() + "\n"
