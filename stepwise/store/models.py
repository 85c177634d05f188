"""Versioned model artifacts: joblib bytes + metrics JSON + training window (the model_artifacts table).

On the store's database (SQLite by default, PostgreSQL in production), in a table of its own so the
learning side never touches the recommendations.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import joblib
from sqlalchemy import Engine, select

from stepwise.engine.training import ModelBundle
from stepwise.store.database import Database, attach
from stepwise.store.schema import model_artifacts


class ModelStore:
    def __init__(self, url: str | Database | Engine):
        """On a URL (its engine shared with every Store of that URL in this process), a Store, or an engine."""
        self._db = attach(url)
        self.engine = self._db.engine
        self._owns_handle = isinstance(url, str)
        self._db._ensure_schema()

    def save(self, source: str, bundle: ModelBundle) -> str:
        """Store the bundle; the same version trained again replaces the old one (idempotent retraining)."""
        buffer = io.BytesIO()
        joblib.dump(bundle, buffer, compress=3)
        row = {"source": source, "version": bundle.version, "trained_as_of": bundle.trained_as_of,
               "train_from": bundle.train_from, "created_at": datetime.now(UTC),
               "metrics": json.dumps(bundle.metrics, default=_json_default), "artifact": buffer.getvalue()}
        with self._db._begin() as conn:
            conn.execute(model_artifacts.delete().where((model_artifacts.c.source == source)
                                                        & (model_artifacts.c.version == bundle.version)))
            conn.execute(model_artifacts.insert().values(**row))
        return bundle.version

    def latest(self, source: str, as_of: str | None = None) -> ModelBundle | None:
        """The newest bundle trained on or before `as_of` (never one that has seen later days)."""
        query = select(model_artifacts.c.artifact).where(model_artifacts.c.source == source)
        if as_of is not None:
            query = query.where(model_artifacts.c.trained_as_of <= as_of)
        query = query.order_by(model_artifacts.c.trained_as_of.desc(), model_artifacts.c.id.desc()).limit(1)
        with self._db._connect() as conn:
            blob = conn.execute(query).scalar()
        return joblib.load(io.BytesIO(blob)) if blob is not None else None

    def history(self, source: str, limit: int = 12) -> list[dict[str, Any]]:
        """Versions with their metrics and windows, newest first (what drift is measured against)."""
        query = (select(model_artifacts.c.version, model_artifacts.c.trained_as_of, model_artifacts.c.train_from,
                        model_artifacts.c.metrics)
                 .where(model_artifacts.c.source == source)
                 .order_by(model_artifacts.c.trained_as_of.desc(), model_artifacts.c.id.desc()).limit(limit))
        with self._db._connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [{**dict(r), "metrics": json.loads(r["metrics"])} for r in rows]

    def close(self) -> None:
        # A ModelStore built on a Store leaves the Store's connections to the Store.
        if self._owns_handle:
            self._db.close()


def _json_default(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
