"""The periodic jobs, in one table (like a crontab), built from settings."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from stepwise.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Incremental sync of each configured source, the daily full re-score, monthly retraining, expiry."""
    jobs: dict[str, dict[str, Any]] = {}
    for source in settings.sync_sources:
        jobs[f"sync {source}"] = {
            "task": "stepwise.score_source",
            "schedule": crontab(minute=f"*/{settings.sync_interval_minutes}")
            if settings.sync_interval_minutes < 60 else settings.sync_interval_minutes * 60.0,
            "args": [source],
        }
        jobs[f"daily re-score {source}"] = {
            "task": "stepwise.score_source",
            "schedule": crontab(minute=0, hour=settings.rescore_hour),
            "args": [source],
            "kwargs": {"full": True},
        }
        jobs[f"monthly retraining {source}"] = {
            "task": "stepwise.retrain",
            "schedule": crontab(minute=30, hour=settings.rescore_hour, day_of_month=1),
            "args": [source],
        }
    jobs["expire stale recommendations"] = {
        "task": "stepwise.expire_stale",
        "schedule": crontab(minute=15, hour=settings.rescore_hour),
    }
    return jobs
