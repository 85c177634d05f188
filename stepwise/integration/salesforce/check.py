"""`stepwise check salesforce`: the mapping and the write-back object against the org's describe.

All describes travel in one Composite request (up to 25 per call), so a check
costs one or two API calls however many objects are mapped.  Problems come out
in plain words: what is missing, what it breaks, what to do.
"""

from __future__ import annotations

from typing import Any, Literal

from stepwise.integration.base import Finding
from stepwise.integration.salesforce.client import SalesforceClient
from stepwise.integration.salesforce.fields import EXTERNAL_ID, FIELDS, OBJECT, REP_FIELDS, TASK_MARKER
from stepwise.integration.salesforce.mapping import SalesforceMapping

DESCRIBES_PER_CALL = 25



def describe_all(client: SalesforceClient, sobjects: list[str]) -> dict[str, dict[str, Any] | None]:
    """sObject describe results by name; None for an object the org does not have (or the user cannot see)."""
    out: dict[str, dict[str, Any] | None] = {}
    for start in range(0, len(sobjects), DESCRIBES_PER_CALL):
        names = sobjects[start:start + DESCRIBES_PER_CALL]
        body = {"allOrNone": False, "compositeRequest": [
            {"method": "GET", "url": f"/services/data/v{client.api_version}/sobjects/{name}/describe",
             "referenceId": f"d{i}"} for i, name in enumerate(names)]}
        answer = client.restful("composite", method="POST", json=body) or {}
        by_ref = {sub.get("referenceId"): sub for sub in answer.get("compositeResponse", [])}
        for i, name in enumerate(names):
            sub = by_ref.get(f"d{i}") or {}
            ok = sub.get("httpStatusCode", 500) < 300 and isinstance(sub.get("body"), dict)
            out[name] = sub["body"] if ok else None
    return out


def check(client: SalesforceClient, mapping: SalesforceMapping, create_tasks: bool | None = None) -> list[Finding]:
    tasks = mapping.create_tasks if create_tasks is None else create_tasks
    sobjects = list(dict.fromkeys([o.sobject for o in mapping.objects] + [OBJECT] + (["Task"] if tasks else [])))
    described = describe_all(client, sobjects)
    findings: list[Finding] = []
    for obj in mapping.objects:
        desc = described.get(obj.sobject)
        if desc is None:
            if obj.optional:
                findings.append(Finding("warning", f"The org has no {obj.sobject} object (or this user cannot see it): "
                                                   f"{obj.table} will be empty and the actions that need it stay off."))
            else:
                findings.append(Finding("error", f"The org has no {obj.sobject} object, or this user cannot read it: "
                                                 f"give the integration user access, or remove it from {mapping.origin}."))
            continue
        fields = {f["name"]: f for f in desc.get("fields", [])}
        relationships = {f.get("relationshipName"): f for f in desc.get("fields", []) if f.get("relationshipName")}
        level: Literal["error", "warning"] = "warning" if obj.optional else "error"
        for column, source in obj.fields.items():
            for path in source.sf_fields():
                head, _, rest = path.partition(".")
                if rest and head not in relationships:
                    findings.append(Finding(level, f"{obj.sobject} has no lookup '{head}' (used for {obj.table}.{column} as {path})."))
                elif not rest and path not in fields:
                    findings.append(Finding(level, f"{obj.sobject} has no field {path} (mapped to {obj.table}.{column}): "
                                                   f"add the field, give the integration user access to it, "
                                                   f"or change {mapping.origin}."))
        children = {c.get("relationshipName") for c in desc.get("childRelationships", [])}
        for child in obj.children:
            if child.relationship not in children:
                findings.append(Finding(level, f"{obj.sobject} has no child relationship {child.relationship} "
                                               f"(used for {child.table})."))
        findings += _unmapped_values(obj.sobject, obj.fields, obj.values, fields)
    findings += _writeback(described.get(OBJECT))
    if tasks:
        task = described.get("Task") or {}
        if TASK_MARKER not in {f["name"] for f in task.get("fields", [])}:
            findings.append(Finding("error", f"Task has no field {TASK_MARKER}, which accepting a recommendation "
                                             "needs to create its Task only once: deploy the current cards/salesforce "
                                             "and assign 'Stepwise Integration' (or turn STEPWISE_SALESFORCE_CREATE_TASKS off)."))
    return findings


def _unmapped_values(sobject: str, sources: dict, values: dict[str, dict[str, Any]],
                     fields: dict[str, dict[str, Any]]) -> list[Finding]:
    out = []
    for column, table in values.items():
        if "*" in table or not sources[column].paths:
            continue
        name = sources[column].paths[0]
        picklist = [v["value"] for v in fields.get(name, {}).get("picklistValues", []) if v.get("active", True)]
        missing = [v for v in picklist if v not in table]
        if missing:
            out.append(Finding("warning", f"{sobject}.{name} value(s) {', '.join(repr(v) for v in missing)} are not in "
                                          f"the mapping's {column} values: records with them will be skipped."))
    return out


def _writeback(desc: dict[str, Any] | None) -> list[Finding]:
    if desc is None:
        return [Finding("error", f"The org has no {OBJECT} object: deploy cards/salesforce "
                                 "(`sf project deploy start`) and assign the Stepwise permission sets.")]
    fields = {f["name"]: f for f in desc.get("fields", [])}
    out = []
    expected = {**FIELDS, **REP_FIELDS}
    missing = [name for name in expected if name not in fields]
    if missing:
        out.append(Finding("error", f"{OBJECT} lacks field(s) {', '.join(missing)}: deploy the current cards/salesforce "
                                    "and make sure the integration user's permission set grants them."))
    ext = fields.get(EXTERNAL_ID)
    if ext is not None and not ext.get("externalId"):
        out.append(Finding("error", f"{OBJECT}.{EXTERNAL_ID} is not marked External ID: upserts cannot match records."))
    not_writable = [n for n in FIELDS if n in fields and not fields[n].get("updateable", True)]
    if not_writable:
        out.append(Finding("error", f"The integration user cannot edit {OBJECT} field(s) {', '.join(not_writable)}: "
                                    "assign the 'Stepwise Integration' permission set."))
    return out
