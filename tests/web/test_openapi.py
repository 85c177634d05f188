"""The OpenAPI document describes every route, and the handlers keep its promises (schemathesis)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth

from stepwise.engine.recommendation import Factors, Recommendation, recommendation_id
from stepwise.store import Store
from stepwise.web.app import create_app
from stepwise.web.openapi import build_openapi

TOKEN = "schemathesis-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SOURCE = "hubspot-12345"  # the examples in the document point at these records
DAY = "2024-05-10"


def _rec(record_id: str, action_id: str, record_type: str = "deal") -> Recommendation:
    return Recommendation(
        id=recommendation_id(SOURCE, record_id, action_id, DAY), source=SOURCE, record_type=record_type,
        record_id=record_id, deal_id=record_id if record_type == "deal" else None, account_id="A1", lead_id=None,
        action_id=action_id, category="content", title=f"{action_id} on {record_id}", score=81.5,
        factors=Factors(90, 60, 70, 100), urgency="HIGH", expected_impact="stage advance", why=("budget came up 3 times",),
        how=("Open the calculator", "Send it"), offer={"max_discount_pct": 10.0}, constraints=("max discount 10%",),
        best_before="2024-05-12", success_rate=0.35, alternatives=(), removed=(), model_version="priors-1", as_of=DAY,
        owner_id="rep_01",
    )


def _app():
    # Built at import: schemathesis' lazy fixture loader does not work with pytest 9, so the schema
    # (and the app it calls) must exist when the module is collected. In-memory SQLite: nothing to clean.
    store = Store("sqlite://")
    run_id = store.start_run(SOURCE, DAY, "priors-1")
    store.upsert_recommendations(run_id, [_rec("D1", "send_roi_calculator"), _rec("A1", "replenish", "account")])
    store.finish_run(run_id, {"recommendations": 2, "removed_by_rule": {"stock": 1}})
    return create_app(store=store, api_tokens=[TOKEN], hubspot_secret="hs-secret")


APP = _app()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)
# Credentials are ours to send (below); generated random ones would only test the 401 path.
schema.config.generation.update(with_security_parameters=False)


@pytest.fixture
def app():
    return APP


def test_every_route_is_described(app) -> None:
    doc = build_openapi()
    described = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == described


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_keeps_the_documents_promises(case: schemathesis.Case) -> None:
    # Every default check (no 5xx, status codes, content types, response schemas, negative data
    # rejected, positive data accepted…); ignored_auth is exercised by test_api_needs_a_valid_token.
    case.call_and_validate(headers=AUTH, excluded_checks=[ignored_auth])


def test_openapi_document_is_public(app) -> None:
    resp = app.test_client().get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.get_json()["openapi"].startswith("3.1")
