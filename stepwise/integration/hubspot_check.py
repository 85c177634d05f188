"""`stepwise check hubspot`: can we read what we need, does the mapping fit this portal?"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from stepwise.integration.hubspot_client import HubSpotAuthError, HubSpotError
from stepwise.integration.hubspot_mapping import ENGAGEMENT_TYPES
from stepwise.integration.hubspot_pull import pipelines
from stepwise.integration.hubspot_push import WRITE_PROPERTIES

if TYPE_CHECKING:
    from stepwise.integration.hubspot import HubSpotConnector

READ_OBJECTS = ("deals", "companies", "contacts", *ENGAGEMENT_TYPES)


def check(connector: HubSpotConnector) -> Iterator[tuple[bool, str]]:
    client, mapping = connector.client, connector.mapping
    for object_type in READ_OBJECTS:
        try:
            client.call("crm.objects.basic_api", "get_page", object_type, limit=1, label=f"check:{object_type}")
            yield True, f"read {object_type}"
        except HubSpotAuthError as exc:
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
    for pipeline in pipelines(client):
        resolved = mapping.resolve_stages([pipeline])
        shown = ", ".join(f"{key.split(':', 1)[1]}→{stage}" for key, stage in resolved.items())
        yield True, f"pipeline {pipeline.get('label', pipeline['id'])}: {shown}"
