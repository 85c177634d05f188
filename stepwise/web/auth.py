"""Who is calling: bearer tokens, HubSpot v3 request signatures, and the browser session.

A request to /api/v1 is authorised by either a bearer token from STEPWISE_API_TOKENS
(scripts, Apex callouts: full access) or a valid HubSpot v3 signature (the app card's
`hubspot.fetch`: scoped to the portal in its signed `portalId` query parameter).
Browser pages (dashboard, card view) take a bearer token, or `?token=` once, which
is exchanged for a signed session cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
MAX_SIGNATURE_AGE_MS = 5 * 60 * 1000
SESSION_COOKIE = "stepwise_session"
SESSION_MAX_AGE_S = 8 * 60 * 60
PORTAL_ID = re.compile(r"[0-9]{1,20}")  # use with fullmatch

# HubSpot decodes exactly these escapes in the URI before signing (developers.hubspot.com,
# "Validating requests", v3); anything else stays percent-encoded on both sides.
_HUBSPOT_UNESCAPE = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}
_ESCAPE = re.compile("|".join(_HUBSPOT_UNESCAPE), re.IGNORECASE)


class AuthError(Exception):
    """The request is not authorised (401) or not allowed to see this (403)."""

    def __init__(self, status: int, message: str, challenge: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.challenge = challenge


@dataclass(frozen=True)
class Principal:
    kind: Literal["token", "hubspot", "session"]
    portal_id: str | None = None

    def may_see(self, source: str) -> bool:
        """Tokens and leaders' sessions see every source; a HubSpot portal only its own."""
        return self.kind != "hubspot" or source == portal_source(self.portal_id or "")


def portal_source(portal_id: str) -> str:
    """The store source the HubSpot connector uses for a public-app install (`--source hubspot:PORTAL`)."""
    return f"hubspot-{portal_id}"


# -- bearer tokens ------------------------------------------------------------------------


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def token_matches(token: str, digests: Sequence[bytes]) -> bool:
    presented = token_digest(token.strip())
    # Compare against every digest with no early exit, so timing says nothing about which matched.
    matched = False
    for digest in digests:
        matched |= hmac.compare_digest(presented, digest)
    return matched and bool(token.strip())


def bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


# -- HubSpot v3 signatures ----------------------------------------------------------------


def hubspot_signature(method: str, uri: str, body: bytes | str, timestamp: str | int, secret: str) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp)), as HubSpot computes it."""
    raw = b"".join((
        method.upper().encode(), _hubspot_uri(uri).encode(),
        body.encode() if isinstance(body, str) else body, str(timestamp).encode(),
    ))
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def verify_hubspot_signature(
    method: str, uri: str, body: bytes | str, timestamp: str | int | None, signature: str | None,
    secret: str | None, now: float | datetime | None = None,
) -> bool:
    """True when `signature` is HubSpot's v3 signature of this request and is fresh.

    `uri` is the full URL HubSpot called (scheme, host, path, query); `timestamp` the
    X-HubSpot-Request-Timestamp header (milliseconds since the epoch); `now` seconds since
    the epoch or an aware datetime (tests). Stale (> 5 minutes) or future-dated (> 5 minutes
    ahead, clock skew) timestamps are refused so a captured request cannot be replayed later.
    """
    if not (secret and signature and timestamp is not None):
        return False
    try:
        sent_ms = int(str(timestamp).strip())
    except ValueError:
        return False
    now_s = now.timestamp() if isinstance(now, datetime) else (time.time() if now is None else float(now))
    if abs(now_s * 1000 - sent_ms) > MAX_SIGNATURE_AGE_MS:
        return False
    expected = hubspot_signature(method, uri, body, str(timestamp).strip(), secret)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def _hubspot_uri(uri: str) -> str:
    return _ESCAPE.sub(lambda m: _HUBSPOT_UNESCAPE[m.group(0).upper()], uri)


# -- browser session ----------------------------------------------------------------------


def session_serializer(digests: Sequence[bytes]) -> URLSafeTimedSerializer:
    """The cookie key is derived from the token digests: every gunicorn worker agrees on it
    without extra configuration, and rotating the tokens logs every browser out."""
    key = hashlib.sha256(b"stepwise-session|" + b"|".join(sorted(digests))).hexdigest()
    return URLSafeTimedSerializer(key, salt="stepwise-dashboard")


def session_cookie_value(digests: Sequence[bytes]) -> str:
    return session_serializer(digests).dumps({"v": 1})


def session_valid(cookie: str | None, digests: Sequence[bytes]) -> bool:
    if not cookie or not digests:
        return False
    try:
        session_serializer(digests).loads(cookie, max_age=SESSION_MAX_AGE_S)
    except BadSignature:  # also covers SignatureExpired
        return False
    return True
