"""The Salesforce connector: pull changed records into canonical tables, write recommendations back.

Pull: one SOQL query per mapped object (Opportunity carries its contact roles and
product lines in relationship sub-queries), paged by `nextRecordsUrl` at 2,000 rows per
call; a query whose first page says it has more than `bulk_threshold` rows (or an object
whose last copy was that big, read whole again) goes through a Bulk API 2.0 query job
instead, its children read as their own objects (Bulk 2.0 has no sub-queries).  Optional
objects (Orders, Contracts, products…) the org lacks are skipped after one describeGlobal.  When the
run keeps cursors, each object's cursor is its highest `SystemModstamp` seen; the next sync asks
for `SystemModstamp > cursor - overlap` through queryAll, so deletions arrive in the
same call (`IsDeleted = true`) instead of costing a second query per object.  The
changes are applied to a local mirror (mirror.py), so the engine still
sees every record.  Push: one Stepwise_Recommendation__c per card, upserted by Stepwise_Id__c (the
card key) and updated in place; only the cards whose fields changed are written, 1,000 per API
call, the ones no longer recommended set to Expired and deleted after the retention
(writeback.py plans it from what the store knows of the org, store/salesforce_cards.py: nothing
is read back to decide).  A deleted record has no current recommendation, so its cards expire on
the same push; the pull returns the deleted ids so the run expires them in Stepwise's store too.
A full sync also reads the object once, to merge older versions' one-record-per-day cards and to
relearn the org when the store lost track.  Accept → a Task for the rep
(`follow_up`, a setting).  A pull writes nothing to Stepwise's store: it returns the cursors to keep and
the reps' responses made in Salesforce (workers/intake.py stores them).

Every call goes through client.py on the one call policy of integration/http.py (timeout, limiter, retries, counting).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from simple_salesforce.exceptions import SalesforceMalformedRequest

from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import TABLES, CanonicalData, RowIssue, coerce_table
from stepwise.integration.base import (
    Connector,
    ConnectorError,
    CrmFeedback,
    Finding,
    Pulled,
    PushResult,
    SyncReport,
)
from stepwise.integration.salesforce import check as org_check
from stepwise.integration.salesforce import writeback
from stepwise.integration.salesforce.client import CallPolicy, SalesforceClient, connect
from stepwise.integration.salesforce.fields import (
    EXTERNAL_ID,
    OBJECT,
    REP_FIELDS,
    STATUS_FROM_SALESFORCE,
    TASK_MARKER,
    task_fields,
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
from stepwise.integration.salesforce.push import UpsertOutcome, delete, update, upsert
from stepwise.settings import Settings, get_settings
from stepwise.store import SalesforceCards, Store

log = logging.getLogger(__name__)

SOURCE = "salesforce"
FEEDBACK_CURSOR = f"{OBJECT}:feedback"
USER_CURSOR = f"{OBJECT}:integration-user"  # the integration user's Id: its own writes are not reps' answers
DELETE_BUDGET = 20_000  # expired records deleted per sync at most (20 API calls); the rest on the next one


class SalesforceOptions(BaseSettings):
    """Salesforce knobs beyond the credentials in stepwise.settings (same 12-factor environment)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    create_tasks: bool | None = Field(None, validation_alias="STEPWISE_SALESFORCE_CREATE_TASKS")
    bulk_threshold: int | None = Field(None, ge=0, validation_alias="STEPWISE_SALESFORCE_BULK_THRESHOLD")
    retention_days: int | None = Field(None, ge=0, validation_alias="STEPWISE_SALESFORCE_RETENTION_DAYS")


@dataclass
class _Delta:
    frame: pd.DataFrame
    children: dict[str, pd.DataFrame]
    deleted: list[str]
    replace: bool


@dataclass
class PushReport:
    written: int = 0      # cards whose fields were written (new, changed, or back after they expired)
    unchanged: int = 0    # cards recommended again with the same fields: nothing sent
    expired: int = 0
    deleted: int = 0      # expired records deleted after the retention
    merged: int = 0       # older versions' per-day records folded into their card's one record (full sync)
    failed: list[tuple[str, str]] = field(default_factory=list)
    calls: int = 0


class SalesforceConnector(Connector):
    source = SOURCE
    capabilities = frozenset({"write_back", "follow_up", "feedback", "deletions"})

    def __init__(self, client: SalesforceClient, mapping: SalesforceMapping | None = None, *,
                 mirror_dir: str | Path | None = None, full: bool = False,
                 write_attempts: int = 3, write_backoff: float = 1.0, create_tasks: bool | None = None,
                 bulk_threshold: int | None = None, store: Store | None = None, retention_days: int | None = None,
                 integration_user: str | None = None, delete_budget: int = DELETE_BUDGET):
        """`store`: where what the org holds is remembered (the run's); without one, a private in-memory
        store: the first push then reads the object once to learn the org.  `integration_user`: the
        username the connector logs in as, so its own writes are not read back as reps' answers."""
        self.client = client
        self.mapping = mapping or load_mapping()
        self.create_tasks = self.mapping.create_tasks if create_tasks is None else create_tasks
        self.bulk_threshold = self.mapping.bulk_threshold if bulk_threshold is None else bulk_threshold
        self.retention_days = self.mapping.retention_days if retention_days is None else retention_days
        self.cards = SalesforceCards(store if store is not None else Store("sqlite://"), client.instance)
        self.integration_user, self.delete_budget = integration_user, delete_budget
        self.mirror = Mirror(mirror_dir) if mirror_dir is not None else None
        self.full = full
        self.write_attempts, self.write_backoff = write_attempts, write_backoff
        self.last_sync = SyncReport()
        self.last_push = PushReport()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, mapping_path: str | Path | None = None,
                      mirror_dir: str | Path | None = None, full: bool = False,
                      policy: CallPolicy | None = None, store: Store | None = None) -> SalesforceConnector:
        """`store`: the run's, or (a command without one) one opened on STEPWISE_DATABASE_URL, where the
        write-back remembers the org's cards."""
        settings = settings or get_settings()
        options = SalesforceOptions()
        mapping = load_mapping(mapping_path)
        client = connect(settings, policy=policy, version=mapping.api_version)
        if mirror_dir is None:
            mirror_dir = default_mirror_dir(client.instance)
        return cls(client, mapping, mirror_dir=mirror_dir, full=full,
                   create_tasks=options.create_tasks, bulk_threshold=options.bulk_threshold,
                   store=store or Store(settings.database_url), retention_days=options.retention_days,
                   integration_user=settings.salesforce_username)

    # -- pull -------------------------------------------------------------------------

    def pull(self, cursors: Mapping[str, str] | None = None, *, since: str | None = None) -> Pulled:
        """Everything (the mirror plus what changed since `cursors`) — or, with `since`, only what changed
        since then.  The mirror is saved before this returns and the cursors are kept by the run after it,
        so a crash in between re-reads, never skips.  Without cursors (no store) every object is read whole
        and the reps' responses are not read back (there is no store to record them in)."""
        calls_before = self.client.stats.calls
        mode = "since" if since else ("incremental" if self._can_be_incremental(cursors) else "full")
        report = SyncReport(mode=mode)
        stamps: dict[str, str] = {}
        deltas: dict[str, _Delta] = {}
        issues: list[RowIssue] = []
        absent = self._absent_optional_objects(mode)
        for obj in self.mapping.objects:
            if obj.sobject in absent:
                report.skipped_objects.append(obj.sobject)
                continue
            cursor = since if mode == "since" else self._cursor(cursors or {}, obj.sobject) if mode == "incremental" else None
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
                stamps[obj.sobject] = batch.max_modstamp
        raw = self._merge(deltas, mode)  # saves the mirror
        data = self._canonical(raw, issues, complete=(mode != "since"))
        keep: dict[str, str] = {}
        feedback: list[CrmFeedback] = []
        if mode != "since" and cursors is not None:
            if self.mirror is not None:
                # Named after the saved copy (its ident is made on the first save).
                keep = {self.cursor_key(sobject): stamp for sobject, stamp in stamps.items()}
            me = cursors.get(USER_CURSOR) or self._integration_user_id()
            if me:
                keep[USER_CURSOR] = me
            feedback, newest = self._read_feedback(cursors.get(FEEDBACK_CURSOR), me)
            if newest:
                keep[FEEDBACK_CURSOR] = newest
        report.skipped = len(data.skipped)
        report.calls = self.client.stats.calls - calls_before
        self.last_sync = report
        log.info("salesforce: %s pull: %s; %d deleted, %d rows skipped; %s", mode,
                 ", ".join(f"{k} {v}" for k, v in report.rows.items()),
                 sum(len(v) for v in report.deleted.values()), report.skipped, self.client.stats.summary())
        return Pulled(data, deleted=report.deleted_by_column(), cursors=keep, feedback=feedback, report=report)

    def _can_be_incremental(self, cursors: Mapping[str, str] | None) -> bool:
        if self.full or cursors is None or self.mirror is None:
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

    def _cursor(self, cursors: Mapping[str, str], sobject: str) -> str | None:
        if self.mirror is None or not self.mirror.has(sobject) or not self.mirror.ident:
            return None
        return cursors.get(self.cursor_key(sobject))

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

    def _read_feedback(self, cursor: str | None, me: str | None = None) -> tuple[list[CrmFeedback], str | None]:
        """Accept / dismiss / snooze done on the component since `cursor` (the overlap window read again:
        each response carries an idempotency key, so the store records it once); and the newest stamp.
        Only records changed by someone other than the integration user: the push's own writes are not
        answers.  Each answer goes to the recommendation the record showed (the store knows which)."""
        statuses = ", ".join(f"'{s}'" for s in STATUS_FROM_SALESFORCE)
        since = f" AND SystemModstamp > {_soql_datetime(cursor, self.mapping.overlap_seconds)}" if cursor else ""
        others = f" AND LastModifiedById != '{_soql_text(me)}'" if me else ""
        soql = (f"SELECT {EXTERNAL_ID}, Status__c, {', '.join(REP_FIELDS)}, LastModifiedById, SystemModstamp "
                f"FROM {OBJECT} WHERE Status__c IN ({statuses}){since}{others}")
        rows: list[dict[str, Any]] = []
        newest = cursor
        try:
            for row in self.client.query_iter(soql):
                newest = max(newest or "", str(row.get("SystemModstamp") or ""))
                if row.get(EXTERNAL_ID):
                    rows.append(row)
        except SalesforceMalformedRequest as exc:
            code, _ = _sf_error(exc)
            log.warning("salesforce: cannot read reps' responses (%s): is cards/salesforce deployed?", code)
            return [], None
        shown = self.cards.rec_ids(row[EXTERNAL_ID] for row in rows)
        responses = []
        for row in rows:
            key = str(row[EXTERNAL_ID])
            rec_id = shown.get(key) or (key if key.startswith("rec_") else None)  # rec_…: an older version's record
            if rec_id is not None:
                responses.append(_response(row, rec_id))
        return responses, newest or None

    def _integration_user_id(self) -> str | None:
        """The Id of the user this connector logs in as (one query, then kept with the cursors)."""
        if not self.integration_user:
            return None
        soql = f"SELECT Id FROM User WHERE Username = '{_soql_text(self.integration_user)}' LIMIT 1"
        try:
            found = list(self.client.query_iter(soql))
        except SalesforceMalformedRequest:
            return None
        return str(found[0]["Id"]) if found else None

    # -- push -------------------------------------------------------------------------

    def push(self, recommendations: Iterable[Recommendation], *, as_of: str | None = None) -> PushResult:
        """Write the cards whose fields changed, expire the ones no longer recommended, delete the ones expired
        longer than the retention.  `as_of`: the run's day (the day a card is retired on)."""
        recs = list(recommendations)
        calls_before = self.client.stats.calls
        day = str(as_of or max((str(r.as_of)[:10] for r in recs), default="") or datetime.now(UTC).date().isoformat())[:10]
        report = PushReport()
        if self.full or self.cards.count() == 0:
            report.merged = self._reconcile(day, report)
        planned = writeback.plan(recs, self.cards.all(), self.cards.answers(), day,
                                 retention_days=self.retention_days, delete_budget=self.delete_budget)
        outcome = upsert(self.client, OBJECT, EXTERNAL_ID, planned.writes,
                         attempts=self.write_attempts, backoff=self.write_backoff) if planned.writes else UpsertOutcome()
        rows = dict(planned.keep)
        for key in outcome.written:
            row = planned.after[key]
            rows[key] = row if row.sf_id else replace(row, sf_id=outcome.ids.get(key))
        self.cards.save(rows)
        expiring = set(planned.expiring)
        report.expired = sum(1 for key in outcome.written if key in expiring)
        report.written = len(outcome.written) - report.expired
        report.unchanged = len({r.card_key for r in recs}) - (len(planned.writes) - len(planned.expiring))
        report.failed += outcome.failed
        if planned.deleting:
            gone = delete(self.client, [sf_id for _, sf_id in planned.deleting])
            deleted = set(gone.written)
            self.cards.forget(key for key, sf_id in planned.deleting if sf_id in deleted)
            report.deleted = len(deleted)
            report.failed += gone.failed
        self.cards.forget(planned.forget)
        for key, error in report.failed:
            log.warning("salesforce: %s not written: %s", key, error)
        report.calls = self.client.stats.calls - calls_before
        self.last_push = report
        log.info("salesforce: %d cards written (%d back after they expired), %d unchanged, %d expired, %d deleted "
                 "%d days after, %d failed (%d API calls)", report.written, len(planned.reviving), report.unchanged,
                 report.expired, report.deleted, self.retention_days, len(report.failed), report.calls)
        current_failed = [(_rec_of(recs, key), error) for key, error in outcome.failed if key not in expiring]
        return PushResult(written=report.written, failed=current_failed)

    def _reconcile(self, day: str, report: PushReport) -> int:
        """Read the object once: merge per-day records into one per card, and know what the org holds."""
        soql = f"SELECT {', '.join(writeback.ORG_FIELDS)} FROM {OBJECT}"
        try:
            page = self.client.query_page(soql)
            big = self.bulk_threshold > 0 and int(page.get("totalSize") or 0) > self.bulk_threshold
            org_rows = self.client.bulk_query_iter(soql) if big else self.client.rest_of(page)
            fixed = writeback.reconcile(org_rows, self.cards.all(), day)
        except SalesforceMalformedRequest as exc:
            code, message = _sf_error(exc)
            raise ConnectorError(f"cannot write recommendations back ({code}: {message}); deploy cards/salesforce "
                                 "and assign the Stepwise permission set (README, 'Salesforce')") from None
        known = dict(fixed.known)
        if fixed.deletes:
            report.failed += delete(self.client, fixed.deletes).failed
        if fixed.updates:
            done = update(self.client, OBJECT, fixed.updates, attempts=self.write_attempts, backoff=self.write_backoff)
            report.failed += done.failed
            refused = {record_id for record_id, _ in done.failed}
            # A survivor that could not be re-keyed keeps its old external id: learnt again on the next full sync.
            known = {key: row for key, row in known.items() if row.sf_id not in refused}
        self.cards.forget(set(self.cards.all()) - set(known))
        self.cards.save(known)
        if fixed.deletes or fixed.updates:
            log.info("salesforce: %d per-day records merged into their cards' records (%d re-keyed)",
                     len(fixed.deletes), len(fixed.updates))
        if fixed.unkeyed:
            log.warning("salesforce: %d Stepwise records name no card (no record or action): left as they are",
                        fixed.unkeyed)
        return len(fixed.deletes)

    # -- a rep accepted: a Task ---------------------------------------------------------

    def follow_up(self, rec: Recommendation) -> str | None:
        """Accepted → a Task on the opportunity (account, lead) for the rep (`rec.owner_id`); returns its id.

        Off unless STEPWISE_SALESFORCE_CREATE_TASKS (or `create_tasks: true` in the mapping).
        Idempotent per recommendation: the Task carries Stepwise_Recommendation_Id__c, and an
        existing one is returned instead of creating another (a worker's retry, a second accept).
        """
        if not self.create_tasks:
            return None
        fields = task_fields(rec)
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

    # -- `stepwise check salesforce` ---------------------------------------------------------

    def check(self) -> list[Finding]:
        return org_check.check(self.client, self.mapping, create_tasks=self.create_tasks)


def _response(row: dict[str, Any], rec_id: str) -> CrmFeedback:
    action = STATUS_FROM_SALESFORCE[str(row.get("Status__c"))]
    reason = row.get("Dismiss_Reason__c") if action == "dismissed" else None
    until = row.get("Snooze_Until__c") if action == "snoozed" else None
    # Keyed by what the rep answered, not by SystemModstamp: a later write of the card's fields touches the
    # record again, and must not read as a second answer.
    return CrmFeedback(
        rec_id=rec_id, action=action, user=str(row.get("LastModifiedById") or "salesforce"),
        idempotency_key=f"salesforce:{row[EXTERNAL_ID]}:{rec_id}:{row.get('Status__c')}:{reason or ''}:{until or ''}",
        reason=reason, snooze_until=until)


def _rec_of(recs: list[Recommendation], key: str) -> str:
    """A failed card's recommendation id (the run's report names recommendations)."""
    return next((r.id for r in recs if r.card_key == key), key)


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


def from_spec(argument: str, *, full: bool = False, store: Store | None = None) -> SalesforceConnector:
    """`salesforce` (incremental), `salesforce:full` (the same as full=True), or `salesforce:PATH` (a mapping
    file).  `store`: the run's, where the write-back remembers the org's cards (the run passes its cursors
    to `pull`)."""
    by_spec = argument == "full"
    return SalesforceConnector.from_settings(get_settings(), mapping_path=None if by_spec or not argument else argument,
                                             full=full or by_spec, store=store)

