"""Which models a run scores with (README, "Learned predictions: AI proposes, rules decide").

The newest models `stepwise train` stored on or before the run's day, else predictions learned now
from the pulled history: the first run needs no separate training step.  The catalog's priors and
thresholds apply only where nothing could be learned.
"""

from __future__ import annotations

import logging

import pandas as pd

from stepwise.engine.models.apply import EngineModels
from stepwise.engine.predictions import Predictors
from stepwise.engine.records import CanonicalData
from stepwise.engine.training import MODEL_FAMILY, ModelBundle, train_predictors
from stepwise.store import ModelStore, Store

log = logging.getLogger(__name__)


def stored_bundle(store: Store | None, source: str, day: str) -> ModelBundle | None:
    """The newest stored models trained on or before the day; None without a store or before `stepwise train`."""
    if store is None or store.engine.url.database in (None, "", ":memory:"):
        return None  # an in-memory store's URL would open another, empty database
    models = ModelStore(store.engine.url.render_as_string(hide_password=False))
    try:
        return models.latest(source, day)
    finally:
        models.close()


def engine_models(bundle: ModelBundle | None) -> EngineModels | None:
    """What the engine's feedback and effectiveness steps use; None: the catalog's priors."""
    if bundle is None:
        return None
    return EngineModels(version=bundle.version, effectiveness=bundle.effectiveness)


def predictors_from(bundle: ModelBundle | None, data: CanonicalData, as_of: pd.Timestamp) -> Predictors | None:
    """The stored bundle's predictions when it is of the current family, else learned now from `data`.
    None only when learning itself failed: the catalog's thresholds then apply, and the log says why."""
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


def learned_models(store: Store | None, source: str, day: str) -> EngineModels | None:
    return engine_models(stored_bundle(store, source, day))


def predictors_for(data: CanonicalData, source: str, as_of: pd.Timestamp, store: Store | None) -> Predictors | None:
    return predictors_from(stored_bundle(store, source, as_of.strftime("%Y-%m-%d")), data, as_of)
