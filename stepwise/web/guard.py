"""The Flask side of auth: turn the current request into a Principal or an AuthError."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, Response, current_app, g, redirect, request

from stepwise.web.auth import (
    PORTAL_ID,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AuthError,
    Principal,
    bearer_token,
    session_cookie_value,
    session_valid,
    token_digest,
    token_matches,
    verify_hubspot_signature,
)

TOKEN_DIGESTS = "STEPWISE_API_TOKEN_DIGESTS"
HUBSPOT_SECRET = "stepwise.hubspot_secret"  # in app.extensions, never in app.config (config dumps)
NO_TOKENS = "no API tokens configured (set STEPWISE_API_TOKENS)"


def configure(app: Flask, api_tokens: list[str], hubspot_secret: str | None) -> None:
    # Only digests are kept: a config dump or debug page never shows a usable token.
    app.config[TOKEN_DIGESTS] = tuple(token_digest(t.strip()) for t in api_tokens if t and t.strip())
    app.extensions[HUBSPOT_SECRET] = hubspot_secret or None


def _digests() -> tuple[bytes, ...]:
    return current_app.config.get(TOKEN_DIGESTS, ())


def api_principal() -> Principal:
    """A bearer token (full access) or a HubSpot v3 signature (scoped to its portalId)."""
    digests = _digests()
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        token = bearer_token(authorization)
        if token is None:
            raise AuthError(401, "missing bearer token", "Bearer")
        if not digests:
            raise AuthError(401, NO_TOKENS, "Bearer")
        if token_matches(token, digests):
            return Principal("token")
        raise AuthError(401, "invalid API token", 'Bearer error="invalid_token"')
    if request.headers.get(SIGNATURE_HEADER) is not None:
        return _hubspot_principal()
    if not digests and not current_app.extensions.get(HUBSPOT_SECRET):
        raise AuthError(401, NO_TOKENS, "Bearer")
    raise AuthError(401, "missing bearer token or HubSpot signature", "Bearer")


def _hubspot_principal() -> Principal:
    secret = current_app.extensions.get(HUBSPOT_SECRET)
    if not secret:
        raise AuthError(401, "HubSpot signatures are not accepted (set HUBSPOT_CLIENT_SECRET)")
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not timestamp:
        raise AuthError(401, f"missing {TIMESTAMP_HEADER} header")
    signature = request.headers.get(SIGNATURE_HEADER)
    body = request.get_data(cache=True)
    if not any(
        verify_hubspot_signature(request.method, uri, body, timestamp, signature, secret)
        for uri in signed_uri_candidates()
    ):
        raise AuthError(401, "invalid or expired HubSpot signature")
    portal = request.args.get("portalId", "")
    if not PORTAL_ID.fullmatch(portal):
        raise AuthError(403, "a HubSpot-signed request must carry a numeric portalId")
    return Principal("hubspot", portal)


def signed_uri_candidates() -> list[str]:
    """The URL as HubSpot called it. Behind a TLS-terminating proxy we see http while
    HubSpot signed https, so both schemes are tried; the Host header must be passed through."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:  # servers that keep no raw URI: rebuild it from the decoded path
        raw = quote(request.path, safe="/:@!$&'()*+,;=-._~")
        if request.query_string:
            raw += "?" + request.query_string.decode("latin-1")
    schemes = dict.fromkeys((request.scheme, "https"))
    return [f"{scheme}://{request.host}{raw}" for scheme in schemes]


def browser_principal() -> Principal:
    """Dashboard and card pages: a bearer token or the session cookie (set from ?token=)."""
    digests = _digests()
    if not digests:
        raise AuthError(401, NO_TOKENS)
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        token = bearer_token(authorization)
        if token and token_matches(token, digests):
            return Principal("token")
        raise AuthError(401, "invalid API token", 'Bearer error="invalid_token"')
    if session_valid(request.cookies.get(SESSION_COOKIE), digests):
        return Principal("session")
    raise AuthError(401, "sign in: open this page once with ?token=<API token>")


def exchange_query_token() -> Response | None:
    """`?token=` → a session cookie and a redirect to the same URL without the token,
    so the token does not stay in the address bar, the history or a Referer header."""
    if "token" not in request.args:
        return None
    digests = _digests()
    if not digests:
        raise AuthError(401, NO_TOKENS)
    if not token_matches(request.args["token"], digests):
        raise AuthError(401, "invalid API token")
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    query = urlencode(rest)
    response = redirect(request.path + (f"?{query}" if query else ""), code=303)
    response.set_cookie(
        SESSION_COOKIE, session_cookie_value(digests), max_age=SESSION_MAX_AGE_S,
        httponly=True, samesite="Lax", secure=request.is_secure, path="/",
    )
    return response


def protect_pages(bp: Blueprint) -> None:
    """Browser blueprints: exchange ?token= for the cookie, then require a principal."""

    @bp.before_request
    def _sign_in() -> Response | None:
        if request.headers.get("Authorization") is None and (exchanged := exchange_query_token()) is not None:
            return exchanged
        g.stepwise_principal = browser_principal()
        return None
