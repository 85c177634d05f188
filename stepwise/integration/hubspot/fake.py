"""A fake HubSpot at the HTTP layer: the v3/v4 payload shapes the real API sends.

hubspot-api-client talks through urllib3, so `responses` cannot intercept it; this
runs behind pytest-httpserver and the client is pointed at it with `host=`.
Shapes follow HubSpot's reference (and the recorded stubs in stubs/):
search pages with `paging.next.after` and a 10,000-result cap answered with 400,
batch read/update with 207 `errors[].context.ids`, v4 association batch read with
per-record paging, 429 with `X-HubSpot-RateLimit-*` headers, 5xx, 401 for an
expired OAuth token, the pipelines, properties and owners APIs (an owner read by `id` or by
`idProperty=userId`, 404 OBJECT_NOT_FOUND for a user who is no active owner), and the OAuth token endpoint.

Validation as HubSpot's crm/properties v3 specification has it: a property or group
create without a required field (PropertyCreate: name, label, type, fieldType,
groupName; OptionInput: label, value, hidden; PropertyGroupCreate: name, label) is a
400 VALIDATION_ERROR.  A batch update holding a value an enumeration property has no
option for is refused whole with a 400 (INVALID_OPTION, nothing written), as HubSpot
can answer instead of a 207.  A property the portal does not have is accepted unless
`strict_properties` is set (then PROPERTY_DOESNT_EXIST): the tests and benches write
back without running setup first.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from werkzeug import Request, Response

STUBS = Path(__file__).parent / "stubs"
TOKEN = "pat-na1-test-token"
ENGAGEMENTS = ("notes", "calls", "emails", "meetings", "tasks")
PRIMARY_TYPE = {"companies": 5, "contacts": 3, "notes": 214, "calls": 206, "emails": 210, "meetings": 212, "tasks": 216,
                "line_items": 19}
# HubSpot-defined association type ids of a task created on Accept → the object it is about.
TASK_TARGET = {216: "deals", 192: "companies"}
OBJECT_TYPE = r"[\w-]+"  # deals, line_items, 2-1234567 (a custom object's objectTypeId), p4242_orders
_NUMERIC = ("hs_lastmodifieddate", "lastmodifieddate", "createdate", "hs_object_id")  # compared as integers


# HubSpot's own properties our default mapping reads (a real portal has hundreds more).
STANDARD = {
    "deals": ["deal_currency_code", "createdate", "hs_deal_stage_probability", "hs_next_step", "hs_date_entered_closedwon",
              "notes_last_updated", "num_notes", "num_associated_contacts", "hs_num_of_associated_line_items"],
    "companies": ["name", "domain", "industry", "country", "hubspot_owner_id", "annualrevenue"],
    "contacts": ["firstname", "lastname", "jobtitle", "email", "hs_last_sales_activity_timestamp", "hs_buying_role"],
    "line_items": ["name", "hs_product_id", "quantity", "price", "amount", "discount", "hs_discount_percentage", "hs_sku"],
    "products": ["name", "price", "hs_cost_of_goods_sold", "hs_sku", "description", "hs_product_type"],
}


def _prop(name: str) -> dict[str, Any]:
    return {"name": name, "label": name, "type": "string", "fieldType": "text", "groupName": "default", "options": []}


def stub(name: str) -> Any:
    return json.loads((STUBS / f"{name}.json").read_text())


@lru_cache(maxsize=1 << 16)  # a deal's contacts, engagements and line items share its timestamp
def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class Fault:
    pattern: str
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    times: int


@dataclass
class FakeHubSpot:
    search_cap: int = 10_000
    association_page: int = 500
    now_ms: int = 1_780_000_000_000
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    links: dict[tuple[str, str], dict[str, list[tuple[str, int]]]] = field(default_factory=dict)
    archived: dict[str, list[str]] = field(default_factory=dict)
    properties: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    reject_update: set[str] = field(default_factory=set)
    strict_properties: bool = False  # a batch update naming a property the portal lacks is a 400, as in HubSpot
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    expired: set[str] = field(default_factory=set)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token → portal
    schemas: list[dict[str, Any]] = field(default_factory=list)    # custom object schemas (/crm/v3/schemas)
    owners: dict[str, dict[str, Any]] = field(default_factory=dict)  # owner id → PublicOwner (/crm/v3/owners)
    log: list[tuple[float, str, str]] = field(default_factory=list)  # (time, method, path)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        # A search's matching records, filtered and sorted once and served page by page after that
        # (re-filtering 100,000 records for every page of 200 made the fake quadratic).  A first page
        # (no `after`) filters afresh; any change made through the fake's methods (add, touch, archive,
        # a batch update) drops the cached results and the cached sort order.
        self._version = 0
        self._search_cache: tuple[str, int, list[dict[str, Any]]] | None = None
        self._order_cache: tuple[str, int, list[dict[str, Any]], list[Any]] | None = None
        self.pipelines = stub("pipelines_deals")
        base = stub("properties_deals")["results"]
        self.properties = {"deals": list(base), "tasks": [],
                           "companies": [_prop(n) for n in STANDARD["companies"]],
                           "contacts": [_prop(n) for n in STANDARD["contacts"]],
                           "line_items": [_prop(n) for n in STANDARD["line_items"]],
                           "products": [_prop(n) for n in STANDARD["products"]]}
        self.properties["deals"] += [_prop(n) for n in STANDARD["deals"]]
        self.groups = {"deals": list(stub("property_groups_deals")["results"]), "tasks": []}

    # -- building a portal ---------------------------------------------------------------------

    def tick(self) -> int:
        self.now_ms += 1000
        return self.now_ms

    def add(self, object_type: str, object_id: str, properties: dict[str, Any], modified_ms: int | None = None) -> None:
        ms = modified_ms or self.tick()
        props = {k: (None if v is None else str(v)) for k, v in properties.items()}
        key = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        props.update({key: iso(ms), "hs_object_id": object_id, "createdate": props.get("createdate") or iso(ms - 86_400_000)})
        self._version += 1
        self.objects.setdefault(object_type, {})[object_id] = {
            "id": object_id, "properties": props, "createdAt": iso(ms - 86_400_000), "updatedAt": iso(ms),
            "archived": False,
        }

    def link(self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int | None = None) -> None:
        self.links.setdefault((from_type, to_type), {}).setdefault(from_id, []).append(
            (to_id, type_id or PRIMARY_TYPE.get(to_type, 0)))

    def custom_object(self, name: str, properties: list[str], object_type_id: str = "2-1234567",
                      portal: int = 4242) -> str:
        """A custom object schema as /crm/v3/schemas returns it (associated with companies)."""
        ms = self.now_ms
        self.schemas.append({
            "id": object_type_id.split("-", 1)[1], "objectTypeId": object_type_id, "name": name,
            "fullyQualifiedName": f"p{portal}_{name}", "labels": {"singular": name.title(), "plural": name.title() + "s"},
            "primaryDisplayProperty": properties[0], "requiredProperties": [properties[0]],
            "searchableProperties": [properties[0]], "secondaryDisplayProperties": [], "archived": False,
            "metaType": "PORTAL_SPECIFIC", "createdAt": iso(ms), "updatedAt": iso(ms),
            "properties": [{**_prop(n), "groupName": f"{name}_information", "createdAt": iso(ms), "updatedAt": iso(ms),
                            "displayOrder": -1, "calculated": False, "externalOptions": False, "archived": False,
                            "hasUniqueValue": False} for n in properties],
            "associations": [{"id": "45", "fromObjectTypeId": object_type_id, "toObjectTypeId": "0-2",
                              "name": f"{name}_to_company", "createdAt": iso(ms), "updatedAt": iso(ms)}],
        })
        self.properties[object_type_id] = [_prop(n) for n in properties]
        return object_type_id

    def add_owner(self, owner_id: str, user_id: int | None, *, email: str | None = None, first_name: str = "Rep",
                  last_name: str | None = None, archived: bool = False, owner_type: str = "PERSON") -> dict[str, Any]:
        """An owner as the owners API returns it: a PERSON has a `userId`; a QUEUE (or a deactivated user's
        owner) has none.  `userIdIncludingInactive` keeps the user id of an archived owner."""
        ms = self.now_ms
        owner = {"id": owner_id, "email": email or f"owner{owner_id}@x.test", "type": owner_type,
                 "firstName": first_name, "lastName": last_name or f"Owner{owner_id}",
                 "createdAt": iso(ms - 86_400_000), "updatedAt": iso(ms), "archived": archived,
                 "teams": [{"id": "178588", "name": "Sales", "primary": True}]}
        if user_id is not None:
            if not archived:
                owner["userId"] = user_id
            owner["userIdIncludingInactive"] = user_id
        self.owners[owner_id] = owner
        return owner

    def add_products(self, n: int) -> None:
        for p in range(n):
            self.add("products", str(80_000 + p), {
                "name": f"Product {p}", "price": f"{100 + p}.00", "hs_cost_of_goods_sold": f"{60 + p}.00",
                "hs_sku": f"SKU-{p}", "description": "A product", "hs_product_type": "inventory"}, self.now_ms)

    def touch(self, object_type: str, object_id: str, **changes: Any) -> None:
        self._version += 1
        record = self.objects[object_type][object_id]
        record["properties"].update({k: str(v) for k, v in changes.items()})
        key = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        record["properties"][key] = record["updatedAt"] = iso(self.tick())

    def archive(self, object_type: str, object_id: str) -> None:
        self._version += 1
        self.objects[object_type].pop(object_id)
        self.archived.setdefault(object_type, []).append(object_id)

    def populate(self, n_deals: int, deals_per_company: int = 5, contacts_per_deal: int = 2,
                 engagements_per_deal: int = 1, same_timestamp: int = 1, engagements_every: int = 1,
                 line_items_per_deal: int = 0, products: int = 0) -> None:
        """A portal of n deals; `same_timestamp` deals share each modified time (bulk imports do that)."""
        stages = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
                  "contractsent", "closedwon", "closedlost"]
        texts = ["Budget approval needed; they asked about ROI and pricing.", "Security review requested by IT.",
                 "Competitor Acme came up on the call.", "Timeline: go-live before Q3.", "Demo went well."]
        if products:
            self.add_products(products)
        ms = self.now_ms
        for i in range(n_deals):
            deal = str(1000 + i)
            company = str(50_000 + i // deals_per_company)
            if i % deals_per_company == 0:
                self.add("companies", company, {"name": f"Company {company}", "industry": "MANUFACTURING",
                                                "country": "Germany", "annualrevenue": "2500000"}, ms)
            if i % same_timestamp == 0:
                ms += 1000
            self.add("deals", deal, {
                "dealname": f"Deal {deal}", "amount": str(10_000 + i), "pipeline": "default",
                "dealstage": stages[i % len(stages)], "closedate": iso(ms + 30 * 86_400_000),
                "hubspot_owner_id": str(700 + i % 7), "deal_currency_code": "EUR",
                f"hs_date_entered_{stages[i % len(stages)]}": iso(ms - 5 * 86_400_000),
            }, ms)
            self.link("deals", deal, "companies", company)
            for c in range(contacts_per_deal):
                contact = str(200_000 + i * contacts_per_deal + c)
                self.add("contacts", contact, {"firstname": "Ada", "lastname": f"Buyer{contact}",
                                               "jobtitle": "CFO" if c == 0 else "IT lead", "email": f"{contact}@x.test",
                                               "hs_buying_role": "DECISION_MAKER" if c == 0 else "CHAMPION"}, ms)
                self.link("deals", deal, "contacts", contact)
            for kind in ENGAGEMENTS if i % engagements_every == 0 else ():
                for e in range(engagements_per_deal):
                    eid = str(3_000_000 + (i * engagements_per_deal + e) * 10 + ENGAGEMENTS.index(kind))
                    props = {"hs_timestamp": iso(ms - 86_400_000), "hs_note_body": texts[i % 5],
                             "hs_call_title": "Discovery call", "hs_call_body": texts[(i + 1) % 5],
                             "hs_call_direction": "OUTBOUND", "hs_email_subject": "Re: proposal",
                             "hs_email_text": texts[(i + 2) % 5], "hs_email_direction": "INCOMING_EMAIL",
                             "hs_meeting_title": "Demo", "hs_meeting_body": "<p>" + texts[(i + 3) % 5] + "</p>",
                             "hs_task_subject": "Follow up", "hs_task_body": texts[(i + 4) % 5]}
                    self.add(kind, eid, props, ms)
                    self.link("deals", deal, kind, eid)
            for li in range(line_items_per_deal):
                item, product = str(5_000_000 + i * line_items_per_deal + li), 80_000 + (i + li) % max(products, 1)
                self.add_line_item(item, str(product), quantity=1 + li, price=f"{100 + product - 80_000}.00", ms=ms)
                self.link("deals", deal, "line_items", item)
        self.now_ms = ms + 1000

    def add_line_item(self, item: str, product: str, quantity: int, price: str, discount_pct: str | None = None,
                      discount: str | None = None, ms: int | None = None) -> None:
        amount = quantity * (float(price) - float(discount or 0)) * (1 - float(discount_pct or 0) / 100)
        self.add("line_items", item, {"name": f"Product {product}", "hs_product_id": product, "quantity": str(quantity),
                                      "price": price, "amount": f"{amount:.2f}", "hs_discount_percentage": discount_pct,
                                      "discount": discount, "hs_sku": f"SKU-{product}"}, ms)

    # -- faults -------------------------------------------------------------------------------

    def fail(self, pattern: str, status: int, times: int = 1, headers: dict[str, str] | None = None,
             body: dict[str, Any] | None = None) -> None:
        self.faults.append(Fault(pattern, status, headers or {}, body or {"status": "error", "message": "boom"}, times))

    def rate_limit(self, pattern: str, times: int = 1, retry_after: str | None = "0") -> None:
        headers = {"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0",
                   "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        self.fail(pattern, 429, times, headers, stub("error_429"))

    # -- counting -----------------------------------------------------------------------------

    def calls(self) -> Counter[str]:
        return Counter(f"{m} {_route(p)}" for _, m, p in self.log)

    def total(self) -> int:
        return len(self.log)

    # -- the HTTP side ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.log.append((time.monotonic(), request.method, request.path))
            for fault in self.faults:
                if fault.times > 0 and re.search(fault.pattern, request.path):
                    fault.times -= 1
                    return _json(fault.body, fault.status, fault.headers)
            if request.path == "/oauth/v1/token":
                return self._token(request)
            if request.path.startswith("/oauth/v1/access-tokens/"):
                return _json({"token": "…", "hub_id": 4242, "scopes": ["crm.objects.deals.read"],
                              "app_id": 1, "expires_in": 1700, "user": "admin@x.test", "token_type": "access"})
            auth = request.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ")
            if token in self.expired:
                return _json({"status": "error", "message": "The OAuth token used to make this call expired 1 minute ago.",
                              "category": "EXPIRED_AUTHENTICATION"}, 401)
            if token not in self.tokens:
                return _json({"status": "error", "message": "Authentication credentials not found.",
                              "category": "INVALID_AUTHENTICATION"}, 401)
            return self._route(request)

    def _route(self, request: Request) -> Response:
        path, method = request.path, request.method
        body = request.get_json(silent=True) or {}
        unknown = re.match(r"/crm/v\d/(?:objects|properties|associations)/(\d+-\d+)", path)
        if unknown and unknown.group(1) not in {s["objectTypeId"] for s in self.schemas}:
            return _json({"status": "error", "message": f"Unable to infer object type from: {unknown.group(1)}",
                          "correlationId": "5c2a1e7b-0f4e-4a4e-9a0e-1d2f3a4b5c6d", "category": "VALIDATION_ERROR"}, 400)
        if m := re.fullmatch(rf"/crm/v3/objects/({OBJECT_TYPE})/search", path):
            return self._search(m.group(1), body)
        if m := re.fullmatch(rf"/crm/v3/objects/({OBJECT_TYPE})/batch/read", path):
            return self._batch_read(m.group(1), body)
        if m := re.fullmatch(rf"/crm/v3/objects/({OBJECT_TYPE})/batch/update", path):
            return self._batch_update(m.group(1), body)
        if m := re.fullmatch(rf"/crm/v4/associations/({OBJECT_TYPE})/({OBJECT_TYPE})/batch/read", path):
            return self._associations(m.group(1), m.group(2), body)
        if path in ("/crm/v3/schemas", "/crm-object-schemas/v3/schemas"):
            return _json({"results": self.schemas})
        if path == "/account-info/v3/details":
            return _json({"portalId": 4242, "accountType": "STANDARD", "timeZone": "Europe/Berlin", "companyCurrency": "EUR",
                          "additionalCurrencies": [], "utcOffset": "+01:00", "utcOffsetMilliseconds": 3600000,
                          "uiDomain": "app-eu1.hubspot.com", "dataHostingLocation": "eu1"})
        if path == "/crm/v3/pipelines/deals":
            return _json(self.pipelines)
        if path == "/crm/v3/owners" or path.startswith("/crm/v3/owners/"):
            return self._owners(path.removeprefix("/crm/v3/owners").strip("/"), parse_qs(request.query_string.decode()))
        if m := re.fullmatch(r"/crm/v3/properties/(\w+)/groups", path):
            if method == "POST":
                if missing := _missing(body, GROUP_CREATE):
                    return _invalid_input("PropertyGroupCreate", missing)
                self.groups.setdefault(m.group(1), []).append({**body, "archived": False})
                return _json({**body, "archived": False}, 201)
            return _json({"results": self.groups.get(m.group(1), [])})
        if m := re.fullmatch(rf"/crm/v3/properties/({OBJECT_TYPE})", path):
            if method == "POST":
                if refused := _invalid_property(body):
                    return refused
                if any(p["name"] == body["name"] for p in self.properties.setdefault(m.group(1), [])):
                    return _json({"status": "error", "message": "Property already exists", "category": "CONFLICT"}, 409)
                self.properties[m.group(1)].append(body)
                return _json(body, 201)
            return _json({"results": self.properties.get(m.group(1), [])})
        if m := re.fullmatch(rf"/crm/v3/objects/({OBJECT_TYPE})", path):
            if method == "POST":
                return self._create(m.group(1), body)
            return self._list(m.group(1), parse_qs(request.query_string.decode()))
        return _json({"status": "error", "message": f"no route {method} {path}", "category": "OBJECT_NOT_FOUND"}, 404)

    def _search(self, object_type: str, body: dict[str, Any]) -> Response:
        after, limit = int(body.get("after") or 0), min(int(body.get("limit") or 10), 200)
        if after >= self.search_cap:
            return _json({"status": "error", "message": f"after must be less than {self.search_cap}",
                          "category": "VALIDATION_ERROR"}, 400)
        records = self._matching(object_type, body, fresh=after == 0)
        page = records[after:after + limit]
        out: dict[str, Any] = {"total": len(records), "results": [_shape(r, body.get("properties")) for r in page]}
        if after + limit < len(records):
            out["paging"] = {"next": {"after": str(after + limit), "link": f"?after={after + limit}"}}
        return _json(out)

    def _matching(self, object_type: str, body: dict[str, Any], fresh: bool) -> list[dict[str, Any]]:
        """The records a search body selects, in its order (cached for the next pages of the same search)."""
        key = json.dumps([object_type, body.get("filterGroups"), body.get("sorts")], sort_keys=True)
        cached = self._search_cache
        if not fresh and cached is not None and cached[0] == key and cached[1] == self._version:
            return cached[2]
        groups = [g["filters"] for g in body.get("filterGroups") or []]
        sorts = body.get("sorts") or []
        ordered, first_keys = self._ordered(object_type, sorts)
        if not groups:
            records = list(ordered)
        elif (len(groups) == 1 and groups[0][0]["operator"] in ("GT", "GTE") and sorts
              and groups[0][0]["propertyName"] == sorts[0]["propertyName"] in _NUMERIC
              and sorts[0].get("direction", "ASCENDING") == "ASCENDING" and str(groups[0][0].get("value")).isdigit()):
            # A watermark on the sort's first key: the records before it cannot match, so skip them.
            bound = (False, int(groups[0][0]["value"]))
            start = (bisect_left if groups[0][0]["operator"] == "GTE" else bisect_right)(first_keys, bound)
            end = bisect_left(first_keys, (True, 0))  # records without the property sort last and never match
            rest = groups[0][1:]
            records = ordered[start:end] if not rest else [r for r in ordered[start:end] if all(_match(r, f) for f in rest)]
        else:
            records = [r for r in ordered if any(all(_match(r, f) for f in g) for g in groups)]
        self._search_cache = (key, self._version, records)
        return records

    def _ordered(self, object_type: str, sorts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
        """Every record of a type in a search's order (and each one's first sort key), kept until the fake
        changes a record: a sync's search restarts from a new watermark every 10,000 results, same sort."""
        key = json.dumps([object_type, sorts], sort_keys=True)
        cached = self._order_cache
        if cached is not None and cached[0] == key and cached[1] == self._version:
            return cached[2], cached[3]
        records = list(self.objects.get(object_type, {}).values())
        if sorts and len({s.get("direction") for s in sorts}) == 1:  # one pass: the same order as a sort per key
            names = [s["propertyName"] for s in sorts]
            records.sort(key=lambda r: [_sort_key(r, n) for n in names], reverse=sorts[0].get("direction") == "DESCENDING")
        else:
            for sort in reversed(sorts):
                records.sort(key=lambda r, s=sort: _sort_key(r, s["propertyName"]),
                             reverse=sort.get("direction") == "DESCENDING")
        first_keys = [_sort_key(r, sorts[0]["propertyName"]) for r in records] if sorts else []
        self._order_cache = (key, self._version, records, first_keys)
        return records, first_keys

    def _batch_read(self, object_type: str, body: dict[str, Any]) -> Response:
        assert len(body["inputs"]) <= 100, "HubSpot batch read takes at most 100 inputs"
        store = self.objects.get(object_type, {})
        found = [store[i["id"]] for i in body["inputs"] if i["id"] in store]
        missing = [i["id"] for i in body["inputs"] if i["id"] not in store]
        out: dict[str, Any] = {"status": "COMPLETE", "results": [_shape(r, body.get("properties")) for r in found],
                               "startedAt": iso(self.now_ms), "completedAt": iso(self.now_ms)}
        if missing:
            out["numErrors"] = 1
            out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                              "message": f"Could not get some {object_type.upper()} objects, they may be deleted or not exist.",
                              "context": {"ids": missing}}]
            return _json(out, 207)
        return _json(out)

    def _batch_update(self, object_type: str, body: dict[str, Any]) -> Response:
        assert len(body["inputs"]) <= 100, "HubSpot batch update takes at most 100 inputs"
        if errors := self._invalid_values(object_type, body["inputs"]):
            return _validation_error(errors)
        ms = self.tick()  # one bulk update: every record gets the same timestamp
        self._version += 1
        results, rejected = [], []
        for item in body["inputs"]:
            record = self.objects.get(object_type, {}).get(item["id"])
            if record is None or item["id"] in self.reject_update:
                rejected.append(item["id"])
                continue
            record["properties"].update(item["properties"])
            record["properties"]["hs_lastmodifieddate"] = record["updatedAt"] = iso(ms)
            results.append(_shape(record, list(item["properties"])))
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": iso(ms), "completedAt": iso(ms)}
        if rejected:
            out["numErrors"] = 1
            out["errors"] = [{"status": "error", "category": "VALIDATION_ERROR",
                              "message": "Property values were not valid", "context": {"ids": rejected}}]
            return _json(out, 207)
        return _json(out)

    def _invalid_values(self, object_type: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """HubSpot's property validation results for the values of a batch that it would not take."""
        known = {p["name"]: p for p in self.properties.get(object_type, [])}
        errors: list[dict[str, Any]] = []
        for item in inputs:
            for name, value in item.get("properties", {}).items():
                prop = known.get(name)
                if prop is None:
                    if self.strict_properties:
                        errors.append({"isValid": False, "message": f'Property "{name}" does not exist',
                                       "error": "PROPERTY_DOESNT_EXIST", "name": name})
                    continue
                allowed = [o["value"] for o in prop.get("options") or []]
                # An empty value clears the property, which any property takes.
                if prop.get("type") == "enumeration" and value not in (None, "") and value not in allowed:
                    errors.append({"isValid": False, "error": "INVALID_OPTION", "name": name,
                                   "message": f"{value} was not one of the allowed options: [{', '.join(allowed)}]"})
        return errors

    def _associations(self, from_type: str, to_type: str, body: dict[str, Any]) -> Response:
        assert len(body["inputs"]) <= 1000, "associations batch read takes at most 1,000 ids"
        table = self.links.get((from_type, to_type), {})
        results, missing = [], []
        for item in body["inputs"]:
            targets = table.get(item["id"], [])
            if not targets:
                missing.append(item["id"])
                continue
            start = int(item.get("after") or 0)
            page = targets[start:start + self.association_page]
            result: dict[str, Any] = {"from": {"id": item["id"]}, "to": [
                {"toObjectId": int(t), "associationTypes": _association_types(type_id)} for t, type_id in page]}
            if start + self.association_page < len(targets):
                result["paging"] = {"next": {"after": str(start + self.association_page), "link": None}}
            results.append(result)
        out: dict[str, Any] = {"status": "COMPLETE", "results": results,
                               "startedAt": iso(self.now_ms), "completedAt": iso(self.now_ms)}
        if missing:
            out["numErrors"] = len(missing)
            out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                              "message": f"No {to_type} is associated to {from_type} {i}.", "context": {"fromObjectId": [i]}}
                             for i in missing]
            return _json(out, 207)
        return _json(out)

    def _list(self, object_type: str, query: dict[str, list[str]]) -> Response:
        archived = query.get("archived", ["false"])[0].lower() == "true"
        ids = self.archived.get(object_type, []) if archived else list(self.objects.get(object_type, {}))
        after, limit = int(query.get("after", ["0"])[0]), min(int(query.get("limit", ["10"])[0]), 100)
        page = ids[after:after + limit]
        results = [{"id": i, "properties": {"hs_object_id": i}, "createdAt": iso(self.now_ms), "updatedAt": iso(self.now_ms),
                    "archived": archived, **({"archivedAt": iso(self.now_ms)} if archived else {})} for i in page]
        out: dict[str, Any] = {"results": results}
        if after + limit < len(ids):
            out["paging"] = {"next": {"after": str(after + limit), "link": "…"}}
        return _json(out)

    def _owners(self, owner_id: str, query: dict[str, list[str]]) -> Response:
        """GET /crm/v3/owners[/{ownerId}] (idProperty id|userId, archived, and for the list email/after/limit)."""
        archived = query.get("archived", ["false"])[0].lower() == "true"
        matching = [o for o in self.owners.values() if o["archived"] == archived]
        if not owner_id:
            if email := query.get("email", [None])[0]:
                matching = [o for o in matching if o["email"] == email]
            after, limit = int(query.get("after", ["0"])[0]), min(int(query.get("limit", ["100"])[0]), 500)
            out: dict[str, Any] = {"results": matching[after:after + limit]}
            if after + limit < len(matching):
                out["paging"] = {"next": {"after": str(after + limit), "link": "…"}}
            return _json(out)
        id_property = query.get("idProperty", ["id"])[0]
        if id_property not in ("id", "userId"):
            return _json({"status": "error", "message": f"Invalid idProperty: {id_property}. Must be one of [id, userId]",
                          "correlationId": str(uuid.uuid4()), "category": "VALIDATION_ERROR"}, 400)
        if not owner_id.isdigit():  # the path parameter is an integer
            return _json({"status": "error", "message": f"Unable to parse owner id: {owner_id}",
                          "correlationId": str(uuid.uuid4()), "category": "VALIDATION_ERROR"}, 400)
        key = "id" if id_property == "id" else ("userIdIncludingInactive" if archived else "userId")
        for owner in matching:
            if str(owner.get(key)) == owner_id:
                return _json(owner)
        return _json({"status": "error", "message": "Resource not found", "correlationId": str(uuid.uuid4()),
                      "category": "OBJECT_NOT_FOUND"}, 404)

    def _create(self, object_type: str, body: dict[str, Any]) -> Response:
        object_id = str(9_000_000 + len(self.objects.get(object_type, {})))
        self.add(object_type, object_id, body.get("properties", {}))
        for assoc in body.get("associations", []):
            type_id = assoc["types"][0]["associationTypeId"]
            self.link(object_type, object_id, TASK_TARGET[type_id], str(assoc["to"]["id"]), type_id)
        return _json(_shape(self.objects[object_type][object_id], None), 201)

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        if form.get("client_secret") != "shh":
            return _json({"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}, 400)
        if form.get("grant_type") == "authorization_code" and form.get("code") == "good-code":
            portal = "4242"
        elif form.get("grant_type") == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
            portal = self.refresh_tokens.pop(form["refresh_token"])
        else:
            return _json({"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"}, 400)
        access, refresh = f"oauth-access-{self.tick()}", f"oauth-refresh-{self.now_ms}"
        self.tokens.add(access)
        self.refresh_tokens[refresh] = portal
        return _json({"token_type": "bearer", "access_token": access, "refresh_token": refresh, "expires_in": 1800})


# What HubSpot's crm/properties v3 specification requires of a create (its `required` lists).
PROPERTY_CREATE = ("fieldType", "groupName", "label", "name", "type")
OPTION_INPUT = ("hidden", "label", "value")
GROUP_CREATE = ("label", "name")


def _missing(body: dict[str, Any], required: tuple[str, ...]) -> list[str]:
    return [name for name in required if body.get(name) is None]


def _invalid_property(body: dict[str, Any]) -> Response | None:
    if missing := _missing(body, PROPERTY_CREATE):
        return _invalid_input("PropertyCreate", missing)
    for option in body.get("options") or []:
        if missing := _missing(option, OPTION_INPUT):
            return _invalid_input("OptionInput", missing)
    if body["type"] == "enumeration" and not body.get("options") and not body.get("externalOptions"):
        return _json({"status": "error", "message": "Invalid input: options are required for an enumeration property",
                      "correlationId": str(uuid.uuid4()), "category": "VALIDATION_ERROR"}, 400)
    return None


def _invalid_input(model: str, missing: list[str]) -> Response:
    """HubSpot's answer to a request body its input model cannot be built from."""
    return _json({"status": "error", "correlationId": str(uuid.uuid4()), "category": "VALIDATION_ERROR",
                  "message": f"Invalid input JSON: Cannot build {model}, some of required attributes are not set "
                             f"[{', '.join(missing)}]"}, 400)


def _validation_error(results: list[dict[str, Any]]) -> Response:
    """A batch refused whole: HubSpot's 400 names the properties and values, not the records that hold them."""
    return _json({
        "status": "error", "correlationId": str(uuid.uuid4()), "category": "VALIDATION_ERROR",
        "message": f"Property values were not valid: {json.dumps(results)}",
        "errors": [{"message": r["message"], "code": r["error"], "context": {"propertyName": [r["name"]]}}
                   for r in results],
    }, 400)


@lru_cache(maxsize=64)
def _association_types(type_id: int) -> list[dict[str, Any]]:
    """One association's types as v4 lists them (shared between results: they are only serialised)."""
    if type_id:
        return [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": "Primary" if type_id == 5 else None}]
    return [{"category": "USER_DEFINED", "typeId": 45, "label": None}]


def _route(path: str) -> str:
    return re.sub(r"/\d+(?=/|$)", "/{id}", path)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json;charset=utf-8")


def _shape(record: dict[str, Any], properties: list[str] | None) -> dict[str, Any]:
    props = record["properties"]
    if properties:
        keep, asked = _keep(tuple(properties))
        props = {k: props.get(k) for k in keep if k in props or k in asked}
    return {"id": record["id"], "properties": props, "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"], "archived": record["archived"]}


@lru_cache(maxsize=256)
def _keep(properties: tuple[str, ...]) -> tuple[list[str], frozenset[str]]:
    """The properties a response carries: those asked for (null when unset) and the ones HubSpot always adds."""
    keep = list(dict.fromkeys([*properties, "hs_object_id", "createdate", "hs_lastmodifieddate", "lastmodifieddate"]))
    return keep, frozenset(properties)


def _value(record: dict[str, Any], name: str) -> Any:
    raw = record["properties"].get(name)
    if raw is None:
        return None
    if name in ("hs_lastmodifieddate", "lastmodifieddate", "createdate"):
        cache = record.setdefault("_ms", {})
        if cache.get(name, (None,))[0] != raw:  # parsed once per value, not once per page
            cache[name] = (raw, _ms(raw))
        return cache[name][1]
    if name == "hs_object_id":
        return int(raw)
    return raw


def _sort_key(record: dict[str, Any], name: str) -> Any:
    value = _value(record, name)
    return (value is None, value if value is not None else 0)


def _match(record: dict[str, Any], flt: dict[str, Any]) -> bool:
    value = _value(record, flt["propertyName"])
    if value is None:
        return False
    wanted: Any = flt.get("value")
    if isinstance(value, int):
        wanted = int(wanted)
    op = flt["operator"]
    if op == "GTE":
        return value >= wanted
    if op == "GT":
        return value > wanted
    if op == "EQ":
        return value == wanted
    if op == "LTE":
        return value <= wanted
    if op == "LT":
        return value < wanted
    if op == "NEQ":
        return value != wanted
    raise KeyError(op)


# -- what the tests and benches build on the fake ----------------------------------------
def make_rec(deal_id: str, action_id: str = "send_roi_calculator", *, score: float = 80.0, rank: int = 1,
             day: str = "2026-11-23", urgency: str = "HIGH"):
    from stepwise.engine.recommendation import Factors, Recommendation, recommendation_id

    return Recommendation(
        id=recommendation_id("hubspot", deal_id, action_id, day), source="hubspot", record_type="deal",
        record_id=deal_id, deal_id=deal_id, account_id="50000", lead_id=None, action_id=action_id,
        category="content", title=f"{action_id} for deal {deal_id}", score=score, factors=Factors(90, 60, 70, 90),
        urgency=urgency, expected_impact="Stage advance", why=("Budget came up 3 times in 30 days.",),
        how=("Open the ROI calculator.", "Send it by email."), offer={}, constraints=(), best_before="2026-11-24",
        success_rate=None, alternatives=(), removed=(), model_version="test", as_of=day, rank=rank,
    )

def minimum_calls(deals: int, companies: int, contacts: int, engagements_per_type: int, line_items: int,
                  products: int, writes: int) -> int:
    """The floor for a first sync with the calls we use (every search page holds 200, every batch read 100):

        1 pipelines read
      + ⌈N/200⌉ search pages (deals)
      + ⌈C/200⌉ search pages (companies: every company is an account, not only those with deals,
                and the search returns their properties, so no batch read of them)
      + 8 × ⌈N/1000⌉ association batch reads (deal → companies, contacts, notes, calls, emails,
                meetings, tasks, line items)
      + ⌈K/100⌉ batch reads of contacts
      + 5 × ⌈E/100⌉ batch reads of each engagement type
      + ⌈L/100⌉ batch reads of line items
      + ⌈P/200⌉ search pages (products: the library, for cross-sell; a product a line item names
                that the search did not bring would cost a batch read, none here)
      + ⌈W/100⌉ batch updates (write-back)

    An empty search still costs its one page.
    """
    def pages(n: int, size: int) -> int:
        return max(1, math.ceil(n / size))

    return (1 + pages(deals, 200) + pages(companies, 200) + 8 * math.ceil(deals / 1000) + math.ceil(contacts / 100)
            + len(ENGAGEMENTS) * math.ceil(engagements_per_type / 100) + math.ceil(line_items / 100)
            + pages(products, 200) + math.ceil(writes / 100))
