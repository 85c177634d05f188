"""A run's first step: pull from the connector, then record in the store what the pull brought besides data.

The connector reads; this module is where what it read reaches the store (reps' responses made in
the CRM, cards of deleted records, the cursors for the next incremental pull).
"""

from __future__ import annotations

import logging

from stepwise.engine.records import CanonicalData
from stepwise.integration.base import Connector, Pulled
from stepwise.store import NotFound, Store

log = logging.getLogger(__name__)


def take_in(connector: Connector, store: Store | None) -> Pulled:
    """Pull, then store the feedback and expire the deleted records' cards; the cursors are kept later
    by `keep_cursors`, once the run has stored what it needs of the pull."""
    pulled = connector.pull()
    if isinstance(pulled, CanonicalData):  # transitional: a connector that still returns the bare tables
        pulled = Pulled(pulled)
    if store is None:
        return pulled
    for fb in pulled.feedback:
        try:
            store.record_feedback(fb.rec_id, fb.action, user=fb.user, reason=fb.reason,
                                  snooze_until=fb.snooze_until, idempotency_key=fb.idempotency_key)
        except NotFound:
            continue  # a card from before this store existed
        except ValueError as exc:
            log.warning("%s: response on %s not recorded: %s", connector.source, fb.rec_id, exc)
    expired = store.expire_deleted(connector.source, pulled.deleted)
    # transitional: a connector that still expires its deleted records itself
    expire_deleted = getattr(connector, "expire_deleted", None)
    if expire_deleted is not None:
        expired += expire_deleted(store)
    if expired:
        log.info("%s: %d recommendation(s) of deleted records expired", connector.source, expired)
    return pulled


def keep_cursors(connector: Connector, store: Store | None, pulled: Pulled) -> None:
    if store is not None and pulled.cursors:
        store.set_cursors(connector.source, pulled.cursors)
