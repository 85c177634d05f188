"""Celery tasks: thin wrappers over the pipeline's stages (workers/fanout.py, workers/pipeline.py)."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import lru_cache

from stepwise.engine.catalog import load_catalog
from stepwise.integration.base import Connector
from stepwise.integration.sources import connector_for
from stepwise.settings import get_settings
from stepwise.store import Store
from stepwise.workers import fanout
from stepwise.workers.celery_app import app
from stepwise.workers.follow_up import TASK as FOLLOW_UP_TASK
from stepwise.workers.follow_up import create_follow_up, source_spec, spec_for_source
from stepwise.workers.narrate import narrator_from

log = logging.getLogger(__name__)


def _connector(source: str, full: bool, store: Store) -> Connector:
    """The daily re-score re-reads everything (full); the 15-minute syncs read what changed.

    `source` is a connector spec (`salesforce`, `hubspot`, `hubspot:PORTAL`, `files:DIR`) or, from
    a webhook, the store's source name `hubspot-<portal>` (the event knows the portal, not how
    Stepwise connects to it)."""
    if source.startswith("hubspot-"):
        source = spec_for_source(source, private_app=get_settings().hubspot_access_token is not None) or source
    return connector_for(source, full=full, store=store)


@app.task(name="stepwise.score_source", bind=True)
def score_source(self, source: str, as_of: str | None = None, full: bool = False) -> dict:
    """Pull `source` and fan the run out: one `score_chunk` task per chunk, the last one starts
    `finish_run` (expiry, CRM write-back, run counts).  Safe to run twice (idempotent upserts)."""
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        run_id, chunks = fanout.plan_run(_connector(source, full, store), source, as_of or date.today().isoformat(), store,
                                         full=full, chunk_size=settings.chunk_size)
    finally:
        store.close()
    queue = _queue_of(self)
    for chunk in range(chunks):
        score_chunk.apply_async((run_id, chunk), queue=queue)
    return {"run_id": run_id, "chunks": chunks}


@app.task(name="stepwise.score_chunk", bind=True, max_retries=5)
def score_chunk(self, run_id: str, chunk: int) -> dict:
    """Score one chunk of a run; a chunk that keeps failing (store down, not poison input — that is
    quarantined) is retried with backoff, then recorded as failed so the run still finishes."""
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        try:
            last = fanout.score_chunk(run_id, chunk, _catalog(settings), store, narrator=narrator_from(settings))
        except Exception as exc:
            if self.request.retries < self.max_retries and not self.request.is_eager:
                raise self.retry(exc=exc, countdown=min(300, 5 * 2 ** self.request.retries)) from None
            last = fanout.chunk_failed(run_id, chunk, f"{type(exc).__name__}: {exc}", store)
    finally:
        store.close()
    if last:
        try:
            finish_run.apply_async((run_id,), queue=_queue_of(self))
        except Exception as exc:  # noqa: BLE001 - the broker stayed away: this worker finishes the run itself
            log.warning("could not queue the finish of run %s (%s); finishing it here", run_id, exc)
            finish_run.apply(args=(run_id,), throw=True)
    return {"run_id": run_id, "chunk": chunk, "finishing": last}


@app.task(name="stepwise.finish_run", bind=True, autoretry_for=(Exception,), retry_backoff=5,
          retry_backoff_max=600, retry_jitter=True, max_retries=10)
def finish_run(self, run_id: str) -> dict:
    """Expire, write back and close a fanned-out run; retried while the CRM or the store is down."""
    from stepwise.store import RunChunks

    settings = get_settings()
    store = Store(settings.database_url)
    try:
        plan = RunChunks(store).run(run_id)
        if plan is None:
            return {"run_id": run_id, "finished": False, "why": "unknown run"}
        connector = _connector(plan.spec, plan.full, store) if plan.write_back else None
        counts = fanout.finish_run(run_id, connector, store)
        return {"run_id": run_id, "recommendations": counts["recommendations"], "written_back": counts["written_back"]}
    finally:
        store.close()


def _catalog(settings):
    """Loaded once per worker process and again only when a file changed (a chunk is seconds of work;
    parsing and validating the YAML every time was a tenth of it)."""
    paths = (settings.catalog, settings.rules, settings.templates)
    stamps = tuple(p.stat().st_mtime_ns if p is not None and p.exists() else None for p in paths)
    return _cached_catalog(paths, stamps)


@lru_cache(maxsize=4)
def _cached_catalog(paths, _stamps):
    return load_catalog(*paths)


def _queue_of(task) -> str | None:
    """Chunks and the finish go where their run came from (a dedicated queue stays dedicated)."""
    return (task.request.delivery_info or {}).get("routing_key") or None


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
    from stepwise.learning import jobs as learning

    return {"model_version": learning.retrain(source, as_of or date.today().isoformat())}


def _follow_up(rec_id: str) -> dict:
    """A rep accepted: create the CRM follow-up (idempotent per recommendation)."""
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        rec = store.get_recommendation(rec_id)
        if rec is None or rec.status != "accepted":
            return {"applied": False, "why": "not accepted (undone or unknown)"}
        spec = source_spec(rec, private_app=settings.hubspot_access_token is not None)
        if spec is None:
            return {"applied": False, "why": f"no CRM follow-up for source {rec.source}"}
        created = create_follow_up(rec, connector_for(spec, store=store))
        return {"applied": created is not None, "crm_id": created}
    finally:
        store.close()


_FOLLOW_UP_RETRIES = {"bind": True, "autoretry_for": (Exception,), "retry_backoff": 5, "retry_backoff_max": 600,
                      "retry_jitter": True, "max_retries": 10}


@app.task(name=FOLLOW_UP_TASK, **_FOLLOW_UP_RETRIES)
def follow_up(self, rec_id: str) -> dict:
    """A rep accepted: the CRM follow-up (workers/follow_up.py), retried while the CRM is down."""
    return _follow_up(rec_id)


@app.task(name="stepwise.apply_response", **_FOLLOW_UP_RETRIES)
def apply_response(self, rec_id: str) -> dict:
    """The follow-up's former task name: messages queued before the rename still run."""
    return _follow_up(rec_id)
