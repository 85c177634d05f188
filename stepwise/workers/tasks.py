"""Celery tasks: thin wrappers over the one pipeline (workers/pipeline.py)."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from stepwise.engine.catalog import load_catalog
from stepwise.integration.base import connector_for
from stepwise.integration.store import Store
from stepwise.settings import get_settings
from stepwise.workers.celery_app import app
from stepwise.workers.pipeline import narrator_from, run_pipeline

log = logging.getLogger(__name__)


@app.task(name="stepwise.score_source")
def score_source(source: str, as_of: str | None = None, full: bool = False) -> dict:
    """Pull `source`, score it as of the day, store and write back; safe to run twice (idempotent upserts)."""
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        result = run_pipeline(connector_for(source), load_catalog(settings.catalog, settings.rules),
                              as_of or date.today().isoformat(), store=store, narrator=narrator_from(settings))
        return {"run_id": result.run_id, "recommendations": len(result.recommendations)}
    finally:
        store.close()


@app.task(name="stepwise.expire_stale")
def expire_stale(as_of: str | None = None) -> dict:
    """Expire what no run refreshed for two days (a source whose sync keeps failing must not show old advice)."""
    settings = get_settings()
    cutoff = (date.fromisoformat(as_of) if as_of else date.today()) - timedelta(days=1)
    store = Store(settings.database_url)
    try:
        return {source: store.expire_stale(source.partition(":")[0], cutoff.isoformat(), set())
                for source in settings.sync_sources}
    finally:
        store.close()


@app.task(name="stepwise.retrain")
def retrain(source: str, as_of: str | None = None) -> dict:
    """Monthly retraining of the learning models on what closed before the day."""
    from stepwise.workers import learning

    return {"model_version": learning.retrain(source, as_of or date.today().isoformat())}
