"""Shared fixtures."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

from stepwise.engine.catalog import load_catalog
from stepwise.store import Store

PG_URL = os.environ.get("STEPWISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


def _pg_reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'nested' / 'stepwise.db'}")
        yield s
        s.close()
        return
    if not _pg_reachable(PG_URL):
        pytest.skip(f"PostgreSQL not reachable at {make_url(PG_URL).render_as_string(hide_password=True)} "
                    "(set STEPWISE_TEST_POSTGRES_URL)")
    # A private schema per test: tables start empty and concurrent test runs never collide.
    schema = f"stepwise_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    s = Store(make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False))
    try:
        yield s
    finally:
        s.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
