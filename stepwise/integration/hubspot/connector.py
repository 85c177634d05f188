"""The HubSpot connector: deals and their context in, the top recommendation per deal out.

A sync asks HubSpot only for what changed since the last one (deals by search,
their contacts, engagements and line items by association + batch read; every
changed company, product and mapped custom object — orders, invoices, stock,
contracts — by search), keeps the canonical rows in its own tables, and hands the
engine the whole portal.  Every call goes through `HubSpotClient` (limiter,
retries, counting).  Its own tables (`HubSpotState`) are a copy of the portal, like the
Salesforce mirror; the pull returns the cursors for the run to keep once it has used the pull
(workers/intake.py), so a crash in between re-reads, never skips.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stepwise.engine.recommendation import Recommendation
from stepwise.engine.records import TABLES, CanonicalData, coerce_table, drop_orphans
from stepwise.integration.base import Connector, ConnectorError, Finding, Pulled, PushResult, SyncReport
from stepwise.integration.hubspot import check as portal_check
from stepwise.integration.hubspot.client import HubSpotAuthError, HubSpotClient, Limits, StaticToken, TokenProvider
from stepwise.integration.hubspot.mapping import (
    ENGAGEMENT_TYPES,
    OBJECT_TABLES,
    ObjectSpec,
    load_mapping,
    primary_company,
)
from stepwise.integration.hubspot.mapping import Mapping as HubSpotMapping
from stepwise.integration.hubspot.pull import associations, batch_read, list_archived, pipelines, search_changed, to_ms
from stepwise.integration.hubspot.push import WRITE_PROPERTIES, create_task, write_back, write_hash
from stepwise.store import HubSpotState, Store

log = logging.getLogger(__name__)

CANONICAL = ("accounts", "contacts", "deals", "activities")


class HubSpotOptions(BaseSettings):
    """HubSpot knobs beyond the credentials in stepwise.settings (same 12-factor environment)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    mapping: Path | None = Field(None, validation_alias="HUBSPOT_MAPPING")
    rate_limit: str = Field("100/10", validation_alias="HUBSPOT_RATE_LIMIT")
    search_rate_limit: str = Field("5/1", validation_alias="HUBSPOT_SEARCH_RATE_LIMIT")
    overlap_seconds: int = Field(120, validation_alias="HUBSPOT_SYNC_OVERLAP_SECONDS")
    timeout_seconds: float = Field(30.0, validation_alias="HUBSPOT_TIMEOUT_SECONDS")
    create_tasks: bool = Field(True, validation_alias="HUBSPOT_CREATE_TASKS")
    portal_id: str | None = Field(None, validation_alias="HUBSPOT_PORTAL_ID")


def portal_of(client: HubSpotClient) -> str:
    """The portal (hub) id the token belongs to: GET /account-info/v3/details."""
    data = client.call("crm.pipelines.pipelines_api.api_client", "call_api", "/account-info/v3/details", "GET",
                       header_params={"Accept": "application/json"}, auth_settings=["oauth2"],
                       _return_http_data_only=True, label="account_info")
    return str(data["portalId"])


class HubSpotConnector(Connector):
    capabilities = frozenset({"write_back", "follow_up", "deletions"})

    def __init__(self, client: HubSpotClient, state: HubSpotState, *, source: str = "hubspot",
                 mapping: HubSpotMapping | None = None, full: bool = False, overlap_seconds: int = 120,
                 create_tasks: bool = True, clock=time.time):
        self.client, self.state, self.source = client, state, source
        self.mapping = mapping or load_mapping()
        self.full, self.overlap_ms, self.create_tasks, self.clock = full, overlap_seconds * 1000, create_tasks, clock
        self.last_sync = SyncReport()
        self._unreadable: set[str] = set()  # optional tables this token may not read (a 403), per pull

    @classmethod
    def from_settings(cls, argument: str = "", *, full: bool = False, store: Store | None = None) -> HubSpotConnector:
        """`--source hubspot` (private app token) or `--source hubspot:PORTAL_ID` (an OAuth install).

        Its tables, the OAuth tokens and the private app's portal id live in the store's database: the
        run's store, or (for a command without one: check, setup) one opened on STEPWISE_DATABASE_URL.
        """
        from stepwise.settings import get_settings

        settings, options = get_settings(), HubSpotOptions()
        store = store or Store(settings.database_url)
        portal = argument.strip()
        tokens: TokenProvider
        if portal:
            if not (settings.hubspot_client_id and settings.hubspot_client_secret):
                raise ConnectorError("hubspot:PORTAL needs HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET (public app)")
            from stepwise.integration.hubspot.tokens import OAuthTokenProvider, TokenStore

            tokens = OAuthTokenProvider(TokenStore(store), portal, settings.hubspot_client_id,
                                        settings.hubspot_client_secret, settings.hubspot_base_url)
            account, source = portal, f"hubspot-{portal}"
        elif settings.hubspot_access_token is not None:
            tokens, account, source = StaticToken(settings.hubspot_access_token), "private", ""
        else:
            raise ConnectorError("HubSpot needs HUBSPOT_ACCESS_TOKEN (a private app) or, for a public app install, "
                                 "--source hubspot:PORTAL_ID with HUBSPOT_CLIENT_ID/HUBSPOT_CLIENT_SECRET")
        limits = Limits(Limits.parse(options.rate_limit), Limits.parse(options.search_rate_limit))
        client = HubSpotClient(tokens, settings.hubspot_base_url, redis_url=settings.redis_url, account=account,
                               limits=limits, timeout=(5.0, options.timeout_seconds))
        if not source:
            # The card service lets a portal's card read only source "hubspot-<portal id>", so a private
            # app's data is stored under its portal id too (looked up once, then remembered).
            portal = options.portal_id or store.get_cursor("hubspot", "portal_id") or portal_of(client)
            store.set_cursor("hubspot", "portal_id", portal)
            source = f"hubspot-{portal}"
        return cls(client, HubSpotState(store, account), source=source, mapping=load_mapping(options.mapping),
                   full=full, overlap_seconds=options.overlap_seconds, create_tasks=options.create_tasks)

    # -- pull --------------------------------------------------------------------------------

    def pull(self, cursors: Mapping[str, str] | None = None) -> Pulled:
        """Read what changed since `cursors` (everything on the first or a --full sync) → the whole portal.

        Cursors: "deals" is the newest last-modified date read; the others ("companies", "contacts",
        "products", "object:<type>") are when this pull started, each kept only for what it did read.
        """
        calls_before = self.client.total_calls
        self._cursors: Mapping[str, str] = cursors or {}
        self._keep: dict[str, str] = {}
        self._report = report = SyncReport()
        self._counts = report.counts
        self._started = int(self.clock() * 1000)
        self._unreadable = set()
        self._new_products: set[str] = set()      # products named by the line items read in this run
        cursor = self._cursors.get("deals")
        full = self.full or cursor is None
        report.mode = "full" if full else "incremental"
        stages = self.mapping.resolve_stages(pipelines(self.client))
        entered = sorted({f"hs_date_entered_{key.split(':', 1)[1]}" for key in stages})
        deal_props = self.mapping.deal_request_properties(WRITE_PROPERTIES) + entered
        if full:
            self.state.clear()
        watermark = None if full else int(cursor) - self.overlap_ms
        unmapped = [t for t in OBJECT_TABLES if t not in self.mapping.objects]
        if unmapped:
            log.info("HubSpot: the mapping names no object for %s: skipped (the actions that need them are off)",
                     ", ".join(unmapped))

        deals = list(search_changed(self.client, "deals", deal_props, watermark))
        self._counts["searched"] = len(deals)
        changed = self._changed(deals)
        # Companies first: every one the search brings is current, so no deal needs to read it again.
        self._fresh_companies = self._companies(full)
        self._read_context(changed)
        for spec in self.mapping.objects.values():
            self._optional(spec.table, self._object, spec, full)
        if self.mapping.products:
            self._optional("products", self._products, full)
        if not full:
            self._forget_archived()
            self._refresh("contacts", "lastmodifieddate")

        newest = max((to_ms((d.get("properties") or {}).get("hs_lastmodifieddate")) or 0 for d in deals), default=0)
        self._keep["deals"] = str(max(newest, int(cursor or 0)))
        self._keep["contacts"] = str(self._started)
        log.info("HubSpot pull: %s", dict(self._counts))
        data = self._canonical()
        report.rows = {"deals": self._counts["searched"], "companies": self._counts["companies_searched"]}
        report.skipped = len(data.skipped)
        report.skipped_objects = sorted(self._unreadable)
        report.calls = self.client.total_calls - calls_before
        self.last_sync = report
        return Pulled(data, deleted=report.deleted_by_column(), cursors=self._keep, report=report)

    def _changed(self, deals: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
        """The deals whose data differs from what we hold; our own write-back's echo is not a change."""
        known = self.state.fingerprints(str(d["id"]) for d in deals)
        written = self.state.written_hashes()
        out = []
        for deal in deals:
            props = deal.get("properties") or {}
            fingerprint = self.mapping.deal_fingerprint(props, WRITE_PROPERTIES)
            deal_id = str(deal["id"])
            if known.get(deal_id) == fingerprint:
                echo = write_hash({p: props.get(p) for p in WRITE_PROPERTIES}) == written.get(deal_id)
                self._counts["skipped_own_write" if echo else "skipped_unchanged"] += 1
                continue
            out.append((deal, fingerprint))
        self._counts["changed"] = len(out)
        return out

    def _companies(self, full: bool) -> set[str]:
        """Every company (matching the mapping's filters) changed since the last sync becomes an account.

        Account-level actions (replenishment, overdue payment, renewal) are about customers with
        no open deal too, so companies are not read only through deals.  The search returns their
        properties: one call per 200 companies, cheaper than a batch read of 100.
        """
        cursor = None if full else self._cursors.get("companies")
        since = None if cursor is None else int(cursor) - self.overlap_ms
        records = list(search_changed(self.client, "companies", self.mapping.company_request_properties(), since,
                                      where=self.mapping.company_filters))
        self.state.put("accounts", [(str(r["id"]), self.mapping.company_row(r), None, None) for r in records])
        self._keep["companies"] = str(self._started)
        self._counts["companies_searched"] = len(records)
        return {str(r["id"]) for r in records}

    def _ensure_companies(self, ids: set[str], refresh_held: bool = False) -> None:
        """Batch-read the companies we need but do not hold current (outside the filters, or new since the search)."""
        fresh = self._fresh_companies
        if refresh_held and self.mapping.company_filters:
            # A company outside the filters is not in the change search: re-read it with its deal.
            wanted = sorted(ids - fresh)
        else:
            wanted = sorted(ids - fresh - set(self.state.rows_by_id("accounts", ids)))
        companies = batch_read(self.client, "companies", wanted, self.mapping.company_request_properties())
        self.state.put("accounts", [(str(c["id"]), self.mapping.company_row(c), None, None) for c in companies])
        self._counts["companies"] += len(companies)

    def _read_context(self, changed: list[tuple[dict[str, Any], str]]) -> None:
        if not changed:
            return
        ids = [str(d["id"]) for d, _ in changed]
        kinds = [k for k in ENGAGEMENT_TYPES if k in self.mapping.engagements]
        linked = {to: associations(self.client, "deals", to, ids) for to in ("companies", "contacts", *kinds)}
        account_of = {deal_id: primary_company(linked["companies"].get(deal_id, [])) for deal_id in ids}

        self._ensure_companies({a for a in account_of.values() if a}, refresh_held=True)
        contact_owner = _owners(ids, linked["contacts"])
        contacts = batch_read(self.client, "contacts", sorted(contact_owner), self.mapping.contact_request_properties())

        m = self.mapping
        self.state.put("deals", [(str(d["id"]), m.deal_row(d, account_of[str(d["id"])]), None, fp) for d, fp in changed])
        self.state.put("contacts", [
            (str(c["id"]), m.contact_row(c, account_of[contact_owner[str(c["id"])]]), contact_owner[str(c["id"])], None)
            for c in contacts if account_of.get(contact_owner[str(c["id"])])
        ])
        self.state.drop_deal_context("activities", ids)
        for kind in kinds:
            owner = _owners(ids, linked[kind])
            records = batch_read(self.client, kind, sorted(owner), m.engagement_request_properties(kind))
            self.state.put("activities", [
                (f"{kind}:{r['id']}", m.activity_row(kind, r, owner[str(r["id"])], account_of[owner[str(r["id"])]]),
                 owner[str(r["id"])], None) for r in records
            ])
            self._counts[kind] += len(records)
        self._counts["contacts"] += len(contacts)
        if m.line_items:
            self._optional("order_lines", self._line_items, "deals", ids, "")

    def _line_items(self, from_type: str, ids: list[str], owner_prefix: str) -> None:
        """The line items of deals (or orders) → their order lines; remembers the products they name."""
        owner = _owners(ids, associations(self.client, from_type, "line_items", ids))
        items = batch_read(self.client, "line_items", sorted(owner), self.mapping.line_item_request_properties())
        self.state.drop_deal_context("order_lines", [owner_prefix + i for i in ids])
        self.state.put("order_lines", [(str(r["id"]), self.mapping.line_item_row(r, owner[str(r["id"])]),
                                        owner_prefix + owner[str(r["id"])], None) for r in items])
        self._new_products |= {p for r in items if (p := (r.get("properties") or {}).get("hs_product_id"))}
        self._counts["line_items"] += len(items)

    def _products(self, full: bool) -> None:
        """The product library (changed since the last sync) and any product a new line item names we lack."""
        cursor = None if full else self._cursors.get("products")
        since = None if cursor is None else int(cursor) - self.overlap_ms
        props = self.mapping.product_request_properties()
        records = list(search_changed(self.client, "products", props, since))
        found = {str(r["id"]) for r in records}
        lacking = sorted(self._new_products - found - set(self.state.rows_by_id("products", self._new_products)))
        records += batch_read(self.client, "products", lacking, props)
        self.state.put("products", [(str(r["id"]), self.mapping.product_row(r), None, None) for r in records])
        self._keep["products"] = str(self._started)
        self._counts["products"] = len(records)

    def _object(self, spec: ObjectSpec, full: bool) -> None:
        """A custom (or commerce) object named in the mapping: changed records by search, like deals."""
        name = f"object:{spec.object}"
        cursor = None if full else self._cursors.get(name)
        since = None if cursor is None else int(cursor) - self.overlap_ms
        records = list(search_changed(self.client, spec.object, spec.request_properties(), since, modified=spec.modified))
        ids = [str(r["id"]) for r in records]
        account_of: dict[str, str | None] = {}
        if spec.needs_account and ids:
            if spec.account_property:
                account_of = {str(r["id"]): (r.get("properties") or {}).get(spec.account_property) for r in records}
            else:
                linked = associations(self.client, spec.object, "companies", ids)
                account_of = {i: primary_company(linked.get(i, [])) for i in ids}
            self._ensure_companies({a for a in account_of.values() if a})
        self.state.put(spec.table, [(str(r["id"]), spec.row(r, account_of.get(str(r["id"]))), None, None)
                                    for r in records])
        if spec.line_items and ids and self.mapping.line_items:
            self._optional("order_lines", self._line_items, spec.object, ids, f"{spec.table}:")
        gone: list[str] = []
        if cursor is not None:
            held = self.state.row_ids(spec.table)
            gone = [i for i in list_archived(self.client, spec.object) if i in held]
            if gone:
                self.state.remove(spec.table, gone)
                self.state.drop_deal_context("order_lines", [f"{spec.table}:{i}" for i in gone])
                self._report.deleted[spec.table] = gone
                log.info("HubSpot: %d archived %s removed", len(gone), spec.table)
        self._keep[name] = str(self._started)
        self._counts[spec.table] = len(records)
        self._counts[f"archived_{spec.table}"] = len(gone)

    def _optional(self, table: str, read: Callable[..., None], *args: Any) -> None:
        """Line items, products and custom objects need scopes a portal may not grant: skip, say which."""
        if table in self._unreadable:
            return
        try:
            read(*args)
        except HubSpotAuthError as exc:
            if exc.status != 403:
                raise
            self._unreadable.add(table)
            scopes = sorted({s for e in exc.body.get("errors", []) for s in (e.get("context") or {}).get("requiredScopes", [])})
            log.warning("HubSpot: %s skipped: %s (the app needs %s; see `stepwise check hubspot`)", table, exc,
                        ", ".join(scopes) or "its read scope")

    def _forget_archived(self) -> None:
        held = self.state.row_ids("deals")
        gone = [i for i in list_archived(self.client, "deals") if i in held]
        if gone:
            # Their recommendations expire in this run (Pulled.deleted): the engine no longer sees the deals.
            self._report.deleted["deals"] = gone
            self.state.remove("deals", gone)
            for table in ("activities", "contacts", "order_lines"):
                self.state.drop_deal_context(table, gone)
            log.info("HubSpot: %d archived deals removed", len(gone))
        self._counts["archived"] = len(gone)

    def _refresh(self, object_type: str, modified: str) -> None:
        """Contacts edited on their own (not via a deal): the search returns their properties."""
        cursor = self._cursors.get(object_type)
        if cursor is None:
            return
        props = self.mapping.contact_request_properties()
        records = list(search_changed(self.client, object_type, props, int(cursor) - self.overlap_ms, modified=modified))
        held = self.state.rows_by_id("contacts", (str(r["id"]) for r in records))
        self.state.put("contacts", [(i, self.mapping.contact_row(r, held[i]["account_id"]), None, None)
                                    for r in records if (i := str(r["id"])) in held])
        self._counts[f"refreshed_{object_type}"] = len(held)

    def tables(self) -> list[str]:
        """The canonical tables this mapping fills (and the token may read)."""
        names = [*CANONICAL, *(["order_lines"] if self.mapping.line_items else []),
                 *(["products"] if self.mapping.products else []), *self.mapping.objects]
        return [n for n in names if n not in self._unreadable]

    def _canonical(self) -> CanonicalData:
        data = CanonicalData()
        for name in self.tables():
            raw = pd.DataFrame(self.state.all_rows(name), columns=list(TABLES[name].names), dtype=object)
            frame, issues = coerce_table(name, raw, where=f"hubspot {name}")
            for issue in issues:
                log.warning("hubspot %s: record %s skipped: %s", name, issue.row_id, issue.reason)
            setattr(data, name, frame)
            data.skipped.extend(issues)
        for issue in drop_orphans(data, lambda _account: "its company was not readable"):
            log.warning("hubspot %s: record %s skipped: %s", issue.table, issue.row_id, issue.reason)
        return data

    # -- push --------------------------------------------------------------------------------

    def push(self, recommendations: Iterable[Recommendation], *, as_of: str | None = None) -> PushResult:
        return write_back(self.client, self.state, recommendations, self.state.row_ids("deals"))

    def follow_up(self, rec: Recommendation) -> str | None:
        """A rep accepted: create the HubSpot task (once per recommendation id, on the deal or the company).

        The `stepwise.follow_up` worker calls this on `connector_for("hubspot")` whenever a private-app
        token is configured, so a recommendation of another portal (an OAuth install on the same
        deployment) is handed to that portal's connector instead of creating a task in the wrong portal.
        Returns the task id, None when there is none to make.
        """
        if not self.create_tasks or rec.record_type not in ("deal", "account"):
            return None
        if rec.source != self.source and rec.source.startswith("hubspot-"):
            portal = rec.source.removeprefix("hubspot-")
            log.info("HubSpot: recommendation %s belongs to portal %s, not %s: using its install",
                     rec.id, portal, self.source)
            other = type(self).from_settings(portal)
            if other.source != rec.source:
                raise ConnectorError(f"no HubSpot connector for {rec.source}")
            return other.follow_up(rec)
        return create_task(self.client, self.state, rec, rec.owner_id)

    def check(self) -> list[Finding]:
        """Scopes, mapping and pipelines against the portal; a rejected token is a ConnectorError (exit 2)."""
        return portal_check.check(self.client, self.mapping)


def _owners(ids: list[str], linked: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Associated record id → the first of `ids` it belongs to (an engagement on two deals is read once)."""
    owner: dict[str, str] = {}
    for from_id in ids:
        for assoc in linked.get(from_id, []):
            owner.setdefault(str(assoc["toObjectId"]), from_id)
    return owner

