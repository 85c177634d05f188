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


def _connector(source: str, full: bool):
    """The daily re-score re-reads everything (full); the 15-minute syncs read what changed."""
    if full and source == "salesforce":
        return connector_for("salesforce:full")
    if full and source.partition(":")[0] == "hubspot":
        from stepwise.integration.hubspot import HubSpotConnector

        return HubSpotConnector.from_settings(source.partition(":")[2], full=True)
    return connector_for(source)


@app.task(name="stepwise.score_source")
def score_source(source: str, as_of: str | None = None, full: bool = False) -> dict:
    """Pull `source`, score it as of the day, store and write back; safe to run twice (idempotent upserts)."""
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        result = run_pipeline(_connector(source, full), load_catalog(settings.catalog, settings.rules, settings.templates),
                              as_of or date.today().isoformat(), store=store, narrator=narrator_from(settings))
        return {"run_id": result.run_id, "recommendations": len(result.recommendations)}
    finally:
        store.close()


@app.task(name="stepwise.expire_stale")
def expire_stale(as_of: str | None = None) -> dict:
    """Expire what no run refreshed for two days, for every source in the store (HubSpot ones are
    `hubspot-<portal>`): a source whose sync keeps failing must not keep showing old advice."""
    settings = get_settings()
    cutoff = (date.fromisoformat(as_of) if as_of else date.today()) - timedelta(days=1)
    store = Store(settings.database_url)
    try:
        return {source: store.expire_stale(source, cutoff.isoformat(), set()) for source in store.sources()}
    finally:
        store.close()


@app.task(name="stepwise.retrain")
def retrain(source: str, as_of: str | None = None) -> dict:
    """Monthly retraining of the learning models on what closed before the day."""
    from stepwise.workers import learning

    return {"model_version": learning.retrain(source, as_of or date.today().isoformat())}


@app.task(name="stepwise.apply_response", bind=True, autoretry_for=(Exception,), retry_backoff=5,
          retry_backoff_max=600, retry_jitter=True, max_retries=10)
def apply_response(self, rec_id: str) -> dict:
    """A rep accepted: create the CRM follow-up (idempotent per recommendation), retried while the CRM is down."""
    from stepwise.workers.follow_up import apply_accepted, source_spec

    settings = get_settings()
    store = Store(settings.database_url)
    try:
        rec = store.get_recommendation(rec_id)
        if rec is None or rec.status != "accepted":
            return {"applied": False, "why": "not accepted (undone or unknown)"}
        spec = source_spec(rec, private_app=settings.hubspot_access_token is not None)
        if spec is None:
            return {"applied": False, "why": f"no CRM follow-up for source {rec.source}"}
        created = apply_accepted(rec, connector_for(spec))
        return {"applied": created is not None, "crm_id": created}
    finally:
        store.close()
