"""A run's first step: pull from the connector, then record in the store what the pull brought besides data.

The connector reads; this module is where what it read reaches the store (reps' responses made in
the CRM, cards of deleted records, the cursors for the next incremental pull).
"""

from __future__ import annotations

import logging

from stepwise.integration.base import Connector, Pulled
from stepwise.store import NotFound, Store

log = logging.getLogger(__name__)


def take_in(connector: Connector, store: Store | None) -> Pulled:
    """Pull from where the last kept cursors say, then store the feedback and expire the deleted records'
    cards; the cursors are kept later by `keep_cursors`, once the run has stored what it needs of the pull.

    Without a store nothing is kept, so the connector reads everything."""
    pulled = connector.pull(store.cursors(connector.source) if store is not None else None)
    if store is None:
        return pulled
    pulled.report.feedback = _record_feedback(connector, store, pulled)
    expired = store.expire_deleted(connector.source, pulled.deleted)
    if expired:
        log.info("%s: %d recommendation(s) of deleted records expired", connector.source, expired)
    return pulled


def keep_cursors(connector: Connector, store: Store | None, pulled: Pulled) -> None:
    if store is not None and pulled.cursors:
        store.set_cursors(connector.source, pulled.cursors)


def _record_feedback(connector: Connector, store: Store, pulled: Pulled) -> int:
    """How many responses were new to the store (the overlap window reads some again: their
    idempotency keys make them replays)."""
    recorded = 0
    for fb in pulled.feedback:
        try:
            event = store.record_feedback(fb.rec_id, fb.action, user=fb.user, reason=fb.reason,
                                          snooze_until=fb.snooze_until, idempotency_key=fb.idempotency_key)
        except NotFound:
            continue  # a card from before this store existed
        except ValueError as exc:
            log.warning("%s: response on %s not recorded: %s", connector.source, fb.rec_id, exc)
            continue
        recorded += not event.get("replayed")
    return recorded
