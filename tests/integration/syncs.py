"""A run's intake without the scoring, for the connector tests: pull from the cursors the store kept,
record what came (reps' responses, deleted records), then keep the new cursors (workers/intake.py)."""

from __future__ import annotations

from stepwise.engine.records import CanonicalData
from stepwise.integration.base import Connector
from stepwise.store import Store
from stepwise.workers.intake import keep_cursors, take_in


def sync(connector: Connector, store: Store) -> CanonicalData:
    pulled = take_in(connector, store)
    keep_cursors(connector, store, pulled)
    return pulled.data
