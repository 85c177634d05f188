"""Shared fixtures."""

from __future__ import annotations

import pytest

from stepwise.engine.catalog import load_catalog


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()
