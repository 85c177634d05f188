"""`stepwise check hubspot`: can we read what we need, does the mapping fit this portal?

A rejected token (401) is bad configuration, raised as a ConnectorError (exit 2); a missing scope or
property is a finding to fix (exit 1).
"""

from __future__ import annotations

from collections.abc import Iterator

from stepwise.integration.base import Finding
from stepwise.integration.hubspot.client import HubSpotAuthError, HubSpotClient, HubSpotError
from stepwise.integration.hubspot.mapping import ENGAGEMENT_TYPES, OBJECT_TABLES, Mapping
from stepwise.integration.hubspot.pull import pipelines
from stepwise.integration.hubspot.push import WRITE_PROPERTIES

READ_OBJECTS = ("deals", "companies", "contacts", *ENGAGEMENT_TYPES)


def check(client: HubSpotClient, mapping: Mapping) -> list[Finding]:
    """Every check in order: "ok" for what is there, "error" for what is missing."""
    return [Finding("ok" if ok else "error", line) for ok, line in _lines(client, mapping)]


def _lines(client: HubSpotClient, mapping: Mapping) -> Iterator[tuple[bool, str]]:
    for object_type in READ_OBJECTS:
        try:
            client.call("crm.objects.basic_api", "get_page", object_type, limit=1, label=f"check:{object_type}")
            yield True, f"read {object_type}"
        except HubSpotAuthError as exc:
            if exc.status == 401:
                raise  # no token this portal accepts: nothing else can be checked
            hint = f"crm.objects.{object_type}.read" if object_type in READ_OBJECTS[:3] else "the engagement read scopes"
            yield False, f"read {object_type}: {exc} (add {hint} to the app)"
    wanted = {
        "deals": [*mapping.deal_properties.values(), *mapping.change_properties],
        "companies": list(mapping.company_properties.values()),
        "contacts": [*mapping.contact_properties.values(), *([mapping.role_property] if mapping.role_property else [])],
    }
    for object_type, names in wanted.items():
        try:
            existing = {p["name"] for p in client.call("crm.properties.core_api", "get_all", object_type,
                                                       label=f"properties:{object_type}").get("results", [])}
        except HubSpotError as exc:
            yield False, f"list {object_type} properties: {exc}"
            continue
        missing = [n for n in names if n not in existing]
        yield not missing, (f"{mapping.where}: {object_type} properties " +
                            (f"not in this portal: {', '.join(missing)}" if missing else "all exist"))
        if object_type == "deals":
            absent = [n for n in WRITE_PROPERTIES if n not in existing]
            yield not absent, ("write-back properties " + (f"missing: {', '.join(absent)} (run `stepwise setup hubspot`; "
                                                           "needs crm.schemas.deals.write)" if absent else "exist"))
            try:
                client.call("crm.objects.batch_api", "update", "deals", {"inputs": []}, label="check:write")
                yield True, "write deals"
            except HubSpotError as exc:
                if exc.status in (401, 403):
                    yield False, f"write deals: {exc} (add crm.objects.deals.write)"
                else:  # an empty batch is refused as invalid, which proves the scope is there
                    yield True, "write deals"
    yield from _commerce(client, mapping)
    yield from _custom_objects(client, mapping)
    for pipeline in pipelines(client):
        resolved = mapping.resolve_stages([pipeline])
        shown = ", ".join(f"{key.split(':', 1)[1]}→{stage}" for key, stage in resolved.items())
        yield True, f"pipeline {pipeline.get('label', pipeline['id'])}: {shown}"


def _commerce(client: HubSpotClient, mapping: Mapping) -> Iterator[tuple[bool, str]]:
    """Line items and products: optional (the mapping may leave them out), each with its own read scope."""
    for object_type, wanted, scope in (("line_items", mapping.line_items, "crm.objects.line_items.read"),
                                       ("products", mapping.products, "crm.objects.products.read")):
        if not wanted:
            yield True, f"{object_type}: not in the mapping (skipped)"
            continue
        try:
            client.call("crm.objects.basic_api", "get_page", object_type, limit=1, label=f"check:{object_type}")
            existing = {p["name"] for p in client.call("crm.properties.core_api", "get_all", object_type,
                                                       label=f"properties:{object_type}").get("results", [])}
        except HubSpotAuthError as exc:
            yield False, f"read {object_type}: {exc} (add {scope} to the app, or delete {object_type} from the mapping)"
            continue
        missing = [n for n in wanted.values() if n not in existing]
        yield not missing, (f"{mapping.where}: {object_type} properties " +
                            (f"not in this portal: {', '.join(missing)}" if missing else "all exist"))


def _custom_objects(client: HubSpotClient, mapping: Mapping) -> Iterator[tuple[bool, str]]:
    """orders/invoices/stock/contracts named in the mapping: does the object exist, with those properties?"""
    absent = [t for t in OBJECT_TABLES if t not in mapping.objects]
    if absent:
        yield True, f"{', '.join(absent)}: not in the mapping (the actions that need them stay off)"
    if not mapping.objects:
        return
    try:
        schemas = client.call("crm.schemas.core_api", "get_all", label="schemas").get("results", [])
    except HubSpotAuthError as exc:
        yield False, f"list custom objects: {exc} (add crm.schemas.custom.read to the app)"
        schemas = []
    by_name: dict[str, dict] = {}
    for schema in schemas:
        for key in (schema.get("objectTypeId"), schema.get("fullyQualifiedName"), schema.get("name")):
            if key:
                by_name[str(key)] = schema
    known = ", ".join(f"{s.get('objectTypeId')} ({s.get('name')})" for s in schemas) or "none"
    for table, spec in mapping.objects.items():
        schema = by_name.get(spec.object)
        if schema is not None:
            existing = {p["name"] for p in schema.get("properties", [])}
        else:
            try:  # a commerce object (orders, invoices) has no custom schema: ask its properties
                existing = {p["name"] for p in client.call("crm.properties.core_api", "get_all", spec.object,
                                                           label=f"properties:{spec.object}").get("results", [])}
            except HubSpotError:
                yield False, f"{table}: object {spec.object} is not in this portal (custom objects: {known})"
                continue
        wanted = [*spec.properties.values(), *([spec.account_property] if spec.account_property else [])]
        missing = [n for n in wanted if n not in existing]
        yield not missing, (f"{mapping.where}: {table} ({spec.object}) properties " +
                            (f"not in this portal: {', '.join(missing)}" if missing else "all exist"))
        try:
            client.call("crm.objects.basic_api", "get_page", spec.object, limit=1, label=f"check:{spec.object}")
            yield True, f"read {table} ({spec.object})"
        except HubSpotAuthError as exc:
            yield False, f"read {table} ({spec.object}): {exc} (add crm.objects.custom.read to the app)"
