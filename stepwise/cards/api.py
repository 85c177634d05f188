"""The card API (/api/v1): recommendations for a CRM record and the rep's feedback on them."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from typing import Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stepwise.integration.store import Store

bp = Blueprint("api", __name__, url_prefix="/api/v1")

RECORD_TYPES = ("deal", "lead", "account")
TOKEN_DIGESTS = "STEPWISE_API_TOKEN_DIGESTS"
STORE = "stepwise.store"
MAX_IDEMPOTENCY_KEY = 200


class FeedbackIn(BaseModel):
    """The body of POST …/feedback; the store re-checks the same enums."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Literal["accepted", "dismissed", "snoozed"]
    reason: Literal["wrong_timing", "unsuitable_product", "already_contacted", "not_relevant", "other"] | None = None
    note: str | None = Field(default=None, max_length=4000)
    snooze_until: datetime | None = None  # a bare date parses as midnight
    user: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _snooze_needs_a_date(self) -> FeedbackIn:
        if self.action == "snoozed" and self.snooze_until is None:
            raise ValueError("snooze_until is required when action is snoozed")
        return self


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def error(status: int, message: str, **headers: str) -> tuple[Response, int, dict[str, str]]:
    return jsonify(error=message), status, headers


def _store() -> Store:
    return current_app.extensions[STORE]


@bp.before_request
def _require_token() -> Any:
    digests: tuple[bytes, ...] = current_app.config.get(TOKEN_DIGESTS, ())
    if not digests:
        return error(401, "no API tokens configured (set STEPWISE_API_TOKENS)")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error(401, "missing bearer token", **{"WWW-Authenticate": "Bearer"})
    presented = token_digest(token.strip())
    # Compare against every token, no early exit, so timing says nothing about which matched.
    matched = False
    for digest in digests:
        matched |= hmac.compare_digest(presented, digest)
    if not matched:
        return error(401, "invalid API token", **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return None


@bp.get("/records/<source>/<record_type>/<record_id>/recommendations")
def record_recommendations(source: str, record_type: str, record_id: str) -> Any:
    if record_type not in RECORD_TYPES:
        return error(400, f"record_type must be one of {', '.join(RECORD_TYPES)}, got {record_type!r}")
    as_of = request.args.get("as_of")
    if as_of is not None:
        try:
            as_of = date.fromisoformat(as_of).isoformat()
        except ValueError:
            return error(400, f"as_of must be a date YYYY-MM-DD, got {as_of!r}")
    recs = _store().recommendations_for(source, record_type, record_id, as_of=as_of)
    return jsonify(
        record={"source": source, "record_type": record_type, "record_id": record_id},
        recommendations=[r.to_dict() for r in recs],
    )


@bp.get("/recommendations/<rec_id>")
def recommendation(rec_id: str) -> Any:
    rec = _store().get_recommendation(rec_id)
    if rec is None:
        return error(404, f"no recommendation {rec_id!r}")
    return jsonify({**rec.to_dict(), "feedback": _store().feedback_for(rec_id)})


@bp.post("/recommendations/<rec_id>/feedback")
def feedback(rec_id: str) -> Any:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return error(400, "request body must be a JSON object")
    try:
        data = FeedbackIn.model_validate(body)
    except ValidationError as exc:
        return error(400, _one_line(exc))
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        return error(400, f"Idempotency-Key longer than {MAX_IDEMPOTENCY_KEY} characters")
    try:
        event = _store().record_feedback(
            rec_id, data.action, user=data.user, reason=data.reason, note=data.note,
            snooze_until=data.snooze_until, idempotency_key=key,
        )
    except ValueError as exc:
        return error(400, str(exc))
    return jsonify(event), 200 if event["replayed"] else 201


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)
