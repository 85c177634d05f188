"""Task metrics for Prometheus, served by each worker when STEPWISE_WORKER_METRICS_PORT is set.

Counted from Celery's signals, so every task is covered without touching it: tasks by name and
outcome (succeeded, failed, retried), their durations, and the records the chunks scored.  The LLM
writer (workers/narrate.py) counts its drafts here too: used, cached, rejected by reason, over budget.  A
prefork worker's pool processes write to PROMETHEUS_MULTIPROC_DIR (`stepwise worker` sets one
up) and the worker's main process serves their sum; a solo worker serves its own registry.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

from celery import signals
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

log = logging.getLogger(__name__)

TASKS = Counter("stepwise_tasks", "Celery tasks by name and outcome", ["task", "outcome"])
SECONDS = Histogram("stepwise_task_seconds", "Celery task duration", ["task"],
                    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200))
DRAFTS = Counter("stepwise_llm_drafts", "LLM writer outcomes; rejections by the allowlist's reason code",
                 ["outcome", "reason"])
_started: dict[str, float] = {}


def count_drafts(stats: Mapping[str, int]) -> None:
    """Add a narrate pass's outcomes (Narrator.stats keys: "used", "rejected:<code>", …)."""
    for key, n in stats.items():
        if n <= 0 or key in ("rejected", "notes_dropped", "calls"):
            continue  # "rejected" is the sum of its reasons; the other two are not drafts
        outcome, _, reason = key.partition(":")
        DRAFTS.labels(outcome, reason).inc(n)


@signals.task_prerun.connect
def _prerun(task_id=None, **_):
    _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _postrun(task_id=None, task=None, state=None, **_):
    began = _started.pop(task_id, None)
    if task is None:
        return
    if began is not None:
        SECONDS.labels(task.name).observe(time.perf_counter() - began)
    # A retry is counted by its own signal; FAILURE by task_failure (also fired for eager runs).
    if state == "SUCCESS":
        TASKS.labels(task.name, "succeeded").inc()


@signals.task_failure.connect
def _failure(sender=None, **_):
    TASKS.labels(getattr(sender, "name", "unknown"), "failed").inc()


@signals.task_retry.connect
def _retry(sender=None, **_):
    TASKS.labels(getattr(sender, "name", "unknown"), "retried").inc()


@signals.worker_init.connect
def _serve(**_):
    port = os.environ.get("STEPWISE_WORKER_METRICS_PORT")
    if not port:
        return
    registry = None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    host = os.environ.get("STEPWISE_WORKER_METRICS_HOST", "127.0.0.1")
    if registry is None:
        start_http_server(int(port), addr=host)
    else:
        start_http_server(int(port), addr=host, registry=registry)
    log.info("worker metrics on http://%s:%s/metrics", host, port)
