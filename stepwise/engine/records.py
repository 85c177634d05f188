"""Canonical tables: the contract between integration/ and engine/.

Every connector (files, Salesforce, HubSpot) produces these DataFrames; the
engine never sees a CRM field name.  `coerce_table` turns raw string-ish rows
into typed frames and reports every row it had to skip, so a connector can log
the reason and carry on with the rest of the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import pandas as pd

ColumnType = Literal["id", "str", "float", "int", "bool", "time", "enum", "list"]

STAGES = ("prospecting", "discovery", "proposal", "negotiation", "closed_won", "closed_lost")
OPEN_STAGES = STAGES[:4]
CONTACT_ROLES = ("economic_buyer", "champion", "technical_buyer", "user", "other")
LEAD_STATUSES = ("new", "working", "nurturing", "qualified", "converted", "disqualified")
ACTIVITY_TYPES = ("email", "call", "meeting", "note", "web_visit", "quote_sent", "demo", "task")
DIRECTIONS = ("inbound", "outbound")
CONTENT_TYPES = (
    "whitepaper", "case_study", "roi_calculator", "battle_card", "comparison_matrix",
    "security_doc", "implementation_guide", "pricing_guide", "video_testimonial",
    "benchmark_report", "catalog", "datasheet",
)


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str | None  # the row id; duplicates of it are skipped
    columns: tuple[Column, ...]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, type_: ColumnType, required: bool = False, choices: tuple[str, ...] = ()) -> Column:
    return Column(name, type_, required, choices)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("accounts", "account_id", (
            _c("account_id", "id", True), _c("name", "str", True), _c("industry", "str"),
            _c("segment", "str"), _c("country", "str"), _c("owner_id", "id"),
            _c("is_strategic", "bool"), _c("credit_limit", "float"), _c("annual_revenue", "float"),
        )),
        TableSpec("contacts", "contact_id", (
            _c("contact_id", "id", True), _c("account_id", "id", True), _c("name", "str"),
            _c("title", "str"), _c("role", "enum", choices=CONTACT_ROLES), _c("email", "str"),
            _c("last_engaged_at", "time"),
        )),
        TableSpec("deals", "deal_id", (
            _c("deal_id", "id", True), _c("account_id", "id", True),
            _c("stage", "enum", True, STAGES), _c("name", "str"), _c("amount", "float"),
            _c("currency", "str"), _c("created_at", "time"), _c("close_date", "time"),
            _c("stage_changed_at", "time"), _c("owner_id", "id"), _c("probability", "float"),
            _c("competitor", "str"), _c("is_closed", "bool"), _c("is_won", "bool"),
            _c("next_step", "str"),
        )),
        TableSpec("leads", "lead_id", (
            _c("lead_id", "id", True), _c("created_at", "time", True), _c("name", "str"),
            _c("company", "str"), _c("title", "str"), _c("email", "str"), _c("source", "str"),
            _c("status", "enum", choices=LEAD_STATUSES), _c("industry", "str"),
            _c("company_size", "float"), _c("estimated_value", "float"), _c("owner_id", "id"),
            _c("converted_account_id", "id"),
        )),
        TableSpec("activities", "activity_id", (
            _c("activity_id", "id", True), _c("occurred_at", "time", True),
            _c("type", "enum", True, ACTIVITY_TYPES), _c("deal_id", "id"), _c("account_id", "id"),
            _c("lead_id", "id"), _c("contact_id", "id"), _c("direction", "enum", choices=DIRECTIONS),
            _c("subject", "str"), _c("body", "str"),
        )),
        TableSpec("content", "content_id", (
            _c("content_id", "id", True), _c("title", "str", True),
            _c("type", "enum", True, CONTENT_TYPES), _c("topics", "list"), _c("industries", "list"),
            _c("competitor", "str"), _c("url", "str"),
        )),
        TableSpec("orders", "order_id", (
            _c("order_id", "id", True), _c("account_id", "id", True),
            _c("ordered_at", "time", True), _c("total", "float"), _c("status", "str"),
        )),
        TableSpec("order_lines", None, (
            _c("order_id", "id", True), _c("product_id", "id", True), _c("quantity", "float"),
            _c("unit_price", "float"), _c("discount_pct", "float"),
        )),
        TableSpec("invoices", "invoice_id", (
            _c("invoice_id", "id", True), _c("account_id", "id", True), _c("due_at", "time", True),
            _c("amount", "float", True), _c("issued_at", "time"), _c("paid_at", "time"),
        )),
        TableSpec("products", "product_id", (
            _c("product_id", "id", True), _c("name", "str"), _c("category", "str"),
            _c("list_price", "float"), _c("unit_cost", "float"), _c("compatible_with", "list"),
            _c("substitutes", "list"), _c("approved_segments", "list"),
        )),
        TableSpec("stock", None, (
            _c("product_id", "id", True), _c("available", "float", True), _c("warehouse", "str"),
        )),
        TableSpec("contracts", "contract_id", (
            _c("contract_id", "id", True), _c("account_id", "id", True), _c("end_at", "time", True),
            _c("start_at", "time"), _c("max_discount_pct", "float"),
            _c("payment_terms_days", "float"), _c("extended_terms_allowed", "bool"),
        )),
    )
}

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


@dataclass(frozen=True)
class RowIssue:
    """A row a connector had to skip, and why (logged, never silently dropped)."""

    table: str
    row_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.table}: row {self.row_id} skipped: {self.reason}"


class MissingColumnError(ValueError):
    def __init__(self, table: str, column: str, where: str | None = None):
        self.table, self.column = table, column
        place = where or f"{table}.csv"
        super().__init__(f"{place}: required column '{column}' is missing")


def empty_table(name: str) -> pd.DataFrame:
    spec = TABLES[name]
    return coerce_table(name, pd.DataFrame({c: pd.Series(dtype=object) for c in spec.names}))[0]


def coerce_table(name: str, raw: pd.DataFrame, where: str | None = None) -> tuple[pd.DataFrame, list[RowIssue]]:
    """Type a raw frame per its TableSpec; return the typed frame and the skipped rows.

    `raw` holds strings (or already-typed values); extra columns are dropped,
    optional missing columns are added empty.  A required column missing from
    the frame is a MissingColumnError (the whole table is unusable); a bad
    value in a row skips that row only.
    """
    spec = TABLES[name]
    for col in spec.required:
        if col not in raw.columns:
            raise MissingColumnError(name, col, where)
    frame = raw.reindex(columns=list(spec.names)).reset_index(drop=True)
    bad = pd.Series("", index=frame.index, dtype=object)
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        values, reasons = _coerce_column(frame[col.name], col)
        out[col.name] = values
        bad = bad.where(bad != "", reasons)
    typed = pd.DataFrame(out)
    key = spec.key or spec.required[0]
    row_ids = typed[key].fillna("(blank)").astype(str).where(typed[key].notna(), "line " + (typed.index + 2).astype(str))
    if spec.key:
        dup = typed[spec.key].duplicated(keep="first") & typed[spec.key].notna() & (bad == "")
        bad = bad.where(~dup, f"duplicate {spec.key}")
    issues = [RowIssue(name, rid, reason) for rid, reason in zip(row_ids[bad != ""], bad[bad != ""])]
    return typed[bad == ""].reset_index(drop=True), issues


def _blank(series: pd.Series) -> pd.Series:
    as_text = series.astype("string").str.strip()
    return series.isna() | (as_text == "").fillna(True)


def _coerce_column(series: pd.Series, col: Column) -> tuple[pd.Series, pd.Series]:
    blank = _blank(series)
    reasons = pd.Series("", index=series.index, dtype=object)
    if col.required:
        reasons = reasons.where(~blank, f"{col.name} is empty")
    text = series.astype("string").str.strip()
    if col.type in ("id", "str"):
        return text.where(~blank).astype(object).where(~blank, None), reasons
    if col.type == "enum":
        lowered = text.str.lower()
        bad = ~blank & ~lowered.isin(col.choices).fillna(False)
        reasons = reasons.where(~bad | (reasons != ""), col.name + " '" + text.fillna("") + "' is not one of " + "/".join(col.choices))
        return lowered.where(~blank & ~bad).astype(object).where(~blank & ~bad, None), reasons
    if col.type in ("float", "int"):
        numbers = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = ~blank & numbers.isna()
        reasons = reasons.where(~bad | (reasons != ""), col.name + " '" + text.fillna("") + "' is not a number")
        return numbers.astype(float), reasons
    if col.type == "bool":
        lowered = text.str.lower().fillna("")
        known = lowered.isin(_TRUE | _FALSE)
        bad = ~known
        reasons = reasons.where(~bad | (reasons != ""), col.name + " '" + text.fillna("") + "' is not true/false")
        return lowered.isin(_TRUE).astype(bool), reasons
    if col.type == "time":
        times = pd.to_datetime(text.where(~blank), errors="coerce", utc=True, format="ISO8601")
        bad = ~blank & times.isna()
        reasons = reasons.where(~bad | (reasons != ""), col.name + " '" + text.fillna("") + "' is not a date")
        return times, reasons
    if col.type == "list":
        parts = text.fillna("").map(lambda s: tuple(p.strip() for p in s.split(";") if p.strip()))
        return parts.astype(object), reasons
    raise AssertionError(col.type)


@dataclass
class CanonicalData:
    """All canonical tables of one source; optional tables are None when absent."""

    accounts: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None
    deals: pd.DataFrame | None = None
    leads: pd.DataFrame | None = None
    activities: pd.DataFrame | None = None
    content: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    order_lines: pd.DataFrame | None = None
    invoices: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    stock: pd.DataFrame | None = None
    contracts: pd.DataFrame | None = None
    skipped: list[RowIssue] = field(default_factory=list)

    def present(self) -> set[str]:
        return {f.name for f in fields(self) if f.name in TABLES and getattr(self, f.name) is not None}

    def table(self, name: str) -> pd.DataFrame:
        """The table, or an empty typed one when the source does not have it."""
        frame = getattr(self, name)
        return frame if frame is not None else empty_table(name)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in sorted(self.present())}

    def subset(self, account_ids: set[str], lead_ids: set[str]) -> CanonicalData:
        """Only these accounts (with everything hanging off them) and these leads; catalogs stay whole."""
        out = CanonicalData()
        for name in self.present():
            frame = getattr(self, name)
            if name in ("products", "stock", "content"):
                kept = frame
            elif name == "leads":
                kept = frame[frame["lead_id"].isin(lead_ids)]
            elif name == "order_lines":
                orders = out.orders if out.orders is not None else self.table("orders")
                kept = frame[frame["order_id"].isin(orders["order_id"])]
            elif name == "activities":
                kept = frame[frame["account_id"].isin(account_ids) | frame["lead_id"].isin(lead_ids)
                             | frame["deal_id"].isin(self._deals_of(account_ids))]
            else:
                kept = frame[frame["account_id"].isin(account_ids)]
            setattr(out, name, kept.reset_index(drop=True))
        if out.order_lines is not None and out.orders is not None:
            out.order_lines = out.order_lines[out.order_lines["order_id"].isin(out.orders["order_id"])].reset_index(drop=True)
        return out

    def partition(self, account_chunk: pd.Series, lead_chunk: pd.Series, chunks: int) -> list[CanonicalData]:
        """Split into `chunks` parts in one pass: part k is `subset(accounts of chunk k, leads of chunk k)`.

        `account_chunk` / `lead_chunk` map ids to a part number.  A row reaching two parts (an
        activity of one account on another account's deal) is in both, as `subset` would have it.
        """
        deals = self.table("deals")
        deal_chunk = pd.Series(deals["account_id"].map(account_chunk).to_numpy(), index=deals["deal_id"])
        deal_chunk = deal_chunk[~deal_chunk.index.duplicated()]
        order_chunk = None
        if self.orders is not None:
            order_chunk = pd.Series(self.orders["account_id"].map(account_chunk).to_numpy(), index=self.orders["order_id"])
            order_chunk = order_chunk[~order_chunk.index.duplicated()]
        owners: dict[str, list[np.ndarray]] = {}
        for name in self.present():
            frame = getattr(self, name)
            if name in ("products", "stock", "content"):
                continue
            if name == "leads":
                keys = [frame["lead_id"].map(lead_chunk)]
            elif name == "order_lines":
                keys = [frame["order_id"].map(order_chunk)] if order_chunk is not None else []
            elif name == "activities":
                keys = [frame["account_id"].map(account_chunk), frame["lead_id"].map(lead_chunk),
                        frame["deal_id"].map(deal_chunk)]
            else:
                keys = [frame["account_id"].map(account_chunk)]
            owners[name] = [k.to_numpy(dtype=float, na_value=np.nan) for k in keys]
        parts = []
        for k in range(chunks):
            out = CanonicalData()
            for name in self.present():
                frame = getattr(self, name)
                if name in ("products", "stock", "content"):
                    setattr(out, name, frame)
                    continue
                mask = np.zeros(len(frame), dtype=bool)
                for key in owners[name]:
                    mask |= key == k
                setattr(out, name, frame[mask].reset_index(drop=True))
            parts.append(out)
        return parts

    def _deals_of(self, account_ids: set[str]) -> pd.Series:
        deals = self.table("deals")
        return deals.loc[deals["account_id"].isin(account_ids), "deal_id"]


ACCOUNT_CHILDREN = ("deals", "contacts", "orders", "invoices", "contracts")


def drop_orphans(data: CanonicalData,
                 reason: Callable[[str], str] = lambda account: f"account_id {account} is not among the accounts",
                 ) -> list[RowIssue]:
    """Rows pointing at an account the source did not deliver cannot be scored: remove them, say which.

    Connectors call this after typing their tables, with the reason in their own words (a file
    name, a CRM object); the skipped rows are returned for logging.
    """
    if data.accounts is None:
        return []
    known = set(data.accounts["account_id"])
    issues: list[RowIssue] = []
    for name in ACCOUNT_CHILDREN:
        frame = getattr(data, name)
        if frame is None:
            continue
        orphan = ~frame["account_id"].isin(known)
        if orphan.any():
            rows = frame.loc[orphan, [TABLES[name].key, "account_id"]]
            issues += [RowIssue(name, row_id, reason(account))
                       for row_id, account in rows.itertuples(index=False)]
            setattr(data, name, frame[~orphan].reset_index(drop=True))
    return issues


class MissingTableError(ValueError):
    pass


def validate_presence(data: CanonicalData) -> None:
    """accounts is required unless the source only has leads."""
    if data.accounts is None and data.leads is None:
        raise MissingTableError("accounts.csv is required (or leads.csv for a leads-only source)")


def as_utc(day: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(day)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


__all__ = [
    "STAGES", "OPEN_STAGES", "TABLES", "TableSpec", "Column", "RowIssue", "MissingColumnError",
    "MissingTableError", "CanonicalData", "drop_orphans", "coerce_table", "empty_table", "validate_presence", "as_utc",
]
