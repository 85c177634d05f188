"""Prometheus metrics for the card service, on a registry owned by each app.

A per-app CollectorRegistry (not prometheus_client's global one) keeps tests and
several apps in one process independent. Under gunicorn each worker has its own
registry, so a scrape sees one worker; run with a single worker per scrape target,
or switch to prometheus_client's multiprocess mode when that matters.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

METRICS = "stepwise.metrics"
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

    def render(self) -> Response:
        return Response(generate_latest(self.registry), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def init_app(app: Flask) -> Metrics:
    metrics = Metrics()
    app.extensions[METRICS] = metrics

    @app.before_request
    def _start_timer() -> None:
        g.stepwise_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("stepwise_started", None)
        # The rule template, never the raw path: random ids must not become label values.
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        method = request.method if request.method in _KNOWN_METHODS else "OTHER"
        metrics.requests.labels(route, method, str(response.status_code)).inc()
        if started is not None:
            metrics.latency.labels(route, method).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return metrics.render()

    return metrics


def count_feedback(action: str, outcome: str) -> None:
    metrics: Metrics | None = current_app.extensions.get(METRICS)
    if metrics is not None:
        metrics.feedback.labels(action, outcome).inc()
