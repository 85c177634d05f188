"""Public-app install: `GET /oauth/hubspot/install` → HubSpot's consent screen → `/oauth/hubspot/callback`.

The callback trades the code for tokens, asks HubSpot which portal they belong to and
stores them (refresh token encrypted, see integration/hubspot/tokens.py).  The `state`
parameter is signed with the client secret and expires after 10 minutes, so a forged or
replayed callback is refused.  Register with `app.register_blueprint(hubspot_oauth.bp)`.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from stepwise.integration.base import ConnectorError
from stepwise.integration.hubspot import Tokens, TokenStore, exchange, token_info

bp = Blueprint("hubspot_oauth", __name__, url_prefix="/oauth/hubspot")

AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
SCOPES = (
    "oauth crm.objects.deals.read crm.objects.deals.write crm.objects.companies.read crm.objects.contacts.read "
    "crm.schemas.deals.read crm.schemas.deals.write"
)
# Line items, products and custom objects (orders, invoices, stock, contracts) are read when the mapping
# names them; a portal that withholds a scope just goes without that table (see `stepwise check hubspot`).
OPTIONAL_SCOPES = ("crm.objects.line_items.read crm.objects.products.read crm.objects.custom.read "
                   "crm.schemas.custom.read crm.objects.orders.read crm.objects.invoices.read "
                   "crm.objects.owners.read")  # owners: the Today card's "me" (web/api.py)
STATE_MAX_AGE = 600


def _settings() -> Any:
    from stepwise.settings import get_settings

    settings = current_app.config.get("HUBSPOT_SETTINGS") or get_settings()
    if not (settings.hubspot_client_id and settings.hubspot_client_secret):
        raise ConnectorError("HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET are not set (public app)")
    return settings


def _signer(settings: Any) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.hubspot_client_secret.get_secret_value(), salt="stepwise-hubspot-install")


def _token_store() -> TokenStore:
    store = current_app.config.get("HUBSPOT_TOKEN_STORE")
    if store is None:
        from stepwise.store import Store

        store = TokenStore(Store(_settings().database_url))
        current_app.config["HUBSPOT_TOKEN_STORE"] = store
    return store


def _redirect_uri() -> str:
    return current_app.config.get("HUBSPOT_REDIRECT_URI") or url_for("hubspot_oauth.callback", _external=True)


@bp.get("/install")
def install() -> Any:
    try:
        settings = _settings()
    except ConnectorError as exc:
        # Not configured here: the route does not exist for this deployment (a 4xx, not a server fault).
        return jsonify(error=str(exc)), 404
    query = {
        "client_id": settings.hubspot_client_id, "redirect_uri": _redirect_uri(), "scope": SCOPES,
        "optional_scope": OPTIONAL_SCOPES, "state": _signer(settings).dumps({"t": int(time.time())}),
    }
    return redirect(f"{AUTHORIZE_URL}?{urlencode(query)}")


@bp.get("/callback")
def callback() -> Any:
    try:
        settings = _settings()
    except ConnectorError as exc:
        # Not configured here: the route does not exist for this deployment (a 4xx, not a server fault).
        return jsonify(error=str(exc)), 404
    if request.args.get("error"):
        return jsonify(error=f"HubSpot: {request.args.get('error_description') or request.args['error']}"), 400
    code, state = request.args.get("code"), request.args.get("state", "")
    try:
        _signer(settings).loads(state, max_age=STATE_MAX_AGE)
    except SignatureExpired:
        return jsonify(error="the install link expired; start again from /oauth/hubspot/install"), 400
    except BadSignature:
        return jsonify(error="invalid state: start the install from /oauth/hubspot/install"), 400
    if not code:
        return jsonify(error="missing code"), 400
    try:
        data = exchange(settings.hubspot_base_url, settings.hubspot_client_id, settings.hubspot_client_secret,
                        grant_type="authorization_code", code=code, redirect_uri=_redirect_uri())
        info = token_info(settings.hubspot_base_url, data["access_token"])
    except ConnectorError as exc:
        return jsonify(error=str(exc)), 400
    portal = str(info["hub_id"])
    _token_store().save(Tokens(portal, data["access_token"], data["refresh_token"],
                               time.time() + float(data.get("expires_in", 1800)), " ".join(info.get("scopes", []))))
    return jsonify(installed=True, portal_id=portal,
                   next=f"stepwise setup hubspot --portal {portal} && stepwise sync hubspot --portal {portal}")
