"""Prometheus metrics for the card service, on a registry owned by each app.

A per-app CollectorRegistry (not prometheus_client's global one) keeps tests and
several apps in one process independent. Under gunicorn each worker has its own
registry, so a scrape sees one worker; run with a single worker per scrape target,
or switch to prometheus_client's multiprocess mode when that matters.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

METRICS = "stepwise.metrics"
_STARTED = "stepwise.started"  # in the WSGI environ
_KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "stepwise_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "stepwise_http_request_duration_seconds", "Time to answer a request, by route template and method.",
            ["route", "method"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.feedback = Counter(
            "stepwise_feedback", "Feedback requests by action and outcome (recorded, replayed, undone, rejected…).",
            ["action", "outcome"], registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float | None) -> None:
        # The labelled children, looked up once per label set: labels() validates and locks on every call.
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(route, method, str(status)),
                                              self.latency.labels(route, method))
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def init_app(app: Flask) -> Metrics:
    metrics = Metrics()
    app.extensions[METRICS] = metrics

    # The clock starts where the WSGI call does (a before_request hook would start it later, and cost more).
    wsgi_app = app.wsgi_app

    def timed_wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
        environ[_STARTED] = time.perf_counter()
        return wsgi_app(environ, start_response)

    app.wsgi_app = timed_wsgi_app  # type: ignore[method-assign]

    @app.after_request
    def _observe(response: Response) -> Response:
        started = request.environ.get(_STARTED)
        # The rule template, never the raw path: random ids must not become label values.
        rule = request.url_rule
        method = request.method
        metrics.observe_request(rule.rule if rule is not None else "<unmatched>",
                                method if method in _KNOWN_METHODS else "OTHER", response.status_code,
                                None if started is None else time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return metrics.render()

    return metrics


def count_feedback(action: str, outcome: str) -> None:
    metrics: Metrics | None = current_app.extensions.get(METRICS)
    if metrics is not None:
        metrics.feedback.labels(action, outcome).inc()
