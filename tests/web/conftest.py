"""Fixtures for the card service tests: a small SQLite store and a client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from stepwise.store import Store
from stepwise.web.app import create_app
from tests.web.cards_fixtures import ACCOUNT_REC, DAY, DEAL_REC, SOURCE, TOKEN


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'cards.db'}")
    run_id = s.start_run(SOURCE, DAY, "test-1")
    s.upsert_recommendations(run_id, [DEAL_REC, ACCOUNT_REC])
    yield s
    s.close()


@pytest.fixture
def client(store: Store) -> FlaskClient:
    return create_app(store=store, api_tokens=["other-token", TOKEN]).test_client()
