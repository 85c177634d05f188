"""The OpenAPI 3.1 document of the card service, served at /api/v1/openapi.json.

Built in code so the enums and limits are the ones the handlers enforce; a test checks
that every Flask route is described and schemathesis checks the handlers against it.
"""

from __future__ import annotations

from typing import Any

from stepwise.engine.recommendation import CATEGORIES, STATUSES, URGENCIES
from stepwise.store import FEEDBACK_REASONS

VERSION = "1.0.0"
NO_NUL = "^[^\\u0000]*$"
NON_EMPTY_NO_NUL = "^[^\\u0000]+$"
USER = "^[^\\u0000]*[^\\u0000\\s\\u001c-\\u001f][^\\u0000]*$"

_API_SECURITY = [{"bearerAuth": []}, {"hubspotSignature": [], "hubspotTimestamp": []}]
_PAGE_SECURITY = [{"bearerAuth": []}, {"sessionCookie": []}, {"queryToken": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _errors(*codes: int) -> dict[str, Any]:
    meaning = {
        400: "Bad input (unknown enum value, wrong type, malformed JSON, bad date).",
        401: "No valid bearer token, HubSpot signature or session.",
        403: "Signed for another HubSpot portal, or a signed request without portalId.",
        404: "Unknown id, one that belongs to another portal, or a feature not configured here (the message says).",
        409: "Conflicts with what is stored (idempotency key reused elsewhere; nothing to undo).",
        413: "Request body larger than 1 MB.",
    }
    return {str(c): _json(_ref("Error"), meaning[c]) for c in codes}


def _path(name: str, description: str, example: str, enum: tuple[str, ...] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "enum": list(enum)} if enum else {
        "type": "string", "minLength": 1, "pattern": NON_EMPTY_NO_NUL,
    }
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema,
            "example": example}


_PORTAL_ID = {
    "name": "portalId", "in": "query", "required": False,
    "description": "Added and signed by HubSpot on `hubspot.fetch`; a signed request may only reach "
                   "records of source `hubspot-<portalId>`. Ignored (but checked) with a bearer token.",
    "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"},
}
_RECORD_PARAMS = [
    _path("source", "Where the record lives: `hubspot-<portalId>`, `salesforce:<orgId>`, `files`…", "hubspot-12345"),
    _path("record_type", "The kind of record.", "deal", ("deal", "lead", "account")),
    _path("record_id", "The record's id in its source.", "D1"),
]
_REC_ID = _path("rec_id", "A recommendation id (`rec_…`).", "rec_0123456789abcdef01234567")


def _schemas() -> dict[str, Any]:
    text_list = {"type": "array", "items": {"type": "string"}}
    nullable_str = {"type": ["string", "null"]}
    event_props: dict[str, Any] = {
        "id": {"type": "integer"},
        "recommendation_id": {"type": "string"},
        "action": {"type": "string", "enum": ["accepted", "dismissed", "snoozed", "undone"]},
        "reason": {"type": ["string", "null"], "enum": [*FEEDBACK_REASONS, None]},
        "note": nullable_str,
        "snooze_until": {"type": ["string", "null"], "format": "date-time"},
        "user": {"type": "string"},
        "idempotency_key": nullable_str,
        "created_at": {"type": "string", "format": "date-time"},
    }
    return {
        "WebhookResult": {
            "type": "object", "required": ["taken", "duplicate", "stale", "syncs_queued"],
            "properties": {k: {"type": "integer", "minimum": 0} for k in ("taken", "duplicate", "stale", "syncs_queued")},
        },
        "Error": {
            "type": "object", "required": ["error"], "additionalProperties": False,
            "properties": {"error": {"type": "string", "description": "One line, no traceback."}},
        },
        "Health": {
            "type": "object", "required": ["status"], "additionalProperties": False,
            "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}, "error": {"type": "string"}},
        },
        "Recommendation": {
            "type": "object",
            "required": ["id", "source", "record_type", "record_id", "deal_id", "account_id", "lead_id", "action_id",
                         "category", "title", "score", "factors", "urgency", "expected_impact", "why", "how", "offer",
                         "constraints", "best_before", "success_rate", "alternatives", "removed", "model_version",
                         "as_of", "rank", "status"],
            "properties": {
                "id": {"type": "string"}, "source": {"type": "string"},
                "record_type": {"type": "string", "enum": ["deal", "lead", "account"]},
                "record_id": {"type": "string"},
                "deal_id": nullable_str, "account_id": nullable_str, "lead_id": nullable_str,
                "action_id": {"type": "string"},
                "category": {"type": "string", "enum": list(CATEGORIES)},
                "title": {"type": "string"},
                "score": {"type": "number", "minimum": 0, "maximum": 100},
                "factors": {
                    "type": "object", "required": ["relevance", "impact", "urgency", "feasibility"],
                    "properties": {k: {"type": "number"} for k in ("relevance", "impact", "urgency", "feasibility")},
                },
                "urgency": {"type": "string", "enum": list(URGENCIES)},
                "expected_impact": {"type": "string"},
                "why": text_list, "how": text_list, "constraints": text_list,
                "offer": {"type": "object", "description": "products, bundle, max_discount_pct, asset (each optional)"},
                "best_before": {"type": "string"},
                "success_rate": {"type": ["number", "null"], "description": "null: no history yet"},
                "alternatives": {"type": "array", "items": {
                    "type": "object", "required": ["action_id", "title", "score", "urgency"],
                    "properties": {"action_id": {"type": "string"}, "title": {"type": "string"},
                                   "score": {"type": "number"}, "urgency": {"type": "string"}},
                }},
                "removed": {"type": "array", "items": {
                    "type": "object", "required": ["rule", "reason"],
                    "properties": {"rule": {"type": "string"}, "reason": {"type": "string"},
                                   "action_id": {"type": "string"}, "product_id": {"type": "string"}},
                }},
                "model_version": {"type": "string"}, "as_of": {"type": "string"},
                "rank": {"type": "integer"}, "script": {"type": "string"}, "owner_id": nullable_str,
                "status": {"type": "string", "enum": list(STATUSES)},
                "extra": {"type": "object"},
                "card_key": {"type": "string", "description": "the card across days (source, record, action): "
                                                              "what a CRM keeps one record per; `id` is one day's"},
                "today_rank": {"type": ["integer", "null"], "minimum": 1,
                               "description": "the card's place in its owner's \"Today\" list that day; null: not in it"},
                "urgency_reason": {"type": "string",
                                   "description": "why the card is HIGH or MEDIUM (e.g. \"close date in 9 days\"); "
                                                  "empty when LOW"},
            },
        },
        "RepToday": {
            "type": "object", "required": ["owner", "as_of", "items"], "additionalProperties": False,
            "properties": {
                "owner": {"type": ["string", "null"],
                          "description": "the owner id the list is for (`me` resolved to the signing user's owner); "
                                         "null when the signing HubSpot user is no active owner in the portal"},
                "message": {"type": "string",
                            "description": "only with owner null: why the list is empty (the user is no owner)"},
                "as_of": {"type": ["string", "null"], "format": "date",
                          "description": "the day of the list; null when no run has kept a list yet"},
                "items": {"type": "array", "items": _ref("Recommendation"), "maxItems": 100,
                          "description": "in today_rank order; cards dismissed or snoozed since the run are left out"},
            },
        },
        "RecordRecommendations": {
            "type": "object", "required": ["record", "recommendations"], "additionalProperties": False,
            "properties": {
                "record": {
                    "type": "object", "required": ["source", "record_type", "record_id"], "additionalProperties": False,
                    "properties": {"source": {"type": "string"}, "record_type": {"type": "string"},
                                   "record_id": {"type": "string"}},
                },
                "recommendations": {"type": "array", "items": _ref("Recommendation"), "maxItems": 50},
            },
        },
        "RecommendationWithFeedback": {
            "allOf": [_ref("Recommendation"), {
                "type": "object", "required": ["feedback"],
                "properties": {"feedback": {"type": "array", "items": _ref("FeedbackEvent")}},
            }],
        },
        "FeedbackIn": {
            "type": "object", "required": ["action", "user"], "additionalProperties": False,
            "properties": {
                "action": {"type": "string", "enum": ["accepted", "dismissed", "snoozed"]},
                "reason": {"type": ["string", "null"], "enum": [*FEEDBACK_REASONS, None]},
                "note": {"type": ["string", "null"], "maxLength": 4000, "pattern": NO_NUL},
                "snooze_until": {
                    "description": "Required when action is snoozed. A date means midnight UTC.",
                    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"},
                              {"type": "null"}],
                },
                "user": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": USER,
                         "description": "Who acted (CRM user id or email); stored trimmed."},
            },
            # snoozed needs a date: said in the schema so generated valid bodies are really valid
            "if": {"properties": {"action": {"const": "snoozed"}}, "required": ["action"]},
            "then": {"required": ["snooze_until"], "properties": {"snooze_until": {"type": "string"}}},
        },
        "FeedbackEvent": {
            "type": "object", "required": list(event_props), "properties": event_props,
        },
        "FeedbackResult": {
            "allOf": [_ref("FeedbackEvent"), {
                "type": "object", "required": ["replayed"],
                "properties": {"replayed": {"type": "boolean", "description": "true: the Idempotency-Key was seen "
                                            "before and nothing new was written"}},
            }],
        },
        "UndoIn": {
            "type": "object", "required": ["user"], "additionalProperties": False,
            "properties": {"user": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": USER}},
        },
        **_lift_schemas(),
        "UndoResult": {
            "allOf": [_ref("FeedbackEvent"), {
                "type": "object", "required": ["restored_status"],
                "properties": {"restored_status": {"type": "string", "enum": ["new", "accepted", "snoozed"]}},
            }],
        },
    }


_TODAY_PARAMS = [
    {"name": "owner", "in": "path", "required": True,
     "description": "The rep: the CRM owner id on the records; `me` only on a HubSpot-signed API request (else a 400).",
     "schema": {"type": "string", "pattern": NON_EMPTY_NO_NUL, "maxLength": 200}},
    {"name": "as_of", "in": "query", "required": False,
     "description": "The day; default: the last day a run kept lists for the sources the caller may see.",
     "schema": {"type": "string", "format": "date"}},
    {"name": "source", "in": "query", "required": False,
     "description": "Only this source; default: every one the caller may see (a HubSpot portal: its own).",
     "schema": {"type": "string", "pattern": NON_EMPTY_NO_NUL, "maxLength": 200}},
]


def _paths() -> dict[str, Any]:
    body_json = {"required": True, "content": {"application/json": {"schema": None}}}
    feedback_body = {**body_json, "content": {"application/json": {"schema": _ref("FeedbackIn")}}}
    undo_body = {**body_json, "content": {"application/json": {"schema": _ref("UndoIn")}}}
    return {
        "/": {"get": {"operationId": "index", "summary": "A short HTML page listing the routes.", "security": [],
                      "responses": {"200": _html("The index page.")}}},
        "/webhooks/hubspot": {"post": {
            "operationId": "hubspotWebhook",
            "summary": "HubSpot change events (webhook v3 signature): each event once, older ones ignored, one quick sync per burst.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "array", "maxItems": 1000, "items": {
                    "type": "object", "required": ["eventId", "portalId", "objectId", "occurredAt", "subscriptionType"],
                    "properties": {"eventId": {"type": ["integer", "string"]}, "portalId": {"type": ["integer", "string"]},
                                   "objectId": {"type": ["integer", "string"]}, "occurredAt": {"type": "integer", "minimum": 0},
                                   "subscriptionType": {"type": "string"}}}}}}},
            "responses": {"202": _json(_ref("WebhookResult"), "Accepted: what was taken, duplicate or stale."),
                          **_errors(400, 401, 404)}}},
        "/webhooks/salesforce": {"post": {
            "operationId": "salesforceWebhook",
            "summary": "Salesforce change events (from a Flow or Apex callout with a bearer token).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["events"], "additionalProperties": False,
                "properties": {"events": {"type": "array", "maxItems": 1000, "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["event_id", "record_id", "occurred_at_ms", "object_type"],
                    "properties": {"event_id": {"type": "string", "minLength": 1, "maxLength": 200},
                                   "record_id": {"type": "string", "minLength": 15, "maxLength": 18},
                                   "occurred_at_ms": {"type": "integer", "minimum": 0},
                                   "object_type": {"type": "string", "minLength": 1, "maxLength": 80}}}}}}}}},
            "responses": {"202": _json(_ref("WebhookResult"), "Accepted: what was taken, duplicate or stale."),
                          **_errors(400, 401, 404)}}},
        "/oauth/hubspot/install": {"get": {
            "operationId": "hubspotInstall", "security": [],
            "summary": "Start the HubSpot public-app install: redirects to HubSpot's consent page.",
            "responses": {"302": {"description": "To HubSpot's authorize URL with a signed state."},
                          **_errors(404)}}},
        "/oauth/hubspot/callback": {"get": {
            "operationId": "hubspotCallback", "security": [],
            "summary": "HubSpot's redirect after consent: exchanges the code, stores the portal's tokens encrypted.",
            "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                           for n in ("code", "state", "error", "error_description")],
            "responses": {"200": _json({"type": "object"}, "Installed: the portal id and the next commands."),
                          **_errors(400, 404)}}},
        "/healthz": {"get": {"operationId": "healthz", "summary": "The process is up.", "security": [],
                             "responses": {"200": _json(_ref("Health"), "Up.")}}},
        "/readyz": {"get": {"operationId": "readyz", "summary": "The store answers.", "security": [],
                            "responses": {"200": _json(_ref("Health"), "Ready."),
                                          "503": _json(_ref("Health"), "The store is not reachable.")}}},
        "/metrics": {"get": {
            "operationId": "metrics", "security": [],
            "summary": "Prometheus metrics: requests and latency per route, feedback by action and outcome.",
            "responses": {"200": {"description": "Prometheus text format 0.0.4.",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
        "/api/v1/openapi.json": {"get": {"operationId": "openapi", "summary": "This document.", "security": [],
                                         "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1.")}}},
        "/api/v1/records/{source}/{record_type}/{record_id}/recommendations": {"get": {
            "operationId": "recordRecommendations",
            "summary": "The current cards of a record (≤3 with alternatives); a deal also shows its account's.",
            "parameters": [*_RECORD_PARAMS, {
                "name": "as_of", "in": "query", "required": False, "description": "The latest run on or before this day.",
                "schema": {"type": "string", "format": "date"},
            }, _PORTAL_ID],
            "responses": {"200": _json(_ref("RecordRecommendations"), "The record's current recommendations."),
                          **_errors(400, 401, 403, 404)},
        }},
        "/api/v1/reps/{owner}/today": {"get": {
            "operationId": "repToday",
            "summary": "The rep's \"Today\": one short ranked list across their deals, accounts and leads "
                       "(README, \"Today\"); an owner with nothing that day gets an empty list.",
            "description": "`owner` = `me` on a HubSpot-signed request (the sidebar card) is the owner of the HubSpot "
                           "user in the signed `userId`, looked up with HubSpot's owners API (`GET /crm/v3/owners/"
                           "{userId}?idProperty=userId`, scope `crm.objects.owners.read`; kept an hour) and read from "
                           "source `hubspot-<portalId>` only. A user who is no active owner there gets 200 with "
                           "`owner` null, no items and a `message`. `me` with a bearer token is a 400: use the owner "
                           "id.",
            "parameters": _TODAY_PARAMS + [_PORTAL_ID, {
                "name": "userId", "in": "query", "required": False,
                "description": "Added and signed by HubSpot on `hubspot.fetch`: the viewing HubSpot user, whose owner "
                               "`me` stands for. Required for `me`; ignored (but checked) otherwise.",
                "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"},
            }],
            "responses": {"200": _json(_ref("RepToday"), "The rep's list for the day."), **_errors(400, 401, 403),
                          "503": _json(_ref("Error"), "`me` could not be resolved now: HubSpot refused or failed the "
                                                      "owners lookup (a missing scope, an outage), or this deployment "
                                                      "has no credentials for the portal. The message says which; "
                                                      "Retry-After: 30.")},
        }},
        "/api/v1/lift": {"get": {
            "operationId": "measuredLift",
            "summary": "What the cards cause: outcome rate of shown vs held-out (control) cards per action family and "
                       "overall, with 95 % intervals, or 'not enough data yet' (README, \"Measured lift\").",
            "parameters": [{"name": "source", "in": "query", "required": False, "description": "Only this source.",
                            "schema": {"type": "string", "pattern": NON_EMPTY_NO_NUL, "maxLength": 200}}, _PORTAL_ID],
            "responses": {"200": _json(_ref("LiftReport"), "The lift so far."), **_errors(400, 401, 403)},
        }},
        "/api/v1/recommendations/{rec_id}": {"get": {
            "operationId": "getRecommendation", "summary": "One recommendation with its feedback events.",
            "parameters": [_REC_ID, _PORTAL_ID],
            "responses": {"200": _json(_ref("RecommendationWithFeedback"), "The recommendation."),
                          **_errors(400, 401, 403, 404)},
        }},
        "/api/v1/recommendations/{rec_id}/feedback": {"post": {
            "operationId": "postFeedback",
            "summary": "Record what the rep did; written in one transaction before the answer.",
            "parameters": [_REC_ID, _PORTAL_ID, {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "A client retry with the same key records once and answers 200 with replayed true.",
                "schema": {"type": "string", "maxLength": 200},
            }],
            "requestBody": feedback_body,
            "responses": {"201": _json(_ref("FeedbackResult"), "Recorded."),
                          "200": _json(_ref("FeedbackResult"), "Replayed: this Idempotency-Key was already used."),
                          **_errors(400, 401, 403, 404, 409, 413)},
        }},
        "/api/v1/recommendations/{rec_id}/feedback/undo": {"post": {
            "operationId": "undoFeedback",
            "summary": "Take back a dismissal made at most 5 minutes ago; the previous status comes back.",
            "parameters": [_REC_ID, _PORTAL_ID],
            "requestBody": undo_body,
            "responses": {"200": _json(_ref("UndoResult"), "Undone; recorded as an `undone` event."),
                          **_errors(400, 401, 403, 404, 409, 413)},
        }},
        "/dashboard": {"get": {
            "operationId": "dashboard", "security": _PAGE_SECURITY,
            "summary": "For sales leaders: acceptance, dismissal reasons, outcomes, rules, model version.",
            "parameters": [{"name": "source", "in": "query", "required": False, "description": "Only this source.",
                            "schema": {"type": "string", "pattern": NO_NUL}}],
            "responses": {"200": _html("The dashboard."),
                          "303": {"description": "`?token=` exchanged for a session cookie; redirect without it."},
                          **_errors(400, 401)},
        }},
        "/reps/{owner}/today": {"get": {
            "operationId": "repTodayPage", "security": _PAGE_SECURITY,
            "summary": "The rep's \"Today\" list as an HTML page.",
            "parameters": _TODAY_PARAMS,
            "responses": {"200": _html("The list."),
                          "303": {"description": "`?token=` exchanged for a session cookie; redirect without it."},
                          **_errors(400, 401, 403)},
        }},
        "/cards/{source}/{record_type}/{record_id}": {"get": {
            "operationId": "cardPage", "security": _PAGE_SECURITY,
            "summary": "The record's cards as an HTML page.",
            "parameters": [*_RECORD_PARAMS, {
                "name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
            }],
            "responses": {"200": _html("The cards."),
                          "303": {"description": "`?token=` exchanged for a session cookie; redirect without it."},
                          **_errors(400, 401, 404)},
        }},
    }


def _lift_schemas() -> dict[str, Any]:
    num = {"type": ["number", "null"]}
    lift_props = {
        "family": {"type": "string"}, "outcome": {"type": "string"},
        "n_shown": {"type": "integer"}, "x_shown": {"type": "integer"},
        "n_control": {"type": "integer"}, "x_control": {"type": "integer"},
        "enough": {"type": "boolean", "description": "false: too few matured cards to say anything yet"},
        "weeks_more": {"type": ["integer", "null"], "description": "about how many more weeks at this volume"},
        "rate_shown": num, "rate_control": num,
        "lift": {**num, "description": "rate_shown − rate_control"},
        "low": {**num, "description": "95 % interval (Newcombe hybrid score)"}, "high": num,
        "relative": {**num, "description": "rate_shown / rate_control − 1"}, "relative_low": num, "relative_high": num,
        "message": {"type": "string"},
    }
    rate_props = {"group": {"type": "string", "enum": ["accepted", "dismissed", "no response", "control"]},
                  "n": {"type": "integer"}, "x": {"type": "integer"}, "rate": num, "low": num, "high": num}
    return {
        "Lift": {"type": "object", "required": list(lift_props), "properties": lift_props},
        "OutcomeRate": {"type": "object", "required": list(rate_props), "properties": rate_props},
        "LiftReport": {"type": "object", "required": ["source", "overall", "families", "responses"], "properties": {
            "source": {"type": ["string", "null"]},
            "overall": _ref("Lift"),
            "families": {"type": "array", "items": _ref("Lift")},
            "responses": {"type": "array", "items": _ref("OutcomeRate"),
                          "description": "headline outcome rate of accepted, dismissed, unanswered and control cards"},
        }},
    }


def build_openapi() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Stepwise card service", "version": VERSION,
            "description": "Next best actions for CRM records, and the rep's feedback. Every /api/v1 call "
                           "(except this document) needs a bearer token from STEPWISE_API_TOKENS or a valid "
                           "HubSpot v3 signature. Every error is a 4xx JSON object with one line in `error`.",
        },
        "security": _API_SECURITY,
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A token from STEPWISE_API_TOKENS: full access."},
                "hubspotSignature": {
                    "type": "apiKey", "in": "header", "name": "X-HubSpot-Signature-v3",
                    "description": "base64(HMAC-SHA256(HUBSPOT_CLIENT_SECRET, method + URI + body + timestamp)); "
                                   "scoped to the signed portalId.",
                },
                "hubspotTimestamp": {
                    "type": "apiKey", "in": "header", "name": "X-HubSpot-Request-Timestamp",
                    "description": "Milliseconds since the epoch; older than 5 minutes is refused.",
                },
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "stepwise_session",
                                  "description": "Set by opening a page once with ?token=."},
                "queryToken": {"type": "apiKey", "in": "query", "name": "token",
                               "description": "An API token, exchanged for the session cookie (303)."},
            },
        },
    }
