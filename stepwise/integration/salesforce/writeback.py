"""What a sync writes to Stepwise_Recommendation__c: one record per card, only what changed.

Pure planning, no I/O: the connector reads what the store knows of the org's records
(store/salesforce_cards.py), asks `plan` what to write, sends it (push.py) and keeps the
rows of what Salesforce took.  A card is (source, record, action): its record is updated in
place day after day, Stepwise_Id__c holding the card key.

- a card recommended today whose advice changed since the last write (fields.written_hash), or
  whose written best-before day has passed: its fields (no status);
- a card new to the org: its fields (the picklist default makes it New);
- a card that comes back after it stopped being recommended (expired, or dismissed and its
  cool-down over): its fields and a fresh New, the old answer cleared on the record (it stays in
  Stepwise's store);
- a card no longer recommended: Status Expired, unless the rep accepted or dismissed it (the
  rep's answer stays on the record); either way it is retired that day;
- a card retired `retention_days` ago or more: deleted, at most `delete_budget` per sync.

`reconcile` is the full sync's look at the org itself: it collapses the one-record-per-day
records of older versions (Stepwise_Id__c a "rec_…" id) into one per card, keeping the newest
record's status and dismiss reason, and relearns what the org holds when the store lost track.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from stepwise.engine.recommendation import Recommendation, card_key
from stepwise.integration.salesforce.fields import EXTERNAL_ID, expired_fields, fresh_status, to_fields, written_hash
from stepwise.store import CardRow

SOURCE = "salesforce"
ANSWERS_KEPT = ("accepted", "dismissed")  # a rep's answer that an expiry must not overwrite
#: what `reconcile` reads of every record
ORG_FIELDS = ("Id", EXTERNAL_ID, "Status__c", "Dismiss_Reason__c", "Snooze_Until__c", "As_Of__c", "Record_Type__c",
              "Opportunity__c", "Account__c", "Lead__c", "Action_Id__c", "SystemModstamp")
_RECORD_FIELD = {"deal": "Opportunity__c", "account": "Account__c", "lead": "Lead__c"}


@dataclass
class Plan:
    writes: list[dict[str, Any]] = field(default_factory=list)  # upserts by Stepwise_Id__c
    after: dict[str, CardRow] = field(default_factory=dict)      # each written card's row, once Salesforce took it
    keep: dict[str, CardRow] = field(default_factory=dict)       # rows to save whatever the write does
    expiring: list[str] = field(default_factory=list)
    reviving: list[str] = field(default_factory=list)
    deleting: list[tuple[str, str]] = field(default_factory=list)  # (card key, record Id)
    forget: list[str] = field(default_factory=list)               # rows with no record to delete


def plan(recs: Iterable[Recommendation], known: Mapping[str, CardRow], answered: Mapping[str, str], day: str, *,
         retention_days: int, delete_budget: int) -> Plan:
    """`known`: card key → what the org holds; `answered`: card key → the rep's latest answer on the
    recommendation its record shows; `day`: the run's day (ISO)."""
    out = Plan()
    current: dict[str, Recommendation] = {}
    for rec in recs:
        current.setdefault(rec.card_key, rec)  # one record per card: the run's first (best) copy
    for key, rec in current.items():
        row = known.get(key)
        if row is not None and row.retired_on is None and answered.get(key) in ANSWERS_KEPT:
            continue  # answered and still recommended: the component hides it, the answer stays on its rec
        fields = to_fields(rec)
        digest = written_hash(fields)
        written = CardRow(row.sf_id if row is not None else None, rec.id, digest, None, fields.get("Best_Before__c"))
        if row is None:
            out.writes.append(fields)
            out.after[key] = written
        elif row.retired_on is not None:
            out.writes.append({**fields, **fresh_status()})
            out.after[key] = written
            out.reviving.append(key)
        elif row.hash != digest or (row.best_before is not None and row.best_before < day):
            out.writes.append(fields)
            out.after[key] = written
        elif row.rec_id != rec.id:
            out.keep[key] = replace(row, rec_id=rec.id)  # today's copy of the same card: answers go to it
    oldest_kept = (date.fromisoformat(day) - timedelta(days=retention_days)).isoformat()
    for key, row in known.items():
        if key in current:
            continue
        if row.retired_on is None:
            if answered.get(key) in ANSWERS_KEPT:
                out.keep[key] = replace(row, retired_on=day)
            else:
                out.writes.append(expired_fields(key))
                out.after[key] = replace(row, retired_on=day)
                out.expiring.append(key)
        elif row.retired_on <= oldest_kept:
            if row.sf_id is None:
                out.forget.append(key)
            elif len(out.deleting) < delete_budget:
                out.deleting.append((key, row.sf_id))
    return out


@dataclass
class Reconciled:
    known: dict[str, CardRow]                                      # what the org holds once the fixes are made
    updates: list[dict[str, Any]] = field(default_factory=list)    # records to update by Id (the survivor of each card)
    deletes: list[str] = field(default_factory=list)               # Ids of the duplicates
    unkeyed: int = 0                                               # records that name no card (left alone)


def reconcile(org_rows: Iterable[dict[str, Any]], known: Mapping[str, CardRow], day: str) -> Reconciled:
    """One record per card in the org: what to update and delete, and the rows to know afterwards.

    The survivor of a card's records is the one already keyed by the card (else the newest); it takes the
    newest record's status, dismiss reason and snooze date; the others are deleted."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    out = Reconciled(known={})
    for row in org_rows:
        key = key_of(row)
        if key is None:
            if row.get("Status__c") == "Expired" and row.get("Id"):
                out.deletes.append(str(row["Id"]))  # an old expired record no card can claim
            else:
                out.unkeyed += 1
            continue
        groups[key].append(row)
    for key, rows in groups.items():
        newest = max(rows, key=lambda r: (str(r.get("As_Of__c") or ""), str(r.get("SystemModstamp") or "")))
        survivor = next((r for r in rows if r.get(EXTERNAL_ID) == key), newest)
        change: dict[str, Any] = {}
        if survivor.get(EXTERNAL_ID) != key:
            change[EXTERNAL_ID] = key
        for name in ("Status__c", "Dismiss_Reason__c", "Snooze_Until__c"):
            if newest.get(name) != survivor.get(name):
                change[name] = newest.get(name)
        if change:
            out.updates.append({"Id": survivor["Id"], **change})
        out.deletes += [str(r["Id"]) for r in rows if r is not survivor]
        before = known.get(key)
        shown = str(newest.get(EXTERNAL_ID) or "")
        rec_id = before.rec_id if before is not None and before.rec_id else (shown if shown.startswith("rec_") else None)
        expired = newest.get("Status__c") == "Expired"
        out.known[key] = CardRow(
            sf_id=str(survivor["Id"]), rec_id=rec_id,
            # What the store knew is still right only for a record that was not merged with others.
            hash=before.hash if before is not None and len(rows) == 1 and not change else None,
            retired_on=((before.retired_on if before is not None else None) or day) if expired else None)
    return out


def key_of(row: Mapping[str, Any]) -> str | None:
    """The card a record belongs to: its Stepwise_Id__c when that is a card key, else (a per-day record of an
    older version) the card its record type, record and action name."""
    external = str(row.get(EXTERNAL_ID) or "")
    if external.startswith("card_"):
        return external
    record_type = str(row.get("Record_Type__c") or "")
    record_id = row.get(_RECORD_FIELD.get(record_type, ""))
    action = row.get("Action_Id__c")
    if not record_id or not action:
        return None
    return card_key(SOURCE, record_type, str(record_id), str(action))
