"""The one pipeline: pull from a connector → engine → store → write back.

The CLI (in-process, the demo) and the Celery tasks both call `run_pipeline`,
so there is one code path to trust.  Re-running the same day is idempotent:
recommendation ids are stable and the store upserts by id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from stepwise.engine.catalog import Catalog
from stepwise.engine.models.apply import EngineModels
from stepwise.engine.models.training import MODEL_FAMILY, train_predictors
from stepwise.engine.predictions import Predictors
from stepwise.engine.records import CanonicalData, as_utc
from stepwise.engine.run import PRIOR_MODEL_VERSION, EngineResult
from stepwise.integration.base import Connector, PushResult
from stepwise.logs import run_scope
from stepwise.store import ModelStore, Store
from stepwise.workers.narrate import Narrator, recent_notes
from stepwise.workers.quarantine import recommend_or_quarantine

log = logging.getLogger(__name__)


@dataclass
class PipelineResult:
    run_id: str | None
    engine: EngineResult
    data: CanonicalData
    pushed: PushResult = field(default_factory=PushResult)

    @property
    def recommendations(self):
        return self.engine.recommendations


def run_pipeline(connector: Connector, catalog: Catalog, as_of: str | pd.Timestamp,
                 store: Store | None = None, write_back: bool = True, narrator: Narrator | None = None) -> PipelineResult:
    as_of = as_utc(as_of)
    data = connector.pull()
    history = store.feedback_history(connector.source) if store is not None else None
    models = _learned_models(store, connector.source, as_of.strftime("%Y-%m-%d"))
    predictors = predictors_for(data, connector.source, as_of, store)
    version = models.version if models is not None else PRIOR_MODEL_VERSION
    run_id = store.start_run(connector.source, as_of.strftime("%Y-%m-%d"), version) if store is not None else None
    with run_scope(run_id=run_id, source=connector.source):
        try:
            result, quarantined = recommend_or_quarantine(data, as_of, catalog, source=connector.source, history=history,
                                                          models=models, predictors=predictors)
            for note in result.notes:
                log.info(note)
            if narrator is not None:
                result.recommendations = narrator.narrate(result.recommendations, recent_notes(data.table("activities"), as_of))
            pushed = PushResult()
            if store is not None:
                # The store first: it is the system of record; a CRM write-back that fails leaves nothing lost.
                store.upsert_deal_links(connector.source, _deal_accounts(data))
                # Outcomes feed the dashboard's "accepted vs dismissed vs not shown" win rates.
                store.upsert_deal_outcomes(connector.source, data.table("deals")[["deal_id", "stage", "is_closed", "is_won"]]
                                           .to_dict("records"))
                store.upsert_recommendations(run_id, result.recommendations)
                store.expire_stale(connector.source, as_of.strftime("%Y-%m-%d"), {r.id for r in result.recommendations})
                # Records the CRM deleted: their recommendations expire now, not tomorrow.
                expire_deleted = getattr(connector, "expire_deleted", None)
                if expire_deleted is not None:
                    expire_deleted(store)
            if write_back:
                pushed = connector.push(result.recommendations)
            if store is not None:
                store.finish_run(run_id, _counts(data, result, pushed, quarantined))
        except Exception as exc:
            if store is not None and run_id is not None:
                store.finish_run(run_id, {}, status="failed", error=f"{type(exc).__name__}: {exc}")
            raise
    return PipelineResult(run_id, result, data, pushed)


def _learned_models(store: Store | None, source: str, day: str) -> EngineModels | None:
    """The newest models trained on or before the day (`stepwise train`); the catalog's priors until then."""
    if store is None:
        return None
    bundle = ModelStore(store.engine.url.render_as_string(hide_password=False)).latest(source, day)
    if bundle is None:
        return None
    return EngineModels(version=bundle.version, effectiveness=bundle.effectiveness)


def predictors_for(data: CanonicalData, source: str, as_of: pd.Timestamp, store: Store | None) -> Predictors | None:
    """The learned predictions a run proposes with: the newest `stepwise train` models on or before the day,
    else models learned now from the pulled history (the first run needs no separate training step).
    None only when learning itself failed: the catalog's thresholds then apply, and the log says why."""
    day = as_of.strftime("%Y-%m-%d")
    if store is not None:
        bundle = ModelStore(store.engine.url.render_as_string(hide_password=False)).latest(source, day)
        if bundle is not None and bundle.version.split("@")[0].removesuffix("-auto") == MODEL_FAMILY:
            return bundle.predictors()
        if bundle is not None:
            log.warning("stored model %s predates %s: learning the predictions in this run; run `stepwise train` "
                        "to store a current one", bundle.version, MODEL_FAMILY)
    try:
        return train_predictors(data, as_of)
    except Exception:  # noqa: BLE001 - a history the models cannot learn from must not stop the run
        log.exception("learning the predictions failed: this run uses the catalog's thresholds")
        return None


def narrator_from(settings) -> Narrator | None:
    """The LLM writer when STEPWISE_LLM_URL is set; templates only otherwise."""
    if not settings.llm_url:
        return None
    from stepwise.integration.llm import ChatClient

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    client = ChatClient(settings.llm_url, settings.llm_model, key, settings.llm_timeout_seconds)
    return Narrator(client, budget=settings.llm_budget)


def _deal_accounts(data: CanonicalData) -> list[tuple[str, str]]:
    deals = data.table("deals")
    return list(zip(deals["deal_id"], deals["account_id"]))


def _counts(data: CanonicalData, result: EngineResult, pushed: PushResult, quarantined: list) -> dict:
    return {
        "quarantined": [{"record": q.record, "error": q.error} for q in quarantined],
        "pulled": data.counts(),
        "skipped_rows": len(data.skipped),
        "candidates": result.stats["candidates"],
        "recommendations": len(result.recommendations),
        "removed_by_rule": result.stats["removed_by_rule"],
        "written_back": pushed.written,
        "write_back_failed": len(pushed.failed),
        "write_back_errors": [{"id": rec_id, "error": error} for rec_id, error in pushed.failed[:100]],
    }
