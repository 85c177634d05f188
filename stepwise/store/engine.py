"""The database engine: one per URL in a process, SQLite's pragmas, the dialect's upsert.

Every part of the store (the Store, RunChunks, ModelStore, HubSpotState, OAuthTokenRows) reaches the
database through `engine_for`, so a worker task that builds a Store and a ModelStore on the same URL
shares one connection pool instead of opening two.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from stepwise.store.values import dumps

# Keyed by process too: a pooled connection must never cross a fork (Celery's prefork pool, gunicorn).
# Weak: an engine nothing uses any more is closed and dropped, as it was before it was shared.
_engines: weakref.WeakValueDictionary[tuple[int, str], Engine] = weakref.WeakValueDictionary()
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """The engine of this URL in this process, made on first use; an in-memory SQLite URL always gets a
    new one (each is its own empty database, as callers expect)."""
    parsed = make_url(url)
    if _in_memory(parsed):
        return make_engine(url)
    key = (os.getpid(), parsed.render_as_string(hide_password=False))
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = make_engine(url)
        return engine


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"json_serializer": dumps}
    if parsed.get_backend_name() == "sqlite":
        # Flask and worker threads share the engine; SQLite's own thread check would refuse that.
        kwargs["connect_args"] = {"check_same_thread": False}
        db = parsed.database or ""
        if _in_memory(parsed):
            kwargs["poolclass"] = StaticPool  # one connection, else every thread gets its own empty DB
        elif not db.startswith("file:"):
            Path(db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    return engine


def _in_memory(parsed: Any) -> bool:
    return parsed.get_backend_name() == "sqlite" and (
        (parsed.database or "") in ("", ":memory:") or "mode=memory" in str(parsed))


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the card service) never block the writer (a run)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def dialect_insert(engine: Engine, table: Table) -> Any:
    """INSERT in the engine's dialect, which offers ON CONFLICT … DO UPDATE (both backends spell it alike)."""
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(table)
