"""The ERP side of the sample company: products and stock, accounts, contracts, orders and their lines, invoices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stepwise.sample.vocabulary import (
    ALFA_FAMILY,
    ALFA_NAME,
    COUNTRIES,
    COUNTRY_P,
    ECONOMY,
    ENTERPRISE_ONLY,
    ERPS,
    FAMILIES,
    FAMILY_INDUSTRY,
    FAMILY_P,
    INDUSTRIES,
    LINE_VARIANTS,
    LINES,
    REPS,
    SEGMENTS,
    SERVICES,
    STOCKOUT_FAMILY,
)
from stepwise.sample.world import (
    World,
    blank_where,
    bool_text,
    company_names,
    dates,
    make_ids,
    num,
    obj,
    pick_share,
    text_frame,
    within,
)


def products_tables(w: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = w.rng
    names, category, family, role = [], [], [], []
    for f, (equipment, main, companion, spare) in enumerate(FAMILIES):
        names += [equipment, main, companion, spare]
        category += ["equipment", "consumables", "consumables", "spare_parts"]
        family += [f] * 4
        role += ["equipment", "main", "companion", "spare"]
    for f in range(ECONOMY):
        names.append(FAMILIES[f][1] + " Economy")
        category.append("consumables")
        family.append(f)
        role.append("economy")
    names += list(SERVICES)
    category += ["services"] * len(SERVICES)
    family += [-1] * len(SERVICES)
    role += ["service"] * len(SERVICES)
    services = np.arange(len(names) - len(SERVICES), len(names))
    # The long tail of a wholesale catalogue: product lines of variants and pack sizes, after the named ones
    # (whose ids stay PRD-001..PRD-060).
    for g, (line, kind, _) in enumerate(LINES):
        variants, sizes = LINE_VARIANTS[kind]
        for variant in variants:
            for size in sizes:
                names.append(f"{line} {variant} {size}".strip())
                category.append(kind)
                family.append(len(FAMILIES) + g)
                role.append("line")
    p = len(names)
    ids = make_ids("PRD-", p, 3)
    eq = {f: 4 * f for f in range(len(FAMILIES))}
    main = {f: 4 * f + 1 for f in range(len(FAMILIES))}
    comp = {f: 4 * f + 2 for f in range(len(FAMILIES))}
    economy = {f: 4 * len(FAMILIES) + f for f in range(ECONOMY)}

    compatible: list[list[int]] = []
    substitutes: list[list[int]] = []
    for f, r in zip(family, role, strict=True):
        if r in ("service", "line"):
            compatible.append([])
            substitutes.append([])
            continue
        with_economy = [economy[f]] if f in economy else []
        compatible.append({
            "equipment": [main[f], comp[f], 4 * f + 3, *with_economy],
            "main": [eq[f], comp[f]],
            "companion": [eq[f], main[f]],
            "spare": [eq[f]],
            "economy": [eq[f], comp[f]],
        }[r])
        substitutes.append(with_economy if r == "main" else [main[f]] if r == "economy" else [])

    # Prices, margins and stock of the named products come first from the main stream, as they always
    # have; the long tail's from a stream of their own, so the accounts and contracts drawn after them
    # stay what they were.
    named = 4 * len(FAMILIES) + ECONOMY + len(SERVICES)
    cat = np.array(category)
    keep = [main[ALFA_FAMILY], comp[ALFA_FAMILY], main[STOCKOUT_FAMILY], *economy.values(), *services]
    list_price, margin, available = (np.concatenate(parts) for parts in zip(
        _product_terms(rng, cat[:named], [main[ALFA_FAMILY], comp[ALFA_FAMILY]], keep, main[STOCKOUT_FAMILY]),
        _product_terms(w.tail, cat[named:], [], [], None), strict=True))
    economy_idx = np.array(list(economy.values()))
    list_price[economy_idx] = np.round(list_price[[main[f] for f in economy]] * 0.8, 2)
    unit_cost = np.round(list_price * (1 - margin), 2)

    segments = np.where(np.isin(obj(names), ENTERPRISE_ONLY), "enterprise", ";".join(SEGMENTS)).astype(object)

    w.prod = {"ids": ids, "names": obj(names), "list_price": list_price, "main": np.array(list(main.values())),
              "companion": np.array(list(comp.values())), "equipment": np.array(list(eq.values())),
              "spare": np.array([4 * f + 3 for f in range(len(FAMILIES))]), "services": services,
              "family": np.array(family), "category": cat,
              "enterprise_only": np.isin(obj(names), ENTERPRISE_ONLY)}
    products = text_frame("products", {
        "product_id": ids, "name": obj(names), "category": obj(category), "list_price": num(list_price),
        "unit_cost": num(unit_cost),
        "compatible_with": obj([";".join(ids[j] for j in c) for c in compatible]),
        "substitutes": obj([";".join(ids[j] for j in s) for s in substitutes]),
        "approved_segments": segments,
    })
    stock = text_frame("stock", {"product_id": ids, "available": available.astype(str).astype(object),
                             "warehouse": np.full(p, "main", dtype=object)})
    return products, stock


def _product_terms(rng: np.random.Generator, cat: np.ndarray, never_low: list[int], never_out: list[int],
                   always_out: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """List price, margin and available stock per product of one part of the catalogue."""
    p = len(cat)
    price_range = {"equipment": (1500, 30000), "consumables": (8, 250), "spare_parts": (40, 900),
                   "services": (800, 15000)}
    lo = np.array([price_range[c][0] for c in cat], dtype=float)
    hi = np.array([price_range[c][1] for c in cat], dtype=float)
    list_price = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi))), 2)
    margin = rng.uniform(0.16, 0.60, p)
    # Low-margin items exist so the minimum-margin rule has something to remove.
    low_margin = pick_share(rng, np.setdiff1d(np.arange(p), never_low), 0.15, p)
    margin[low_margin] = rng.uniform(0.05, 0.14, int(low_margin.sum()))
    # Stock-outs: about a tenth of the products (among the named ones, always the one given).
    extra = rng.choice(np.setdiff1d(np.arange(p), never_out), max(0, round(0.1 * p) - (always_out is not None)),
                       replace=False)
    out = np.zeros(p, dtype=bool)
    out[extra] = True
    if always_out is not None:
        out[always_out] = True
    available = np.select(
        [cat == "equipment", cat == "consumables", cat == "spare_parts"],
        [rng.integers(3, 40, p), rng.integers(200, 5000, p), rng.integers(10, 300, p)],
        default=999,
    )
    available[out] = 0
    return list_price, margin, available


def accounts_table(w: World) -> pd.DataFrame:
    rng, n = w.rng, w.n
    industry = rng.choice(len(INDUSTRIES), n, p=[0.3, 0.2, 0.15, 0.12, 0.11, 0.12])
    segment = rng.choice(3, n, p=[0.2, 0.4, 0.4])
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_P)
    owner = rng.integers(0, REPS, n)
    strategic = rng.random(n) < np.where(segment == 0, 0.25, 0.035)
    revenue = np.round(np.exp(rng.uniform(*np.log([[3e8, 2e7, 1e6], [5e9, 3e8, 2e7]])[:, segment])), -3)
    credit = np.round(np.exp(rng.uniform(*np.log([[2.5e5, 5e4, 1e4], [2e6, 2.5e5, 5e4]])[:, segment])), -3)
    name, domain = company_names(rng, industry, country)
    family = rng.choice(len(FAMILIES), n, p=FAMILY_P)
    erp = rng.integers(0, len(ERPS), n)
    if n > 1:
        family[1] = STOCKOUT_FAMILY  # someone always buys the stocked-out product regularly
    # ACC-0001 is Alfa Distribution, the named distributor of the demo.
    industry[0], segment[0], country[0], strategic[0], family[0] = 0, 1, 0, False, ALFA_FAMILY
    revenue[0], credit[0] = 48_000_000.0, 150_000.0
    name[0], domain[0] = ALFA_NAME, "alfa-distribution.ro"

    ids = make_ids("ACC-", n, max(4, len(str(n))))
    w.acc = {"ids": ids, "names": name, "industry": industry, "segment": segment, "owner": owner,
             "domain": domain, "family": family, "erp": erp, "strategic": strategic}
    return text_frame("accounts", {
        "account_id": ids, "name": name, "industry": obj(INDUSTRIES)[industry], "segment": obj(SEGMENTS)[segment],
        "country": obj(COUNTRIES)[country], "owner_id": rep_ids(owner), "is_strategic": bool_text(strategic),
        "credit_limit": num(credit), "annual_revenue": num(revenue),
    })


def rep_ids(owner: np.ndarray) -> np.ndarray:
    return obj([f"rep_{i + 1:02d}" for i in range(REPS)])[owner]


def contracts(w: World) -> pd.DataFrame:
    rng, n = w.rng, w.n
    ordering = np.zeros(n, dtype=bool)
    ordering[rng.random(n) < 0.75] = True
    ordering[:2] = True
    w.acc["ordering"] = ordering
    candidates = np.flatnonzero(ordering[1:]) + 1
    has = pick_share(rng, candidates, 0.4, n)
    has[0] = True
    holders = np.flatnonzero(has)
    k = len(holders)
    renewing = pick_share(rng, np.arange(1, k), 0.15, k)  # holders[0] is Alfa
    end = w.today + np.where(renewing, rng.integers(1, 61, k), rng.integers(61, 720, k))
    years = np.maximum(rng.integers(1, 4, k), np.ceil((end - w.today + 30) / 365).astype(int))
    start = end - 365 * years
    max_discount = rng.choice([3, 5, 7, 10, 12, 15], k)
    terms = rng.choice([30, 45, 60], k)
    extended = rng.random(k) < 0.35
    end[0], start[0], max_discount[0], terms[0], extended[0] = w.today + 190, w.today - 540, 5, 30, False

    w.acc["contract_max"] = np.full(n, np.inf)
    w.acc["contract_max"][holders] = max_discount
    w.acc["terms"] = rng.choice([30, 30, 45, 60], n)
    w.acc["terms"][holders] = terms
    return text_frame("contracts", {
        "contract_id": make_ids("CTR-", k, 5), "account_id": w.acc["ids"][holders], "end_at": dates(end),
        "start_at": dates(start), "max_discount_pct": num(max_discount, 0),
        "payment_terms_days": terms.astype(str).astype(object), "extended_terms_allowed": bool_text(extended),
    })


def orders_tables(w: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng, n, acc, prod = w.rng, w.n, w.acc, w.prod
    buyers = np.flatnonzero(acc["ordering"])
    b = len(buyers)
    day_ago, bi, seq, count = _order_clock(w, b)
    o = len(bi)
    account = buyers[bi]

    # What each buyer buys: a core basket it re-buys (its family's main consumable, often the companion,
    # a few favourite consumables), and a long tail it works through, newest discoveries first.
    segment, family = acc["segment"][buyers], acc["family"][buyers]
    companion_rate = np.where(rng.random(n) < 0.4, 0.0, rng.uniform(0.3, 0.9, n))
    companion_rate[0] = 0.0  # Alfa has never bought the compatible companion: the cross-sell
    explore, core_items, core_p, valid = _baskets(w, buyers, companion_rate[buyers] > 0)
    core_count = core_items.shape[1]

    # Lines per order: the core items that come up (each with its own propensity), then the rest of the
    # order's size split between products bought before (drawn from what the account has discovered,
    # its earlier discoveries more often) and products new to the account.
    size = np.exp(rng.normal(np.log(np.array([19.0, 16.0, 13.5]))[segment], 0.3))
    wanted = np.maximum(1, np.rint(size[bi] * np.exp(rng.normal(0, 0.45, o)))).astype(int)
    core_hit = rng.random((o, core_count)) < core_p[bi]
    rest = np.maximum(0, wanted - core_hit.sum(axis=1))
    rebuy_share = rng.uniform(0.1, 0.32, b)
    first_order = seq == 0
    repeat = np.where(first_order, 0, rng.binomial(rest, rebuy_share[bi]))
    new = rest - repeat
    # Exclusive running count of discoveries before each order (orders are grouped by buyer, oldest first).
    seen = np.cumsum(new) - new
    seen -= np.repeat(seen[np.cumsum(count) - count], count)

    core_order, core_slot = np.nonzero(core_hit)
    core_prod = core_items[bi[core_order], core_slot]
    new_order = np.repeat(np.arange(o), new)
    new_pos = seen[new_order] + within(new)
    new_ok = new_pos < valid[bi[new_order]]
    new_order, new_pos = new_order[new_ok], new_pos[new_ok]
    rep_order = np.repeat(np.arange(o), repeat)
    rep_pos = (seen[rep_order] * rng.random(len(rep_order)) ** 2).astype(int)
    rep_pos = np.minimum(rep_pos, valid[bi[rep_order]] - 1)
    kept = seen[rep_order] > 0  # nothing to re-buy before the first discovery
    rep_order, rep_pos = rep_order[kept], rep_pos[kept]
    fam = family[bi]
    extras = [
        (rng.random(o) < 0.08, prod["spare"][fam]),
        (rng.random(o) < 0.015, prod["equipment"][fam]),
        (rng.random(o) < 0.02, rng.choice(prod["services"], o)),
    ]
    line_order = np.concatenate([core_order, new_order, rep_order, *(np.flatnonzero(m) for m, _ in extras)])
    line_prod = np.concatenate([core_prod, explore[bi[new_order], new_pos], explore[bi[rep_order], rep_pos],
                                *(p[m] for m, p in extras)])
    # Back to the ERP's order (by day, then account), one line per product and order.
    day = w.today - day_ago
    order = np.lexsort((account, day))
    rank = np.empty(o, dtype=np.int64)
    rank[order] = np.arange(o)
    day, account, bi = day[order], account[order], bi[order]
    p_count = len(prod["ids"])
    pair = np.sort(rank[line_order] * p_count + line_prod)
    pair = pair[np.r_[True, pair[1:] != pair[:-1]]]
    line_order, line_prod = pair // p_count, pair % p_count
    order_ids = make_ids("ORD-", o, max(6, len(str(o))))

    # Quantities: the main consumable in the account's volume, the companion at 40% of it, other
    # consumables in pack counts scaled by segment, parts and machines by the piece.
    base_qty = np.exp(rng.uniform(*np.log([[80, 20, 5], [400, 120, 30]])[:, acc["segment"]]))
    base_qty[0] = 150.0  # Alfa buys its main product by the case: its biggest line, the one a rep calls about
    pack_qty = np.exp(rng.uniform(np.log(2), np.log(40), p_count))
    line_account = account[line_order]
    cat = prod["category"][line_prod]
    is_main = line_prod == prod["main"][acc["family"][line_account]]
    is_companion = line_prod == prod["companion"][acc["family"][line_account]]
    volume = np.array([3.0, 1.5, 0.6])[acc["segment"][line_account]]
    line_base = np.select(
        [is_main, is_companion, cat == "consumables", cat == "spare_parts", cat == "equipment"],
        [base_qty[line_account], 0.4 * base_qty[line_account], pack_qty[line_prod] * volume,
         1 + 3 * rng.random(len(line_prod)), 1 + rng.random(len(line_prod))],
        1.0,
    )
    is_service = cat == "services"
    quantity = np.maximum(1, np.rint(line_base * rng.uniform(0.75, 1.25, len(line_order))))
    quantity[is_service] = 1
    discount = np.minimum(rng.choice([0, 0, 2, 3, 5, 7, 10], n), acc["contract_max"])
    discount[0] = 3
    line_discount = np.where(is_service, 0, discount[line_account])
    # Millions of lines: prices and numbers are computed and formatted once per distinct value.
    levels = np.unique(line_discount)
    level = np.searchsorted(levels, line_discount)
    prices = np.round(prod["list_price"][:, None] * (1 - levels[None, :] / 100), 2)
    unit_price = prices[line_prod, level]
    total = np.round(np.bincount(line_order, weights=quantity * unit_price, minlength=o), 2)

    w.inv = {"order_day": day, "order_account": account, "total": total}
    orders = text_frame("orders", {
        "order_id": order_ids, "account_id": acc["ids"][account], "ordered_at": dates(day), "total": num(total),
        "status": np.where(day >= w.today - 3, "shipped", "delivered").astype(object),
    })
    quantity = quantity.astype(np.int64)
    lines = text_frame("order_lines", {
        "order_id": order_ids[line_order], "product_id": prod["ids"][line_prod],
        "quantity": num(np.arange(int(quantity.max(initial=0)) + 1), 0)[quantity],
        "unit_price": num(prices).reshape(prices.shape)[line_prod, level], "discount_pct": num(levels, 0)[level],
    })
    return orders, lines


def _order_clock(w: World, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """When each buyer ordered: (days ago, buyer, chronological index, orders per buyer), grouped by buyer.

    The buyer's main orders come on a gamma-distributed rhythm around its mean (coefficient of variation
    around 0.35), and most buyers add top-up orders one to seven days after a main one (a few rarely,
    some often): the days between orders are as irregular as real wholesale data's (per-account CV
    around 0.65), yet when the next main order is due stays learnable.  Most buyers are on rhythm,
    some are due now, some broke their rhythm (churn risk).
    Alfa (buyer 0) orders every 35-45 days, last 38 days ago.
    """
    rng = w.rng
    mean = rng.uniform(35, 95, b)
    cv = np.clip(np.exp(rng.normal(np.log(0.35), 0.35, b)), 0.1, 1.0)
    # Top-up orders a few days after a main one: most buyers place some, a few place many.
    follow_up = np.where(rng.random(b) < 0.85, rng.uniform(0.05, 0.5, b), 0.0)
    due = pick_share(rng, np.arange(1, b), 0.15, b)
    broken = pick_share(rng, np.flatnonzero(~due[1:]) + 1, 0.10, b)
    where = rng.random(b)
    history = np.where(rng.random(b) < 0.25, rng.uniform(150, 730, b), 730.0)
    nominal_last = np.select([due, broken], [mean, 3.8 * mean], 0.45 * mean)
    span = np.maximum(history - nominal_last, 5 * mean)  # enough history for a cadence to be visible

    slots = np.ceil(2 * span / mean + 4).astype(int)
    row = np.repeat(np.arange(b), slots)
    k = within(slots)
    gap = rng.gamma((1 / cv**2)[row], (mean * cv**2)[row])
    gap = np.where(rng.random(len(row)) < follow_up[row], rng.uniform(1, 8, len(row)), gap)
    gap = np.maximum(1, np.rint(gap))
    alfa = row == 0
    gap[alfa] = rng.integers(35, 46, int(alfa.sum()))
    span[0] = 730 - 38
    within_sum = np.cumsum(gap)
    within_sum -= np.repeat(within_sum[np.cumsum(slots) - slots] - gap[np.cumsum(slots) - slots], slots)
    keep = (within_sum <= span[row]) | (k < 3)
    row, gap = row[keep], gap[keep]
    gaps = np.bincount(row, minlength=b)
    mean_gap = np.bincount(row, weights=gap, minlength=b) / gaps
    # Days since the last order, against the buyer's actual mean gap.
    last = np.select([due, broken], [mean_gap * (0.93 + 0.14 * where), mean_gap * (2.6 + 2.4 * where)],
                     1 + where * np.maximum(0, 0.85 * mean_gap - 1))
    last[0] = 38
    count = gaps + 1
    # Newest first within each buyer: the last order, then one gap back at a time.
    step = np.zeros(int(count.sum()))
    step[within(count) > 0] = gap
    back = np.cumsum(step)
    back -= np.repeat(back[np.cumsum(count) - count], count)
    buyer = np.repeat(np.arange(b), count)
    days_ago = (np.rint(last)[buyer] + back).astype(int)
    chrono = np.repeat(count, count) - 1 - within(count)
    order = np.lexsort((chrono, buyer))
    w.acc["broken"] = np.zeros(w.n, dtype=bool)
    w.acc["broken"][np.flatnonzero(w.acc["ordering"])[broken]] = True
    return days_ago[order], buyer[order], chrono[order], count


def _baskets(w: World, buyers: np.ndarray, with_companion: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per buyer: the order it discovers products in, its core basket and each core item's propensity.

    Discovery follows the buyer's taste for product lines (its industry's lines first, its own family
    and a personal taste on top) and, within a line, the products everyone buys most: a line's products
    are discovered, and so bought, together; an industry's popular products are popular across it.
    Returns (discovery order (buyers x products, valid prefix per row), core items, core propensities,
    valid discoveries per buyer).
    """
    rng, acc, prod = w.rng, w.acc, w.prod
    b, p = len(buyers), len(prod["ids"])
    lines = len(FAMILIES) + len(LINES)
    home = np.array(FAMILY_INDUSTRY + tuple(g[2] for g in LINES))
    line_kind = np.array(["consumables"] * len(FAMILIES) + [g[1] for g in LINES])
    line_weight = np.select([line_kind == "equipment", line_kind == "spare_parts"], [0.15, 0.5], 1.0)
    affinity = np.exp(0.6 * rng.standard_normal((len(INDUSTRIES), lines))) * line_weight
    affinity *= np.where(np.arange(len(INDUSTRIES))[:, None] == home[None, :], 5.0, 1.0)
    # Within a line, a few products sell most (the same everywhere).
    item = np.exp(-1.0 * np.log1p(rng.permutation(p) % 12))
    role_weight = np.ones(p)
    role_weight[prod["equipment"]] = 0.1
    role_weight[prod["spare"]] = 0.3
    item *= role_weight

    industry, segment, family = acc["industry"][buyers], acc["segment"][buyers], acc["family"][buyers]
    taste = affinity[industry] * np.exp(0.8 * rng.standard_normal((b, lines)))
    taste[np.arange(b), family] *= 4.0
    line_key = np.log(taste) + rng.gumbel(size=(b, lines))
    fam = prod["family"]
    key = 1.5 * line_key[:, np.maximum(fam, 0)] + np.log(item) + rng.gumbel(size=(b, p))
    key[:, fam < 0] = -np.inf  # services come as occasional extras, not discoveries
    key[np.ix_(segment != 0, np.flatnonzero(prod["enterprise_only"]))] = -np.inf
    own_main, own_companion = prod["main"][family], prod["companion"][family]
    key[np.arange(b), own_main] = -np.inf
    key[with_companion, own_companion[with_companion]] = -np.inf
    if len(buyers) and buyers[0] == 0:
        key[0, prod["companion"][ALFA_FAMILY]] = -np.inf  # the cross-sell Alfa never bought
    ranking = np.argsort(-key, axis=1, kind="stable")
    finite = np.isfinite(np.take_along_axis(key, ranking, axis=1))

    # Core favourites: the buyer's first few consumables.
    favourites = rng.integers(2, 6, b)
    consumable = (prod["category"][ranking] == "consumables") & finite
    core_fav = consumable & (np.cumsum(consumable, axis=1) <= favourites[:, None])
    explore = np.take_along_axis(ranking, np.argsort(core_fav, axis=1, kind="stable"), axis=1)
    valid = finite.sum(axis=1) - core_fav.sum(axis=1)

    slots = 2 + 5
    core_items = np.zeros((b, slots), dtype=int)
    core_p = np.zeros((b, slots))
    core_items[:, 0], core_p[:, 0] = own_main, rng.uniform(0.85, 1.0, b)
    core_items[:, 1] = own_companion
    core_p[:, 1] = np.where(with_companion, rng.uniform(0.3, 0.9, b), 0.0)
    fav_row, fav_col = np.nonzero(core_fav)
    slot = 2 + within(core_fav.sum(axis=1))
    core_items[fav_row, slot] = ranking[fav_row, fav_col]
    core_p[fav_row, slot] = rng.uniform(0.25, 0.8, len(fav_row))
    if len(buyers) and buyers[0] == 0:
        core_p[0, 0] = 1.0  # Alfa's main product is in every order, more often than anything else
        core_p[0, 2:] = np.minimum(core_p[0, 2:], 0.7)
    return explore, core_items, core_p, valid


def invoices(w: World) -> pd.DataFrame:
    rng, acc, n = w.rng, w.acc, w.n
    day, account, total = w.inv["order_day"], w.inv["order_account"], w.inv["total"]
    m = len(day)
    issued = np.minimum(day + rng.integers(0, 3, m), w.today)
    issued[account == 0] = day[account == 0]
    due = issued + acc["terms"][account]
    lag = rng.integers(-10, 6, m)
    lag[account == 0] = rng.integers(-10, -1, int((account == 0).sum()))  # Alfa always pays early

    # Payment behaviour is per account: most pay around the due date, some let
    # recent invoices slip a few weeks, some carry invoices overdue over 30 days.
    long_overdue = due < w.today - 30
    buyers = np.flatnonzero(acc["ordering"])
    eligible = np.intersect1d(np.unique(account[long_overdue]), buyers[1:])
    late = pick_share(rng, eligible, 0.10 * len(buyers) / max(1, len(eligible)), n)
    slipping = pick_share(rng, np.setdiff1d(np.unique(account[(due < w.today) & ~long_overdue]), [0, *np.flatnonzero(late)]),
                     0.12, n)
    lag = np.where(late[account], rng.integers(0, 25, m), lag)
    paid = np.maximum(issued + 1, due + lag)
    unpaid = paid > w.today
    # Late payers leave their latest one to three long-overdue invoices open.
    newest_first = np.lexsort((-due, account))
    rank = np.empty(m, dtype=int)
    rank[newest_first] = _overdue_rank(account[newest_first], long_overdue[newest_first])
    open_count = rng.integers(1, 4, n)
    unpaid |= late[account] & long_overdue & (rank < open_count[account])
    unpaid |= slipping[account] & (due < w.today) & ~long_overdue
    return text_frame("invoices", {
        "invoice_id": make_ids("INV-", m, max(6, len(str(m)))), "account_id": acc["ids"][account],
        "due_at": dates(due), "amount": num(total), "issued_at": dates(issued),
        "paid_at": blank_where(dates(paid), unpaid),
    })


def _overdue_rank(account: np.ndarray, long_overdue: np.ndarray) -> np.ndarray:
    """Rows sorted by account, newest first: how many newer long-overdue invoices the account has."""
    flag = long_overdue.astype(int)
    running = np.cumsum(flag) - flag
    group_start = np.r_[True, account[1:] != account[:-1]]
    base = np.maximum.accumulate(np.where(group_start, running, 0))
    return running - base
