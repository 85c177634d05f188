"""Which products an account will buy: its own products due again, and new ones bought together (README, "Learned predictions").

Two small learned scorers over (account, product) pairs, fitted out of time on the
company's own order lines, pure and vectorised:

- **Due products** (replenishment): for each product an account has bought, the chance it
  is in the account's next order.  Features: the share of the account's recent orders that
  held it (plain and recency-weighted), orders since it was last bought, and its own
  product-level due ratio (days since last bought ÷ its usual interval for this account).
  Labels: was it in the first order placed in the month after a past cut day.
- **New products** (cross-sell): for each product an account has never bought, the chance
  it buys it within a month.  Features: item–item co-purchase (accounts that buy what this
  account buys also buy it: cosine over account baskets, and the strongest lift of one basket
  item), its popularity in the account's segment and overall, and the account's affinity for
  its category.  Labels: bought for the first time in the month after a past cut day.

Each scorer is a regularised logistic over those features; with too little history it
falls back to a fixed, documented blend (order share for due products; co-purchase then
popularity for new products), so the ranking is sensible from the first day.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from stepwise.engine.models.base import seeded_sample
from stepwise.engine.records import CanonicalData

DUE_FEATURES = ["order_share", "recent_share", "orders_since", "product_due_ratio", "log_quantity", "times_bought",
                "share_of_top", "rank_in_account", "frequency_of_top", "frequency_rank"]
NEW_FEATURES = ["co_purchase", "best_lift", "segment_popularity", "popularity", "category_affinity"]
DAY = pd.Timedelta(days=1)
# Fixed rankings the learned scorers must beat (the first is the default with no history to check on).
DUE_BLENDS = {"most-bought": {"order_share": 1.0, "recent_share": 0.01}}
NEW_BLENDS = {"co-purchase": {"co_purchase": 1.0, "segment_popularity": 0.5},
              "popularity": {"popularity": 1.0, "segment_popularity": 0.1}}


def dated_lines(data: CanonicalData) -> pd.DataFrame:
    """Every order line with its order's account and day: the one join the product engine needs, done once."""
    if data.orders is None or data.order_lines is None:
        return pd.DataFrame(columns=["account_id", "order_id", "ordered_at", "product_id", "quantity"])
    orders = data.table("orders")[["order_id", "account_id", "ordered_at"]].dropna()
    lines = data.table("order_lines")[["order_id", "product_id", "quantity"]].dropna(subset=["product_id"])
    out = lines.merge(orders, on="order_id")
    out["quantity"] = pd.to_numeric(out["quantity"], errors="coerce").fillna(1.0)
    return out


def order_lines_until(data: CanonicalData, day: pd.Timestamp, history_days: int = 365,
                      dated: pd.DataFrame | None = None) -> pd.DataFrame:
    """account_id, order_id, ordered_at, product_id, quantity of the orders placed in (day − history, day].
    `dated`: dated_lines(data) when the caller already has it."""
    dated = dated_lines(data) if dated is None else dated
    at = dated["ordered_at"]
    return dated[(at <= day) & (at > day - history_days * DAY)]


# ─────────────────────────────── due products ───────────────────────────────
def due_product_features(lines: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """One row per (account, product) bought in `lines`, with DUE_FEATURES."""
    if lines.empty:
        return pd.DataFrame(columns=["account_id", "product_id", *DUE_FEATURES])
    orders = lines[["account_id", "order_id", "ordered_at"]].drop_duplicates("order_id")
    # Orders numbered newest first per account: 0 = the last order.
    orders = orders.sort_values(["account_id", "ordered_at", "order_id"], ascending=[True, False, False])
    orders["back"] = orders.groupby("account_id").cumcount()
    n_orders = orders.groupby("account_id").size()
    weight = np.power(0.8, orders["back"].to_numpy())
    orders["w"] = weight
    total_w = orders.groupby("account_id")["w"].sum()
    pl = lines.drop_duplicates(["order_id", "product_id"]).merge(orders[["order_id", "back", "w"]], on="order_id")
    g = pl.groupby(["account_id", "product_id"])
    out = pd.DataFrame({
        "times_bought": g.size().astype(float),
        "w": g["w"].sum(),
        "orders_since": g["back"].min().astype(float),
        "last_at": g["ordered_at"].max(),
        "first_at": g["ordered_at"].min(),
    })
    qty = lines.groupby(["account_id", "product_id"])["quantity"].sum()
    out["log_quantity"] = np.log1p(qty.reindex(out.index).clip(lower=0).to_numpy())
    out = out.reset_index()
    out["order_share"] = out["times_bought"] / out["account_id"].map(n_orders).to_numpy()
    out["recent_share"] = out["w"] / out["account_id"].map(total_w).to_numpy()
    span = (out["last_at"] - out["first_at"]) / DAY
    interval = span / (out["times_bought"] - 1).replace(0, np.nan)
    since = (day - out["last_at"]) / DAY
    out["product_due_ratio"] = (since / interval.replace(0, np.nan)).clip(upper=10).fillna(5.0)
    # Within the account: the ranking that matters is among its own products.
    by = out.groupby("account_id")["recent_share"]
    out["share_of_top"] = out["recent_share"] / by.transform("max").replace(0, np.nan)
    out["rank_in_account"] = by.rank(ascending=False, method="first")
    # The account's own most-bought order is the baseline to beat: give the model it as a feature.
    freq = out.groupby("account_id")["times_bought"]
    out["frequency_of_top"] = out["times_bought"] / freq.transform("max")
    out["frequency_rank"] = (out["times_bought"] + 1e-3 * out["recent_share"]).groupby(out["account_id"]).rank(
        ascending=False, method="first")
    return out[["account_id", "product_id", *DUE_FEATURES]]


def next_order_products(data: CanonicalData, day: pd.Timestamp, window_days: int,
                         dated: pd.DataFrame | None = None) -> pd.DataFrame:
    """(account, product) of each account's first order in (day, day + window]: the due-product label."""
    orders = data.table("orders")[["order_id", "account_id", "ordered_at"]].dropna()
    later = orders[(orders["ordered_at"] > day) & (orders["ordered_at"] <= day + window_days * DAY)]
    first = later.sort_values(["ordered_at", "order_id"]).drop_duplicates("account_id")
    window = bought_between(data, day, day + window_days * DAY, dated, pairs=False)
    return window[window["order_id"].isin(first["order_id"])][["account_id", "product_id"]].drop_duplicates()


def bought_between(data: CanonicalData, start: pd.Timestamp, stop: pd.Timestamp, dated: pd.DataFrame | None = None,
                    pairs: bool = True) -> pd.DataFrame:
    dated = dated_lines(data) if dated is None else dated
    window = dated[(dated["ordered_at"] > start) & (dated["ordered_at"] <= stop)]
    return window[["account_id", "product_id"]].drop_duplicates() if pairs else window


# ─────────────────────────────── new products ───────────────────────────────
MAX_PRODUCTS = 3000       # item–item statistics over the most-bought products (the tail rarely sells)
CELLS_PER_CHUNK = 4_000_000  # candidates × products scored at once: bounded memory whatever the catalogue


class ItemStats:
    """What the whole portfolio's baskets say about products, as of a day: learned once, applied to any account.

    Popularity (share of accounts buying each product), per-segment popularity, and two item–item
    measures over account baskets: cosine, and lift = P(j | i) ÷ P(j), shrunk by 5 pseudo-buyers.
    Dense product × product matrices over at most MAX_PRODUCTS products.  Kept on the fitted model,
    so a chunk of accounts is scored against the same statistics as the whole portfolio.
    """

    def __init__(self, lines: pd.DataFrame, segments: pd.Series):
        pairs = lines[["account_id", "product_id"]].drop_duplicates()
        counts = pairs["product_id"].value_counts(sort=True)
        self.products = pd.Index(counts.index[:MAX_PRODUCTS])
        accounts = pd.Index(pairs["account_id"].unique())
        owned = _matrix(pairs, accounts, self.products)
        buyers = np.asarray(owned.sum(axis=0)).ravel()
        n = max(len(accounts), 1)
        self.popularity = buyers / n
        co = np.asarray((owned.T @ owned).todense(), dtype=np.float32)
        np.fill_diagonal(co, 0)
        norm = 1 / np.sqrt(np.maximum(buyers, 1)).astype(np.float32)
        self.cosine = co * norm[:, None] * norm[None, :]
        # lift[i, j] = P(j | i) / P(j): how much more often i's buyers buy j than anyone does.
        self.lift = (co / (buyers[:, None] + 5.0) / np.maximum(self.popularity, 1 / n)[None, :]).astype(np.float32)
        seg = segments.reindex(accounts).fillna("unknown").astype(str)
        self.segment_names = pd.Index(sorted(seg.unique()))
        onehot = sparse.csr_matrix((np.ones(len(seg)), (self.segment_names.get_indexer(seg), np.arange(len(seg)))),
                                   shape=(len(self.segment_names), len(seg)))
        per_seg = np.asarray((onehot @ owned).todense())
        seg_n = np.asarray(onehot.sum(axis=1)).ravel()[:, None]
        self.segment_popularity = (per_seg + 5 * self.popularity) / (seg_n + 5)

    def segment_rows(self, segments: pd.Series) -> np.ndarray:
        """Row of segment_popularity per account; an unseen segment reads the overall popularity."""
        rows = self.segment_names.get_indexer(segments.fillna("unknown").astype(str))
        table = np.vstack([self.segment_popularity, self.popularity[None, :]])
        return table[np.where(rows >= 0, rows, len(self.segment_names))]


def _matrix(pairs: pd.DataFrame, accounts: pd.Index, products: pd.Index) -> sparse.csr_matrix:
    pairs = pairs[pairs["product_id"].isin(products)]
    rows, cols = accounts.get_indexer(pairs["account_id"]), products.get_indexer(pairs["product_id"])
    return sparse.csr_matrix((np.ones(len(pairs), dtype=np.float32), (rows, cols)),
                             shape=(len(accounts), len(products)))


def new_product_candidates(stats: ItemStats, lines: pd.DataFrame, segments: pd.Series, categories: pd.Series,
                           per_account: int) -> pd.DataFrame:
    """The `per_account` best never-bought products per account of `lines`, by co-purchase then popularity,
    with NEW_FEATURES and the basket item that points to each most (`because_id`)."""
    empty = pd.DataFrame(columns=["account_id", "product_id", "because_id", *NEW_FEATURES])
    pairs = lines[["account_id", "product_id"]].drop_duplicates()
    accounts = pd.Index(pairs["account_id"].unique())
    n_products = len(stats.products)
    if n_products == 0 or len(accounts) == 0:
        return empty
    owned_all = _matrix(pairs, accounts, stats.products)
    cat = categories.reindex(stats.products).fillna("unknown").astype(str)
    category_names = pd.Index(sorted(cat.unique()))
    product_category = category_names.get_indexer(cat)
    by_cat = (owned_all @ sparse.csr_matrix((np.ones(n_products, dtype=np.float32),
                                             (np.arange(n_products), product_category)),
                                            shape=(n_products, len(category_names)))).toarray()
    category_share = by_cat / np.maximum(by_cat.sum(axis=1, keepdims=True), 1)
    seg_pop_all = stats.segment_rows(segments.reindex(accounts))
    k = min(per_account, n_products)
    step = max(1, CELLS_PER_CHUNK // (n_products * k))
    frames = []
    for start in range(0, len(accounts), step):
        r = np.arange(start, min(start + step, len(accounts)))
        owned = owned_all[r].toarray()
        size = np.maximum(owned.sum(axis=1, keepdims=True), 1)
        co = (owned @ stats.cosine) / size
        seg_pop = seg_pop_all[r]
        prior = co + 0.5 * seg_pop
        prior[owned > 0] = -np.inf
        top = np.argpartition(-prior, k - 1, axis=1)[:, :k]
        local = np.repeat(np.arange(len(r)), k)
        p = top.ravel()
        keep = np.isfinite(prior[local, p])
        local, p = local[keep], p[keep]
        # The basket item with the strongest lift toward each candidate: the card's "often bought with".
        toward = stats.lift.T[p] * owned[local]
        because = toward.argmax(axis=1)
        best_lift = toward[np.arange(len(p)), because]
        frames.append(pd.DataFrame({
            "account_id": accounts[r[local]], "product_id": stats.products[p],
            "because_id": np.where(best_lift > 0, stats.products[because], None),
            "co_purchase": co[local, p], "best_lift": np.log1p(best_lift),
            "segment_popularity": seg_pop[local, p], "popularity": stats.popularity[p],
            "category_affinity": category_share[r[local], product_category[p]],
        }))
    return pd.concat(frames, ignore_index=True) if frames else empty


# ─────────────────────────────── the model ───────────────────────────────
def _sample(dated: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """The lines of at most `limit` accounts (seeded): the learned scorers' cost bounded, whole accounts kept."""
    accounts = np.sort(dated["account_id"].unique().astype(str))
    keep = seeded_sample(len(accounts), limit)
    return dated if keep is None else dated[dated["account_id"].isin(accounts[keep])]



def _top_k_precision(X: pd.DataFrame, y: np.ndarray, score: np.ndarray, k: int = 2) -> float:
    """Share of each account's k best-scored products that were bought: how the cards use the ranking."""
    frame = pd.DataFrame({"a": X["account_id"].to_numpy(), "p": X["product_id"].to_numpy(), "s": score, "y": y})
    top = frame.sort_values(["a", "s", "p"], ascending=[True, False, True], kind="stable").groupby("a").head(k)
    return float(top["y"].mean()) if len(top) else float("nan")


def _fit_checked(scorer: _Scorer, Xs: list[pd.DataFrame], ys: list[np.ndarray],
                 blends: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Learn only what beats every fixed blend on the newest month, out of time (Xs[0] is the newest cut).

    The fixed blends (e.g. most-bought; co-purchase; plain popularity) are ranked on the newest month and the
    best becomes the scorer's fallback.  The learned scorer, fitted on the older cut(s), must then put more
    bought products in each account's top 2 than that blend; if it does, it is refitted on every cut.
    """
    if not Xs:
        return {"used": "fallback", "why": "no order history"}
    newest, y_newest = Xs[0], ys[0]
    if len(newest):
        scores = {name: _top_k_precision(newest, y_newest, _Scorer(scorer.features, blend).score(newest))
                  for name, blend in blends.items()}
        best = max(scores, key=lambda name: (scores[name], -list(blends).index(name)))
    else:
        scores, best = {}, next(iter(blends))
    scorer.fallback = blends[best]
    out: dict[str, Any] = {"fallback": best, "fallback_precision": scores.get(best), "blends": scores}
    if len(Xs) >= 2:
        trial = _Scorer(scorer.features, scorer.fallback, scorer.min_per_class, scorer.trees)
        trial.fit(pd.concat(Xs[1:], ignore_index=True), np.concatenate(ys[1:]))
        if trial.learned and len(newest):
            out["learned_precision"] = learned = _top_k_precision(newest, y_newest, trial.score(newest))
            if not learned > scores[best]:
                return {**out, "used": "fallback"}
            scorer.fit(pd.concat(Xs, ignore_index=True), np.concatenate(ys))
            return {**out, "used": "learned" if scorer.learned else "fallback"}
    scorer.fit(pd.concat(Xs, ignore_index=True), np.concatenate(ys))
    return {**out, "used": "learned" if scorer.learned else "fallback",
            "why": "not checked: too little history before the newest month"}


class _Scorer:
    """A logistic over fixed features, or a fixed blend when the history is too thin to fit one."""

    def __init__(self, features: list[str], fallback: dict[str, float], min_per_class: int = 30, trees: bool = False):
        self.features = features
        self.trees = trees
        self.fallback = fallback
        self.min_per_class = min_per_class
        self.pipeline_ = None

    def fit(self, X: pd.DataFrame, y: np.ndarray, max_rows: int = 200_000) -> _Scorer:
        y = np.asarray(y, dtype=int)
        keep = seeded_sample(len(y), max_rows)
        if keep is not None:
            X, y = X.iloc[keep], y[keep]
        if min(int(y.sum()), len(y) - int(y.sum())) >= self.min_per_class:
            with threadpool_limits(limits=1):
                estimator = (HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, min_samples_leaf=50,
                                                            random_state=0) if self.trees
                             else make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500)))
                self.pipeline_ = estimator.fit(X[self.features].fillna(0).to_numpy(dtype=float), y)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0)
        if self.pipeline_ is None:
            # The blend stands in for a chance (the cards and `stepwise predict` print it as one): kept in [0, 1].
            return np.clip(sum(w * X[f].fillna(0).to_numpy(dtype=float) for f, w in self.fallback.items()), 0.0, 1.0)
        with threadpool_limits(limits=1):
            return self.pipeline_.predict_proba(X[self.features].fillna(0).to_numpy(dtype=float))[:, 1]

    @property
    def learned(self) -> bool:
        return self.pipeline_ is not None


class ProductModel:
    """Per account × product: the reorder propensity of what it buys and the co-purchase score of what it does not.

    fit(data, day) learns from two past cut days (a month apart) what was known then and what
    was bought after, and keeps the portfolio's item statistics as of `day`; due_products and
    new_products then score any accounts (a chunk gets what the whole would) as of a day.
    """

    def __init__(self, window_days: int = 30, history_days: int = 365, candidates_per_account: int = 30,
                 cuts: int = 2, max_train_accounts: int | None = 6000):
        self.window_days = window_days
        self.history_days = history_days
        self.candidates_per_account = candidates_per_account
        self.cuts = cuts
        self.max_train_accounts = max_train_accounts
        # The fixed blends rank until the history shows better (_fit_checked); the learned scorers replace them
        # only where they rank better on the newest month.
        self.due = _Scorer(DUE_FEATURES, DUE_BLENDS["most-bought"], trees=True)
        self.new = _Scorer(NEW_FEATURES, NEW_BLENDS["co-purchase"])

    def fit(self, data: CanonicalData, day: pd.Timestamp) -> ProductModel:
        due_X, due_y, new_X, new_y = [], [], [], []
        everything = dated_lines(data)
        dated = _sample(everything, self.max_train_accounts)  # the scorers' examples; the statistics see all
        for c in range(1, self.cuts + 1):
            cut = day - c * self.window_days * DAY
            lines = order_lines_until(data, cut, self.history_days, dated)
            if lines.empty:
                continue
            X = due_product_features(lines, cut)
            nxt = next_order_products(data, cut, self.window_days, dated)
            ordered = X["account_id"].isin(set(nxt["account_id"]))  # only accounts that did order: "in the next order"
            X = X[ordered.to_numpy()]
            hit = pd.MultiIndex.from_frame(X[["account_id", "product_id"]]).isin(pd.MultiIndex.from_frame(nxt))
            due_X.append(X)
            due_y.append(hit.astype(int))
            segments = self._segments(data)
            cand = new_product_candidates(ItemStats(lines, segments), lines, segments, self._categories(data),
                                          self.candidates_per_account)
            bought = bought_between(data, cut, cut + self.window_days * DAY, dated)
            hit = pd.MultiIndex.from_frame(cand[["account_id", "product_id"]]).isin(
                pd.MultiIndex.from_frame(bought)) if len(bought) else np.zeros(len(cand), dtype=bool)
            new_X.append(cand)
            new_y.append(np.asarray(hit, dtype=int))
        self.checks_ = {"due": _fit_checked(self.due, due_X, due_y, DUE_BLENDS),
                        "new": _fit_checked(self.new, new_X, new_y, NEW_BLENDS)}
        lines = order_lines_until(data, day, self.history_days, everything)
        self.stats_ = ItemStats(lines, self._segments(data))
        self.categories_ = self._categories(data)
        return self

    @staticmethod
    def _segments(data: CanonicalData) -> pd.Series:
        accounts = data.table("accounts")
        return accounts.drop_duplicates("account_id").set_index("account_id")["segment"]

    @staticmethod
    def _categories(data: CanonicalData) -> pd.Series:
        products = data.table("products")
        if products.empty:
            return pd.Series(dtype=object)
        return products.drop_duplicates("product_id").set_index("product_id")["category"]

    def due_products(self, data: CanonicalData, day: pd.Timestamp, lines: pd.DataFrame | None = None) -> pd.DataFrame:
        """account_id, product_id, propensity (of being in the next order) for every product an account bought.
        `lines`: order_lines_until(data, day, self.history_days) when the caller already has it."""
        lines = order_lines_until(data, day, self.history_days) if lines is None else lines
        X = due_product_features(lines, day)
        return X[["account_id", "product_id"]].assign(propensity=self.due.score(X))

    def new_products(self, data: CanonicalData, day: pd.Timestamp, per_account: int = 10,
                     lines: pd.DataFrame | None = None) -> pd.DataFrame:
        """account_id, product_id, because_id, propensity: the best never-bought products per account."""
        lines = order_lines_until(data, day, self.history_days) if lines is None else lines
        if lines.empty:
            return pd.DataFrame(columns=["account_id", "product_id", "because_id", "propensity"])
        categories = self._categories(data)
        categories = categories if len(categories) else self.categories_
        cand = new_product_candidates(self.stats_, lines, self._segments(data), categories, self.candidates_per_account)
        cand = cand.assign(propensity=self.new.score(cand))
        cand = cand.sort_values(["account_id", "propensity"], ascending=[True, False], kind="stable")
        return cand.groupby("account_id").head(per_account)[["account_id", "product_id", "because_id", "propensity"]]

    def alternatives(self, out_of_stock: pd.Index, in_stock: pd.Index, categories: pd.Series) -> pd.DataFrame:
        """for_product_id → product_id: per out-of-stock product, the in-stock product of the same category its
        buyers buy most alike (cosine over baskets), else the category's most popular in-stock product."""
        stats = self.stats_
        categories = categories if len(categories) else self.categories_
        cat = categories.reindex(stats.products).fillna("unknown").astype(str).to_numpy()
        stocked = stats.products.isin(in_stock)
        rows = []
        for product in out_of_stock:
            i = stats.products.get_indexer([product])[0]
            if i < 0:
                continue
            same = (cat == cat[i]) & stocked
            same[i] = False
            if not same.any():
                continue
            score = np.where(same, stats.cosine[i] + 1e-3 * stats.popularity, -np.inf)
            rows.append((product, stats.products[int(np.argmax(score))]))
        return pd.DataFrame(rows, columns=["for_product_id", "product_id"])


__all__ = ["ProductModel", "due_product_features", "order_lines_until", "DUE_FEATURES", "NEW_FEATURES"]
