"""Log lines: JSON off a terminal, with the run id of the work they belong to."""

from __future__ import annotations

import io
import json
import logging

from stepwise.logs import JsonFormatter, TextFormatter, _ContextFilter, run_scope


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test-{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_json_lines_carry_the_run_and_chunk():
    logger, out = capture(JsonFormatter())
    with run_scope(run_id="r-123", source="files"), run_scope(chunk_id="c-7"):
        logger.warning("deals.csv: row D2 skipped: amount 'lots' is not a number")
    logger.info("outside")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["run_id"] == "r-123" and first["chunk_id"] == "c-7" and first["level"] == "warning"
    assert first["message"].startswith("deals.csv: row D2 skipped")
    assert "run_id" not in second


def test_text_lines_are_short_and_prefixed():
    logger, out = capture(TextFormatter())
    with run_scope(run_id="0123456789abcdef"):
        logger.info("scored")
    assert out.getvalue().strip() == f"INFO {logger.name}: [01234567] scored"
