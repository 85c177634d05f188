"""The Salesforce connector: pull changed records into canonical tables, write recommendations back.

Pull: one SOQL query per mapped object (Opportunity carries its contact roles in a
relationship sub-query), paged by `nextRecordsUrl` at 2,000 rows per call.  With a
store, each object's cursor is its highest `SystemModstamp` seen; the next sync asks
for `SystemModstamp > cursor - overlap` through queryAll, so deletions arrive in the
same call (`IsDeleted = true`) instead of costing a second query per object.  The
changes are applied to a local mirror (salesforce_mirror.py), so the engine still
sees every record.  Push: Stepwise_Recommendation__c upserted by Stepwise_Id__c,
1,000 records per API call, and the ones no longer current set to Expired.

Every call goes through salesforce_client (timeout, limiter, retries, counting).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from simple_salesforce.exceptions import SalesforceMalformedRequest

from stepwise.cards.salesforce_fields import (
    EXTERNAL_ID,
    OBJECT,
    REP_FIELDS,
    STATUS_FROM_SALESFORCE,
    expired_fields,
    to_fields,
)
from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import TABLES, CanonicalData, RowIssue, coerce_table
from stepwise.integration.base import Connector, ConnectorError, PushResult, register
from stepwise.integration.salesforce_client import CallPolicy, SalesforceClient, connect
from stepwise.integration.salesforce_mapping import (
    CONTACT_ROLES,
    PARENT_ID,
    SF_ID,
    ChildMapping,
    ObjectMapping,
    SalesforceMapping,
    contact_roles_into,
    load_mapping,
    map_records,
)
from stepwise.integration.salesforce_mirror import Mirror
from stepwise.integration.salesforce_writeback import upsert
from stepwise.integration.store import NotFound, Store
from stepwise.settings import Settings, get_settings

log = logging.getLogger(__name__)

SOURCE = "salesforce"
FEEDBACK_CURSOR = f"{OBJECT}:feedback"


@dataclass
class SyncReport:
    """What the last pull did: per-object rows, deleted ids per table (to expire their cards), cost."""

    mode: str = "full"  # full | incremental | since
    rows: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    skipped: int = 0
    skipped_objects: list[str] = field(default_factory=list)
    feedback: int = 0
    calls: int = 0


@dataclass
class _Delta:
    frame: pd.DataFrame
    children: dict[str, pd.DataFrame]
    deleted: list[str]
    replace: bool


@dataclass
class PushReport:
    written: int = 0
    expired: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    calls: int = 0


class SalesforceConnector(Connector):
    source = SOURCE

    def __init__(self, client: SalesforceClient, mapping: SalesforceMapping | None = None, *,
                 store: Store | None = None, mirror_dir: str | Path | None = None, full: bool = False,
                 write_attempts: int = 3, write_backoff: float = 1.0):
        self.client = client
        self.mapping = mapping or load_mapping()
        self.store = store
        self.mirror = Mirror(mirror_dir) if mirror_dir is not None else None
        self.full = full
        self.write_attempts, self.write_backoff = write_attempts, write_backoff
        self.last_sync = SyncReport()
        self.last_push = PushReport()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, mapping_path: str | Path | None = None,
                      store: Store | None = None, mirror_dir: str | Path | None = None, full: bool = False,
                      policy: CallPolicy | None = None) -> SalesforceConnector:
        settings = settings or get_settings()
        mapping = load_mapping(mapping_path)
        client = connect(settings, policy=policy, version=mapping.api_version)
        if mirror_dir is None and store is not None:
            mirror_dir = default_mirror_dir(client.instance)
        return cls(client, mapping, store=store, mirror_dir=mirror_dir, full=full)

    # -- pull -------------------------------------------------------------------------

    def pull(self, since: str | None = None) -> CanonicalData:
        """Everything (the mirror plus what changed) — or, with `since`, only what changed since then."""
        calls_before = self.client.stats.calls
        mode = "since" if since else ("incremental" if self._can_be_incremental() else "full")
        report = SyncReport(mode=mode)
        cursors: dict[str, str] = {}
        deltas: dict[str, _Delta] = {}
        issues: list[RowIssue] = []
        for obj in self.mapping.objects:
            cursor = since if mode == "since" else self._cursor(obj.sobject) if mode == "incremental" else None
            batch = self._query_object(obj, cursor)
            if batch is None:
                report.skipped_objects.append(obj.sobject)
                continue
            issues += batch.issues
            report.rows[obj.sobject] = len(batch.rows)
            if batch.deleted:
                report.deleted.setdefault(obj.table, []).extend(batch.deleted)
            children = {c.table: pd.DataFrame(batch.children[c.table], columns=[SF_ID, PARENT_ID, *c.fields])
                        for c in obj.children}
            # An object without a cursor was read whole: its mirror copy is replaced, not patched.
            deltas[obj.sobject] = _Delta(batch.frame(obj.table), children, batch.deleted, replace=cursor is None)
            if batch.max_modstamp:
                cursors[obj.sobject] = batch.max_modstamp
        raw = self._merge(deltas, mode)
        data = self._canonical(raw, issues, complete=(mode != "since"))
        if mode != "since" and self.store is not None:
            if self.mirror is not None:
                for sobject, stamp in cursors.items():
                    # After the mirror is saved: a crash re-reads, never skips.
                    self.store.set_cursor(SOURCE, self.cursor_key(sobject), stamp)
            report.feedback = self._pull_feedback()
        report.skipped = len(data.skipped)
        report.calls = self.client.stats.calls - calls_before
        self.last_sync = report
        log.info("salesforce: %s pull: %s; %d deleted, %d rows skipped; %s", mode,
                 ", ".join(f"{k} {v}" for k, v in report.rows.items()),
                 sum(len(v) for v in report.deleted.values()), report.skipped, self.client.stats.summary())
        return data

    def _can_be_incremental(self) -> bool:
        if self.full or self.store is None or self.mirror is None:
            return False
        if self.mirror.note("mapping") != self._mapping_digest():
            # A changed mapping (a new stage, a new field) must re-read records it skipped or lacked.
            log.info("salesforce: the mapping changed since the last sync: reading everything again")
            return False
        return all(self.mirror.has(o.sobject) for o in self.mapping.objects if not o.optional)

    def _mapping_digest(self) -> str:
        return hashlib.sha256(repr((self.mapping.objects, self.mapping.api_version)).encode()).hexdigest()[:16]

    def cursor_key(self, sobject: str) -> str:
        """The store's cursor name: per object and per mirror copy (see Mirror.ident)."""
        ident = self.mirror.ident if self.mirror is not None else None
        return f"{sobject}@{ident}" if ident else sobject

    def _cursor(self, sobject: str) -> str | None:
        if self.store is None or self.mirror is None or not self.mirror.has(sobject) or not self.mirror.ident:
            return None
        return self.store.get_cursor(SOURCE, self.cursor_key(sobject))

    def _query_object(self, obj: ObjectMapping, cursor: str | None):
        since = _soql_datetime(cursor, self.mapping.overlap_seconds) if cursor else None
        soql = obj.soql(since, with_deleted=since is not None)
        try:
            records = self.client.query_iter(soql, include_deleted=since is not None)
            return map_records(obj, records, children_of=self._children)
        except SalesforceMalformedRequest as exc:
            code, message = _sf_error(exc)
            if obj.optional and code == "INVALID_TYPE":
                log.info("salesforce: the org has no %s object; %s skipped", obj.sobject, obj.table)
                return None
            raise ConnectorError(
                f"Salesforce refused the {obj.sobject} query ({code}: {message}); "
                f"fix {self.mapping.origin} or run `stepwise check salesforce`") from None

    def _children(self, record: dict[str, Any], child: ChildMapping) -> list[dict[str, Any]]:
        """A relationship sub-query's records, following its own nextRecordsUrl when it was paged."""
        nested = record.get(child.relationship)
        if not isinstance(nested, dict):
            return []  # Salesforce sends null, not an empty result, when there are no children
        kids = list(nested.get("records") or ())
        while not nested.get("done", True) and nested.get("nextRecordsUrl"):
            nested = self.client.more(nested["nextRecordsUrl"])
            kids += nested.get("records") or ()
        return kids

    def _merge(self, deltas: dict[str, _Delta], mode: str) -> dict[str, pd.DataFrame]:
        """Raw frames per table: the deltas alone, or applied to the mirror (and the mirror saved)."""
        parts: dict[str, tuple[pd.DataFrame | None, dict[str, pd.DataFrame | None]]]
        if self.mirror is not None and mode != "since":
            for sobject, delta in deltas.items():
                if delta.replace:
                    self.mirror.replace(sobject, delta.frame)
                    for name, kids in delta.children.items():
                        self.mirror.replace(f"{sobject}.{name}", kids)
                    continue
                self.mirror.apply(sobject, delta.frame, delta.deleted)
                touched = [*delta.frame[SF_ID], *delta.deleted]
                for name, kids in delta.children.items():
                    self.mirror.apply_children(f"{sobject}.{name}", kids, touched)
            self.mirror.save()
            self.mirror.note("mapping", self._mapping_digest())
            parts = {o.sobject: (self.mirror.get(o.sobject),
                                 {c.table: self.mirror.get(f"{o.sobject}.{c.table}") for c in o.children})
                     for o in self.mapping.objects}
        else:
            parts = {sobject: (d.frame, dict(d.children)) for sobject, d in deltas.items()}
        raw: dict[str, list[pd.DataFrame]] = {}
        for obj in self.mapping.objects:
            frame, children = parts.get(obj.sobject, (None, {}))
            if frame is None:
                continue
            raw.setdefault(obj.table, []).append(frame)
            for name, kids in children.items():
                if kids is not None:
                    raw.setdefault(name, []).append(kids)
        return {name: pd.concat(frames, ignore_index=True) for name, frames in raw.items()}

    def _canonical(self, raw: dict[str, pd.DataFrame], issues: list[RowIssue], complete: bool) -> CanonicalData:
        data = CanonicalData()
        roles = raw.pop(CONTACT_ROLES, None)
        for name, frame in raw.items():
            if name == "contacts" and roles is not None:
                frame = contact_roles_into(frame, roles)
            typed, skipped = coerce_table(name, frame.drop(columns=[SF_ID], errors="ignore"), where=f"salesforce {name}")
            issues += skipped
            setattr(data, name, typed)
        if complete:
            issues += _drop_orphans(data)
        for issue in issues:
            log.warning("salesforce %s", issue)
        data.skipped.extend(issues)
        return data

    # -- feedback made in Salesforce ---------------------------------------------------

    def _pull_feedback(self) -> int:
        """Accept / dismiss / snooze done on the component since the last sync → the feedback store."""
        assert self.store is not None
        cursor = self.store.get_cursor(SOURCE, FEEDBACK_CURSOR)
        statuses = ", ".join(f"'{s}'" for s in STATUS_FROM_SALESFORCE)
        since = f" AND SystemModstamp > {_soql_datetime(cursor, self.mapping.overlap_seconds)}" if cursor else ""
        soql = (f"SELECT {EXTERNAL_ID}, Status__c, {', '.join(REP_FIELDS)}, LastModifiedById, SystemModstamp "
                f"FROM {OBJECT} WHERE Status__c IN ({statuses}){since}")
        recorded, newest = 0, cursor
        try:
            for row in self.client.query_iter(soql):
                newest = max(newest or "", str(row.get("SystemModstamp") or ""))
                recorded += self._record_feedback(row)
        except SalesforceMalformedRequest as exc:
            code, _ = _sf_error(exc)
            log.warning("salesforce: cannot read reps' responses (%s): is cards/salesforce deployed?", code)
            return 0
        if newest:
            self.store.set_cursor(SOURCE, FEEDBACK_CURSOR, newest)
        return recorded

    def _record_feedback(self, row: dict[str, Any]) -> int:
        assert self.store is not None
        action = STATUS_FROM_SALESFORCE.get(str(row.get("Status__c")))
        reason = row.get("Dismiss_Reason__c") if action == "dismissed" else None
        key = f"salesforce:{row[EXTERNAL_ID]}:{row.get('Status__c')}:{row.get('SystemModstamp')}"
        try:
            event = self.store.record_feedback(
                row[EXTERNAL_ID], action, user=str(row.get("LastModifiedById") or "salesforce"), reason=reason,
                snooze_until=row.get("Snooze_Until__c") if action == "snoozed" else None, idempotency_key=key)
        except NotFound:
            return 0  # a card from before this store existed
        except ValueError as exc:
            log.warning("salesforce: response on %s not recorded: %s", row[EXTERNAL_ID], exc)
            return 0
        return 0 if event.get("replayed") else 1

    # -- push -------------------------------------------------------------------------

    def push(self, recommendations: Iterable[Recommendation]) -> PushResult:
        recs = list(recommendations)
        calls_before = self.client.stats.calls
        current = {r.id for r in recs}
        stale = sorted(self._open_ids() - current)
        records = [to_fields(r) for r in recs] + [expired_fields(i) for i in stale]
        outcome = upsert(self.client, OBJECT, EXTERNAL_ID, records,
                         attempts=self.write_attempts, backoff=self.write_backoff)
        written = [i for i in outcome.written if i in current]
        for rec_id, error in outcome.failed:
            log.warning("salesforce: %s not written: %s", rec_id, error)
        self.last_push = PushReport(written=len(written), expired=len(outcome.written) - len(written),
                                    failed=outcome.failed, calls=self.client.stats.calls - calls_before)
        log.info("salesforce: %d recommendations written, %d expired, %d failed (%d API calls)",
                 self.last_push.written, self.last_push.expired, len(outcome.failed), self.last_push.calls)
        return PushResult(written=len(written), failed=list(outcome.failed))

    def _open_ids(self) -> set[str]:
        """Cards a rep may still see (New, Snoozed): the ones to expire unless this run keeps them."""
        soql = f"SELECT {EXTERNAL_ID} FROM {OBJECT} WHERE Status__c IN ('New', 'Snoozed')"
        try:
            return {r[EXTERNAL_ID] for r in self.client.query_iter(soql) if r.get(EXTERNAL_ID)}
        except SalesforceMalformedRequest as exc:
            code, message = _sf_error(exc)
            raise ConnectorError(f"cannot write recommendations back ({code}: {message}); deploy cards/salesforce "
                                 "and assign the Stepwise permission set (README, 'Salesforce')") from None


def _drop_orphans(data: CanonicalData) -> list[RowIssue]:
    """Rows pointing at an account Salesforce did not give us (filtered, or no access) cannot be scored."""
    if data.accounts is None:
        return []
    known = set(data.accounts["account_id"])
    issues = []
    for name in ("deals", "contacts", "orders", "contracts"):
        frame = getattr(data, name)
        if frame is None or frame.empty:
            continue
        orphan = ~frame["account_id"].isin(known)
        key = TABLES[name].key
        issues += [RowIssue(name, str(rid), f"account {aid} was not pulled from Salesforce")
                   for rid, aid in zip(frame.loc[orphan, key], frame.loc[orphan, "account_id"])]
        setattr(data, name, frame[~orphan].reset_index(drop=True))
    return issues


def _soql_datetime(cursor: str, overlap_seconds: int) -> str:
    """A stored SystemModstamp minus the overlap, as a SOQL datetime literal (UTC, no quotes)."""
    stamp = pd.Timestamp(cursor)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    moment = stamp.to_pydatetime() - timedelta(seconds=overlap_seconds)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sf_error(exc: SalesforceMalformedRequest) -> tuple[str, str]:
    content = exc.content
    first = content[0] if isinstance(content, list) and content else content
    if isinstance(first, dict):
        return str(first.get("errorCode", "ERROR")), str(first.get("message", ""))
    return "ERROR", str(content)[:200]


def default_mirror_dir(instance: str) -> Path:
    """Per org, under the user's cache: the mirror is a cache (losing it costs one full sync)."""
    base = Path.home() / ".cache" / "stepwise" / "salesforce"
    return base / instance.replace(":", "_")


def _factory(argument: str) -> SalesforceConnector:
    """`salesforce` (incremental), `salesforce:full`, or `salesforce:PATH` (a mapping file)."""
    settings = get_settings()
    full = argument == "full"
    return SalesforceConnector.from_settings(settings, mapping_path=None if full or not argument else argument,
                                             store=Store(settings.database_url), full=full)


register("salesforce", _factory)
