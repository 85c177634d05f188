"""A fake Salesforce org at the HTTP layer (`responses`), serving payloads shaped like the REST API's.

Records are generated from the small templates in fixtures/stubs/records.json, so a
10,000-opportunity org costs a few milliseconds to build.  What the fake understands
of SOQL is what the connector sends: the select list (sub-queries included), the FROM
object, `SystemModstamp > …`, `Status__c IN (…)`, and query vs queryAll (deleted rows).
Every request is counted by kind, and faults can be queued (401, 403, 503, per-record errors).
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import responses

STUBS = Path(__file__).parent / "fixtures" / "stubs"
HOST = "fake.my.salesforce.com"
INSTANCE = f"https://{HOST}"
VERSION = "61.0"
PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006", "Lead": "00Q", "Task": "00T", "Event": "00U",
          "OpportunityContactRole": "00K", "Order": "801", "Contract": "800", "Stepwise_Recommendation__c": "a0B"}
OLD = "2026-02-01T00:00:00.000+0000"
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def created_stamp(n: int) -> str:
    """Records were made one minute apart (so a cursor's overlap window re-reads only a few)."""
    return (BASE + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def stub(name: str) -> Any:
    text = (STUBS / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def sf_id(sobject: str, n: int) -> str:
    return f"{PREFIX[sobject]}{n:012d}AAA"


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, str) and "{" in template:
        whole = re.fullmatch(r"\{(\w+)\}", template)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]  # keeps None as JSON null
        return template.format(**values)
    return template


class FakeSalesforce:
    def __init__(self, rsps: responses.RequestsMock, page_size: int = 2000, child_page_size: int = 2000):
        self.rsps, self.page_size, self.child_page_size = rsps, page_size, child_page_size
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.children: dict[str, dict[str, list[dict[str, Any]]]] = {"OpportunityContactRoles": {}}
        self.templates = stub("records.json")
        self.describe_fields = stub("describe_fields.json")
        self.calls: Counter[str] = Counter()
        self.faults: list[tuple[str, int, Any]] = []
        self.record_errors: dict[str, list[dict[str, Any]]] = {}
        self.upserts: list[dict[str, Any]] = []
        self.token, self.logins = "00DFAKE!session-1", 0
        self.usage = 1000
        self.missing: set[str] = set()  # objects this org does not have (INVALID_TYPE)
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self._ids = count(1)
        self._by_external: dict[tuple[str, str], dict[str, Any]] = {}
        self.clock = "2026-03-01T12:00:00.000+0000"
        base = f"{INSTANCE}/services/data/v{VERSION}"
        rsps.add_callback(responses.GET, re.compile(rf"{re.escape(base)}/query(All)?/?\?"), self._query)
        rsps.add_callback(responses.GET, re.compile(rf"{re.escape(base)}/query(All)?/01g[\w-]+"), self._more)
        rsps.add_callback(responses.POST, f"{base}/composite", self._composite)
        rsps.add_callback(responses.POST, re.compile(r"https://login\.salesforce\.com/services/Soap/u/.*"), self._login)

    # -- building the org --------------------------------------------------------------

    def add(self, sobject: str, n: int = 1, **fields: Any) -> list[dict[str, Any]]:
        made = []
        for _ in range(n):
            i = next(self._ids)
            values = {"Id": sf_id(sobject, i), "n": i, "SystemModstamp": created_stamp(i), "AccountId": None, "ContactId": None,
                      "WhatId": None, "WhoId": None}
            values.update({k: v for k, v in fields.items() if v is None or isinstance(v, str)})
            record = _fill(self.templates[sobject], values)
            record.update(fields)
            record["Id"] = values["Id"] if "Id" not in fields else fields["Id"]
            record.setdefault("IsDeleted", False)
            self.records.setdefault(sobject, []).append(record)
            made.append(record)
        return made

    def add_role(self, opportunity_id: str, contact_id: str, role: str = "Economic Buyer") -> None:
        i = next(self._ids)
        kid = _fill(self.templates["OpportunityContactRole"],
                    {"Id": sf_id("OpportunityContactRole", i), "ContactId": contact_id})
        kid["Role"] = role
        self.children["OpportunityContactRoles"].setdefault(opportunity_id, []).append(kid)

    def touch(self, record: dict[str, Any], stamp: str, **changes: Any) -> None:
        record.update(changes, SystemModstamp=stamp)

    def delete(self, record: dict[str, Any], stamp: str) -> None:
        record.update(IsDeleted=True, SystemModstamp=stamp)

    # -- faults --------------------------------------------------------------------------

    def fail_next(self, kind: str, status: int, body: Any, times: int = 1) -> None:
        """The next `times` requests of `kind` (query, composite, any) get this answer instead."""
        self.faults += [(kind, status, body)] * times

    def expire_session(self) -> None:
        self.token = "00DFAKE!expired"

    # -- HTTP ------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        self.usage += 1
        return {"Sforce-Limit-Info": f"api-usage={self.usage}/15000", "Content-Type": "application/json;charset=UTF-8"}

    def _guard(self, request: Any, kind: str) -> tuple[int, dict[str, str], str] | None:
        self.calls[kind] += 1
        self.calls["total"] += 1
        for i, (fault_kind, status, body) in enumerate(self.faults):
            if fault_kind in (kind, "any"):
                del self.faults[i]
                if isinstance(body, Exception):
                    raise body  # responses hands it to the caller as requests would (a dropped connection)
                text = body if isinstance(body, str) else json.dumps(body)
                return status, self._headers(), text
        if request.headers.get("Authorization") != f"Bearer {self.token}" or self.token.endswith("expired"):
            return 401, self._headers(), json.dumps(stub("errors.json")["INVALID_SESSION_ID"])
        return None

    def _login(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.logins += 1
        self.token = f"00DFAKE!session-{self.logins + 1}"
        return 200, {"Content-Type": "text/xml"}, stub("soap_login.xml").replace("{session_id}", self.token)

    def _query(self, request: Any) -> tuple[int, dict[str, str], str]:
        if (refused := self._guard(request, "query")) is not None:
            return refused
        soql = parse_qs(urlparse(request.url).query)["q"][0]
        include_deleted = "/queryAll" in request.url
        sobject = re.search(r"FROM (\w+)", re.sub(r"\(SELECT[^)]*\)", "", soql)).group(1)
        if sobject in self.missing:
            return 400, self._headers(), json.dumps(stub("errors.json")["INVALID_TYPE"])
        rows = [self._shape(r, soql) for r in self._select(sobject, soql, include_deleted)]
        locator = f"01gFAKE{next(self._ids)}"
        self._cursors[locator] = (rows, len(rows))
        return self._page(locator, 0, include_deleted)

    def _more(self, request: Any) -> tuple[int, dict[str, str], str]:
        if (refused := self._guard(request, "query")) is not None:
            return refused
        path = urlparse(request.url).path
        tail = path.rsplit("/", 1)[1]
        if tail.startswith("01gCHILD"):
            locator, offset = tail.rsplit("-", 1)
            return self._child_page(locator, int(offset))
        locator, offset = tail.rsplit("-", 1)
        return self._page(locator, int(offset), "/queryAll/" in path)

    def _page(self, locator: str, offset: int, include_deleted: bool) -> tuple[int, dict[str, str], str]:
        rows, total = self._cursors[locator]
        chunk = rows[offset:offset + self.page_size]
        page = copy.deepcopy(stub("query_page.json"))
        page.update(totalSize=total, records=chunk, done=offset + self.page_size >= total)
        if not page["done"]:
            endpoint = "queryAll" if include_deleted else "query"
            page["nextRecordsUrl"] = f"/services/data/v{VERSION}/{endpoint}/{locator}-{offset + self.page_size}"
        return 200, self._headers(), json.dumps(page)

    def _child_page(self, locator: str, offset: int) -> tuple[int, dict[str, str], str]:
        kids, total = self._cursors[locator]
        chunk = kids[offset:offset + self.child_page_size]
        done = offset + self.child_page_size >= total
        page = {"totalSize": total, "done": done, "records": chunk}
        if not done:
            page["nextRecordsUrl"] = f"/services/data/v{VERSION}/query/{locator}-{offset + self.child_page_size}"
        return 200, self._headers(), json.dumps(page)

    def _select(self, sobject: str, soql: str, include_deleted: bool) -> list[dict[str, Any]]:
        rows = [r for r in self.records.get(sobject, []) if include_deleted or not r.get("IsDeleted")]
        if since := re.search(r"SystemModstamp > (\S+)", soql):
            floor = _moment(since.group(1))
            rows = [r for r in rows if _moment(r["SystemModstamp"]) > floor]
        if status := re.search(r"Status__c IN \(([^)]*)\)", soql):
            wanted = {v.strip().strip("'") for v in status.group(1).split(",")}
            rows = [r for r in rows if r.get("Status__c") in wanted]
        return rows

    def _shape(self, record: dict[str, Any], soql: str) -> dict[str, Any]:
        """Only the selected fields (like the API), sub-queries as nested query results or null."""
        subqueries = re.findall(r"\(SELECT ([^)]*) FROM (\w+)\)", soql)
        top = re.sub(r"\(SELECT[^)]*\)", "", soql)
        fields = [f.strip() for f in re.match(r"SELECT (.*?) FROM ", top).group(1).split(",") if f.strip()]
        out = {"attributes": record.get("attributes", {"type": "?"})}
        for f in fields:
            out[f] = record.get(f)
        for sub_fields, relationship in subqueries:
            kids = self.children.get(relationship, {}).get(record["Id"], [])
            names = [f.strip() for f in sub_fields.split(",")]
            shaped = [{"attributes": k["attributes"], **{n: k.get(n) for n in names}} for k in kids]
            if not shaped:
                out[relationship] = None
            elif len(shaped) <= self.child_page_size:
                out[relationship] = {"totalSize": len(shaped), "done": True, "records": shaped}
            else:
                locator = f"01gCHILD{next(self._ids)}"
                self._cursors[locator] = (shaped, len(shaped))
                out[relationship] = {"totalSize": len(shaped), "done": False,
                                     "nextRecordsUrl": f"/services/data/v{VERSION}/query/{locator}-{self.child_page_size}",
                                     "records": shaped[:self.child_page_size]}
        return out

    def _composite(self, request: Any) -> tuple[int, dict[str, str], str]:
        if (refused := self._guard(request, "composite")) is not None:
            return refused
        body = json.loads(request.body)
        if len(body["compositeRequest"]) > 25:
            return 400, self._headers(), json.dumps([{"errorCode": "INVALID_API_INPUT", "message": "too many subrequests"}])
        answers = []
        for sub in body["compositeRequest"]:
            status, result = self._subrequest(sub)
            answers.append({"body": result, "httpHeaders": {}, "httpStatusCode": status, "referenceId": sub["referenceId"]})
        return 200, self._headers(), json.dumps({"compositeResponse": answers})

    def _subrequest(self, sub: dict[str, Any]) -> tuple[int, Any]:
        url = sub["url"]
        if m := re.fullmatch(rf"/services/data/v{VERSION}/composite/sobjects/(\w+)/(\w+)", url):
            assert sub["method"] == "PATCH"
            records = sub["body"]["records"]
            if len(records) > 200:
                return 400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message": "record limit reached. cannot submit more than 200 records into this call"}]
            return 200, [self._upsert_one(m.group(1), m.group(2), r) for r in records]
        if m := re.fullmatch(rf"/services/data/v{VERSION}/sobjects/(\w+)/describe", url):
            return self._describe(m.group(1))
        return 404, stub("errors.json")["NOT_FOUND"]

    def _upsert_one(self, sobject: str, external_field: str, record: dict[str, Any]) -> dict[str, Any]:
        assert record["attributes"]["type"] == sobject
        key = record[external_field]
        queued = self.record_errors.get(key)
        if queued:
            return {"success": False, "errors": [queued.pop(0)]}
        self.upserts.append(record)
        existing = self._by_external.get((sobject, key))
        fields = {k: v for k, v in record.items() if k != "attributes"}
        if existing is not None:
            existing.update(fields, SystemModstamp=self.clock)
            return {"id": existing["Id"], "success": True, "errors": [], "created": False}
        new = {"attributes": {"type": sobject}, "Id": sf_id(sobject, next(self._ids)), "Status__c": "New",
               "IsDeleted": False, "SystemModstamp": self.clock, **fields}
        self.records.setdefault(sobject, []).append(new)
        self._by_external[(sobject, key)] = new
        return {"id": new["Id"], "success": True, "errors": [], "created": True}

    def _describe(self, sobject: str) -> tuple[int, Any]:
        if sobject == "Stepwise_Recommendation__c":
            return 200, self.recommendation_describe()
        names = self.describe_fields.get(sobject)
        if names is None or sobject in self.missing:
            return 404, stub("errors.json")["NOT_FOUND"]
        picklists = self.describe_fields["_picklists"]
        fields = [{"name": n, "type": "picklist" if f"{sobject}.{n}" in picklists else "string",
                   "externalId": False, "updateable": n not in ("Id", "SystemModstamp", "IsDeleted"),
                   "relationshipName": None,
                   "picklistValues": [{"value": v, "label": v, "active": True} for v in picklists.get(f"{sobject}.{n}", [])]}
                  for n in names]
        return 200, {"name": sobject, "fields": fields,
                     "childRelationships": self.describe_fields["_child_relationships"].get(sobject, [])}

    #: fields of the deployed object, the test replaces this to simulate an old deployment
    recommendation_fields: Callable[[], list[str]] | None = None

    def recommendation_describe(self) -> dict[str, Any]:
        from stepwise.cards.salesforce_fields import EXTERNAL_ID, FIELDS, REP_FIELDS

        names = self.recommendation_fields() if self.recommendation_fields else [*FIELDS, *REP_FIELDS]
        return {"name": "Stepwise_Recommendation__c", "childRelationships": [],
                "fields": [{"name": n, "type": "string", "externalId": n == EXTERNAL_ID, "updateable": True,
                            "relationshipName": None, "picklistValues": []} for n in ["Id", *names]]}


def _moment(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("+0000", "+00:00").replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stamp(day: int, hour: int = 12) -> str:
    """A SystemModstamp in March 2026, as the API writes it."""
    return f"2026-03-{day:02d}T{hour:02d}:00:00.000+0000"
