"""The one small interface every source implements (files, Salesforce, HubSpot).

Like Redash's query runners: one module per source, one class each, registered
by name so `--source files:DIR` or `salesforce` finds it.

The contract: `pull(cursors)` reads and returns a `Pulled` (the tables, the deleted records, the
cursors to keep, the reps' responses made in the CRM, a `SyncReport`); it writes nothing to the
store — workers/intake.py does that.  What else a source can do is declared in `capabilities`, never
probed: "write_back" (`push`), "follow_up" (`follow_up`, a CRM task when a rep accepts), "feedback"
(reps' responses read back in `Pulled.feedback`), "deletions" (`Pulled.deleted`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import CanonicalData

if TYPE_CHECKING:
    pass

#: which deleted records' ids match which column of a stored recommendation
RECOMMENDATION_COLUMNS = {"deals": "deal_id", "leads": "lead_id", "accounts": "account_id"}


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
class SyncReport:
    """What a pull did (`connector.last_sync`), the same for every source."""

    mode: str = "full"  # full | incremental | since
    rows: dict[str, int] = field(default_factory=dict)  # records read, per CRM object
    deleted: dict[str, list[str]] = field(default_factory=dict)  # canonical table → ids the CRM deleted
    skipped: int = 0  # rows skipped as invalid (each logged with its reason)
    skipped_objects: list[str] = field(default_factory=list)  # objects the org lacks or the user cannot read
    bulk_objects: list[str] = field(default_factory=list)  # objects read through a bulk job
    counts: Counter[str] = field(default_factory=Counter)  # what else the sync saw (changed, own echoes…)
    #: reps' responses new to the store: workers/intake.py counts them as it records `Pulled.feedback`
    feedback: int = 0
    calls: int = 0  # API calls the pull cost

    def deleted_by_column(self) -> dict[str, list[str]]:
        """The deleted ids by the recommendation column they match (what `store.expire_deleted` takes)."""
        return {column: list(self.deleted[table]) for table, column in RECOMMENDATION_COLUMNS.items()
                if self.deleted.get(table)}


@dataclass
class Pulled:
    """What a pull brings back. A pull writes nothing: the run stores the feedback, expires the deleted
    records' cards and keeps the cursors once the pull has been used (a crash re-reads, never skips)."""

    data: CanonicalData
    deleted: dict[str, list[str]] = field(default_factory=dict)  # recommendation column → ids the CRM deleted
    cursors: dict[str, str] = field(default_factory=dict)  # cursor name → value to keep
    feedback: list[CrmFeedback] = field(default_factory=list)
    report: SyncReport = field(default_factory=SyncReport)


@dataclass
class PushResult:
    written: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (recommendation id, error)


@dataclass(frozen=True)
class Finding:
    """One line of `stepwise check <crm>`: an error must be fixed (exit 1), a warning may be."""

    level: Literal["ok", "warning", "error"]
    text: str

    def __str__(self) -> str:
        return f"{self.level}: {self.text}"


#: `stepwise check <crm>` exit codes (README, "Commands"): bad configuration (missing or invalid
#: credentials, unreachable CRM) is 2 through cli/support.user_errors
CHECK_OK, CHECK_FINDINGS = 0, 1


def check_exit_code(findings: Iterable[Finding]) -> int:
    return CHECK_FINDINGS if any(f.level == "error" for f in findings) else CHECK_OK


class Connector(ABC):
    #: the source name recommendations carry (part of their stable id)
    source: str
    #: what this source does beyond `pull` (see the module docstring)
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: what the last pull did
    last_sync: SyncReport

    @abstractmethod
    def pull(self, cursors: Mapping[str, str] | None = None) -> Pulled:
        """Everything, reading only what changed since `cursors` (the ones an earlier pull returned);
        None: no store keeps them, so read everything."""

    def push(self, recommendations: Iterable[Recommendation], *, as_of: str | None = None) -> PushResult:
        """Write recommendations back where reps see them ("write_back"); `as_of` is the run's day."""
        return PushResult()

    def follow_up(self, rec: Recommendation) -> str | None:
        """A rep accepted `rec`: create the CRM follow-up once ("follow_up"); returns its CRM id."""
        return None

    def check(self) -> list[Finding]:
        """The connection, permissions and mapping against the CRM, in plain words."""
        return []
