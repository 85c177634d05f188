"""Webhook intake: HubSpot (v3-signed) and Salesforce (bearer token) change events → a quick re-score.

Needs the workers (STEPWISE_REDIS_URL); without them the routes answer 404 "not configured".
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stepwise.web import guard
from stepwise.web.api import error
from stepwise.web.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, AuthError, verify_hubspot_signature
from stepwise.workers.events import ChangeEvent, EventGate, accept

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
MAX_EVENTS = 1000


class HubSpotEvent(BaseModel):
    """One entry of HubSpot's webhook array (extra fields allowed: HubSpot adds them over time)."""

    model_config = ConfigDict(extra="ignore")
    eventId: int | str  # noqa: N815 - HubSpot's field names
    portalId: int | str  # noqa: N815
    objectId: int | str  # noqa: N815
    occurredAt: int = Field(ge=0)  # noqa: N815 - epoch milliseconds
    subscriptionType: str  # noqa: N815


class SalesforceEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(min_length=1, max_length=200)
    record_id: str = Field(min_length=15, max_length=18)
    occurred_at_ms: int = Field(ge=0)
    object_type: str = Field(min_length=1, max_length=80)


class SalesforceBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[SalesforceEvent] = Field(max_length=MAX_EVENTS)


def _gate() -> EventGate | None:
    url = current_app.config.get("STEPWISE_REDIS_URL")
    return EventGate(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)) if url else None


def _queue_sync(source: str) -> None:
    from stepwise.workers.celery_app import make_celery

    make_celery(current_app.config["STEPWISE_REDIS_URL"]).send_task("stepwise.score_source", args=[source])


def _intake(events: list[ChangeEvent]) -> Any:
    gate = _gate()
    if gate is None:
        return error(404, "webhook intake is not configured here (it needs the workers: set STEPWISE_REDIS_URL)")
    try:
        counts = accept(events, gate, _queue_sync)
    except Exception as exc:  # noqa: BLE001 - Redis or broker down: the events were forgotten, the CRM redelivers
        log.error("webhook events not queued (%s: %s)", type(exc).__name__, exc)
        return error(503, "the queue is unavailable; the CRM will deliver these events again")
    return jsonify(counts), 202


def _hubspot_caller() -> None:
    """HubSpot signs webhooks like card fetches (v3), but the portal is in the body, not the query."""
    if request.headers.get(SIGNATURE_HEADER) is None:
        guard.api_principal()  # a bearer token: replays and tests
        return
    secret = current_app.extensions.get(guard.HUBSPOT_SECRET)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not secret or not timestamp or not any(
        verify_hubspot_signature(request.method, uri, request.get_data(cache=True), timestamp,
                                 request.headers.get(SIGNATURE_HEADER), secret)
        for uri in guard.signed_uri_candidates()
    ):
        raise AuthError(401, "invalid, expired or unverifiable HubSpot signature")


@bp.post("/hubspot")
def hubspot() -> Any:
    _hubspot_caller()
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, list) or len(body) > MAX_EVENTS:
        return error(400, f"body must be HubSpot's JSON array of at most {MAX_EVENTS} events")
    try:
        parsed = [HubSpotEvent.model_validate(item) for item in body]
    except ValidationError as exc:
        first = exc.errors()[0]
        return error(400, f"event {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    events = [ChangeEvent(f"hubspot-{e.portalId}", str(e.eventId), str(e.objectId), e.occurredAt) for e in parsed
              if e.subscriptionType.startswith(("deal.", "company.", "contact.", "object."))]
    return _intake(events)


@bp.post("/salesforce")
def salesforce() -> Any:
    guard.api_principal()
    try:
        batch = SalesforceBatch.model_validate(request.get_json(force=True, silent=True))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return error(400, f"{where}: {first['msg']}")
    return _intake([ChangeEvent("salesforce", e.event_id, e.record_id, e.occurred_at_ms) for e in batch.events])
