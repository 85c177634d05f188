"""Fixtures for the Salesforce connector tests: a fake org at the HTTP layer and a governed client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from stepwise.integration.salesforce.client import SalesforceClient, connect, local_limiter
from stepwise.integration.salesforce.fake import FAST, FakeSalesforce, session_settings
from stepwise.store import Store


@pytest.fixture()
def fake() -> Iterator[FakeSalesforce]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeSalesforce(rsps)


@pytest.fixture()
def client(fake: FakeSalesforce) -> SalesforceClient:
    return connect(session_settings(), limiter=local_limiter(), policy=FAST)


@pytest.fixture()
def sf_store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'stepwise.db'}")
    yield s
    s.close()
