"""Write back to HubSpot: deal properties in the `stepwise` group, and a task when a rep accepts.

Only what changed is written (a hash per deal of what we last wrote), 100 deals
per batch update; a 207 names the deals that failed and only those are retried
next time.  The full recommendation lives in our store and is served to the card.

HubSpot may instead refuse a whole batch with a 400 for one invalid value (an
option the property does not have) without saying which deal holds it.  Such a
batch is split in halves, down to single deals: the valid deals are written and
the invalid ones are recorded with HubSpot's message (not remembered, so the next
sync tries them again).  When the first half goes through, the second is known to
hold the invalid value and is split without being sent whole.  A batch of n deals
holding k invalid values costs at most 1 + 2·k·⌈log2 n⌉ calls and never more than
2n − 1 (one invalid deal in 100: at most 15, 14 measured at worst, 8 at best; every
deal invalid: 199).  Only a refusal that names bad
values (category VALIDATION_ERROR, every error code INVALID_…) is split; anything
that refuses every deal alike (PROPERTY_DOESNT_EXIST because setup never ran,
READ_ONLY_VALUE, 401/403, a 429 or 5xx the call policy gave up on) stops the
write-back at that batch as before.  A split in which not one deal could be
written also stops it there, so a shared cause HubSpot words as an invalid value
costs one batch's split, not one per batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from stepwise.engine.recommendation import Recommendation
from stepwise.integration.base import PushResult
from stepwise.integration.hubspot.client import HubSpotClient, HubSpotError
from stepwise.store import HubSpotState

log = logging.getLogger(__name__)

BATCH_WRITE = 100
TASK_TO_DEAL = 216     # HubSpot-defined association types: task → deal,
TASK_TO_COMPANY = 192  # task → company (account-level actions: replenishment, overdue payment, renewal)
REC_PROPERTY = "stepwise_recommendation_id"

DEAL_PROPERTIES: list[dict[str, Any]] = [
    {"name": "stepwise_top_action", "label": "Stepwise: next best action", "type": "string", "fieldType": "text",
     "description": "The top recommendation for this deal today."},
    {"name": "stepwise_score", "label": "Stepwise: score", "type": "number", "fieldType": "number",
     "description": "0–100: relevance 40, impact 30, urgency 20, feasibility 10."},
    {"name": "stepwise_urgency", "label": "Stepwise: urgency", "type": "enumeration", "fieldType": "select",
     # HubSpot's OptionInput requires label, value and hidden (crm/properties v3): without `hidden` the create is a 400.
     "options": [{"label": label, "value": label.upper(), "displayOrder": i, "hidden": False}
                 for i, label in enumerate(("High", "Medium", "Low"))]},
    {"name": "stepwise_updated_at", "label": "Stepwise: updated at", "type": "datetime", "fieldType": "date",
     "description": "When the recommendation on this deal last changed."},
]
WRITE_PROPERTIES = [p["name"] for p in DEAL_PROPERTIES]
TASK_PROPERTIES: list[dict[str, Any]] = [
    {"name": REC_PROPERTY, "label": "Stepwise: recommendation id", "type": "string", "fieldType": "text",
     "description": "The accepted recommendation this task came from (keeps task creation idempotent)."},
]


def write_hash(values: dict[str, Any]) -> str:
    # updated_at is left out on purpose: the same advice on a new day is not a change.
    key = "|".join(str(values.get(p) or "") for p in WRITE_PROPERTIES if p != "stepwise_updated_at")
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def values_for(rec: Recommendation | None) -> dict[str, str]:
    if rec is None:
        return dict.fromkeys(WRITE_PROPERTIES, "")
    day = datetime.fromisoformat(str(rec.as_of)[:10]).replace(tzinfo=UTC)
    return {
        "stepwise_top_action": rec.title[:500],
        "stepwise_score": str(round(float(rec.score))),
        "stepwise_urgency": rec.urgency,
        "stepwise_updated_at": str(int(day.timestamp() * 1000)),
    }


def top_per_deal(recs: Iterable[Recommendation]) -> dict[str, Recommendation]:
    best: dict[str, Recommendation] = {}
    for rec in recs:
        if rec.record_type != "deal" or not rec.record_id:
            continue
        current = best.get(rec.record_id)
        if current is None or (rec.rank, -rec.score) < (current.rank, -current.score):
            best[rec.record_id] = rec
    return best


def write_back(client: HubSpotClient, state: HubSpotState, recs: Iterable[Recommendation],
               known_deals: set[str]) -> PushResult:
    """Write the top recommendation of every deal whose advice changed; clear deals that have none now."""
    top = top_per_deal(recs)
    previous = state.written_hashes()
    empty = write_hash(values_for(None))
    changes: dict[str, dict[str, str]] = {}
    for deal_id in known_deals:
        values = values_for(top.get(deal_id))
        digest = write_hash(values)
        if previous.get(deal_id, empty) != digest:
            changes[deal_id] = values
    writer = _BatchWriter(client, changes, top)
    ids = sorted(changes)
    for start in range(0, len(ids), BATCH_WRITE):
        chunk = ids[start:start + BATCH_WRITE]
        try:
            writer.batch(chunk)
        except HubSpotError as exc:
            # Refused for a reason every deal shares (e.g. `stepwise setup hubspot` never ran): every later batch
            # would be too.
            writer.give_up(ids[start:], str(exc))
            break
        if writer.split and not any(d in writer.done for d in chunk):
            writer.give_up(ids[start:], f"not sent: a batch before was refused for every deal ({writer.last_refusal})")
            break
    state.remember_written(writer.done)
    result = writer.result
    if result.failed:
        log.warning("HubSpot write-back: %d deals failed (first: %s)", len(result.failed), result.failed[0][1])
    return result


class _BatchWriter:
    """Batch updates of deals, a batch refused whole for invalid values split in halves down to single deals."""

    def __init__(self, client: HubSpotClient, changes: dict[str, dict[str, str]], top: dict[str, Recommendation]):
        self.client, self.changes, self.top = client, changes, top
        self.result = PushResult()
        self.done: dict[str, str] = {}  # deal → hash of what was written
        self.settled: set[str] = set()  # written or failed
        self.split = False              # the last batch was split
        self.last_refusal = ""

    def batch(self, chunk: list[str]) -> None:
        self.split = False
        self._send(chunk)

    def give_up(self, ids: list[str], message: str) -> None:
        for deal_id in ids:
            if deal_id not in self.settled:
                self._fail(deal_id, message)

    def _split(self, chunk: list[str], error: HubSpotError) -> None:
        """`chunk` holds at least one invalid value and `error` is what HubSpot said of it."""
        self.split, self.last_refusal = True, _message(error)
        if len(chunk) == 1:
            self._fail(chunk[0], _message(error))
            return
        first, second = chunk[:len(chunk) // 2], chunk[len(chunk) // 2:]
        try:
            data = self._update(first)
        except HubSpotError as exc:
            if not invalid_values(exc):
                raise
            self._split(first, exc)
            self._send(second)
        else:
            self._record(data, first)
            self._split(second, error)  # what HubSpot refused is in here: sending it whole would be refused again

    def _send(self, chunk: list[str]) -> None:
        try:
            data = self._update(chunk)
        except HubSpotError as exc:
            if not invalid_values(exc):
                raise
            self._split(chunk, exc)
            return
        self._record(data, chunk)

    def _update(self, chunk: list[str]) -> dict[str, Any]:
        body = {"inputs": [{"id": d, "properties": self.changes[d]} for d in chunk]}
        return self.client.call("crm.objects.batch_api", "update", "deals", body, label="batch_update:deals")

    def _record(self, data: dict[str, Any], chunk: list[str]) -> None:
        """A 200, or a 207 naming the deals it refused."""
        sent = set(chunk)
        ok = {str(r["id"]) for r in data.get("results", [])} & sent
        for error in data.get("errors", []):
            message = f"{error.get('category', 'ERROR')}: {error.get('message', '')}".strip()
            for deal_id in (error.get("context") or {}).get("ids", []):
                if str(deal_id) in sent and str(deal_id) not in self.settled:
                    self._fail(str(deal_id), message)
                    ok.discard(str(deal_id))
        for deal_id in ok:
            self.done[deal_id] = write_hash(self.changes[deal_id])
            self.settled.add(deal_id)
        self.result.written += len(ok)

    def _fail(self, deal_id: str, message: str) -> None:
        self.result.failed.append((_rec_id(self.top, deal_id), message))
        self.settled.add(deal_id)


def invalid_values(exc: HubSpotError) -> bool:
    """A 400 that names values HubSpot would not take (INVALID_OPTION…), the kind only some deals of a batch hold.

    PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE or a refusal without codes would refuse every deal: not split.
    """
    if exc.status != 400 or exc.category != "VALIDATION_ERROR":
        return False
    codes = _codes(exc.body)
    return bool(codes) and all(code.startswith("INVALID_") for code in codes)


def _codes(body: dict[str, Any]) -> list[str]:
    codes = [str(e.get("code") or "") for e in body.get("errors") or [] if isinstance(e, dict)]
    if codes:
        return codes
    # Some answers carry the codes only inside the message: "Property values were not valid: [{…"error": "INVALID_OPTION"…}]"
    message = str(body.get("message") or "")
    _, sep, listed = message.partition(": [")
    if not sep:
        return []
    try:
        results = json.loads("[" + listed)
    except ValueError:
        return []
    return [str(r.get("error") or "") for r in results if isinstance(r, dict)]


def _message(exc: HubSpotError) -> str:
    details = [str(e["message"]) for e in exc.body.get("errors") or [] if isinstance(e, dict) and e.get("message")]
    return f"{exc.category}: {'; '.join(details) or exc.body.get('message') or exc}"


def _rec_id(top: dict[str, Recommendation], deal_id: str) -> str:
    rec = top.get(deal_id)
    return rec.id if rec is not None else f"deal:{deal_id}"


# -- setup -------------------------------------------------------------------------------------


def ensure_properties(client: HubSpotClient, object_type: str, group: str,
                      wanted: list[dict[str, Any]]) -> list[str]:
    """Create the group and the properties that are missing; returns what was created (idempotent)."""
    created: list[str] = []
    groups = client.call("crm.properties.groups_api", "get_all", object_type, label=f"property_groups:{object_type}")
    if group not in {g.get("name") for g in groups.get("results", [])}:
        _create(client, "crm.properties.groups_api", object_type,
                {"name": group, "label": group.capitalize(), "displayOrder": -1})
        created.append(f"group {object_type}.{group}")
    existing = client.call("crm.properties.core_api", "get_all", object_type, label=f"properties:{object_type}")
    names = {p.get("name") for p in existing.get("results", [])}
    for prop in wanted:
        if prop["name"] not in names:
            _create(client, "crm.properties.core_api", object_type, {**prop, "groupName": group})
            created.append(f"property {object_type}.{prop['name']}")
    return created


def _create(client: HubSpotClient, api: str, object_type: str, body: dict[str, Any]) -> None:
    try:
        client.call(api, "create", object_type, body, label=f"create:{api.rsplit('.', 1)[-1]}:{object_type}")
    except HubSpotError as exc:
        if exc.status != 409:  # 409: another process made it a moment ago, which is what we wanted
            raise


# -- Accept → a HubSpot task ------------------------------------------------------------------


def create_task(client: HubSpotClient, state: HubSpotState, rec: Recommendation,
                owner_id: str | None = None) -> str:
    """The task for an accepted recommendation, created at most once however often this is retried.

    A deal's recommendation puts the task on the deal; an account's (record_type "account") on the company.
    """
    if rec.record_type == "account":
        target, association = rec.account_id or rec.record_id, TASK_TO_COMPANY
    else:
        target, association = rec.deal_id or rec.record_id, TASK_TO_DEAL
    known, task_id = state.task_for(rec.id)
    if task_id:
        return task_id
    if known:
        # Reserved before an earlier attempt: that create may have reached HubSpot before we crashed.
        found = client.call("crm.objects.search_api", "do_search", "tasks", {
            "filterGroups": [{"filters": [{"propertyName": REC_PROPERTY, "operator": "EQ", "value": rec.id}]}],
            "properties": [REC_PROPERTY], "limit": 1,
        }, label="search:tasks", search=True)
        if found.get("results"):
            task_id = str(found["results"][0]["id"])
            state.record_task(rec.id, task_id)
            return task_id
    else:
        state.reserve_task(rec.id, target)
    steps = "\n".join(f"- {step}" for step in rec.how)
    properties = {
        "hs_task_subject": rec.title[:250], "hs_task_body": f"{'; '.join(rec.why)}\n{steps}".strip(),
        "hs_task_status": "NOT_STARTED", "hs_task_priority": {"HIGH": "HIGH", "MEDIUM": "MEDIUM"}.get(rec.urgency, "LOW"),
        "hs_timestamp": str(int(datetime.now(UTC).timestamp() * 1000)), REC_PROPERTY: rec.id,
    }
    if owner_id or rec.owner_id:
        properties["hubspot_owner_id"] = str(owner_id or rec.owner_id)
    body = {"properties": properties, "associations": [{
        "to": {"id": target},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": association}],
    }]}
    data = client.call("crm.objects.basic_api", "create", "tasks", body, label="create:tasks", idempotent=False)
    task_id = str(data["id"])
    state.record_task(rec.id, task_id)
    return task_id
