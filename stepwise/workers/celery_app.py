"""The Celery app: Redis broker when STEPWISE_REDIS_URL is set, in-process (eager) otherwise.

Reliability defaults, because a crashed worker must not lose a batch: a task
is acknowledged only after it finished (acks_late), a worker whose process is
killed mid-task gives the task back (reject_on_worker_lost), an unacknowledged
task of a worker that vanished entirely comes back after the visibility
timeout, and each worker takes one task at a time (prefetch 1) so a slow
chunk never holds others hostage.  Every write is an upsert by a stable id,
so a redelivered task writes each recommendation once.
"""

from __future__ import annotations

from celery import Celery

from stepwise.settings import Settings, get_settings
from stepwise.workers.schedule import beat_schedule


def make_celery(redis_url: str | None = None, settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    url = redis_url if redis_url is not None else settings.redis_url
    app = Celery("stepwise", include=["stepwise.workers.tasks", "stepwise.workers.metrics"])
    app.conf.update(
        broker_url=url or "memory://",
        result_backend=url or "cache+memory://",
        task_always_eager=url is None,
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_seconds},
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        task_soft_time_limit=15 * 60,
        task_time_limit=20 * 60,
        broker_connection_retry_on_startup=True,
        # A chunk that settles a run's last chunk must be able to send the finish even while Redis
        # restarts: keep retrying the publish for about a minute instead of Celery's ~1 s default.
        task_publish_retry_policy={"max_retries": 30, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 3},
        timezone=settings.timezone,
        beat_schedule=beat_schedule(settings),
    )
    return app


app = make_celery()
