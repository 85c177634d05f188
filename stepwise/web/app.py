"""The card service: a Flask app factory (gunicorn: `stepwise.web.app:create_app()`)."""

from __future__ import annotations

import gc
import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from stepwise.store import Conflict, NotFound, Store, StoreUnavailable
from stepwise.web import cardpage, dashboard, guard, hubspot_oauth, metrics, todaypage, webhooks
from stepwise.web.api import STORE, bp, error
from stepwise.web.auth import AuthError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024

INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stepwise card service</title></head>
<body>
<h1>Stepwise card service</h1>
<p>Every <code>/api/v1</code> call needs <code>Authorization: Bearer &lt;token&gt;</code> or a HubSpot v3 signature.
The full description: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
<ul>
<li><code>GET /healthz</code> &mdash; the process is up; <code>GET /readyz</code> &mdash; the database (and Redis, when configured) answer;
<code>GET /metrics</code> &mdash; Prometheus</li>
<li><code>GET /api/v1/records/&lt;source&gt;/&lt;deal|lead|account&gt;/&lt;record_id&gt;/recommendations[?as_of=YYYY-MM-DD]</code>
&mdash; the current recommendations for a record (a deal also shows its account's)</li>
<li><code>GET /api/v1/recommendations/&lt;id&gt;</code> &mdash; one recommendation with its feedback</li>
<li><code>POST /api/v1/recommendations/&lt;id&gt;/feedback</code> &mdash; JSON
<code>{"action": "accepted|dismissed|snoozed", "user": "...", "reason"?, "note"?, "snooze_until"?}</code>,
optional <code>Idempotency-Key</code> header</li>
<li><code>POST /api/v1/recommendations/&lt;id&gt;/feedback/undo</code> &mdash; <code>{"user": "..."}</code>,
takes back a dismissal within 5 minutes</li>
<li><a href="/dashboard"><code>/dashboard</code></a> and <code>/cards/&lt;source&gt;/&lt;type&gt;/&lt;id&gt;</code>
&mdash; HTML for people; open once with <code>?token=&lt;token&gt;</code></li>
</ul>
</body></html>
"""


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def create_app(store: Store | None = None, api_tokens: list[str] | None = None,
               hubspot_secret: str | None = None, redis_url: str | None = None) -> Flask:
    if store is None or api_tokens is None:
        # Imported here so tests (which pass store and tokens) never depend on the environment.
        from stepwise.settings import get_settings

        settings = get_settings()
        if store is None:
            store = Store(settings.database_url)
        if api_tokens is None:
            api_tokens = [_reveal(t) for t in settings.api_tokens]
        if hubspot_secret is None and settings.hubspot_client_secret is not None:
            hubspot_secret = _reveal(settings.hubspot_client_secret)
        redis_url = redis_url or settings.redis_url

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["STEPWISE_REDIS_URL"] = redis_url
    guard.configure(app, api_tokens, hubspot_secret)
    app.extensions[STORE] = store
    app.json.sort_keys = False  # type: ignore[attr-defined]
    metrics.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(cardpage.bp)
    app.register_blueprint(todaypage.bp)
    app.register_blueprint(hubspot_oauth.bp)  # public: HubSpot's browser redirect carries no token
    app.register_blueprint(webhooks.bp)
    _register_errors(app)

    @app.get("/")
    def index() -> Any:
        return INDEX_HTML, 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Any:
        if not store.ping():
            return jsonify(status="unavailable", error="database not reachable"), 503
        if redis_url and not _redis_answers(redis_url):
            return jsonify(status="unavailable", error="redis not reachable"), 503
        return jsonify(status="ok")

    _freeze_startup_heap()
    return app


_startup_heap_frozen = False


def _freeze_startup_heap() -> None:
    """Once per process, after the first app is built: what startup loaded (modules, pandas, SQLAlchemy,
    the app) lives as long as the process, so it leaves the cyclic GC's generations. A full collection
    would otherwise walk those ~100k objects and stall a gunicorn worker for tens of milliseconds, the
    card endpoint's p99. Under `gunicorn --preload` this also keeps the forked workers' pages shared."""
    global _startup_heap_frozen
    if not _startup_heap_frozen:
        _startup_heap_frozen = True
        gc.collect()
        gc.freeze()


def _register_errors(app: Flask) -> None:
    @app.errorhandler(AuthError)
    def _auth(exc: AuthError) -> Any:
        headers = {"WWW-Authenticate": exc.challenge} if exc.challenge else {}
        return error(exc.status, exc.message, **headers)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Any:
        return error(404, str(exc))

    @app.errorhandler(Conflict)
    def _conflict(exc: Conflict) -> Any:
        return error(409, str(exc))

    @app.errorhandler(StoreUnavailable)
    def _store_down(exc: StoreUnavailable) -> Any:
        # The store went away mid-request: a retryable 503, not a bug (and no connection string leaks).
        log.warning("store unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__)
        return error(503, "the store is not reachable; retry shortly", **{"Retry-After": "5"})

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        response = exc.get_response()  # keeps headers such as Allow on a 405
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body larger than {MAX_BODY_BYTES} bytes"
        response.data = app.json.dumps({"error": " ".join(str(message).split())})
        response.content_type = "application/json"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error(500, "internal server error")


def _reveal(token: Any) -> str:
    # Settings may hold tokens as pydantic SecretStr.
    return token.get_secret_value() if hasattr(token, "get_secret_value") else str(token)
