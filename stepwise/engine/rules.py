"""Step 2: the deterministic business rules decide what may reach the rep.

AI proposes, rules decide (README, "Learned predictions: AI proposes, rules decide").  Each rule is a small vectorised
function over the candidates that returns which rows it removes and why; every
removal is kept as `{action_id or product_id, rule, reason}` for the audit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.engine.catalog import EFFORT_FEASIBILITY, Catalog

REMOVAL_COLUMNS = ["scope", "record_id", "account_id", "action_id", "product_id", "rule", "reason"]


def _removals(rows: pd.DataFrame, rule: str, reason: pd.Series | str) -> pd.DataFrame:
    out = rows[["scope", "record_id", "account_id", "action_id"]].copy()
    out["product_id"] = None
    out["rule"] = rule
    out["reason"] = reason
    return out[REMOVAL_COLUMNS]


def _action_flag(candidates: pd.DataFrame, catalog: Catalog, attribute: str) -> pd.Series:
    flags = {a.id: bool(getattr(a, attribute)) for a in catalog.actions}
    return candidates["action_id"].map(flags).fillna(False).astype(bool)


def overdue_payments(candidates: pd.DataFrame, accounts: pd.DataFrame, catalog: Catalog) -> tuple[pd.Series, pd.Series]:
    """Invoices overdue beyond the threshold: no discount and no extended-terms offer."""
    days = accounts["overdue_max_days"].reindex(candidates["account_id"]).to_numpy()
    amount = accounts["overdue_amount"].reindex(candidates["account_id"]).to_numpy()
    overdue = days > catalog.rules.overdue_days
    offers = (_action_flag(candidates, catalog, "offers_discount") | _action_flag(candidates, catalog, "offers_extended_terms")).to_numpy()
    hit = pd.Series(overdue & offers, index=candidates.index)
    reason = pd.Series(
        [f"invoices of {a:,.0f} overdue {d:.0f} days (over {catalog.rules.overdue_days}): no discount or extended terms until cleared"
         if h else "" for h, a, d in zip(hit, amount, days)],
        index=candidates.index,
    )
    return hit, reason


def contract_terms(candidates: pd.DataFrame, accounts: pd.DataFrame, catalog: Catalog) -> tuple[pd.Series, pd.Series]:
    """A contract that forbids extended payment terms removes actions that offer them."""
    allowed = accounts["extended_terms_allowed"].reindex(candidates["account_id"]).to_numpy()
    forbidden = np.array([a is False or a is np.False_ for a in allowed], dtype=bool)
    hit = pd.Series(forbidden, index=candidates.index) & _action_flag(candidates, catalog, "offers_extended_terms")
    return hit, pd.Series("the contract does not allow extended payment terms", index=candidates.index)


def product_availability(candidates: pd.DataFrame, offers: pd.DataFrame, catalog: Catalog,
                         product_data: bool = True) -> tuple[pd.Series, pd.Series]:
    """A product action with no product left after the product rules has nothing to offer.

    Without product data at all (orders but no order lines or products), a replenishment call still
    stands, naming no product: only cross-sell and bundles, which are nothing but products, go.
    """
    kinds = {a.id: a.products for a in catalog.actions if a.products}
    if not product_data:
        kinds = {k: v for k, v in kinds.items() if v != "replenish"}
    wanted = candidates["action_id"].map(kinds)
    allowed = offers[offers["allowed"].astype(bool)]
    have = {
        "replenish": set(allowed.loc[allowed["kind"].isin(["replenish", "substitute"]), "account_id"]),
        "cross_sell": set(allowed.loc[allowed["kind"] == "cross_sell", "account_id"]),
        # A bundle needs something to put next to the main product: a substitute or a compatible product.
        "bundle": set(allowed.loc[allowed["kind"].isin(["cross_sell", "substitute"]), "account_id"]),
    }
    has_product = pd.Series(
        [kind not in have or account in have[kind] for kind, account in zip(wanted, candidates["account_id"])],
        index=candidates.index,
    )
    hit = wanted.notna() & ~has_product
    blocked = offers[~offers["allowed"].astype(bool)].groupby("account_id")["reason"].first()
    reason = candidates["account_id"].map(blocked).astype(object).fillna("no product passes the stock, margin and segment rules")
    return hit, "no product left to offer: " + reason


def content_library(candidates: pd.DataFrame, picks: pd.Series, catalog: Catalog) -> tuple[pd.Series, pd.Series]:
    """A content action with no matching asset in the library is not offered."""
    needs = candidates["action_id"].isin([a.id for a in catalog.actions if a.content])
    hit = needs & picks.reindex(candidates.index).isna()
    return hit, pd.Series("no matching asset in the content library", index=candidates.index)


def content_fallbacks(unserved: pd.DataFrame, proposed: pd.DataFrame, accounts: pd.DataFrame, catalog: Catalog,
                      signals: dict[str, pd.DataFrame] | None = None, start: int = 0) -> pd.DataFrame:
    """The stand-ins for content actions the library could not serve (the next option of the same pattern).

    A content action with no asset gives way to its catalog `fallback` (send the ROI calculator → ask
    about the budget approval process; the battle card → research the competitor): the content
    action's trigger already said the topic fired, so the fallback is proposed on that record
    whatever its own trigger and stages say — unless its own trigger already proposed it there
    (then the rules judged it like any candidate).  Its score parts
    are its own expressions over the record's signals; a part that reads a signal not at hand
    (`signals` not given) takes the content action's value.  Rows are labelled from `start` on.
    """
    fallback_of = {a.id: a.fallback for a in catalog.actions if a.content and a.fallback}
    rows = unserved[unserved["action_id"].isin(list(fallback_of))]
    if rows.empty:
        return unserved.iloc[0:0]
    rows = rows.assign(action_id=rows["action_id"].map(fallback_of))
    have = set(zip(proposed["scope"], proposed["record_id"], proposed["action_id"]))
    fresh = [key not in have for key in zip(rows["scope"], rows["record_id"], rows["action_id"])]
    rows = rows[fresh].drop_duplicates(["scope", "record_id", "action_id"])
    parts = []
    for (scope, action_id), group in rows.groupby(["scope", "action_id"], sort=True):
        action = catalog.by_id(action_id)
        if signals is not None and scope in signals:
            facts = signals[scope].reindex(group["record_id"].to_numpy())
        else:  # the account's signals only (a deal's own signals are not at hand)
            facts = accounts.reindex(group["account_id"].to_numpy())
        facts.index = group.index
        group = group.copy()
        for part in ("relevance", "impact", "urgency"):
            expression = getattr(action, part)
            if expression.names <= set(facts.columns):
                group[part] = expression.evaluate(facts).astype(float).fillna(0).clip(0, 100)
        group["feasibility"] = EFFORT_FEASIBILITY[action.effort]
        parts.append(group)
    out = pd.concat(parts) if parts else rows
    out.index = pd.RangeIndex(start, start + len(out))
    return out[list(unserved.columns)]


def apply_rules(candidates: pd.DataFrame, accounts: pd.DataFrame, offers: pd.DataFrame,
                picks: pd.Series, catalog: Catalog,
                signals: dict[str, pd.DataFrame] | None = None,
                product_data: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every rule in order; a candidate removed by one rule is not judged by the next.

    Content actions the library cannot serve are replaced by their fallback (content_fallbacks):
    the audit keeps the content action and its reason, the fallback joins the candidates.
    """
    rules = [
        ("overdue_payments", lambda c: overdue_payments(c, accounts, catalog)),
        ("contract_terms", lambda c: contract_terms(c, accounts, catalog)),
        ("stock_margin_segment", lambda c: product_availability(c, offers, catalog, product_data)),
        ("content_library", lambda c: content_library(c, picks, catalog)),
    ]
    removed = [product_removals(offers)]
    kept, unserved = _judge(candidates, rules, removed)
    if not unserved.empty:
        first = int(candidates.index.max()) + 1 if _is_int_index(candidates.index) else len(candidates)
        stand_ins = content_fallbacks(unserved, candidates, accounts, catalog, signals, first)
        if not stand_ins.empty:  # judged by the same rules (a fallback may offer a discount)
            stand_ins, _ = _judge(stand_ins, rules, removed)
            kept = pd.concat([kept, stand_ins])
    return kept, pd.concat(removed, ignore_index=True)


def _judge(candidates: pd.DataFrame, rules, removed: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(what every rule let through, the content candidates the library could not serve); audit rows
    are appended to `removed`."""
    kept, unserved = candidates, candidates.iloc[0:0]
    for name, rule in rules:
        if kept.empty:
            break
        hit, reason = rule(kept)
        if hit.any():
            removed.append(_removals(kept[hit], name, reason[hit]))
            if name == "content_library":
                unserved = kept[hit]
            kept = kept[~hit]
    return kept, unserved


def _is_int_index(index: pd.Index) -> bool:
    return len(index) > 0 and pd.api.types.is_integer_dtype(index)


def product_removals(offers: pd.DataFrame) -> pd.DataFrame:
    """Products the product rules took out, as account-level audit rows."""
    rows = offers[~offers["allowed"].astype(bool)]
    return pd.DataFrame({
        "scope": "account", "record_id": rows["account_id"].to_numpy(), "account_id": rows["account_id"].to_numpy(),
        "action_id": None, "product_id": rows["product_id"].to_numpy(), "rule": rows["rule"].to_numpy(),
        "reason": rows["reason"].to_numpy(),
    }, columns=REMOVAL_COLUMNS).drop_duplicates(["record_id", "product_id"])


def pick_content(candidates: pd.DataFrame, signals: dict[str, pd.DataFrame], content: pd.DataFrame,
                 catalog: Catalog) -> pd.Series:
    """The best library asset for each content candidate (content_id), NaN where none fits.

    An asset must have one of the action's types; when the action names a topic
    the asset must cover it, when it matches on competitor the competitor must be
    the deal's; otherwise the asset must suit the record's industry (or all
    industries).  Among those that fit: topic, competitor, then industry match.
    """
    picks_by_action = {a.id: a.content for a in catalog.actions if a.content}
    needs = candidates["action_id"].isin(list(picks_by_action))
    if not needs.any() or content.empty:
        return pd.Series(np.nan, index=candidates.index, dtype=object)
    rows = candidates[needs]
    topic = pd.Series(None, index=rows.index, dtype=object)
    industry = pd.Series(None, index=rows.index, dtype=object)
    competitor = pd.Series(None, index=rows.index, dtype=object)
    for scope in rows["scope"].unique():
        in_scope = rows["scope"] == scope
        facts = signals[scope].reindex(rows.loc[in_scope, "record_id"].to_numpy())
        facts.index = rows.index[in_scope]
        if "industry" in facts:
            industry[in_scope] = facts["industry"]
        for action_id in rows.loc[in_scope, "action_id"].unique():
            pick = picks_by_action[action_id]
            mine = in_scope & (rows["action_id"] == action_id)
            if pick.topic and pick.topic.startswith("signal:"):
                topic[mine] = facts.loc[mine[mine].index, pick.topic.removeprefix("signal:")].str.replace("_", "-")
            elif pick.topic:
                topic[mine] = pick.topic
            if pick.match_competitor and "competitor_name" in facts:
                competitor[mine] = facts.loc[mine[mine].index, "competitor_name"]
    wanted = pd.DataFrame({
        "cand": rows.index, "types": [picks_by_action[a].types for a in rows["action_id"]],
        "topic": topic.to_numpy(), "industry": industry.to_numpy(), "competitor": competitor.to_numpy(),
        "match_competitor": [picks_by_action[a].match_competitor for a in rows["action_id"]],
    }).explode("types").rename(columns={"types": "type"})
    pairs = wanted.merge(content.rename(columns={"competitor": "asset_competitor"}), on="type")
    if pairs.empty:
        return pd.Series(np.nan, index=candidates.index, dtype=object)
    topic_ok = [not isinstance(t, str) or t in ts for t, ts in zip(pairs["topic"], pairs["topics"])]
    industry_hit = [i in inds for i, inds in zip(pairs["industry"], pairs["industries"])]
    generic = pairs["industries"].map(len) == 0
    competitor_ok = ~pairs["match_competitor"] | (pairs["competitor"].notna() & (pairs["competitor"] == pairs["asset_competitor"]))
    needs_industry = pairs["topic"].isna() & ~pairs["match_competitor"]
    fits = pd.Series(topic_ok, index=pairs.index) & competitor_ok & (~needs_industry | pd.Series(industry_hit, index=pairs.index) | generic)
    pairs = pairs[fits].assign(rank=lambda p: 2 * pd.Series(industry_hit, index=pairs.index)[fits] + generic[fits])
    best = pairs.sort_values(["cand", "rank", "content_id"], ascending=[True, False, True]).drop_duplicates("cand")
    return best.set_index("cand")["content_id"].reindex(candidates.index)
