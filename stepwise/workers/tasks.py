"""Celery tasks: thin wrappers over the one pipeline (workers/pipeline.py)."""

from __future__ import annotations

from datetime import date

from stepwise.engine.catalog import load_catalog
from stepwise.integration.base import connector_for
from stepwise.integration.store import Store
from stepwise.settings import get_settings
from stepwise.workers.celery_app import app
from stepwise.workers.pipeline import run_pipeline


@app.task(name="stepwise.score_source")
def score_source(source: str, as_of: str | None = None) -> dict:
    """Pull `source`, score it as of the day, store and write back; safe to run twice (idempotent upserts)."""
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        result = run_pipeline(connector_for(source), load_catalog(settings.catalog, settings.rules),
                              as_of or date.today().isoformat(), store=store)
        return {"run_id": result.run_id, "recommendations": len(result.recommendations)}
    finally:
        store.close()
