"""The Salesforce field and stage mapping: YAML an admin owns → SOQL and raw canonical frames.

No network here: this module turns the mapping into SOQL text and turns query
records (dicts shaped like the REST API's JSON) into raw frames with exactly the
canonical column names, ready for `coerce_table`.  Every org has custom fields
and its own stages, so none of this is hard-coded; the shipped default fits a
standard org.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from stepwise.engine.records import TABLES, RowIssue
from stepwise.integration.base import ConnectorError

#: a hidden column on every raw frame: the record's Salesforce Id (the mirror's key)
SF_ID = "_sf_id"
#: a hidden column on child frames: the parent record's Id (children are replaced per parent)
PARENT_ID = "_parent_id"
#: not a canonical table: OpportunityContactRoles, folded into contacts.role
CONTACT_ROLES = "contact_roles"
#: not a canonical table: OpportunityLineItems; a won opportunity's lines become order_lines
DEAL_LINES = "deal_lines"
CHILD_TABLES = {CONTACT_ROLES: ("contact_id", "role", "is_primary"),
                DEAL_LINES: ("product_id", "quantity", "unit_price", "discount_pct")}
#: relationship → (child object, its lookup to the parent): how Bulk API 2.0 reads a child
#: (it refuses parent-to-child sub-queries), unless the mapping names them itself
KNOWN_CHILDREN = {"OpportunityContactRoles": ("OpportunityContactRole", "OpportunityId"),
                  "OpportunityLineItems": ("OpportunityLineItem", "OpportunityId")}
DEFAULT_BULK_THRESHOLD = 50_000

DEFAULT_MAPPING = "mapping.yaml"
_UNMAPPED = object()


@dataclass(frozen=True)
class FieldSource:
    """Where one canonical column comes from: a field path, a coalesce list, a prefix-filtered id or a constant."""

    paths: tuple[str, ...] = ()
    prefix: str | None = None
    constant: Any = None

    def sf_fields(self) -> tuple[str, ...]:
        return self.paths

    def value(self, record: Mapping[str, Any]) -> Any:
        if not self.paths:
            return self.constant
        for path in self.paths:
            found = _path(record, path)
            if found not in (None, ""):
                if self.prefix is not None and not str(found).startswith(self.prefix):
                    return None
                return found
        return None


@dataclass(frozen=True)
class ChildMapping:
    table: str
    relationship: str
    fields: dict[str, FieldSource]
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    sobject: str | None = None        # e.g. OpportunityContactRole (for Bulk API reads)
    parent_field: str | None = None   # e.g. OpportunityId

    def subquery(self) -> str:
        select = ["Id", *(f for f in _select_list(self.fields) if f != "Id")]  # Id: the mirror's key
        return f"(SELECT {', '.join(select)} FROM {self.relationship})"

    def flat_soql(self, since: str | None = None) -> str | None:
        """The child object queried on its own (Bulk API 2.0 has no sub-queries); None when unknown.

        With `since`, only children of parents changed since then (what the sub-query would bring).
        """
        if not self.sobject or not self.parent_field:
            return None
        select = list(dict.fromkeys(["Id", self.parent_field, *_select_list(self.fields)]))
        where = ""
        if since:
            parent = self.parent_field[:-2] if self.parent_field.endswith("Id") else self.parent_field
            where = f" WHERE {parent}.SystemModstamp > {since}"
        return f"SELECT {', '.join(select)} FROM {self.sobject}{where}"


@dataclass(frozen=True)
class ObjectMapping:
    table: str
    sobject: str
    fields: dict[str, FieldSource]
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    where: str | None = None
    optional: bool = False
    children: tuple[ChildMapping, ...] = ()

    def sf_fields(self) -> list[str]:
        """Every field of this object the mapping reads (for `check salesforce`)."""
        return _select_list(self.fields)

    def soql(self, since: str | None = None, with_deleted: bool = False, subqueries: bool = True) -> str:
        """The one query for this object; `since` (a SOQL datetime) makes it incremental."""
        select = _select_list(self.fields)
        for extra in ("Id", "SystemModstamp", *(("IsDeleted",) if with_deleted else ())):
            if extra not in select:
                select.append(extra)
        if subqueries:
            select += [child.subquery() for child in self.children]
        clauses = [f"({self.where})"] if self.where else []
        if since:
            clauses.append(f"SystemModstamp > {since}")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return f"SELECT {', '.join(select)} FROM {self.sobject}{where}"


@dataclass(frozen=True)
class SalesforceMapping:
    objects: tuple[ObjectMapping, ...]
    api_version: str = "61.0"
    overlap_seconds: int = 300
    origin: str = DEFAULT_MAPPING
    #: a query with more rows than this goes through Bulk API 2.0 (0: never)
    bulk_threshold: int = DEFAULT_BULK_THRESHOLD
    #: a closed-won opportunity with products is also an order (its lines the order lines);
    #: turn off when the org makes Orders from won opportunities (the purchase would count twice)
    won_opportunities_as_orders: bool = True
    #: accepting a recommendation creates a Task for the rep (also STEPWISE_SALESFORCE_CREATE_TASKS)
    create_tasks: bool = False
    #: an Expired card's record is deleted this many days after it stopped being recommended
    #: (also STEPWISE_SALESFORCE_RETENTION_DAYS)
    retention_days: int = 30

    def tables(self) -> set[str]:
        return {o.table for o in self.objects}


def load_mapping(path: str | Path | None = None) -> SalesforceMapping:
    """The mapping from `path`, or the shipped default; a malformed file is one clear ConnectorError."""
    if path is None:
        return _default_mapping()  # parsed once per process
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read the Salesforce mapping ({exc.strerror})") from None
    origin = str(path)
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConnectorError(f"{origin}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_mapping(raw, origin)


@lru_cache(maxsize=1)
def _default_mapping() -> SalesforceMapping:
    text = resources.files("stepwise.integration.salesforce").joinpath(DEFAULT_MAPPING).read_text(encoding="utf-8")
    return parse_mapping(yaml.safe_load(text), DEFAULT_MAPPING)


def parse_mapping(raw: Mapping[str, Any], origin: str = "mapping") -> SalesforceMapping:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("objects"), list):
        raise ConnectorError(f"{origin}: needs an 'objects' list")
    objects = []
    for i, item in enumerate(raw["objects"]):
        where = f"{origin}: objects[{i}]"
        if not isinstance(item, Mapping) or not item.get("table") or not item.get("sobject"):
            raise ConnectorError(f"{where}: every object needs 'table' and 'sobject'")
        table = str(item["table"])
        if table not in TABLES:
            raise ConnectorError(f"{where} ({item['sobject']}): unknown table '{table}' (known: {', '.join(TABLES)})")
        fields = _fields(item.get("fields"), f"{where} ({item['sobject']})", TABLES[table].names)
        missing = [c for c in TABLES[table].required if c not in fields]
        if missing:
            raise ConnectorError(f"{where} ({item['sobject']}): no field mapped to required column(s) {', '.join(missing)}")
        children = tuple(_child(c, f"{where} ({item['sobject']})") for c in item.get("children") or ())
        objects.append(ObjectMapping(
            table=table, sobject=str(item["sobject"]), fields=fields, values=_values(item.get("values"), fields, where),
            where=item.get("where"), optional=bool(item.get("optional", False)), children=children,
        ))
    try:
        threshold = int(raw.get("bulk_threshold", DEFAULT_BULK_THRESHOLD) or 0)
    except (TypeError, ValueError):
        raise ConnectorError(f"{origin}: bulk_threshold must be a number of rows (0 turns Bulk API off)") from None
    return SalesforceMapping(
        objects=tuple(objects), api_version=str(raw.get("api_version", "61.0")),
        overlap_seconds=int(raw.get("overlap_seconds", 300)), origin=origin, bulk_threshold=threshold,
        won_opportunities_as_orders=bool(raw.get("won_opportunities_as_orders", True)),
        create_tasks=bool(raw.get("create_tasks", False)), retention_days=_retention(raw, origin),
    )


def _retention(raw: Mapping[str, Any], origin: str) -> int:
    try:
        days = int(raw.get("retention_days", 30))
    except (TypeError, ValueError):
        days = -1
    if days < 0:
        raise ConnectorError(f"{origin}: retention_days must be a whole number of days (0 deletes on the next sync)")
    return days


def _child(item: Any, where: str) -> ChildMapping:
    if not isinstance(item, Mapping) or item.get("table") not in CHILD_TABLES or not item.get("relationship"):
        raise ConnectorError(f"{where}: a child needs 'relationship' and a 'table' of {', '.join(CHILD_TABLES)}")
    fields = _fields(item.get("fields"), f"{where} child {item['relationship']}", CHILD_TABLES[item["table"]])
    sobject, parent_field = KNOWN_CHILDREN.get(item["relationship"], (None, None))
    return ChildMapping(item["table"], item["relationship"], fields, _values(item.get("values"), fields, where),
                        sobject=item.get("sobject", sobject), parent_field=item.get("parent_field", parent_field))


def _fields(raw: Any, where: str, allowed: Iterable[str]) -> dict[str, FieldSource]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConnectorError(f"{where}: 'fields' must map columns to Salesforce fields")
    allowed = tuple(allowed)
    out = {}
    for column, spec in raw.items():
        if column not in allowed:
            raise ConnectorError(f"{where}: '{column}' is not a column of this table (columns: {', '.join(allowed)})")
        if isinstance(spec, str):
            out[column] = FieldSource((spec,))
        elif isinstance(spec, list) and spec and all(isinstance(s, str) for s in spec):
            out[column] = FieldSource(tuple(spec))
        elif isinstance(spec, Mapping) and "value" in spec:
            out[column] = FieldSource(constant=spec["value"])
        elif isinstance(spec, Mapping) and isinstance(spec.get("field"), str):
            out[column] = FieldSource((spec["field"],), prefix=spec.get("prefix"))
        else:
            raise ConnectorError(f"{where}: column '{column}' needs a field name, a list, {{field, prefix}} or {{value}}")
    return out


def _values(raw: Any, fields: Mapping[str, FieldSource], where: str) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(v, Mapping) for v in raw.values()):
        raise ConnectorError(f"{where}: 'values' must map a column to {{Salesforce value: Stepwise value}}")
    unknown = [c for c in raw if c not in fields]
    if unknown:
        raise ConnectorError(f"{where}: 'values' names unmapped column(s) {', '.join(unknown)}")
    return {c: {str(k): v for k, v in m.items()} for c, m in raw.items()}


def _select_list(fields: Mapping[str, FieldSource]) -> list[str]:
    seen: dict[str, None] = {}
    for source in fields.values():
        for path in source.sf_fields():
            seen.setdefault(path, None)
    return list(seen)


def _path(record: Mapping[str, Any], path: str) -> Any:
    """`Account.Name` → record["Account"]["Name"]; a null lookup gives None, not an error."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def translate(value: Any, table: Mapping[str, Any]) -> Any:
    """A picklist value through the mapping; _UNMAPPED when neither listed nor caught by '*'."""
    if value in (None, ""):
        return None
    key = str(value)
    if key in table:
        return table[key]
    return table.get("*", _UNMAPPED)


# -- records → raw frames --------------------------------------------------------------


@dataclass
class RawBatch:
    """One object's records as raw canonical rows, the rows it had to skip and its deleted ids."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[RowIssue] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    max_modstamp: str | None = None

    def frame(self, table: str) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=[SF_ID, *TABLES[table].names], dtype=object)


def map_records(mapping: ObjectMapping, records: Iterable[Mapping[str, Any]],
                children_of: Any = None) -> RawBatch:
    """Map API records (as `query_all_iter` yields them) into raw rows; deleted ones are only counted.

    `children_of(record, child)` returns every child record of a relationship sub-query
    (the caller follows a nested `nextRecordsUrl` when the sub-query was paged).
    """
    batch = RawBatch(children={c.table: [] for c in mapping.children})
    for record in records:
        stamp = record.get("SystemModstamp")
        if stamp and (batch.max_modstamp is None or str(stamp) > batch.max_modstamp):
            batch.max_modstamp = str(stamp)
        if record.get("IsDeleted"):
            batch.deleted.append(record["Id"])
            continue
        row, reason = _row(mapping.fields, mapping.values, record, mapping.sobject)
        if reason:
            batch.issues.append(RowIssue(mapping.table, str(record.get("Id", "(no Id)")), reason))
            continue
        batch.rows.append(row)
        for child in mapping.children:
            kids = children_of(record, child) if children_of else _inline_children(record, child)
            for kid in kids:
                kid_row, kid_reason = _row(child.fields, child.values, kid, child.relationship)
                if kid_reason:
                    batch.issues.append(RowIssue(child.table, str(kid.get("Id", "(no Id)")), kid_reason))
                    continue
                kid_row[PARENT_ID] = record["Id"]
                batch.children[child.table].append(kid_row)
    return batch


def _inline_children(record: Mapping[str, Any], child: ChildMapping) -> list[Mapping[str, Any]]:
    nested = record.get(child.relationship)
    return list(nested.get("records") or ()) if isinstance(nested, Mapping) else []


def _row(fields: Mapping[str, FieldSource], values: Mapping[str, Mapping[str, Any]],
         record: Mapping[str, Any], sobject: str) -> tuple[dict[str, Any], str | None]:
    row: dict[str, Any] = {SF_ID: record.get("Id")}
    for column, source in fields.items():
        value = source.value(record)
        if column in values:
            mapped = translate(value, values[column])
            if mapped is _UNMAPPED:
                field_name = source.paths[0] if source.paths else column
                return row, (f"{sobject}.{field_name} '{value}' is not in the Salesforce mapping's "
                             f"{column} values (add it, or a \"*\" catch-all)")
            value = mapped
        row[column] = value
    return row, None


ROLE_PRIORITY = ("economic_buyer", "champion", "technical_buyer", "user", "other")


def contact_roles_into(contacts: pd.DataFrame, roles: pd.DataFrame) -> pd.DataFrame:
    """contacts.role from OpportunityContactRoles: a contact's most decisive role on any deal wins."""
    if roles.empty or contacts.empty:
        return contacts
    ranked = roles.dropna(subset=["contact_id", "role"]).copy()
    ranked["_rank"] = ranked["role"].map({r: i for i, r in enumerate(ROLE_PRIORITY)}).fillna(len(ROLE_PRIORITY))
    best = ranked.sort_values("_rank").drop_duplicates("contact_id").set_index("contact_id")["role"]
    out = contacts.copy()
    from_roles = out["contact_id"].map(best)
    out["role"] = from_roles.where(from_roles.notna(), out["role"])
    return out
