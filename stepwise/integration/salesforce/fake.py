"""A fake Salesforce org at the HTTP layer (`responses`), serving payloads shaped like the REST API's.

Records are generated from the small templates in stubs/records.json, so a
10,000-opportunity org costs a few milliseconds to build.  What the fake understands
of SOQL is what the connector sends: the select list (sub-queries included), the FROM
object, `SystemModstamp > …` (and a child's `Opportunity.SystemModstamp > …`), `Status__c IN (…)`,
`Field = 'text'`, and query vs queryAll (deleted rows).  Bulk API 2.0 query jobs run through their
lifecycle (UploadComplete → InProgress × `bulk_polls` → JobComplete, or Failed) and serve CSV
result pages by `Sforce-Locator`.  describeGlobal lists the objects the org has (not `missing`).
Every request is counted by kind, and faults can be queued (401, 403, 503, per-record errors).
"""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import responses

from stepwise.engine.recommendation import Factors, Recommendation
from stepwise.integration.salesforce.client import CallPolicy
from stepwise.settings import Settings

STUBS = Path(__file__).parent / "stubs"
HOST = "fake.my.salesforce.com"
INSTANCE = f"https://{HOST}"
INTEGRATION_USER_ID = "005000000000001AAA"  # soap_login.xml's userId
VERSION = "61.0"
PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006", "Lead": "00Q", "Task": "00T", "Event": "00U",
          "OpportunityContactRole": "00K", "Order": "801", "Contract": "800", "Stepwise_Recommendation__c": "a0B",
          "OpportunityLineItem": "00k", "PricebookEntry": "01u", "Product2": "01t", "OrderItem": "802"}
#: child objects kept under their parent (as the sub-query serves them) → (relationship, parent lookup)
CHILD_OBJECTS = {"OpportunityContactRole": ("OpportunityContactRoles", "OpportunityId"),
                 "OpportunityLineItem": ("OpportunityLineItems", "OpportunityId")}
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


def _filler(template: Any) -> Callable[[dict[str, Any]], Any]:
    """`_fill` with the template's shape worked out once (building a 100,000-record org calls it per record)."""
    if isinstance(template, dict):
        parts = [(k, _filler(v)) for k, v in template.items()]
        return lambda values: {k: fill(values) for k, fill in parts}
    if isinstance(template, str) and "{" in template:
        whole = re.fullmatch(r"\{(\w+)\}", template)
        if whole:
            name = whole.group(1)
            return lambda values: values[name] if name in values else template.format(**values)
        return lambda values: template.format(**values)
    return lambda values: template


class FakeSalesforce:
    def __init__(self, rsps: responses.RequestsMock, page_size: int = 2000, child_page_size: int = 2000):
        self.rsps, self.page_size, self.child_page_size = rsps, page_size, child_page_size
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.children: dict[str, dict[str, list[dict[str, Any]]]] = {"OpportunityContactRoles": {},
                                                                     "OpportunityLineItems": {}}
        self.templates = stub("records.json")
        self._fillers: dict[str, Callable[[dict[str, Any]], Any]] = {}
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
        self.bulk_polls = 1               # how many times a job answers InProgress before JobComplete
        self.bulk_page_size = 50_000      # rows per result page when the client sends no maxRecords
        self.bulk_failures: list[str] = []  # errorMessages: the next jobs end Failed with these
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tasks_created: list[dict[str, Any]] = []
        self.deleted_ids: list[str] = []
        # The integration user (soap_login.xml's userId): every write through the API is stamped with it.
        self.integration_user_id = INTEGRATION_USER_ID
        self.records["User"] = [{"attributes": {"type": "User"}, "Id": INTEGRATION_USER_ID,
                                 "Username": "integration@example.com", "IsDeleted": False,
                                 "SystemModstamp": "2026-01-01T00:00:00.000+0000"}]
        base = f"{INSTANCE}/services/data/v{VERSION}"
        rsps.add_callback(responses.GET, re.compile(rf"{re.escape(base)}/sobjects/?$"), self._describe_global)
        rsps.add_callback(responses.POST, re.compile(rf"{re.escape(base)}/sobjects/(\w+)/?$"), self._create)
        rsps.add_callback(responses.POST, re.compile(rf"{re.escape(base)}/jobs/query/?$"), self._bulk_create)
        rsps.add_callback(responses.GET, re.compile(rf"{re.escape(base)}/jobs/query/\w+/results(\?.*)?$"), self._bulk_results)
        rsps.add_callback(responses.GET, re.compile(rf"{re.escape(base)}/jobs/query/\w+/?$"), self._bulk_info)
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
            record = self._filler(sobject)(values)
            record.update(fields)
            record["Id"] = values["Id"] if "Id" not in fields else fields["Id"]
            record.setdefault("IsDeleted", False)
            self.records.setdefault(sobject, []).append(record)
            made.append(record)
        return made

    def _filler(self, sobject: str) -> Callable[[dict[str, Any]], Any]:
        fill = self._fillers.get(sobject)
        if fill is None:
            fill = self._fillers[sobject] = _filler(self.templates[sobject])
        return fill

    def add_role(self, opportunity_id: str, contact_id: str, role: str = "Economic Buyer") -> None:
        i = next(self._ids)
        kid = self._filler("OpportunityContactRole")({"Id": sf_id("OpportunityContactRole", i), "ContactId": contact_id})
        kid["Role"] = role
        self.children["OpportunityContactRoles"].setdefault(opportunity_id, []).append(kid)

    def add_line(self, opportunity_id: str, product_id: str, **fields: Any) -> dict[str, Any]:
        """An OpportunityLineItem (a product on the deal), served by the OpportunityLineItems sub-query."""
        i = next(self._ids)
        kid = _fill(self.templates["OpportunityLineItem"], {"Id": sf_id("OpportunityLineItem", i), "Product2Id": product_id})
        kid.update(fields)
        self.children["OpportunityLineItems"].setdefault(opportunity_id, []).append(kid)
        return kid

    def add_product(self, n: int = 1, **fields: Any) -> list[dict[str, Any]]:
        """Products with their standard price book entry (what the default mapping reads)."""
        made = []
        for _ in range(n):
            product_id = sf_id("Product2", next(self._ids))
            made += self.add("PricebookEntry", 1, Product2Id=product_id, **fields)
        return made

    def touch(self, record: dict[str, Any], stamp: str, **changes: Any) -> None:
        record.update(changes, SystemModstamp=stamp)

    def delete(self, record: dict[str, Any], stamp: str) -> None:
        record.update(IsDeleted=True, SystemModstamp=stamp)

    def answer(self, key: str, status: str, *, reason: str | None = None, until: str | None = None,
               rep_id: str = "005000000000REPAAA", stamp: str | None = None) -> dict[str, Any]:
        """A rep's answer on the component: the card's record (by Stepwise_Id__c) changed by the rep."""
        record = self._by_external[("Stepwise_Recommendation__c", key)]
        record.update(Status__c=status, Dismiss_Reason__c=reason, Snooze_Until__c=until, LastModifiedById=rep_id,
                      SystemModstamp=stamp or self.clock)
        return record

    def cards(self) -> list[dict[str, Any]]:
        """The Stepwise_Recommendation__c records the org holds now (deleted ones are gone)."""
        return [r for r in self.records.get("Stepwise_Recommendation__c", []) if not r.get("IsDeleted")]

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
        if page["done"]:
            del self._cursors[locator]  # served whole: 100,000 shaped rows are not kept for nothing
        else:
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
        if sobject in CHILD_OBJECTS:
            return self._child_rows(sobject, soql)
        rows = [r for r in self.records.get(sobject, []) if include_deleted or not r.get("IsDeleted")]
        for name, value in re.findall(r"\b(\w+) = '([^']*)'", soql):
            rows = [r for r in rows if str(r.get(name)) == value]
        for name, value in re.findall(r"\b(\w+) != '([^']*)'", soql):
            rows = [r for r in rows if str(r.get(name)) != value]
        if since := re.search(r"(?<![.\w])SystemModstamp > (\S+)", soql):
            floor = _moment(since.group(1))
            rows = [r for r in rows if _moment(r["SystemModstamp"]) > floor]
        if status := re.search(r"Status__c IN \(([^)]*)\)", soql):
            wanted = {v.strip().strip("'") for v in status.group(1).split(",")}
            rows = [r for r in rows if r.get("Status__c") in wanted]
        return rows

    def _child_rows(self, sobject: str, soql: str) -> list[dict[str, Any]]:
        """A child object queried on its own (Bulk API): its rows with the parent lookup filled in."""
        relationship, parent_field = CHILD_OBJECTS[sobject]
        parents = {r["Id"]: r for r in self.records.get("Opportunity", [])}
        floor = re.search(r"Opportunity\.SystemModstamp > (\S+)", soql)
        rows = []
        for parent_id, kids in self.children[relationship].items():
            parent = parents.get(parent_id)
            if parent is None or parent.get("IsDeleted"):
                continue
            if floor and _moment(parent["SystemModstamp"]) <= _moment(floor.group(1)):
                continue
            rows += [{**kid, parent_field: parent_id} for kid in kids]
        return rows

    def _shape(self, record: dict[str, Any], soql: str) -> dict[str, Any]:
        """Only the selected fields (like the API), sub-queries as nested query results or null."""
        fields, subqueries = _select_list(soql)
        out = {"attributes": record.get("attributes", {"type": "?"})}
        for f, head, rest in fields:
            if rest is not None:  # a lookup's field: nested under the relationship, with its attributes (or null)
                parent = record.get(head)
                if isinstance(parent, dict):
                    nested = out.setdefault(head, {"attributes": parent.get("attributes", {"type": head})})
                    nested[rest] = parent.get(rest)
                else:
                    out[head] = None
                continue
            out[f] = record.get(f)
        for names, relationship in subqueries:
            kids = self.children.get(relationship, {}).get(record["Id"], [])
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

    # -- describeGlobal, create ----------------------------------------------------------

    def _describe_global(self, request: Any) -> tuple[int, dict[str, str], str]:
        if (refused := self._guard(request, "describe")) is not None:
            return refused
        names = sorted((set(PREFIX) | set(self.records)) - self.missing)
        sobjects = [{"name": n, "label": n, "queryable": True, "createable": True, "custom": n.endswith("__c"),
                     "keyPrefix": PREFIX.get(n), "urls": {"sobject": f"/services/data/v{VERSION}/sobjects/{n}"}}
                    for n in names]
        return 200, self._headers(), json.dumps({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    def _create(self, request: Any) -> tuple[int, dict[str, str], str]:
        """POST sobjects/{object}: 201 {"id", "success", "errors"} (Task creation)."""
        if (refused := self._guard(request, "create")) is not None:
            return refused
        sobject = re.search(r"/sobjects/(\w+)", urlparse(request.url).path).group(1)
        fields = json.loads(request.body)
        if sobject in self.missing:
            return 404, self._headers(), json.dumps(stub("errors.json")["NOT_FOUND"])
        owner = fields.get("OwnerId")
        if owner and owner in self.inactive_users:
            return 400, self._headers(), json.dumps([{"message": "operation performed with inactive user", "errorCode":
                                                       "INACTIVE_OWNER_OR_USER", "fields": []}])
        record = {"attributes": {"type": sobject}, "Id": sf_id(sobject, next(self._ids)), "IsDeleted": False,
                  "SystemModstamp": self.clock, "CreatedDate": self.clock, **fields}
        self.records.setdefault(sobject, []).append(record)
        self.tasks_created.append(record)
        return 201, self._headers(), json.dumps({"id": record["Id"], "success": True, "errors": []})

    inactive_users: frozenset[str] = frozenset()

    # -- Bulk API 2.0 query jobs ----------------------------------------------------------

    def _bulk_create(self, request: Any) -> tuple[int, dict[str, str], str]:
        if (refused := self._guard(request, "bulk")) is not None:
            return refused
        body = json.loads(request.body)
        soql, operation = body["query"], body["operation"]
        assert body.get("contentType", "CSV") == "CSV" and operation in ("query", "queryAll")
        if "(SELECT" in soql:
            return 400, self._headers(), json.dumps([{"errorCode": "INVALIDJOB", "message":
                                                       "Parent-to-child relationship queries are not supported"}])
        sobject = re.search(r"FROM (\w+)", soql).group(1)
        if sobject in self.missing:
            return 400, self._headers(), json.dumps(stub("errors.json")["INVALID_TYPE"])
        job_id = f"750FAKE{next(self._ids):08d}AAA"
        fields = [f.strip() for f in re.match(r"SELECT (.*?) FROM ", soql).group(1).split(",")]
        rows = self._select(sobject, soql, operation == "queryAll")
        self.jobs[job_id] = {"soql": soql, "object": sobject, "operation": operation, "fields": fields, "rows": rows,
                             "polls": self.bulk_polls, "failure": self.bulk_failures.pop(0) if self.bulk_failures else None,
                             "state": "UploadComplete"}
        info = _fill(stub("bulk_query_job.json"), {"id": job_id, "operation": operation, "object": sobject})
        return 200, self._headers(), json.dumps(info)

    def _bulk_info(self, request: Any) -> tuple[int, dict[str, str], str]:
        if (refused := self._guard(request, "bulk")) is not None:
            return refused
        job_id = urlparse(request.url).path.rstrip("/").rsplit("/", 1)[1]
        job = self.jobs.get(job_id)
        if job is None:
            return 404, self._headers(), json.dumps(stub("errors.json")["NOT_FOUND"])
        if job["polls"] > 0:
            job["polls"] -= 1
            job["state"] = "InProgress"
        else:
            job["state"] = "Failed" if job["failure"] else "JobComplete"
        info = _fill(stub("bulk_query_job_info.json"), {"id": job_id, "operation": job["operation"],
                                                         "object": job["object"], "state": job["state"]})
        if job["state"] == "JobComplete":
            info.update(numberRecordsProcessed=len(job["rows"]), totalProcessingTime=1250)
        if job["state"] == "Failed":
            info["errorMessage"] = job["failure"]
        return 200, self._headers(), json.dumps(info)

    def _bulk_results(self, request: Any) -> tuple[int, dict[str, str], str]:
        if (refused := self._guard(request, "bulk")) is not None:
            return refused
        url = urlparse(request.url)
        job = self.jobs[url.path.split("/")[-2]]
        if job["state"] != "JobComplete":
            return 400, self._headers(), json.dumps([{"errorCode": "JOB_NOT_COMPLETE", "message":
                                                       "can only download query results of successfully completed bulk job"}])
        params = parse_qs(url.query)
        offset = int(base64.b64decode(params["locator"][0]).decode()) if "locator" in params else 0
        size = int(params["maxRecords"][0]) if "maxRecords" in params else self.bulk_page_size
        chunk = job["rows"][offset:offset + size]
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(job["fields"])
        flat = [f for f in job["fields"] if "." not in f]
        if len(flat) == len(job["fields"]):  # no lookup fields: each cell straight from the row
            writer.writerows([_csv_cell(row.get(f)) for f in flat] for row in chunk)
        else:
            writer.writerows([_csv_cell(_dotted(row, f)) for f in job["fields"]] for row in chunk)
        more = offset + size < len(job["rows"])
        headers = {**self._headers(), "Content-Type": "text/csv",
                   "Sforce-Locator": base64.b64encode(str(offset + size).encode()).decode() if more else "null",
                   "Sforce-NumberOfRecords": str(len(chunk))}
        return 200, headers, out.getvalue()

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
        if sub["method"] == "DELETE" and (m := re.fullmatch(rf"/services/data/v{VERSION}/composite/sobjects\?ids=([^&]*)(&.*)?", url)):
            ids = m.group(1).split(",")
            if len(ids) > 200:
                return 400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message": "record limit reached. cannot submit more than 200 records into this call"}]
            return 200, [self._delete_one(record_id) for record_id in ids]
        if re.fullmatch(rf"/services/data/v{VERSION}/composite/sobjects", url):
            assert sub["method"] == "PATCH"
            records = sub["body"]["records"]
            if len(records) > 200:
                return 400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message": "record limit reached. cannot submit more than 200 records into this call"}]
            return 200, [self._update_one(r) for r in records]
        if m := re.fullmatch(rf"/services/data/v{VERSION}/composite/sobjects/(\w+)/(\w+)", url):
            assert sub["method"] == "PATCH"
            records = sub["body"]["records"]
            if len(records) > 200:
                return 400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message": "record limit reached. cannot submit more than 200 records into this call"}]
            return 200, [self._upsert_one(m.group(1), m.group(2), r) for r in records]
        if m := re.fullmatch(rf"/services/data/v{VERSION}/sobjects/(\w+)/describe", url):
            return self._describe(m.group(1))
        return 404, stub("errors.json")["NOT_FOUND"]

    def _delete_one(self, record_id: str) -> dict[str, Any]:
        for sobject, rows in self.records.items():
            for row in rows:
                if row.get("Id") == record_id:
                    if row.get("IsDeleted"):
                        break
                    row.update(IsDeleted=True, SystemModstamp=self.clock)
                    self.deleted_ids.append(record_id)
                    if (key := row.get("Stepwise_Id__c")) is not None:
                        self._by_external.pop((sobject, key), None)
                    return {"id": record_id, "success": True, "errors": []}
        return {"id": record_id, "success": False, "errors": [
            {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}

    def _update_one(self, record: dict[str, Any]) -> dict[str, Any]:
        sobject = record["attributes"]["type"]
        row = next((r for r in self.records.get(sobject, []) if r.get("Id") == record["Id"] and not r.get("IsDeleted")), None)
        if row is None:
            return {"id": record["Id"], "success": False, "errors": [
                {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}
        fields = {k: v for k, v in record.items() if k not in ("attributes", "Id")}
        key = fields.get("Stepwise_Id__c")
        if key is not None and key != row.get("Stepwise_Id__c"):
            if (sobject, key) in self._by_external:  # the external id is unique
                return {"id": record["Id"], "success": False, "errors": [
                    {"statusCode": "DUPLICATE_VALUE", "message": f"duplicate value found: Stepwise_Id__c duplicates value on record with id: {self._by_external[(sobject, key)]['Id']}", "fields": ["Stepwise_Id__c"]}]}
            self._by_external.pop((sobject, row.get("Stepwise_Id__c")), None)
            self._by_external[(sobject, key)] = row
        row.update(fields, SystemModstamp=self.clock, LastModifiedById=self.integration_user_id)
        return {"id": row["Id"], "success": True, "errors": []}

    def seed_card(self, **fields: Any) -> dict[str, Any]:
        """A Stepwise_Recommendation__c already in the org (e.g. written by an older version, one per day)."""
        new = {"attributes": {"type": "Stepwise_Recommendation__c"}, "Id": sf_id("Stepwise_Recommendation__c", next(self._ids)),
               "Status__c": "New", "IsDeleted": False, "SystemModstamp": self.clock,
               "LastModifiedById": self.integration_user_id, **fields}
        self.records.setdefault("Stepwise_Recommendation__c", []).append(new)
        self._by_external[("Stepwise_Recommendation__c", new["Stepwise_Id__c"])] = new
        return new

    def _upsert_one(self, sobject: str, external_field: str, record: dict[str, Any]) -> dict[str, Any]:
        assert record["attributes"]["type"] == sobject
        key = record[external_field]
        queued = self.record_errors.get(key)
        if queued:
            return {"success": False, "errors": [queued.pop(0)]}
        self.upserts.append(record)
        existing = self._by_external.get((sobject, key))
        fields = dict(record)
        del fields["attributes"]
        if existing is not None:
            existing.update(fields, SystemModstamp=self.clock, LastModifiedById=self.integration_user_id)
            return {"id": existing["Id"], "success": True, "errors": [], "created": False}
        new = {"attributes": {"type": sobject}, "Id": sf_id(sobject, next(self._ids)), "Status__c": "New",
               "IsDeleted": False, "SystemModstamp": self.clock, "LastModifiedById": self.integration_user_id, **fields}
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
        lookups = self.describe_fields.get("_relationships", {})
        fields = [{"name": n, "type": "picklist" if f"{sobject}.{n}" in picklists else "string",
                   "externalId": False, "updateable": n not in ("Id", "SystemModstamp", "IsDeleted"),
                   "relationshipName": lookups.get(f"{sobject}.{n}"),
                   "picklistValues": [{"value": v, "label": v, "active": True} for v in picklists.get(f"{sobject}.{n}", [])]}
                  for n in names]
        return 200, {"name": sobject, "fields": fields,
                     "childRelationships": self.describe_fields["_child_relationships"].get(sobject, [])}

    #: fields of the deployed object, the test replaces this to simulate an old deployment
    recommendation_fields: Callable[[], list[str]] | None = None

    def recommendation_describe(self) -> dict[str, Any]:
        from stepwise.integration.salesforce.fields import EXTERNAL_ID, FIELDS, REP_FIELDS

        names = self.recommendation_fields() if self.recommendation_fields else [*FIELDS, *REP_FIELDS]
        return {"name": "Stepwise_Recommendation__c", "childRelationships": [],
                "fields": [{"name": n, "type": "string", "externalId": n == EXTERNAL_ID, "updateable": True,
                            "relationshipName": None, "picklistValues": []} for n in ["Id", *names]]}


@lru_cache(maxsize=256)
def _select_list(soql: str) -> tuple[list[tuple[str, str, str | None]], list[tuple[list[str], str]]]:
    """A query's select list, parsed once: (field, head, rest after the dot or None), and its sub-queries."""
    subqueries = [([n.strip() for n in names.split(",")], relationship)
                  for names, relationship in re.findall(r"\(SELECT ([^)]*) FROM (\w+)\)", soql)]
    top = re.sub(r"\(SELECT[^)]*\)", "", soql)
    fields = []
    for f in (f.strip() for f in re.match(r"SELECT (.*?) FROM ", top).group(1).split(",")):
        if f:
            head, dot, rest = f.partition(".")
            fields.append((f, head, rest if dot else None))
    return fields, subqueries


def _dotted(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _csv_cell(value: Any) -> str:
    """How Bulk API 2.0 writes a value in CSV: null empty, booleans lower-case, numbers as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _moment(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("+0000", "+00:00").replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stamp(day: int, hour: int = 12) -> str:
    """A SystemModstamp in March 2026, as the API writes it."""
    return f"2026-03-{day:02d}T{hour:02d}:00:00.000+0000"


# -- building an org the way the tests and benches need it ------------------------------

#: no real sleeping in tests: backoff and pauses are exercised, not waited for
FAST = CallPolicy(timeout=5, max_attempts=4, backoff=0, max_backoff=0, limit_pause=0.001, sleep=lambda _s: None)


def session_settings(**extra: Any) -> Settings:
    return Settings(SALESFORCE_INSTANCE_URL=INSTANCE, SALESFORCE_SESSION_ID="00DFAKE!session-1", **extra)


def password_settings() -> Settings:
    return Settings(SALESFORCE_USERNAME="integration@example.com", SALESFORCE_PASSWORD="s3cret-pw",
                    SALESFORCE_SECURITY_TOKEN="tok-XYZ", SALESFORCE_DOMAIN="login")


def build_org(fake: FakeSalesforce, opportunities: int, *, accounts: int | None = None,
              contacts_per_account: int = 1, tasks: int = 0, events: int = 0, leads: int = 0,
              orders: bool = True) -> dict[str, list[dict[str, Any]]]:
    """A standard org: accounts, their contacts, opportunities with a contact role each, activities, leads."""
    accounts = accounts or max(1, opportunities // 5)
    accs = fake.add("Account", accounts)
    contacts = []
    for acc in accs:
        contacts += fake.add("Contact", contacts_per_account, AccountId=acc["Id"])
    opps = []
    for i in range(opportunities):
        acc = accs[i % accounts]
        opp = fake.add("Opportunity", 1, AccountId=acc["Id"])[0]
        fake.add_role(opp["Id"], contacts[(i % accounts) * contacts_per_account]["Id"])
        opps.append(opp)
    made = {"Account": accs, "Contact": contacts, "Opportunity": opps}
    made["Task"] = [fake.add("Task", 1, WhatId=opps[i % len(opps)]["Id"], AccountId=opps[i % len(opps)]["AccountId"],
                             WhoId=contacts[0]["Id"])[0] for i in range(tasks)]
    made["Event"] = [fake.add("Event", 1, WhatId=opps[i % len(opps)]["Id"], AccountId=opps[i % len(opps)]["AccountId"],
                              WhoId=contacts[0]["Id"])[0] for i in range(events)]
    made["Lead"] = fake.add("Lead", leads) if leads else []
    if orders:
        made["Order"] = fake.add("Order", 1, AccountId=accs[0]["Id"])
        made["Contract"] = fake.add("Contract", 1, AccountId=accs[0]["Id"])
    else:
        fake.missing |= {"Order", "Contract"}
    fake.records.setdefault("Stepwise_Recommendation__c", [])
    return made


def make_rec(rec_id: str, deal_id: str, *, action_id: str = "send_roi_calculator", as_of: str = "2026-03-01",
             **changes: Any) -> Recommendation:
    """A card on an opportunity, as a run writes it back (its card key: salesforce, the deal, the action)."""
    return Recommendation(**{**dict(
        id=rec_id, source="salesforce", record_type="deal", record_id=deal_id, deal_id=deal_id,
        account_id=None, lead_id=None, action_id=action_id, category="content", title="Send the ROI calculator",
        score=81.5, factors=Factors(90, 60, 70, 100), urgency="HIGH", expected_impact="faster decision",
        why=("Budget came up 3 times.",), how=("Open the calculator.", "Send it."), offer={"max_discount_pct": 10},
        constraints=("Max discount 10%.",), best_before="2026-03-04", success_rate=None, alternatives=(), removed=(),
        model_version="priors-1", as_of=as_of), **changes})
