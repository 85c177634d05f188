"""After a rep accepts: the CRM follow-up (a HubSpot task, a Salesforce Task) done by the `stepwise.follow_up`
worker (workers/tasks.py), never inline in the request.

The feedback is already committed when this is enqueued (Warehouse's rule: send tasks only after the
transaction), so a broker or CRM outage loses nothing: the task retries with backoff, and creating
the CRM object is keyed by the recommendation id, so a retry never creates two.
"""

from __future__ import annotations

import logging

from stepwise.engine.recommendation import Recommendation
from stepwise.integration.base import Connector

log = logging.getLogger(__name__)


def source_spec(rec: Recommendation, private_app: bool) -> str | None:
    """The connector that owns a recommendation's record, from its source name."""
    return spec_for_source(rec.source, private_app)


def spec_for_source(source: str, private_app: bool) -> str | None:
    """A store source name (`hubspot-<portal>`, `salesforce`) → the connector spec that reaches it:
    a private app's token (`hubspot`) or the portal's OAuth install (`hubspot:<portal>`)."""
    if source.startswith("hubspot-"):
        return "hubspot" if private_app else f"hubspot:{source.removeprefix('hubspot-')}"
    if source == "salesforce":
        return "salesforce"
    return None  # files and other sources have no CRM to follow up in


#: the Celery task that creates the follow-up; "stepwise.apply_response" is its former name, still
#: registered so messages queued before the rename run
TASK = "stepwise.follow_up"


def create_follow_up(rec: Recommendation, connector: Connector) -> str | None:
    """The CRM follow-up of an accepted recommendation, by a connector that declares it; its CRM id."""
    if "follow_up" not in connector.capabilities:
        return None
    return connector.follow_up(rec)


def enqueue(rec_id: str, redis_url: str | None) -> bool:
    """Hand the follow-up to the workers; without Redis (the demo) there are none, so nothing is queued."""
    if not redis_url:
        log.debug("no broker configured: follow-up for %s not queued", rec_id)
        return False
    import redis

    from stepwise.workers.celery_app import make_celery

    try:
        # Fail fast when the broker is down (kombu would otherwise keep the rep waiting for seconds).
        redis.Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
        # A short retry only: the rep is waiting on this request, and the feedback is already stored.
        make_celery(redis_url).send_task(TASK, args=[rec_id], retry=True,
                                         retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2})
        return True
    except Exception as exc:  # noqa: BLE001 - the feedback is stored; the follow-up must not fail the request
        log.error("follow-up for %s not queued (%s: %s); the feedback is stored", rec_id, type(exc).__name__, exc)
        return False
