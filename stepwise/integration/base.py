"""The one small interface every source implements (files, Salesforce, HubSpot).

Like Redash's query runners: one module per source, one class each, registered
by name so `--source files:DIR` or `salesforce` finds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import CanonicalData


class ConnectorError(Exception):
    """A source cannot be read or written; the message says what to fix."""


@dataclass(frozen=True)
class CrmFeedback:
    """A rep's response made inside the CRM (accept, dismiss, snooze), for the run to record in the store."""

    rec_id: str
    action: str
    user: str
    idempotency_key: str
    reason: str | None = None
    snooze_until: str | None = None


@dataclass
class Pulled:
    """What a pull brings back. A pull writes nothing: the run stores the feedback, expires the deleted
    records' cards and keeps the cursors once the pull has been used (a crash re-reads, never skips)."""

    data: CanonicalData
    deleted: dict[str, list[str]] = field(default_factory=dict)  # recommendation column → ids the CRM deleted
    cursors: dict[str, str] = field(default_factory=dict)  # cursor name → value to keep
    feedback: list[CrmFeedback] = field(default_factory=list)


@dataclass
class PushResult:
    written: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (recommendation id, error)


class Connector(ABC):
    #: the source name recommendations carry (part of their stable id)
    source: str

    @abstractmethod
    def pull(self, since: str | None = None) -> CanonicalData:
        """Canonical tables of everything changed since the cursor (all when None)."""

    def push(self, recommendations: Iterable[Recommendation]) -> PushResult:
        """Write recommendations back where reps see them; a source without write-back writes nothing."""
        return PushResult()


_REGISTRY: dict[str, Callable[[str], Connector]] = {}


def register(kind: str, factory: Callable[[str], Connector]) -> None:
    _REGISTRY[kind] = factory


def connector_for(spec: str) -> Connector:
    """`files:DIR` → FilesConnector(DIR); the part after the colon is the source's argument."""
    kind, _, argument = spec.partition(":")
    # Importing the modules registers them; done lazily so the CLI starts fast.
    from stepwise.integration import files  # noqa: F401
    from stepwise.integration.hubspot import connector as _hubspot  # noqa: F401
    from stepwise.integration.salesforce import connector as _salesforce  # noqa: F401

    if kind not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ConnectorError(f"unknown source '{kind}' (known: {known}); e.g. --source files:./sample-data")
    return _REGISTRY[kind](argument)
