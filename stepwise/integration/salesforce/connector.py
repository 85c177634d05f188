"""The Salesforce connector: pull changed records into canonical tables, write recommendations back.

Pull: one SOQL query per mapped object (Opportunity carries its contact roles and
product lines in relationship sub-queries), paged by `nextRecordsUrl` at 2,000 rows per
call; a query whose first page says it has more than `bulk_threshold` rows (or an object
whose last copy was that big, read whole again) goes through a Bulk API 2.0 query job
instead, its children read as their own objects (Bulk 2.0 has no sub-queries).  Optional
objects (Orders, Contracts, products…) the org lacks are skipped after one describeGlobal.  With a
store, each object's cursor is its highest `SystemModstamp` seen; the next sync asks
for `SystemModstamp > cursor - overlap` through queryAll, so deletions arrive in the
same call (`IsDeleted = true`) instead of costing a second query per object.  The
changes are applied to a local mirror (salesforce_mirror.py), so the engine still
sees every record.  Push: Stepwise_Recommendation__c upserted by Stepwise_Id__c,
1,000 records per API call, and the ones no longer current set to Expired (a deleted
record has no current recommendation, so its cards expire on the same push; `expire_deleted`
does the same in Stepwise's store).  Accept → a Task for the rep (`apply_response`, a setting).

Every call goes through salesforce_client (timeout, limiter, retries, counting).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from simple_salesforce.exceptions import SalesforceMalformedRequest
from sqlalchemy import or_, update

from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import TABLES, CanonicalData, RowIssue, coerce_table
from stepwise.integration.base import Connector, ConnectorError, PushResult, register
from stepwise.integration.salesforce.client import CallPolicy, SalesforceClient, connect
from stepwise.integration.salesforce.fields import (
    EXTERNAL_ID,
    OBJECT,
    REP_FIELDS,
    STATUS_FROM_SALESFORCE,
    TASK_MARKER,
    expired_fields,
    task_fields,
    to_fields,
)
from stepwise.integration.salesforce.mapping import (
    CONTACT_ROLES,
    DEAL_LINES,
    PARENT_ID,
    SF_ID,
    ChildMapping,
    ObjectMapping,
    SalesforceMapping,
    contact_roles_into,
    load_mapping,
    map_records,
)
from stepwise.integration.salesforce.mirror import Mirror
from stepwise.integration.salesforce.push import upsert
from stepwise.settings import Settings, get_settings
from stepwise.store import NotFound, Store
from stepwise.store.core import recommendations

log = logging.getLogger(__name__)

SOURCE = "salesforce"
FEEDBACK_CURSOR = f"{OBJECT}:feedback"
#: which deleted records' ids match which column of a stored recommendation
DELETED_COLUMNS = {"deals": "deal_id", "leads": "lead_id", "accounts": "account_id"}


class SalesforceOptions(BaseSettings):
    """Salesforce knobs beyond the credentials in stepwise.settings (same 12-factor environment)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    create_tasks: bool | None = Field(None, validation_alias="STEPWISE_SALESFORCE_CREATE_TASKS")
    bulk_threshold: int | None = Field(None, ge=0, validation_alias="STEPWISE_SALESFORCE_BULK_THRESHOLD")


@dataclass
class SyncReport:
    """What the last pull did: per-object rows, deleted ids per table (to expire their cards), cost."""

    mode: str = "full"  # full | incremental | since
    rows: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    skipped: int = 0
    skipped_objects: list[str] = field(default_factory=list)
    bulk_objects: list[str] = field(default_factory=list)
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
                 write_attempts: int = 3, write_backoff: float = 1.0, create_tasks: bool | None = None,
                 bulk_threshold: int | None = None):
        self.client = client
        self.mapping = mapping or load_mapping()
        self.create_tasks = self.mapping.create_tasks if create_tasks is None else create_tasks
        self.bulk_threshold = self.mapping.bulk_threshold if bulk_threshold is None else bulk_threshold
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
        options = SalesforceOptions()
        mapping = load_mapping(mapping_path)
        client = connect(settings, policy=policy, version=mapping.api_version)
        if mirror_dir is None and store is not None:
            mirror_dir = default_mirror_dir(client.instance)
        return cls(client, mapping, store=store, mirror_dir=mirror_dir, full=full,
                   create_tasks=options.create_tasks, bulk_threshold=options.bulk_threshold)

    # -- pull -------------------------------------------------------------------------

    def pull(self, since: str | None = None) -> CanonicalData:
        """Everything (the mirror plus what changed) — or, with `since`, only what changed since then."""
        calls_before = self.client.stats.calls
        mode = "since" if since else ("incremental" if self._can_be_incremental() else "full")
        report = SyncReport(mode=mode)
        cursors: dict[str, str] = {}
        deltas: dict[str, _Delta] = {}
        issues: list[RowIssue] = []
        absent = self._absent_optional_objects(mode)
        for obj in self.mapping.objects:
            if obj.sobject in absent:
                report.skipped_objects.append(obj.sobject)
                continue
            cursor = since if mode == "since" else self._cursor(obj.sobject) if mode == "incremental" else None
            batch = self._query_object(obj, cursor, report)
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

    def _absent_optional_objects(self, mode: str) -> set[str]:
        """Optional objects the org does not have: one describeGlobal on a full read, remembered for
        incremental ones (an object the org gains later is picked up by the next full sync)."""
        optional = {o.sobject for o in self.mapping.objects if o.optional}
        if not optional:
            return set()
        noted = self.mirror.note("absent-objects") if self.mirror is not None and mode == "incremental" else None
        if noted is not None:
            absent = set(filter(None, noted.split(",")))
        else:
            try:
                names = self.client.sobject_names()
            except SalesforceMalformedRequest:
                return set()  # then each query says INVALID_TYPE itself
            absent = {name for name in optional if name not in names}
            if self.mirror is not None and mode != "since":
                self.mirror.note("absent-objects", ",".join(sorted(absent)))
        if absent:
            tables = sorted({o.table for o in self.mapping.objects if o.sobject in absent})
            log.info("salesforce: the org has no %s (or this user cannot read them): %s skipped",
                     ", ".join(sorted(absent)), ", ".join(tables))
        return absent

    def _query_object(self, obj: ObjectMapping, cursor: str | None, report: SyncReport | None = None):
        since = _soql_datetime(cursor, self.mapping.overlap_seconds) if cursor else None
        deleted = since is not None
        try:
            if self._bulk_straight_away(obj, cursor):
                records, children_of = self._bulk(obj, since, report)
            else:
                page = self.client.query_page(obj.soql(since, with_deleted=deleted), include_deleted=deleted)
                total = int(page.get("totalSize") or 0)
                if self._bulk_allowed(obj) and total > self.bulk_threshold:
                    log.info("salesforce: %s has %d rows to read (over %d): using Bulk API 2.0",
                             obj.sobject, total, self.bulk_threshold)
                    records, children_of = self._bulk(obj, since, report)
                else:
                    records, children_of = self.client.rest_of(page), self._children
            return map_records(obj, records, children_of=children_of)
        except SalesforceMalformedRequest as exc:
            code, message = _sf_error(exc)
            if obj.optional and code == "INVALID_TYPE":
                log.info("salesforce: the org has no %s object; %s skipped", obj.sobject, obj.table)
                return None
            raise ConnectorError(
                f"Salesforce refused the {obj.sobject} query ({code}: {message}); "
                f"fix {self.mapping.origin} or run `stepwise check salesforce`") from None

    def _bulk_allowed(self, obj: ObjectMapping) -> bool:
        return self.bulk_threshold > 0 and all(c.flat_soql() for c in obj.children)

    def _bulk_straight_away(self, obj: ObjectMapping, cursor: str | None) -> bool:
        """A whole-object read (first sync, --full, changed mapping) of an object whose last copy was
        over the threshold skips the REST probe page: Bulk API 2.0 from the start."""
        if cursor is not None or self.mirror is None or not self._bulk_allowed(obj) or not self.mirror.has(obj.sobject):
            return False
        previous = self.mirror.get(obj.sobject)
        return previous is not None and len(previous) > self.bulk_threshold

    def _bulk(self, obj: ObjectMapping, since: str | None, report: SyncReport | None):
        """The object's records through a Bulk API 2.0 query job; its children through one job each."""
        if report is not None:
            report.bulk_objects.append(obj.sobject)
        kids: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for child in obj.children:
            by_parent: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for kid in self.client.bulk_query_iter(str(child.flat_soql(since))):
                by_parent[str(kid.get(str(child.parent_field)))].append(kid)
            kids[child.relationship] = by_parent

        def children_of(record: dict[str, Any], child: ChildMapping) -> list[dict[str, Any]]:
            return kids.get(child.relationship, {}).get(str(record.get("Id")), [])

        soql = obj.soql(since, with_deleted=since is not None, subqueries=False)
        records: Iterator[dict[str, Any]] = self.client.bulk_query_iter(soql, include_deleted=since is not None)
        return records, children_of

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
        lines = raw.pop(DEAL_LINES, None)
        if lines is not None and self.mapping.won_opportunities_as_orders and "deals" in raw:
            won_orders, won_lines = won_deals_as_orders(raw["deals"], lines)
            for name, extra in (("orders", won_orders), ("order_lines", won_lines)):
                if not extra.empty:
                    raw[name] = pd.concat([raw[name], extra], ignore_index=True) if name in raw else extra
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

    # -- a rep accepted: a Task ---------------------------------------------------------

    def apply_response(self, rec: Recommendation, action: str, owner_id: str | None = None) -> str | None:
        """Accepted → a Task on the opportunity (account, lead) for the rep; returns the Task's id.

        Off unless STEPWISE_SALESFORCE_CREATE_TASKS (or `create_tasks: true` in the mapping).
        Idempotent per recommendation: the Task carries Stepwise_Recommendation_Id__c, and an
        existing one is returned instead of creating another (a worker's retry, a second accept).
        """
        if action != "accepted" or not self.create_tasks:
            return None
        fields = task_fields(rec, owner_id)
        if fields is None:
            log.info("salesforce: %s has no Salesforce record to put a Task on", rec.id)
            return None
        existing = self._task_for(rec.id, fields)
        if existing:
            return existing
        try:
            created = self.client.restful("sobjects/Task/", method="POST", json=fields) or {}
        except SalesforceMalformedRequest as exc:
            code, message = _sf_error(exc)
            if "OwnerId" in fields and code in ("INACTIVE_OWNER_OR_USER", "INVALID_CROSS_REFERENCE_KEY",
                                                "FIELD_INTEGRITY_EXCEPTION"):
                log.warning("salesforce: the Task for %s cannot be owned by %s (%s); created for the integration user",
                            rec.id, fields["OwnerId"], code)
                created = self.client.restful("sobjects/Task/", method="POST",
                                              json={k: v for k, v in fields.items() if k != "OwnerId"}) or {}
            else:
                raise ConnectorError(f"Salesforce refused the Task for {rec.id} ({code}: {message})") from None
        task_id = created.get("id")
        log.info("salesforce: Task %s created for %s", task_id, rec.id)
        return str(task_id) if task_id else None

    def _task_for(self, rec_id: str, fields: dict[str, Any]) -> str | None:
        anchor = "WhatId" if fields.get("WhatId") else "WhoId"
        soql = (f"SELECT Id FROM Task WHERE {anchor} = '{_soql_text(fields[anchor])}' "
                f"AND {TASK_MARKER} = '{_soql_text(rec_id)}' LIMIT 1")
        try:
            found = list(self.client.query_iter(soql))
        except SalesforceMalformedRequest as exc:
            code, message = _sf_error(exc)
            raise ConnectorError(f"cannot look for the Task of {rec_id} ({code}: {message}); deploy the current "
                                 f"cards/salesforce (Task.{TASK_MARKER}) and assign 'Stepwise Integration'") from None
        return str(found[0]["Id"]) if found else None

    # -- deleted in Salesforce → expired in Stepwise ------------------------------------------

    def expire_deleted(self, store: Store | None = None) -> int:
        """Expire, in Stepwise's store, the open recommendations of the records the last pull saw deleted.

        The same push already sets their Salesforce cards to Expired (a deleted record has no
        current recommendation); this does it for the store (and so the API and the web cards)
        right away, not only when the next day's run replaces them.  Returns how many expired.
        """
        store = store or self.store
        if store is None:
            return 0
        t = recommendations
        matches = [t.c[column].in_(ids[i:i + 500])
                   for table, column in DELETED_COLUMNS.items()
                   for ids in [sorted(set(self.last_sync.deleted.get(table, ())))]
                   for i in range(0, len(ids), 500)]
        if not matches:
            return 0
        with store.engine.begin() as conn:
            expired = conn.execute(
                update(t).where(t.c.source == SOURCE, t.c.status.in_(("new", "snoozed")), or_(*matches))
                .values(status="expired", updated_at=pd.Timestamp.now(tz="UTC").to_pydatetime())
            ).rowcount
        if expired:
            log.info("salesforce: %d recommendation(s) of deleted records expired", expired)
        return int(expired or 0)

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


def won_deals_as_orders(deals: pd.DataFrame, lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw orders and order_lines from closed-won opportunities with products (OpportunityLineItems).

    Opportunity Id → order_id, AccountId → account_id, CloseDate → ordered_at, Amount → total,
    status "Closed Won"; each line: Product2Id → product_id, Quantity, UnitPrice, Discount → discount_pct.
    """
    won = deals[deals["is_won"].astype(str).str.lower().isin(("true", "1"))
                & deals["deal_id"].isin(set(lines[PARENT_ID]))]
    orders = pd.DataFrame({SF_ID: won[SF_ID], "order_id": won["deal_id"], "account_id": won["account_id"],
                           "ordered_at": won["close_date"], "total": won["amount"], "status": "Closed Won"})
    kept = lines[lines[PARENT_ID].isin(set(won["deal_id"]))]
    order_lines = pd.DataFrame({SF_ID: kept[SF_ID], "order_id": kept[PARENT_ID], "product_id": kept["product_id"],
                                "quantity": kept["quantity"], "unit_price": kept["unit_price"],
                                "discount_pct": kept["discount_pct"]})
    return orders.reset_index(drop=True), order_lines.reset_index(drop=True)


def _soql_text(value: str) -> str:
    """A value inside a SOQL string literal."""
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


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
