"""Fixtures of the HubSpot tests: a fake HubSpot over HTTP and a connector pointed at it."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_hubspot import TOKEN, FakeHubSpot  # noqa: E402

from stepwise.integration.hubspot import HubSpotConnector  # noqa: E402
from stepwise.integration.hubspot_client import HubSpotClient, Limits, StaticToken  # noqa: E402
from stepwise.integration.store import Store  # noqa: E402

FAST = Limits(general=(100_000, 1.0), search=(100_000, 1.0))


@pytest.fixture
def fake(httpserver) -> FakeHubSpot:
    portal = FakeHubSpot()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(portal.handle)
    portal.base_url = httpserver.url_for("").rstrip("/")
    return portal


@pytest.fixture
def hs_store(tmp_path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'stepwise.db'}")
    yield store
    store.close()


@pytest.fixture
def make_client(fake) -> Callable[..., HubSpotClient]:
    def build(limits: Limits = FAST, **kwargs) -> HubSpotClient:
        kwargs.setdefault("max_wait", 0.05)
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("account", f"test-{id(fake)}")
        return HubSpotClient(kwargs.pop("tokens", StaticToken(TOKEN)), fake.base_url, limits=limits, **kwargs)

    return build


@pytest.fixture
def make_connector(make_client, hs_store) -> Callable[..., HubSpotConnector]:
    def build(client: HubSpotClient | None = None, **kwargs) -> HubSpotConnector:
        return HubSpotConnector(client or make_client(), hs_store, **kwargs)

    return build


def make_rec(deal_id: str, action_id: str = "send_roi_calculator", *, score: float = 80.0, rank: int = 1,
             day: str = "2026-11-23", urgency: str = "HIGH"):
    from stepwise.engine.recommendation import Factors, Recommendation, recommendation_id

    return Recommendation(
        id=recommendation_id("hubspot", deal_id, action_id, day), source="hubspot", record_type="deal",
        record_id=deal_id, deal_id=deal_id, account_id="50000", lead_id=None, action_id=action_id,
        category="content", title=f"{action_id} for deal {deal_id}", score=score, factors=Factors(90, 60, 70, 90),
        urgency=urgency, expected_impact="Stage advance", why=("Budget came up 3 times in 30 days.",),
        how=("Open the ROI calculator.", "Send it by email."), offer={}, constraints=(), best_before="2026-11-24",
        success_rate=None, alternatives=(), removed=(), model_version="test", as_of=day, rank=rank,
    )
