"""A handle on the store's database: its engine, and every table created there once, on first use.

The Store is one (its concerns are mixins over this class); RunChunks, ModelStore, HubSpotState and
OAuthTokenRows hold one too, the Store's own when they are given it (`attach`). `_begin` and `_connect`
are for the store's own modules: outside stepwise/store nothing opens a connection.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from stepwise.store.engine import engine_for
from stepwise.store.schema import create_tables

log = logging.getLogger(__name__)


class StoreError(Exception):
    """Base of everything the store raises on purpose."""


class NotFound(StoreError):
    """The id names nothing in the store."""


class Conflict(StoreError):
    """The request contradicts what is already stored (e.g. a reused idempotency key)."""


# The database is down or unreachable (the service answers 503, the CLI says where the store is): callers
# catch this name instead of importing SQLAlchemy themselves.
StoreUnavailable = OperationalError


class Database:
    def __init__(self, url: str | Engine) -> None:
        self.engine = engine_for(url) if isinstance(url, str) else url
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"

    def describe(self) -> str:
        """Where the store lives, safe to print (no password)."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        # Closes the pooled connections; the engine stays usable by whoever else shares it.
        self.engine.dispose()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except SQLAlchemyError as exc:
            log.warning("store %s not reachable: %s", self, exc.__class__.__name__)
            return False

    def _begin(self) -> AbstractContextManager[Connection]:
        self._ensure_schema()
        return self.engine.begin()

    def _connect(self) -> Connection:
        self._ensure_schema()
        return self.engine.connect()

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            for attempt in range(3):
                try:
                    create_tables(self.engine)
                    break
                except SQLAlchemyError:
                    # Another process (a second gunicorn or pool worker) may be creating the same
                    # tables between our existence check and CREATE; a retry sees them.
                    if attempt == 2:
                        raise
                    threading.Event().wait(0.2)
            self._schema_ready = True


def attach(target: Database | Engine | str) -> Database:
    """The Store itself when given one (its engine, its schema already made), else a handle on the engine
    or URL (the URL's shared engine)."""
    return target if isinstance(target, Database) else Database(target)
