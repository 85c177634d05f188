"""Which connector a `--source` spec names (`files:DIR`, `salesforce`, `salesforce:full`, `hubspot`, …).

One table above the connectors, like Redash's query-runner registry but written out: the connectors
import the contract in base.py, and nothing in them imports back.  Each factory is imported when its
source is asked for, so the CLI starts without loading both CRM SDKs.
"""

from __future__ import annotations

from collections.abc import Callable

from stepwise.integration.base import Connector, ConnectorError
from stepwise.store import Store

KINDS = ("files", "hubspot", "salesforce")


def connector_for(spec: str, *, full: bool = False, store: Store | None = None) -> Connector:
    """`files:DIR` → FilesConnector(DIR); the part after the colon is the source's argument.
    `full` re-reads everything; `store` is the run's (a source keeping its own tables there, like
    HubSpot, uses its database)."""
    kind, _, argument = spec.partition(":")
    return _factory(kind)(argument, full=full, store=store)


def _factory(kind: str) -> Callable[..., Connector]:
    if kind == "files":
        from stepwise.integration.files import FilesConnector

        return FilesConnector
    if kind == "hubspot":
        from stepwise.integration.hubspot.connector import HubSpotConnector

        return HubSpotConnector.from_settings
    if kind == "salesforce":
        from stepwise.integration.salesforce.connector import from_spec

        return from_spec
    raise ConnectorError(f"unknown source '{kind}' (known: {', '.join(KINDS)}); e.g. --source files:./sample-data")
