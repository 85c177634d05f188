"""Step 6: explain — what to do, why now, what offer, which constraints (the four questions of README, "What Stepwise does").

Templates are the catalog's; the facts are the record's signals plus what the
rules decided (products, asset, discount ceiling).  Only the chosen few are
explained, but at 100,000 deals that is still ~150,000 recommendations with eight
texts each, so `explain_all` works per action: it reads each signal a template
needs as one column for all the records that action was chosen for, formats each
field once per record, and fills every text of the action column-wise
(templates.render_column).  The per-recommendation loop left does only what is
truly per record: the offer, the audit and building the object.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
from pandas.core.dtypes.cast import maybe_box_native

from stepwise.engine import scoring
from stepwise.engine import urgency as urgency_bands
from stepwise.engine.catalog import Action, Catalog, Rules
from stepwise.engine.models.apply import COLD_START_NOTE
from stepwise.engine.products import discount_ceiling
from stepwise.engine.recommendation import (
    Recommendation,
    card_key,
    new_alternative,
    new_factors,
    new_recommendation,
    new_removal,
    recommendation_id,
    summary_of,
)
from stepwise.engine.templates import Facts, compile_template, format_column, render, render_column

__all__ = ["constraints_for", "explain_all", "offer_for", "render"]

def constraints_for(account: dict[str, Any] | None, rules: Rules, ceiling: float | None) -> list[str]:
    """The commercial and contractual limits a rep must respect with this customer."""
    out = []
    if ceiling is not None:
        out.append("No discount until the overdue invoices are cleared." if ceiling == 0 else f"Maximum discount: {ceiling:g}%.")
    if account:
        terms = account.get("extended_terms_allowed")
        overdue_days = account.get("overdue_max_days")
        overdue = isinstance(overdue_days, (int, float)) and not math.isnan(overdue_days) and overdue_days > rules.overdue_days
        if overdue or terms is False:
            out.append("Do not propose extended payment terms.")
        payment = account.get("payment_terms_days")
        if isinstance(payment, float) and not math.isnan(payment):
            out.append(f"Payment terms: {payment:.0f} days.")
        headroom = account.get("credit_headroom")
        if isinstance(headroom, float) and not math.isnan(headroom) and headroom <= 0:
            out.append("Credit limit reached: no new order on credit without finance approval.")
    out.append(f"Keep the margin above {rules.min_margin_pct:g}%.")
    out.append(f"Do not promise delivery in under {rules.delivery_promise_hours}h.")
    return out


def inclusion_requests(removals: tuple, facts: dict[str, Any]) -> tuple[str, ...]:
    """A product held back only because the segment is not approved becomes a request, not a dead end."""
    segment = facts.get("segment") if isinstance(facts.get("segment"), str) else "this"
    return tuple(
        f"Ask product management to approve {r.reason.split(' is not approved')[0]} for the {segment} segment."
        for r in removals if r.rule == "segment_approval"
    )


def offer_for(action: Action, account_offers: list[dict[str, Any]], ceiling: float | None) -> dict[str, Any]:
    """The commercial offer: allowed products (best first), a bundle of the top two, the discount ceiling.

    A replenishment card names what the account is due to buy again; a compatible product from the admin's
    list only fills the pair when fewer than two are due; a learned cross-sell guess would dilute a call
    about their usual order.
    """
    offer: dict[str, Any] = {}
    if ceiling is not None:
        offer["max_discount_pct"] = ceiling
    if not action.products or not account_offers:
        return offer
    allowed = [o for o in account_offers if o["allowed"]]
    main = [o for o in allowed if o["kind"] in ("replenish", "substitute")][:2]
    cross = [o for o in allowed if o["kind"] == "cross_sell"]
    if action.products == "replenish":
        # Only to fill the pair (an "A + compatible B" offer): a second due product is the likelier sale.
        cross = [o for o in cross if o.get("source") == "catalog"][: max(0, 2 - len(main))]
    else:
        cross = cross[:2]
    items = []
    if action.products in ("replenish", "bundle"):
        items += [_item(o, "replenishment" if o["kind"] == "replenish" else f"substitute for {_name(o)} (out of stock)") for o in main]
    items += [_item(o, _cross_role(o)) for o in cross]
    offer["products"] = items
    if len(items) >= 2:
        offer["bundle"] = " + ".join(i["name"] for i in items[:2])
    return offer


def _cross_role(offer: dict[str, Any]) -> str:
    if offer.get("source") != "learned":
        return f"compatible with {_name(offer)}"
    if isinstance(offer["for_product_id"], str):
        return f"often bought with {_name(offer)}"
    return "popular with similar customers"


def _name(offer: dict[str, Any]) -> str:
    name = offer["for_product_name"]
    return name if isinstance(name, str) else offer["for_product_id"]


def _item(offer: dict[str, Any], role: str) -> dict[str, Any]:
    margin = offer["margin_pct"]
    propensity = offer.get("propensity")
    return {"product_id": offer["product_id"], "name": offer["product_name"], "role": role,
            "margin_pct": None if pd.isna(margin) else float(margin),
            "propensity": None if propensity is None or pd.isna(propensity) else round(float(propensity), 3)}


# --- all chosen recommendations at once ----------------------------------------------------

RECORD_TYPE = {"deal": "deal", "lead": "lead", "account": "account"}
# Read by the explain step itself (owner, constraints, inclusion requests, lead topic), beyond the templates.
EXPLAIN_COLUMNS = frozenset({"owner_id", "segment", "industry", "top_visit_topic", "extended_terms_allowed",
                             "overdue_max_days", "payment_terms_days", "credit_headroom"})
# The learned predictions a card carries in `extra` (what the score's impact stood on), per scope.
PREDICTION_EXTRAS = {
    "account": {"p_order_next_14d": "p_order_next_14d", "churn_risk": "churn_risk", "expected_value": "expected_value"},
    "deal": {"win_probability": "win_probability", "deal_expected_value": "expected_value"},
    "lead": {"conversion_probability": "conversion_probability", "lead_expected_value": "expected_value"},
}
# Every key `_extras` can set; these facts win over a signal of the same name.
_EXTRA_KEYS = frozenset({"asset_title", "asset_url", "asset_type", "products", "bundle", "max_discount", "topic",
                         "stock_note", "offer_note",
                         "substitute_note"})


def explain_all(chosen: pd.DataFrame, alternatives: pd.DataFrame, removed: pd.DataFrame, sig: dict[str, pd.DataFrame],
                offers: pd.DataFrame, picks: pd.Series, content: pd.DataFrame, catalog: Catalog, source: str, day: str,
                model_version: str) -> list[Recommendation]:
    """One Recommendation per chosen row, in the order of `chosen`."""
    if chosen.empty:
        return []
    with _collector_paused():
        return _explain_all(chosen, alternatives, removed, sig, offers, picks, content, catalog, source, day, model_version)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while the recommendations are built.

    Building ~15 container objects per recommendation set off a collection every few hundred,
    each walking every live object (the signal tables' too): a third of this step.  Nothing built
    here forms a reference cycle, so pausing it frees nothing late; it runs again right after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _explain_all(chosen: pd.DataFrame, alternatives: pd.DataFrame, removed: pd.DataFrame, sig: dict[str, pd.DataFrame],
                 offers: pd.DataFrame, picks: pd.Series, content: pd.DataFrame, catalog: Catalog, source: str, day: str,
                 model_version: str) -> list[Recommendation]:
    rules = catalog.rules
    accounts = sig["account"]
    ceiling = discount_ceiling(accounts, rules) if not accounts.empty else pd.Series(dtype=float)
    offers_by_account: dict[str, list[dict]] = {}
    for offer in _records(offers):
        offers_by_account.setdefault(offer["account_id"], []).append(offer)
    assets = content.set_index("content_id")[["title", "type", "url"]].to_dict("index") if not content.empty else None
    alts = _alternatives_by_record(alternatives, sig, catalog)
    audit = _removals_by_record(removed)
    asks = {key for key, removals in audit.items() if any(r.rule == "segment_approval" for r in removals)}  # inclusion requests
    picked = picks.dropna().to_dict()
    ceilings = ceiling.to_dict()
    used = catalog.template_signals | EXPLAIN_COLUMNS | {c for cols in PREDICTION_EXTRAS.values() for c in cols}
    chosen_accounts = accounts.loc[accounts.index.intersection(chosen["account_id"].dropna().unique()),
                                   [c for c in accounts.columns if c in EXPLAIN_COLUMNS]]
    account_rows = (dict(zip(chosen_accounts.index.tolist(), _records(chosen_accounts))) if chosen_accounts.index.is_unique
                    else chosen_accounts.to_dict("index"))

    labels = chosen.index.tolist()
    scopes, record_ids, action_ids, account_ids, deal_ids, lead_ids, scores, ranks = (
        _values(chosen[c]) for c in ("scope", "record_id", "action_id", "account_id", "deal_id", "lead_id", "score", "rank"))
    factors = [new_factors(*parts) for parts in zip(*(_round1(_values(chosen[p])) for p in scoring.PARTS))]
    success = ([None if r is None or pd.isna(r) else float(r) for r in _values(chosen["success_rate"])]
               if "success_rate" in chosen.columns else None)
    cold = [(COLD_START_NOTE,) if bool(c) else () for c in _values(chosen["cold_start"])] if "cold_start" in chosen.columns else None
    urgency, urgency_reasons = urgency_bands.assign(chosen, sig, catalog.urgency_bands)

    as_of_ts = pd.Timestamp(day)
    best_before: dict[int, str] = {}
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(action_ids, scopes)):
        groups.setdefault(key, []).append(i)

    out: list[Any] = [None] * len(labels)
    tables: dict[str, _Signals] = {}
    per_account: dict[str, tuple] = {}

    def account_facts(acc: Any) -> tuple:
        """(account row, discount ceiling, constraints, max_discount text) of a record's account."""
        known = per_account.get(acc) if isinstance(acc, str) else None
        if known is None:
            account = account_rows.get(acc) if isinstance(acc, str) else None
            ceiling = float(ceilings[acc]) if account is not None and acc in ceilings else None
            known = (account, ceiling, tuple(constraints_for(account, rules, ceiling)),
                     f"{ceiling:g}%" if ceiling is not None else "unknown")
            if isinstance(acc, str):
                per_account[acc] = known
        return known

    for (action_id, scope), idx in groups.items():
        action = catalog.by_id(action_id)
        if scope not in tables:
            tables[scope] = _Signals(sig[scope], used)
        rows = _Rows(tables[scope], [record_ids[i] for i in idx])
        m = len(idx)
        topics, owners, segments = rows.column("top_visit_topic"), rows.column("owner_id"), rows.column("segment")
        wants_ceiling = bool(action.offers_discount or action.products)
        with_products = bool(action.products)
        extras: list[dict[str, Any]] = []
        offers_of: list[dict[str, Any]] = []
        limits: list[tuple[str, ...]] = []
        for j, i in enumerate(idx):
            acc = account_ids[i]
            _, ceiling, limit, max_discount = account_facts(acc)
            if with_products:
                offer = offer_for(action, offers_by_account.get(acc, []), ceiling if wants_ceiling else None)
            else:  # offer_for without products: the ceiling only
                offer = {"max_discount_pct": ceiling} if wants_ceiling and ceiling is not None else {}
            topic = topics[j] if topics is not None else None
            asset = picked.get(labels[i])
            if isinstance(asset, str) and assets is not None:
                a = assets[asset]
                offer["asset"] = {"content_id": asset, "title": a["title"], "type": a["type"], "url": a["url"]}
                extra = {"asset_title": a["title"], "asset_url": a["url"] or "", "asset_type": a["type"].replace("_", " ")}
            else:
                extra = {}
            _extras(extra, offer, max_discount, topic.replace("_", " ") if isinstance(topic, str) else "unknown")
            extras.append(extra)
            offers_of.append(offer)
            limits.append(limit)

        texts = _Texts(rows, extras, m)
        title = texts.fill(action.title)
        # A line whose every field was empty (no products named, no prediction) is left out, not shown blank.
        why = [tuple(w for w in ws if w.strip()) for ws in zip(*(texts.fill(t) for t in action.why))] or [()] * m
        how = list(zip(*(texts.fill(t) for t in action.how))) or [()] * m
        script, email = texts.fill(action.script), texts.fill(action.email)
        if action.best_before_days not in best_before:
            best_before[action.best_before_days] = (as_of_ts + pd.Timedelta(days=action.best_before_days)).strftime("%Y-%m-%d")
        expires = best_before[action.best_before_days]
        with_account_audit = scope != "account" and with_products
        runners_up = [alts.get((scope, record_ids[i]), ()) for i in idx]
        alt_titles = _alternative_titles(texts, runners_up, catalog)
        # Every field as one column for the action's records, then one constructor call per record.
        rids = [record_ids[i] for i in idx]
        accs = [account_ids[i] for i in idx]
        removed_here = [audit.get((scope, rid), ()) for rid in rids]
        if with_account_audit:
            removed_here = [own + audit.get(("account", acc), ()) for own, acc in zip(removed_here, accs)]
        if cold is not None:
            why = [w + cold[i] for w, i in zip(why, idx)]
        if asks:
            how = [h + inclusion_requests(removals, {} if segments is None else {"segment": segments[j]})
                   if (scope, rid) in asks or (with_account_audit and ("account", acc) in asks) else h
                   for j, (h, rid, acc, removals) in enumerate(zip(how, rids, accs, removed_here))]
        runner_up_objects = [tuple([new_alternative(alt_id, alt_titles[alt_id][j], alt_score, level)
                                    for alt_id, alt_score, level in entries]) if entries else ()
                             for j, entries in enumerate(runners_up)]
        none = repeat(None)
        built = map(
            new_recommendation,
            [recommendation_id(source, f"{scope}:{rid}", action_id, day) for rid in rids], repeat(source),
            repeat(RECORD_TYPE[scope]), rids, [deal_ids[i] for i in idx] if scope == "deal" else none,
            [acc if isinstance(acc, str) else None for acc in accs], [lead_ids[i] for i in idx] if scope == "lead" else none,
            repeat(action_id), repeat(action.category), title, [float(scores[i]) for i in idx], [factors[i] for i in idx],
            [urgency[i] for i in idx], repeat(action.expected_impact), why, how, offers_of, limits, repeat(expires),
            [success[i] for i in idx] if success is not None else none, runner_up_objects, removed_here,
            repeat(model_version), repeat(day), [int(ranks[i]) for i in idx], script,
            [o if isinstance(o, str) else None for o in owners] if owners is not None else none, repeat("new"),
            _prediction_extras(rows, scope, m), email, [summary_of(t, w) for t, w in zip(title, why)], repeat("template"),
            [card_key(source, RECORD_TYPE[scope], rid, action_id) for rid in rids], none,
            [urgency_reasons[i] for i in idx])
        for i, rec in zip(idx, built):
            out[i] = rec
    return out


def _prediction_extras(rows: Any, scope: str, m: int) -> list[dict[str, Any]]:
    """{"win_probability": 0.42, "expected_value": 21000.0, …} per card: only what a model predicted."""
    columns = [(key, rows.column(column)) for column, key in PREDICTION_EXTRAS.get(scope, {}).items()]
    columns = [(key, values) for key, values in columns if values is not None]
    out: list[dict[str, Any]] = []
    for j in range(m):
        extra = {}
        for key, values in columns:
            value = values[j]
            if value is not None and not pd.isna(value):
                extra[key] = float(value)
        out.append(extra)
    return out


def _round1(values: list[Any]) -> list[float]:
    """[round(float(v), 1) for v in values], vectorised where that gives the same float.

    numpy rounds as rint(10·x)/10; away from a tie (10·x within 1e-6 of k + ½) that is the double
    nearest to k/10, as Python's correctly rounded round() gives.  Ties, zeros, non-finite and huge
    values take Python's round itself.
    """
    floats = [float(v) for v in values]
    x = np.array(floats, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = x * 10
        out = (np.rint(scaled) / 10).tolist()
        safe = np.isfinite(scaled) & (np.abs(scaled) < 2.0**52) & (x != 0) & (np.abs(scaled - np.floor(scaled) - 0.5) > 1e-6)
    for i in np.flatnonzero(~safe).tolist():
        out[i] = round(floats[i], 1)
    return out


def _values(series: pd.Series) -> list[Any]:
    """list(series) — what itertuples yields for the column — without a Python call per element."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind not in "mM":
        return series.to_numpy().tolist()
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "python" and dtype.na_value is np.nan:
        return series.to_numpy(dtype=object).tolist()
    return list(series)


_NATIVE = frozenset({str, float, int, bool, type(None)})  # maybe_box_native leaves these as they are


def _boxed(series: pd.Series) -> list[Any]:
    """The column's values as DataFrame.to_dict gives them (native Python scalars, NA as None)."""
    values = _values(series)
    dtype = series.dtype
    if dtype == np.dtype(object) or isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return [v if type(v) in _NATIVE else maybe_box_native(v) for v in values]
    return values


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """frame.to_dict("records"), built column by column."""
    if not frame.columns.is_unique:
        return frame.to_dict("records")
    names = frame.columns.tolist()
    return [dict(zip(names, values)) for values in zip(*(_boxed(frame[c]) for c in names))] if names else [{} for _ in range(len(frame))]


class _Signals:
    """One scope's signal table, each column read once into Python values (as DataFrame.to_dict gives
    them) the first time a text or rule needs it; only the columns some text or rule reads."""

    def __init__(self, frame: pd.DataFrame, used: frozenset[str]):
        self.frame = frame
        self.names = [c for c in frame.columns if c in used]
        self.available = set(self.names)
        self._position = dict(zip(frame.index.tolist(), range(len(frame)))) if frame.index.is_unique else None
        self._columns: dict[str, list[Any]] = {}

    def positions(self, record_ids: list[str]) -> list[int]:
        if self._position is None:
            raise ValueError("DataFrame index must be unique for orient='index'.")
        position = self._position
        return [position[r] for r in record_ids]

    def column(self, name: str) -> list[Any]:
        values = self._columns.get(name)
        if values is None:
            values = self._columns[name] = _boxed(self.frame[name])
        return values


class _Rows:
    """The signals of some records of one scope, read column by column (in the records' order)."""

    def __init__(self, signals: _Signals, record_ids: list[str]):
        self.signals = signals
        self.positions = signals.positions(record_ids)
        self.names = signals.names
        self._columns: dict[str, list[Any]] = {}

    def column(self, name: str) -> list[Any] | None:
        """The values of one signal, or None when these records do not have it (the template says 'unknown')."""
        if name not in self.signals.available:
            return None
        values = self._columns.get(name)
        if values is None:
            full = self.signals.column(name)
            values = self._columns[name] = [full[p] for p in self.positions]
        return values

    def record(self, j: int) -> dict[str, Any]:
        return {name: self.column(name)[j] for name in self.names}


class _Texts:
    """Fills templates for the records of one action: each (field, conversion, spec) formatted once."""

    def __init__(self, rows: _Rows, extras: list[dict[str, Any]], n: int):
        self.rows, self.extras, self.n = rows, extras, n
        self._formatted: dict[tuple, list[str]] = {}

    def _facts(self, name: str) -> list[Any]:
        row = self.rows.column(name)
        if name in _EXTRA_KEYS:
            if row is None:
                return [extra.get(name) for extra in self.extras]
            return [extra.get(name, value) for extra, value in zip(self.extras, row)]
        return row if row is not None else [None] * self.n

    def _column(self, key: tuple) -> list[str]:
        formatted = self._formatted.get(key)
        if formatted is None:
            formatted = self._formatted[key] = format_column(self._facts(key[0]), key[1], key[2])
        return formatted

    def _one_by_one(self, text: str, j: int) -> str:
        return render(text, Facts(self.extras[j], self.rows.record(j)))

    def fill(self, text: str) -> list[str]:
        compiled = compile_template(text)
        if compiled.fmt is None:
            return [self._one_by_one(text, j) for j in range(self.n)]
        return render_column(compiled, [self._column(k) for k in compiled.keys], self.n)

    def fill_some(self, text: str, records: list[int]) -> list[str]:
        """`fill` for some of the records only (their positions), in that order."""
        compiled = compile_template(text)
        if compiled.constant is not None:
            return [compiled.constant] * len(records)
        if compiled.fmt is None:
            return [self._one_by_one(text, j) for j in records]
        columns = [self._column(k) for k in compiled.keys]
        fill = compiled.fmt.format
        return [fill(*[c[j] for c in columns]).strip() for j in records]


def _alternative_titles(texts: _Texts, runners_up: list, catalog: Catalog) -> dict[str, dict[int, str]]:
    """alternative action id → {record position → its title filled with that record's facts}."""
    wanted: dict[str, list[int]] = {}
    for j, entries in enumerate(runners_up):
        for alt_id, _, _ in entries:
            wanted.setdefault(alt_id, []).append(j)
    return {alt_id: dict(zip(js, texts.fill_some(catalog.by_id(alt_id).title, js))) for alt_id, js in wanted.items()}


def _extras(extra: dict[str, Any], offer: dict[str, Any], max_discount: str, topic: str) -> None:
    """The facts the explain step adds to the signals: offer products and bundle, discount, visit topic."""
    products = offer.get("products")
    extra["max_discount"] = max_discount
    extra["topic"] = topic
    if not products:
        extra["products"], extra["bundle"], extra["substitute_note"] = "unknown", offer.get("bundle", "unknown"), ""
        # No product named (no product data in the source): the call stands, the lines say what to ask.
        extra["stock_note"], extra["offer_note"] = "", "Ask what they need in their next order."
        return
    extra["products"] = ", ".join(p["name"] for p in products) or "unknown"
    extra["bundle"] = offer.get("bundle", "unknown")
    extra["substitute_note"] = next((f"{p['name']} replaces an out-of-stock product" for p in products
                                     if p["role"].startswith("substitute")), "")
    extra["stock_note"] = f"{extra['products']} in stock. {extra['substitute_note']}".strip()
    extra["offer_note"] = f"Propose {extra['products']}" + (f"; bundle option: {offer['bundle']}." if "bundle" in offer else ".")


def _alternatives_by_record(frame: pd.DataFrame, sig: dict[str, pd.DataFrame],
                            catalog: Catalog) -> dict[tuple[str, str], list[tuple[str, float, str]]]:
    """(scope, record_id) → its runners-up as (action id, score, urgency band): the same bands as a card's."""
    out: dict[tuple[str, str], list[tuple[str, float, str]]] = {}
    if frame.empty:
        return out
    levels, _ = urgency_bands.assign(frame, sig, catalog.urgency_bands)
    columns = (_values(frame[c]) for c in ("scope", "record_id", "action_id", "score"))
    for (scope, record_id, action_id, score), level in zip(zip(*columns), levels):
        out.setdefault((scope, record_id), []).append((action_id, float(score), str(level)))
    return out


def _removals_by_record(frame: pd.DataFrame) -> dict[tuple[str, str], tuple]:
    """(scope, record_id) → what the rules took away there (the audit)."""
    out: dict[tuple[str, str], Any] = {}
    if frame.empty:
        return out
    columns = (_values(frame[c]) for c in ("scope", "record_id", "rule", "reason", "action_id", "product_id"))
    for scope, record_id, rule, reason, action_id, product_id in zip(*columns):
        out.setdefault((scope, record_id), []).append(new_removal(
            rule, reason, action_id if isinstance(action_id, str) else None, product_id if isinstance(product_id, str) else None))
    return {key: tuple(removals) for key, removals in out.items()}
