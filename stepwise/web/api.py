"""The card API (/api/v1): recommendations for a CRM record and the rep's feedback on them."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from stepwise.engine.recommendation import Recommendation
from stepwise.integration.hubspot import OwnerDirectory, OwnerLookupFailed, portal_clients
from stepwise.store import Conflict, NotFound, Store, TodayLists
from stepwise.web import guard
from stepwise.web.auth import PORTAL_ID, Principal, portal_source
from stepwise.web.metrics import count_feedback
from stepwise.web.openapi import build_openapi
from stepwise.workers import follow_up, holdout

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")

RECORD_TYPES = ("deal", "lead", "account")
STORE = "stepwise.store"
OWNERS = "stepwise.hubspot_owners"  # app.extensions: the OwnerDirectory that resolves `me`
ME = "me"
ME_NEEDS_SIGNATURE = "`me` needs a HubSpot-signed request; use the owner id"
MAX_IDEMPOTENCY_KEY = 200
# RFC 3339 as the OpenAPI document promises (format date / date-time): Python's fromisoformat
# alone would also take "20240601" or "2024-06-01T10", which the document calls invalid.
# [0-9], not \d: Python's \d also takes other scripts' digits. Always used with fullmatch.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})")


def _moment(value: object) -> datetime:
    """snooze_until: an RFC 3339 date (midnight UTC) or date-time; nothing else."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO date or date-time string")
    try:
        if _DATE.fullmatch(value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        if _DATE_TIME.fullmatch(value):
            # A leap second (:60) is valid RFC 3339 but not a Python time: hold it at :59.
            text = value.upper().replace(":60", ":59", 1) if value[17:19] == "60" else value.upper()
            return datetime.fromisoformat(text).astimezone(UTC)  # out of range in UTC → refused here, not a 500
    except (ValueError, OverflowError):
        pass
    raise ValueError("must be an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDThh:mm:ssZ)")


def valid_day(value: str) -> str | None:
    """A YYYY-MM-DD day, or None."""
    if not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def _not_blank(value: str) -> str:
    # Length limits apply to the raw value (as the document says); stored trimmed.
    return value.strip()


# NUL is refused everywhere: PostgreSQL text cannot hold it (it would be a 500, not a 400).
NO_NUL = r"^[^\x00]*$"
# Not blank: one character that is not whitespace, counting \x1c-\x1f, which str.strip() removes.
USER_PATTERN = r"^[^\x00]*[^\x00\s\x1c-\x1f][^\x00]*$"
User = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=USER_PATTERN), AfterValidator(_not_blank),
]


class FeedbackIn(BaseModel):
    """The body of POST …/feedback; the store re-checks the same enums."""

    model_config = ConfigDict(extra="forbid", strict=True)

    action: Literal["accepted", "dismissed", "snoozed"]
    reason: Literal["wrong_timing", "unsuitable_product", "already_contacted", "not_relevant", "other"] | None = None
    note: Annotated[str, StringConstraints(max_length=4000, pattern=NO_NUL)] | None = None
    snooze_until: Annotated[datetime, BeforeValidator(_moment)] | None = None
    user: User

    @model_validator(mode="after")
    def _snooze_needs_a_date(self) -> FeedbackIn:
        if self.action == "snoozed" and self.snooze_until is None:
            raise ValueError("snooze_until is required when action is snoozed")
        return self


class UndoIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    user: User


def error(status: int, message: str, **headers: str) -> tuple[Response, int, dict[str, str]]:
    return jsonify(error=message), status, headers


def _store() -> Store:
    return current_app.extensions[STORE]


def _principal() -> Principal:
    return g.stepwise_principal


@bp.before_request
def _authenticate() -> Any:
    if request.endpoint == "api.openapi":
        return None  # the description of the API is public, like any API reference
    g.stepwise_principal = guard.api_principal()  # raises AuthError → 401/403
    if any("\x00" in str(v) for v in (request.view_args or {}).values()):
        return error(400, "path parameters must not contain NUL characters")
    portal = _query_arg("portalId")
    if portal is not None and not PORTAL_ID.fullmatch(portal):
        return error(400, f"portalId must be a number, got {portal!r}")
    return None


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(build_openapi())


@bp.get("/records/<source>/<record_type>/<record_id>/recommendations")
def record_recommendations(source: str, record_type: str, record_id: str) -> Any:
    if record_type not in RECORD_TYPES:
        return error(400, f"record_type must be one of {', '.join(RECORD_TYPES)}, got {record_type!r}")
    as_of = _query_arg("as_of")
    if as_of is not None and (as_of := valid_day(as_of)) is None:
        return error(400, f"as_of must be a date YYYY-MM-DD, got {request.args['as_of']!r}")
    principal = _principal()
    if not principal.may_see(source):
        allowed = portal_source(principal.portal_id or "")
        return error(403, f"this HubSpot portal may only read source {allowed!r}")
    rows = _store().card_rows_for(source, record_type, record_id, as_of=as_of)
    provider = current_app.json
    if not _compact_ascii_json(provider):  # debug pretty-printing, sorted keys…: the plain way
        return jsonify(record={"source": source, "record_type": record_type, "record_id": record_id},
                       recommendations=[_card(card, payload, status) for card, payload, status in rows])
    # The cards as the store wrote them (the workers computed them, the card only serves them), spliced
    # into the answer: byte for byte what jsonify would send, with no decoding and re-encoding in Python.
    cards = ",".join([
        card if card is not None and card.isascii()
        else provider.dumps(_card(card, payload, status), separators=_COMPACT)
        for card, payload, status in rows
    ])
    body = (f'{{"record":{{"source":{json.dumps(source)},"record_type":{json.dumps(record_type)},'
            f'"record_id":{json.dumps(record_id)}}},"recommendations":[{cards}]}}\n')
    return current_app.response_class(body, mimetype=provider.mimetype)


_COMPACT = (",", ":")


@bp.get("/reps/<owner>/today")
def rep_today(owner: str) -> Any:
    """The rep's "Today" list (README, "Today"): an owner with nothing today gets an empty list, not a 404.

    `me` on a HubSpot-signed request is the owner whose HubSpot user signed it (the sidebar card knows only
    its viewer's user id); a user who is no owner in that portal gets an empty list and a `message`.
    """
    principal = _principal()
    who: str | None = owner
    extra: dict[str, str] = {}
    user = _query_arg("userId")
    if user is not None and not PORTAL_ID.fullmatch(user):
        return error(400, f"userId must be a number, got {user!r}")
    if owner == ME and principal.kind == "hubspot":
        resolved = _signed_owner(principal)
        if isinstance(resolved, tuple):  # the error to answer
            return resolved
        who = resolved or None
        if who is None:
            extra["message"] = (f"HubSpot user {request.args['userId']} is not an active owner in portal "
                                f"{principal.portal_id}, so no cards are ranked for them")
    found = today_of(who, principal)
    if len(found) == 3:  # (response, status, headers): the error to answer
        return found
    day, recs = found
    return jsonify(owner=who, as_of=day, items=[r.to_dict() for r in recs], **extra)


def _signed_owner(principal: Principal) -> str | tuple[Response, int, dict]:
    """The owner id of the HubSpot user who signed this request ("" when they are no owner), or the error."""
    user = _query_arg("userId")
    if user is None:
        return error(400, "a HubSpot-signed request for `me` must carry a numeric userId (hubspot.fetch adds it)")
    try:
        return _owners().owner_of(principal.portal_id or "", user) or ""
    except OwnerLookupFailed as exc:
        log.warning("`me` not resolved: %s", exc)
        return error(503, f"cannot resolve `me` to a HubSpot owner right now: {exc}", **{"Retry-After": "30"})


def _owners() -> OwnerDirectory:
    directory = current_app.extensions.get(OWNERS)
    if directory is None:
        directory = current_app.extensions.setdefault(OWNERS, OwnerDirectory(portal_clients(_store())))
    return directory


def today_of(owner: str | None, principal: Principal) -> tuple[str | None, list[Recommendation]] | tuple[Response, int, dict]:
    """(day, the owner's list) for `?as_of=` (default: the last day a run kept lists for the sources this
    caller may see) and `?source=` (default: every one it may see); or the 400/403 error to return.
    No owner (a signed `me` that is no owner): the day, and nothing on the list."""
    if owner == ME:  # resolved before this on a signed request: here a bearer token or a browser session
        return error(400, ME_NEEDS_SIGNATURE)
    if owner is not None and len(owner) > 200:
        return error(400, "owner must be at most 200 characters")
    source = request.args.get("source")
    if source is not None and (not source or len(source) > 200 or "\x00" in source):
        return error(400, "source must be 1–200 characters without NUL")
    if source is not None and not principal.may_see(source):
        return error(403, f"this HubSpot portal may only read source {portal_source(principal.portal_id or '')!r}")
    sources = ([source] if source is not None
               else [portal_source(principal.portal_id or "")] if principal.kind == "hubspot" else None)
    lists = TodayLists(_store())
    as_of = request.args.get("as_of")
    if as_of is not None:
        if (day := valid_day(as_of)) is None:
            return error(400, f"as_of must be a date YYYY-MM-DD, got {as_of!r}")
    else:
        day = lists.latest_day(sources)
    return day, (lists.of_owner(owner, day, sources) if day is not None and owner is not None else [])


def _query_arg(name: str) -> str | None:
    """The query parameter's first value (as request.args.get, which builds a KeyError on every miss)."""
    args = request.args
    return args[name] if name in args else None  # noqa: SIM401 (the point is not calling get)


def _compact_ascii_json(provider: Any) -> bool:
    """Whether jsonify writes compact, ASCII-only JSON in insertion order: the store's card JSON then."""
    return (isinstance(provider, DefaultJSONProvider) and provider.ensure_ascii and not provider.sort_keys
            and (provider.compact or (provider.compact is None and not current_app.debug)))


def _card(card: str | None, payload: str | dict[str, Any] | None, status: str) -> dict[str, Any]:
    stored = card if card is not None else payload
    return {**(json.loads(stored) if isinstance(stored, str) else stored), "status": status}


def _visible(rec_id: str) -> Recommendation:
    """The recommendation, if this caller may see it; another portal's looks like a missing one."""
    rec = _store().get_recommendation(rec_id)
    if rec is None or not _principal().may_see(rec.source):
        raise NotFound(f"no recommendation {rec_id!r}")
    return rec


@bp.get("/lift")
def lift() -> Any:
    """The measured lift (workers/holdout.measured_lift); a HubSpot portal sees only its own source."""
    source = _query_arg("source")
    if source is not None and (not source or len(source) > 200 or "\x00" in source):
        return error(400, "source must be 1–200 characters without NUL")
    principal = _principal()
    if source is None and principal.portal_id:
        source = portal_source(principal.portal_id)
    if source is not None and not principal.may_see(source):
        return error(403, f"this HubSpot portal may only read source {portal_source(principal.portal_id or '')!r}")
    return jsonify(holdout.measured_lift(_store(), source))


@bp.get("/recommendations/<rec_id>")
def recommendation(rec_id: str) -> Any:
    rec = _visible(rec_id)
    return jsonify({**rec.to_dict(), "feedback": _store().feedback_for(rec_id)})


@bp.post("/recommendations/<rec_id>/feedback")
def feedback(rec_id: str) -> Any:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        count_feedback("unknown", "invalid")
        return error(400, "request body must be a JSON object")
    action = body.get("action") if isinstance(body.get("action"), str) else "unknown"
    action = action if action in ("accepted", "dismissed", "snoozed") else "unknown"
    try:
        data = FeedbackIn.model_validate(body)
    except ValidationError as exc:
        count_feedback(action, "invalid")
        return error(400, _one_line(exc))
    raw_key = request.headers.get("Idempotency-Key", "")
    if len(raw_key) > MAX_IDEMPOTENCY_KEY:  # the raw header, as the document limits it
        count_feedback(action, "invalid")
        return error(400, f"Idempotency-Key longer than {MAX_IDEMPOTENCY_KEY} characters")
    key = raw_key.strip() or None
    try:
        if _principal().kind == "hubspot":
            _visible(rec_id)
        event = _store().record_feedback(
            rec_id, data.action, user=data.user, reason=data.reason, note=data.note,
            snooze_until=data.snooze_until, idempotency_key=key,
        )
    except NotFound:
        count_feedback(action, "not_found")
        raise
    except Conflict:
        count_feedback(action, "conflict")
        raise
    except ValueError as exc:
        count_feedback(action, "invalid")
        return error(400, str(exc))
    count_feedback(data.action, "replayed" if event["replayed"] else "recorded")
    if data.action == "accepted" and not event["replayed"]:
        # After the commit above, never before: a worker must not see feedback that was rolled back.
        follow_up.enqueue(rec_id, current_app.config.get("STEPWISE_REDIS_URL"))
    return jsonify(event), 200 if event["replayed"] else 201


@bp.post("/recommendations/<rec_id>/feedback/undo")
def undo(rec_id: str) -> Any:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        count_feedback("undo", "invalid")
        return error(400, "request body must be a JSON object")
    try:
        data = UndoIn.model_validate(body)
    except ValidationError as exc:
        count_feedback("undo", "invalid")
        return error(400, _one_line(exc))
    try:
        if _principal().kind == "hubspot":
            _visible(rec_id)
        event = _store().undo_feedback(rec_id, user=data.user)
    except NotFound:
        count_feedback("undo", "not_found")
        raise
    except Conflict:
        count_feedback("undo", "conflict")
        raise
    count_feedback("undo", "undone")
    return jsonify(event), 200


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch":  # the regex itself would mean nothing to a rep
            msg = "must not be blank or contain NUL characters"
        parts.append(f"{where}: {msg}" if where else msg)
    return " ".join("; ".join(parts).split())
