"""Logging: readable lines on a terminal, JSON lines elsewhere (workers, CI, log shippers).

Every line carries the run id (and chunk id) of the work it belongs to, set by
the pipeline through a context variable, so an on-call engineer can follow one
run across workers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from contextlib import contextmanager
from datetime import UTC, datetime

run_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("stepwise_run", default=None)


@contextmanager
def run_scope(**fields: str):
    """Attach fields (run_id, chunk_id, source) to every log line inside the block."""
    token = run_context.set({**(run_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        run_context.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context = run_context.get() or {}
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "context", {}),
        }
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = getattr(record, "context", {})
        prefix = f"[{context['run_id'][:8]}] " if "run_id" in context else ""
        return f"{record.levelname} {record.name}: {prefix}{record.getMessage()}"


def configure(level: str, json_lines: bool | None = None) -> None:
    """JSON when stderr is not a terminal, unless told otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    use_json = (not sys.stderr.isatty()) if json_lines is None else json_lines
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
