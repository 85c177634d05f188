"""A Recommendation as the fields of Stepwise_Recommendation__c (what the Lightning component shows).

`FIELDS` is the single list of what Python writes; a test compares it with the
object's metadata in cards/salesforce/ so the two cannot drift apart.  One record per
card (Stepwise_Id__c is the card key, without the day), updated in place.  Status,
dismiss reason and snooze date are the rep's: Python writes Status only to expire a
card no longer recommended, or to give a card that comes back (after it expired or
after a dismissal's cool-down) a fresh "New"; a new record gets "New" from the picklist
default.  So a re-run never undoes an Accept or a Dismiss made in Salesforce.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from stepwise.engine.recommendation import Recommendation

OBJECT = "Stepwise_Recommendation__c"
EXTERNAL_ID = "Stepwise_Id__c"
#: the custom Activity field (Task.Stepwise_Recommendation_Id__c) that makes "accept → Task" idempotent
TASK_MARKER = "Stepwise_Recommendation_Id__c"

FieldType = Literal["Text", "LongTextArea", "Number", "Percent", "Date", "Picklist", "Lookup"]


@dataclass(frozen=True)
class FieldSpec:
    type: FieldType
    length: int | None = None           # Text / LongTextArea: characters Salesforce keeps
    reference_to: str | None = None     # Lookup: the object it points at
    values: tuple[str, ...] = ()        # Picklist


STATUS_VALUES = ("New", "Accepted", "Dismissed", "Snoozed", "Expired")
URGENCY_VALUES = ("HIGH", "MEDIUM", "LOW")
DISMISS_REASONS = ("wrong_timing", "unsuitable_product", "already_contacted", "not_relevant", "other")
STATUS_FROM_SALESFORCE = {"Accepted": "accepted", "Dismissed": "dismissed", "Snoozed": "snoozed"}

#: every field Python writes (the external id included), with what it must be in the org
FIELDS: dict[str, FieldSpec] = {
    "Name": FieldSpec("Text", 80),
    EXTERNAL_ID: FieldSpec("Text", 64),
    "Opportunity__c": FieldSpec("Lookup", reference_to="Opportunity"),
    "Account__c": FieldSpec("Lookup", reference_to="Account"),
    "Lead__c": FieldSpec("Lookup", reference_to="Lead"),
    "Record_Type__c": FieldSpec("Text", 16),
    "Action_Id__c": FieldSpec("Text", 100),
    "Category__c": FieldSpec("Text", 40),
    "Title__c": FieldSpec("Text", 255),
    "Score__c": FieldSpec("Number"),
    "Urgency__c": FieldSpec("Picklist", values=URGENCY_VALUES),
    "Expected_Impact__c": FieldSpec("Text", 255),
    "Why__c": FieldSpec("LongTextArea", 32768),
    "How__c": FieldSpec("LongTextArea", 32768),
    "Offer__c": FieldSpec("LongTextArea", 32768),
    "Constraints__c": FieldSpec("LongTextArea", 32768),
    "Details__c": FieldSpec("LongTextArea", 131072),
    "Best_Before__c": FieldSpec("Date"),
    "Success_Rate__c": FieldSpec("Percent"),
    "Rank__c": FieldSpec("Number"),
    "Model_Version__c": FieldSpec("Text", 100),
    "As_Of__c": FieldSpec("Date"),
    "Status__c": FieldSpec("Picklist", values=STATUS_VALUES),
    # The rep's "Today" (the Home-page component reads these): whose list, which place, why it is urgent.
    "Rep__c": FieldSpec("Lookup", reference_to="User"),
    "Today_Rank__c": FieldSpec("Number"),
    "Urgency_Reason__c": FieldSpec("Text", 255),
}

#: fields the rep (the component) writes and Python only reads back
REP_FIELDS: dict[str, FieldSpec] = {
    "Dismiss_Reason__c": FieldSpec("Picklist", values=DISMISS_REASONS),
    "Snooze_Until__c": FieldSpec("Date"),
}


def to_fields(rec: Recommendation) -> dict[str, Any]:
    """The record to upsert by Stepwise_Id__c (the card key).  Status is left out on purpose (see module doc)."""
    values: dict[str, Any] = {
        "Name": rec.title,
        EXTERNAL_ID: rec.card_key,
        # Lookups only when the id is a Salesforce id: a files-sourced run has no Opportunity to point at.
        "Opportunity__c": _sf_id(rec.deal_id),
        "Account__c": _sf_id(rec.account_id),
        "Lead__c": _sf_id(rec.lead_id),
        "Record_Type__c": rec.record_type,
        "Action_Id__c": rec.action_id,
        "Category__c": rec.category,
        "Title__c": rec.title,
        "Score__c": round(float(rec.score), 2),
        "Urgency__c": rec.urgency,
        "Expected_Impact__c": rec.expected_impact,
        "Why__c": "\n".join(rec.why),
        "How__c": "\n".join(rec.how),
        "Offer__c": offer_text(rec.offer),
        "Constraints__c": "\n".join(rec.constraints),
        "Details__c": json.dumps(_details(rec), default=str, separators=(",", ":")),
        "Best_Before__c": _date(rec.best_before),
        "Success_Rate__c": None if rec.success_rate is None else round(float(rec.success_rate) * 100, 2),
        "Rank__c": int(rec.rank),
        "Model_Version__c": rec.model_version,
        "As_Of__c": _date(rec.as_of),
        # The integration user creates the records, so record ownership cannot say whose card it is.
        "Rep__c": _user_id(rec.owner_id),
        "Today_Rank__c": rec.today_rank,
        "Urgency_Reason__c": rec.urgency_reason or None,
    }
    return {name: _fit(name, value) for name, value in values.items()}


def written_hash(fields: dict[str, Any]) -> str:
    """What a card's record says that a rep acts on: the same advice on a new day is not a change.

    Counted: the action, title, urgency, rank, why (its numbers aside: days since a touch grow daily, and the
    card says when it was written, "Updated …"), how, offer, constraints, expected impact, success rate, model,
    the rep, the place in the rep's "Today" (a card entering or leaving the list is written) and the urgency
    reason (its numbers aside too: "close date in 9 days" is the same reason a day later).
    Not counted: As_Of__c (the day), Best_Before__c (the deadline stays the first day's while the advice is
    the same; a card past it is written again, see writeback.py), Score__c and Details__c (the score, its
    factors and the runners-up drift a little every day; Stepwise's own card page always shows today's),
    and the rep's fields.  Measured on the sample company, scored twice a day apart with nothing changed:
    82 % of the cards keep their hash (25 % if the score and details counted).
    """
    content = {k: v for k, v in fields.items()
               if k not in ("As_Of__c", "Best_Before__c", "Score__c", "Details__c", "Status__c", *REP_FIELDS)}
    for name in ("Why__c", "Urgency_Reason__c"):
        if isinstance(content.get(name), str):
            content[name] = _NUMBER.sub("#", content[name])
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:32]


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def expired_fields(key: str) -> dict[str, Any]:
    """What marks a card that is no longer recommended: hidden from reps, deleted after the retention."""
    return {EXTERNAL_ID: key, "Status__c": "Expired"}


def fresh_status() -> dict[str, Any]:
    """A card that comes back after it expired or was dismissed: a new answer from the rep, not the old one
    (the old one stays in Stepwise's store)."""
    return {"Status__c": "New", "Dismiss_Reason__c": None, "Snooze_Until__c": None}


def task_fields(rec: Recommendation, owner_id: str | None = None) -> dict[str, Any] | None:
    """The Task an accepted recommendation becomes: on the opportunity (or account), or on the lead.

    Subject = the title, Description = why, then how as steps, due on the best-before day,
    owned by the rep when their user id is known.  None when there is no Salesforce record.
    """
    what = _sf_id(rec.deal_id) or _sf_id(rec.account_id) if rec.record_type != "lead" else None
    who = _sf_id(rec.lead_id) if rec.record_type == "lead" else None
    if not what and not who:
        return None
    steps = "\n".join(f"- {step}" for step in rec.how)
    description = "\n".join(rec.why) + (f"\n\nHow:\n{steps}" if steps else "")
    fields: dict[str, Any] = {
        "Subject": _cut(rec.title, 255),
        "Description": _cut(description.strip() + f"\n\n(Stepwise recommendation {rec.id})", 32000),
        TASK_MARKER: rec.id,
        "ActivityDate": _date(rec.best_before),
    }
    if rec.urgency == "HIGH":
        fields["Priority"] = "High"
    fields["WhatId" if what else "WhoId"] = what or who
    owner = _user_id(owner_id or rec.owner_id)
    if owner:  # a queue cannot own a Task
        fields["OwnerId"] = owner
    return {k: v for k, v in fields.items() if v is not None}


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def offer_text(offer: dict[str, Any]) -> str:
    """The offer in plain words, one line per part (the component shows it as is)."""
    lines = []
    products = offer.get("products") or []
    if products:
        lines.append("Products: " + ", ".join(str(p.get("name", p.get("product_id", p))) if isinstance(p, dict) else str(p)
                                                for p in products))
    if offer.get("bundle"):
        lines.append(f"Bundle: {offer['bundle']}")
    if offer.get("max_discount_pct") is not None:
        lines.append(f"Max discount: {offer['max_discount_pct']:g}%")
    asset = offer.get("asset")
    if asset:
        lines.append("Asset: " + (f"{asset.get('title', '')} {asset.get('url', '')}".strip() if isinstance(asset, dict) else str(asset)))
    return "\n".join(lines)


def _details(rec: Recommendation) -> dict[str, Any]:
    """What the component shows behind "Show more" — the same shapes as the public JSON (to_dict),
    built directly because a full asdict of every recommendation dominates a 100k-card push."""
    return {
        "factors": vars(rec.factors).copy(),
        "offer": rec.offer,
        "alternatives": [vars(a).copy() for a in rec.alternatives],
        "removed": [r.to_dict() for r in rec.removed],
        "script": rec.script,
    }


def _sf_id(value: str | None) -> str | None:
    return value if value and len(value) in (15, 18) and value.isalnum() else None


def _user_id(value: str | None) -> str | None:
    """A Salesforce User id (005…): an owner that is a queue (00G…) or not from Salesforce has no User to point at."""
    user = _sf_id(value)
    return user if user and user.startswith("005") else None


def _date(value: str | None) -> str | None:
    return str(value)[:10] if value else None


def _fit(name: str, value: Any) -> Any:
    """Cut text to what the field holds: Salesforce refuses the whole record otherwise (STRING_TOO_LONG)."""
    spec = FIELDS[name]
    if isinstance(value, str) and spec.length and len(value) > spec.length:
        return value[: spec.length - 1] + "…"
    return value
