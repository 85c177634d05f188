"""HubSpot records → canonical raw rows, driven by the admin's mapping YAML.

Pure functions over the JSON HubSpot returns; no calls here.  The rows use
exactly the canonical column names and are typed later by `coerce_table`, so a
bad value costs one row with a reason, not the sync.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from stepwise.engine.records import ACTIVITY_TYPES, CONTACT_ROLES, STAGES, TABLES
from stepwise.integration.base import ConnectorError

ENGAGEMENT_TYPES = ("notes", "calls", "emails", "meetings", "tasks")
# HubSpot-defined association type id of a deal's primary company.
PRIMARY_COMPANY_TYPE_ID = 5
_INBOUND = {"INBOUND", "INCOMING_EMAIL"}
_OUTBOUND = {"OUTBOUND", "EMAIL", "FORWARDED_EMAIL"}
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class Mapping:
    deal_properties: dict[str, str]
    change_properties: list[str]
    stage_overrides: dict[str, str]
    company_properties: dict[str, str]
    contact_properties: dict[str, str]
    role_property: str | None
    roles: dict[str, str]
    engagements: dict[str, dict[str, str | None]]
    write_group: str = "stepwise"
    where: str = "hubspot_mapping.yaml"
    stages: dict[str, str] = field(default_factory=dict)  # resolved "pipeline:stage" → canonical

    # -- what to ask HubSpot for --------------------------------------------------------

    def deal_request_properties(self, write_back: list[str]) -> list[str]:
        base = ["dealstage", "pipeline", "hs_lastmodifieddate", "hs_is_closed", "hs_is_closed_won"]
        return _unique(base + list(self.deal_properties.values()) + self.change_properties + write_back)

    def company_request_properties(self) -> list[str]:
        return _unique(["hs_lastmodifieddate", *self.company_properties.values()])

    def contact_request_properties(self) -> list[str]:
        extra = [self.role_property] if self.role_property else []
        return _unique(["firstname", "lastname", "lastmodifieddate", *self.contact_properties.values(), *extra])

    def engagement_request_properties(self, kind: str) -> list[str]:
        spec = self.engagements[kind]
        return _unique(["hs_timestamp", *(v for k, v in spec.items() if k != "type" and v)])

    def deal_fingerprint(self, properties: dict[str, Any], write_back: list[str]) -> str:
        """What we read from a deal, minus the timestamp and our own write-back properties.

        Our batch update bumps hs_lastmodifieddate; an unchanged fingerprint tells us the
        only change was ours (or irrelevant), so the deal's context is not read again.
        """
        skip = {"hs_lastmodifieddate", *write_back}
        kept = {k: properties.get(k) for k in sorted(properties) if k not in skip}
        return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:24]

    # -- stages ---------------------------------------------------------------------------

    def resolve_stages(self, pipelines: list[dict[str, Any]]) -> dict[str, str]:
        """Every stage of every deal pipeline → a canonical stage (overrides first, then the portal's metadata)."""
        resolved: dict[str, str] = {}
        for pipeline in pipelines:
            for stage in pipeline.get("stages", []):
                key = f"{pipeline['id']}:{stage['id']}"
                resolved[key] = (self.stage_overrides.get(key) or self.stage_overrides.get(stage["id"])
                                 or default_stage(stage))
        self.stages = resolved
        return resolved

    def stage_of(self, pipeline: str | None, stage: str | None) -> str | None:
        if not stage:
            return None
        return (self.stages.get(f"{pipeline}:{stage}") or self.stage_overrides.get(f"{pipeline}:{stage}")
                or self.stage_overrides.get(stage))

    # -- rows -----------------------------------------------------------------------------

    def deal_row(self, deal: dict[str, Any], account_id: str | None) -> dict[str, Any]:
        props = deal.get("properties") or {}
        row: dict[str, Any] = {col: props.get(name) for col, name in self.deal_properties.items()}
        stage = self.stage_of(props.get("pipeline"), props.get("dealstage"))
        row.update(
            deal_id=str(deal["id"]), account_id=account_id,
            # An unmapped stage stays visible (coerce_table names it) instead of silently vanishing.
            stage=stage or props.get("dealstage"),
            is_closed=_bool_text(props.get("hs_is_closed"), stage in ("closed_won", "closed_lost")),
            is_won=_bool_text(props.get("hs_is_closed_won"), stage == "closed_won"),
            stage_changed_at=_stage_entered(props, props.get("dealstage")),
        )
        return row

    def company_row(self, company: dict[str, Any]) -> dict[str, Any]:
        props = company.get("properties") or {}
        row = {col: props.get(name) for col, name in self.company_properties.items()}
        row["account_id"] = str(company["id"])
        if not row.get("name"):
            row["name"] = props.get("domain")
        return row

    def contact_row(self, contact: dict[str, Any], account_id: str) -> dict[str, Any]:
        props = contact.get("properties") or {}
        row = {col: props.get(name) for col, name in self.contact_properties.items()}
        name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p)
        row.update(contact_id=str(contact["id"]), account_id=account_id, name=name or props.get("email"),
                   role=self._role(props.get(self.role_property) if self.role_property else None))
        return row

    def activity_row(self, kind: str, engagement: dict[str, Any], deal_id: str,
                     account_id: str | None) -> dict[str, Any]:
        spec = self.engagements[kind]
        props = engagement.get("properties") or {}
        direction = (props.get(spec["direction"]) or "").upper() if spec.get("direction") else ""
        return {
            "activity_id": f"{kind}:{engagement['id']}", "occurred_at": props.get("hs_timestamp"),
            "type": spec["type"], "deal_id": deal_id, "account_id": account_id,
            "direction": "inbound" if direction in _INBOUND else "outbound" if direction in _OUTBOUND else None,
            "subject": _text(props.get(spec["subject"])) if spec.get("subject") else None,
            "body": _text(props.get(spec["body"])) if spec.get("body") else None,
        }

    def _role(self, value: str | None) -> str | None:
        if not value:
            return None
        for part in str(value).split(";"):
            if part.strip().upper() in self.roles:
                return self.roles[part.strip().upper()]
        return "other"


def default_stage(stage: dict[str, Any]) -> str:
    meta = stage.get("metadata") or {}
    try:
        probability = float(meta.get("probability", "nan"))
    except ValueError:
        probability = float("nan")
    if str(meta.get("isClosed", "false")).lower() == "true":
        return "closed_won" if probability >= 1.0 else "closed_lost"
    if probability != probability:  # no probability: call it early rather than late
        return "prospecting"
    if probability <= 0.2:
        return "prospecting"
    if probability <= 0.4:
        return "discovery"
    if probability <= 0.6:
        return "proposal"
    return "negotiation"


def primary_company(associations: list[dict[str, Any]]) -> str | None:
    """The deal's primary company (association type 5), else its first associated company."""
    for assoc in associations:
        if any(t.get("typeId") == PRIMARY_COMPANY_TYPE_ID for t in assoc.get("associationTypes", [])):
            return str(assoc["toObjectId"])
    return str(associations[0]["toObjectId"]) if associations else None


def load_mapping(path: Path | None = None) -> Mapping:
    """The admin's mapping (or the packaged default), validated with errors naming the key."""
    if path is None:
        text = resources.files("stepwise.integration").joinpath("defaults/hubspot_mapping.yaml").read_text("utf-8")
        where = "hubspot_mapping.yaml (default)"
    else:
        try:
            text, where = Path(path).read_text("utf-8"), str(path)
        except OSError as exc:
            raise ConnectorError(f"HUBSPOT_MAPPING: cannot read {path} ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConnectorError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConnectorError(f"{where}: expected a mapping at the top level")

    def section(name: str) -> dict[str, Any]:
        value = raw.get(name) or {}
        if not isinstance(value, dict):
            raise ConnectorError(f"{where}: '{name}' must be a mapping")
        return value

    def props(name: str, table: str) -> dict[str, str]:
        value = section(name).get("properties") or {}
        unknown = sorted(set(value) - set(TABLES[table].names))
        if unknown:
            raise ConnectorError(f"{where}: {name}.properties: {', '.join(unknown)} is not a column of {table} "
                                 f"(columns: {', '.join(TABLES[table].names)})")
        return {str(k): str(v) for k, v in value.items() if v}

    stages = {str(k): str(v) for k, v in (raw.get("stages") or {}).items()}
    bad = {k: v for k, v in stages.items() if v not in STAGES}
    if bad:
        key, value = next(iter(bad.items()))
        raise ConnectorError(f"{where}: stages.{key}: '{value}' is not one of {', '.join(STAGES)}")
    roles = {str(k).upper(): str(v) for k, v in (section("contacts").get("roles") or {}).items()}
    if bad_roles := sorted(v for v in roles.values() if v not in CONTACT_ROLES):
        raise ConnectorError(f"{where}: contacts.roles: '{bad_roles[0]}' is not one of {', '.join(CONTACT_ROLES)}")
    engagements = section("engagements")
    for kind, spec in engagements.items():
        if kind not in ENGAGEMENT_TYPES:
            raise ConnectorError(f"{where}: engagements.{kind}: not one of {', '.join(ENGAGEMENT_TYPES)}")
        if not isinstance(spec, dict) or spec.get("type") not in ACTIVITY_TYPES:
            raise ConnectorError(f"{where}: engagements.{kind}.type must be one of {', '.join(ACTIVITY_TYPES)}")
    return Mapping(
        deal_properties=props("deals", "deals"),
        change_properties=[str(p) for p in section("deals").get("change_properties") or []],
        stage_overrides=stages,
        company_properties=props("companies", "accounts"),
        contact_properties=props("contacts", "contacts"),
        role_property=section("contacts").get("role_property"),
        roles=roles,
        engagements={k: dict(v) for k, v in engagements.items()},
        write_group=str(section("write_back").get("group") or "stepwise"),
        where=where,
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _bool_text(value: Any, fallback: bool) -> str:
    if value in (None, ""):
        return "true" if fallback else "false"
    return str(value).lower()


def _stage_entered(props: dict[str, Any], stage: str | None) -> Any:
    # HubSpot keeps hs_date_entered_<stage id> per stage; only present when requested.
    return props.get(f"hs_date_entered_{stage}") if stage else None


def _text(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return html.unescape(_TAGS.sub(" ", str(value))).strip() or None
