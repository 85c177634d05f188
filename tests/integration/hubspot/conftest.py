"""Fixtures of the HubSpot tests: a fake HubSpot over HTTP and a connector pointed at it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from stepwise.engine.records import CanonicalData
from stepwise.integration.hubspot.client import HubSpotClient, Limits, StaticToken
from stepwise.integration.hubspot.connector import HubSpotConnector
from stepwise.integration.hubspot.fake import TOKEN, FakeHubSpot
from stepwise.store import HubSpotState, Store
from tests.integration.syncs import sync as sync_into

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
    def build(client: HubSpotClient | None = None, *, account: str = "private", **kwargs) -> HubSpotConnector:
        return HubSpotConnector(client or make_client(), HubSpotState(hs_store, account), **kwargs)

    return build


@pytest.fixture
def sync(hs_store) -> Callable[[HubSpotConnector], CanonicalData]:
    """A run's intake on the test store: pull from the kept cursors, keep the new ones."""
    return lambda connector: sync_into(connector, hs_store)
