"""The data "as known on day X": a pure view of CanonicalData that hides the future.

Training and `predict --as-of` must never read what happened after the day.  The
canonical tables are snapshots of *today* (a closed deal shows its final stage,
a paid invoice its payment date), so the view rewinds what it can:

- rows created after the day disappear (deals, leads, activities, orders and
  their lines, invoices, contracts);
- a deal whose stage changed after the day (it closed, or moved on) is shown
  open with its stage *unknown* (None): the export keeps no stage history, so
  the stage it had on the day cannot be recovered, and guessing would leak;
  its close date, probability and next step are hidden with it when it closed;
- a payment after the day is unpaid; an engagement date after the day unknown;
- a lead's terminal status (converted, disqualified) carries no date: it is
  kept only when nothing happened to the lead after the day, otherwise the
  lead is shown as still being worked on ("working").

Accounts, products, stock and content have no time columns and are kept as
they are (stock is today's stock: nothing here trains on it).
"""

from __future__ import annotations

import pandas as pd

from stepwise.engine.records import CanonicalData, as_utc

TERMINAL_LEAD_STATUSES = ("converted", "disqualified")


def as_known_on(data: CanonicalData, day: str | pd.Timestamp) -> CanonicalData:
    """A new CanonicalData holding only what was known at the end of `day` (UTC)."""
    cut = as_utc(day)
    view = CanonicalData(accounts=data.accounts, content=data.content, products=data.products,
                         stock=data.stock, skipped=list(data.skipped))
    if data.contacts is not None:
        contacts = data.contacts.copy()
        contacts["last_engaged_at"] = contacts["last_engaged_at"].where(~(contacts["last_engaged_at"] > cut))
        view.contacts = contacts
    if data.activities is not None:
        view.activities = _until(data.activities, "occurred_at", cut)
    if data.deals is not None:
        view.deals = _deals(data.deals, cut)
    if data.leads is not None:
        view.leads = _leads(data.leads, data.activities, cut)  # the full log: later touches matter
    if data.orders is not None:
        view.orders = _until(data.orders, "ordered_at", cut)
        if data.order_lines is not None:
            lines = data.order_lines
            view.order_lines = lines[lines["order_id"].isin(view.orders["order_id"])].reset_index(drop=True)
    elif data.order_lines is not None:
        view.order_lines = data.order_lines
    if data.invoices is not None:
        invoices = _until(data.invoices, "issued_at", cut)
        invoices["paid_at"] = invoices["paid_at"].where(~(invoices["paid_at"] > cut))
        view.invoices = invoices
    if data.contracts is not None:
        view.contracts = _until(data.contracts, "start_at", cut)
    return view


def _until(frame: pd.DataFrame, column: str, cut: pd.Timestamp) -> pd.DataFrame:
    # A missing timestamp counts as known: dropping it would hide rows the engine uses today.
    return frame[~(frame[column] > cut)].reset_index(drop=True).copy()


def closed_at(deals: pd.DataFrame) -> pd.Series:
    """When a closed deal closed: its last stage change, else its close date (NaT while open)."""
    when = deals["stage_changed_at"].fillna(deals["close_date"])
    return when.where(deals["is_closed"].fillna(False).astype(bool))


def _deals(deals: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    out = _until(deals, "created_at", cut)
    closed = out["is_closed"].fillna(False).astype(bool)
    closed_later = closed & (closed_at(out) > cut)
    moved_later = (out["stage_changed_at"] > cut) | closed_later
    out["stage"] = out["stage"].where(~moved_later, None)
    out["stage_changed_at"] = out["stage_changed_at"].where(~moved_later)
    out["probability"] = out["probability"].where(~moved_later)
    out["is_closed"] = closed & ~closed_later
    out["is_won"] = out["is_won"].fillna(False).astype(bool) & out["is_closed"]
    # The close date of a deal that closed later is when it *did* close: the future.
    out["close_date"] = out["close_date"].where(~closed_later)
    out["next_step"] = out["next_step"].where(~closed_later, None)
    return out


def _leads(leads: pd.DataFrame, activities: pd.DataFrame | None, cut: pd.Timestamp) -> pd.DataFrame:
    out = _until(leads, "created_at", cut)
    undecided = out["status"].isin(TERMINAL_LEAD_STATUSES) & ~lead_decided_by(out, activities, cut)
    out["status"] = out["status"].where(~undecided, "working")
    out["converted_account_id"] = out["converted_account_id"].where(out["status"] == "converted", None)
    return out


def lead_decided_by(leads: pd.DataFrame, activities: pd.DataFrame | None, cut: pd.Timestamp) -> pd.Series:
    """True where a terminal lead status was already known on `cut`: no activity on the lead after it."""
    terminal = leads["status"].isin(TERMINAL_LEAD_STATUSES)
    if activities is None or activities.empty:
        return terminal
    later = activities.loc[activities["occurred_at"] > cut, "lead_id"].dropna().unique()
    return terminal & ~leads["lead_id"].isin(later)


__all__ = ["as_known_on", "closed_at", "lead_decided_by", "TERMINAL_LEAD_STATUSES"]
