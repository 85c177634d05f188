"""What every `stepwise` command shares: user-fixable errors as one line and exit 2, the day argument.

Kept apart from core.py so the command modules beside it (learning, CRM connectors) can use it without
importing the root group (which registers them).
"""

from __future__ import annotations

import functools
import sys
from datetime import date

import click

from stepwise.engine.catalog import CatalogError
from stepwise.engine.records import MissingColumnError, MissingTableError
from stepwise.integration.base import ConnectorError
from stepwise.settings import SettingsError
from stepwise.store import StoreUnavailable

USER_ERRORS = (ConnectorError, MissingColumnError, MissingTableError, CatalogError, SettingsError)


def user_errors(func):
    """Turn the errors a user can fix into one clear line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except StoreUnavailable as exc:
            # The URL (with its password) is never echoed: only what went wrong.
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            click.echo(f"error: the store (STEPWISE_DATABASE_URL) is not reachable: {reason}", err=True)
            sys.exit(2)

    return wrapper


def as_of_day(value: str | None) -> str:
    """The day a command works as of: YYYY-MM-DD, default today."""
    if value is None:
        return date.today().isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date (YYYY-MM-DD)") from None
