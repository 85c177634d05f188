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
# Canonical tables a custom (or commerce) object named in the mapping can fill.
OBJECT_TABLES = ("orders", "invoices", "stock", "contracts")
# HubSpot-defined association type id of a deal's primary company.
PRIMARY_COMPANY_TYPE_ID = 5
_INBOUND = {"INBOUND", "INCOMING_EMAIL"}
_OUTBOUND = {"OUTBOUND", "EMAIL", "FORWARDED_EMAIL"}
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class ObjectSpec:
    """`orders: {object: "2-1234567", properties: {...}}`: one canonical table read from a HubSpot object."""

    table: str
    object: str                       # objectTypeId ("2-1234567"), fully qualified name, or "orders"/"invoices"
    properties: dict[str, str]        # canonical column → property
    account_property: str | None = None  # a property holding the HubSpot company id; else the associated company
    line_items: bool = False          # orders: the associated line items are the order lines
    modified: str = "hs_lastmodifieddate"

    @property
    def needs_account(self) -> bool:
        return "account_id" in TABLES[self.table].names

    def request_properties(self) -> list[str]:
        extra = [self.account_property] if self.account_property else []
        return _unique([self.modified, *self.properties.values(), *extra])

    def row(self, record: dict[str, Any], account_id: str | None) -> dict[str, Any]:
        props = record.get("properties") or {}
        row = {col: props.get(name) for col, name in self.properties.items()}
        key = TABLES[self.table].key
        if key:
            row[key] = str(record["id"])
        if self.needs_account:
            row["account_id"] = account_id
        return row


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
    line_items: dict[str, str] = field(default_factory=dict)   # order_lines column → line item property
    products: dict[str, str] = field(default_factory=dict)     # products column → product property
    company_filters: list[dict[str, Any]] = field(default_factory=list)
    objects: dict[str, ObjectSpec] = field(default_factory=dict)  # orders/invoices/stock/contracts
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

    def line_item_request_properties(self) -> list[str]:
        return _unique(["hs_lastmodifieddate", "hs_product_id", "price", "discount", *self.line_items.values()])

    def product_request_properties(self) -> list[str]:
        return _unique(["hs_lastmodifieddate", *self.products.values()])

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

    def line_item_row(self, item: dict[str, Any], order_id: str) -> dict[str, Any]:
        """A deal's (or an order's) line item → an order line of that deal/order."""
        props = item.get("properties") or {}
        row = {col: props.get(name) for col, name in self.line_items.items()}
        row["order_id"] = order_id
        if row.get("discount_pct") in (None, ""):
            # HubSpot keeps either a percentage or an amount off the unit price (`discount`).
            row["discount_pct"] = _percent_of(props.get("discount"), props.get("price"))
        return row

    def product_row(self, product: dict[str, Any]) -> dict[str, Any]:
        props = product.get("properties") or {}
        row = {col: props.get(name) for col, name in self.products.items()}
        row["product_id"] = str(product["id"])
        return row

    def _role(self, value: str | None) -> str | None:
        if not value:
            return None
        for part in str(value).split(";"):
            if part.strip().upper() in self.roles:
                return self.roles[part.strip().upper()]
        return "other"


def _percent_of(amount: Any, price: Any) -> str | None:
    """`discount` as a percentage of the unit price; no discount at all on a priced line is 0 %."""
    try:
        value, base = float(amount or 0), float(price)
    except (TypeError, ValueError):
        return None
    return str(round(100 * value / base, 4)) if base > 0 else None


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
        text = resources.files("stepwise.integration.hubspot").joinpath("mapping.yaml").read_text("utf-8")
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
    objects: dict[str, ObjectSpec] = {}
    for table in OBJECT_TABLES:
        spec = raw.get(table)
        if not spec:
            continue
        if not isinstance(spec, dict) or not spec.get("object"):
            raise ConnectorError(f"{where}: {table}.object: the HubSpot object type id (e.g. \"2-1234567\") is missing")
        fields_ = props(table, table)
        key = TABLES[table].key
        for col in (key, "account_id"):
            if col and col in fields_:
                raise ConnectorError(f"{where}: {table}.properties.{col}: set by Stepwise (the record id; the company is "
                                     "the associated one, or the property named by account_property)")
        objects[table] = ObjectSpec(table, str(spec["object"]), fields_, spec.get("account_property"),
                                    bool(spec.get("line_items")) and table == "orders",
                                    str(spec.get("modified_property") or "hs_lastmodifieddate"))
        missing = [c for c in TABLES[table].required if c not in fields_ and c not in (key, "account_id")]
        if missing:
            raise ConnectorError(f"{where}: {table}.properties.{missing[0]}: required (which property holds it?)")
    filters = section("companies").get("filters") or []
    if not isinstance(filters, list) or any(not isinstance(f, dict) or not {"propertyName", "operator"} <= set(f)
                                            for f in filters) or len(filters) > 4:
        raise ConnectorError(f"{where}: companies.filters: up to 4 search filters like "
                             "{propertyName: lifecyclestage, operator: EQ, value: customer}")
    return Mapping(
        line_items=props("line_items", "order_lines") if raw.get("line_items") else {},
        products=props("products", "products") if raw.get("products") else {},
        company_filters=[dict(f) for f in filters],
        objects=objects,
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
