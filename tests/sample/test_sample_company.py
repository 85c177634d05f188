"""The sample company holds every situation the engine must act on, in valid canonical tables.

Each situation is recomputed from the frames themselves, relative to the as-of
day, the way the engine would see it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stepwise.engine.records import CONTENT_TYPES, TABLES, coerce_table
from stepwise.sample.company import generate_company, write_company
from stepwise.sample.vocabulary import COMPETITORS

AS_OF = "2026-10-01"
NOW = pd.Timestamp(AS_OF, tz="UTC")
DAY = pd.Timedelta(days=1)
ACCOUNTS = 60


def _bench(name: str):
    """A bench script as a module (bench/ is a folder of scripts, not a package)."""
    path = Path(__file__).resolve().parents[2] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    return generate_company(AS_OF, accounts=ACCOUNTS, seed=7)


@pytest.fixture(scope="module")
def t(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The typed tables, as the engine receives them."""
    return {name: coerce_table(name, frame)[0] for name, frame in raw.items()}


def _days_ago(times: pd.Series) -> pd.Series:
    return (NOW - times) / DAY


def _order_history(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per ordering account: order count, mean interval in days, days since the last order."""
    orders = t["orders"].sort_values(["account_id", "ordered_at"])
    gaps = orders.groupby("account_id")["ordered_at"].diff() / DAY
    return pd.DataFrame({
        "orders": orders.groupby("account_id").size(),
        "mean_gap": gaps.groupby(orders["account_id"]).mean(),
        "since": _days_ago(orders.groupby("account_id")["ordered_at"].max()),
    })


# ------------------------------------------------------------------ contract

def test_frames_have_exactly_the_canonical_columns_as_csv_strings(raw: dict[str, pd.DataFrame]) -> None:
    assert list(raw) == list(TABLES)
    for name, frame in raw.items():
        assert tuple(frame.columns) == TABLES[name].names, name
        assert len(frame) > 0, name
        for column in frame.columns:
            assert frame[column].map(type).eq(str).all(), (name, column)


def test_every_row_passes_coerce_table(raw: dict[str, pd.DataFrame]) -> None:
    for name, frame in raw.items():
        typed, issues = coerce_table(name, frame)
        assert issues == [], (name, [str(i) for i in issues[:5]])
        assert len(typed) == len(frame)


def test_same_arguments_write_byte_identical_csvs(tmp_path: Path) -> None:
    first = write_company(tmp_path / "a", AS_OF, accounts=25, seed=3)
    second = write_company(tmp_path / "b", AS_OF, accounts=25, seed=3)
    write_company(tmp_path / "c", AS_OF, accounts=25, seed=4)
    assert first == second
    assert set(first) == set(TABLES)
    for name in TABLES:
        a = (tmp_path / "a" / f"{name}.csv").read_bytes()
        assert a == (tmp_path / "b" / f"{name}.csv").read_bytes(), name
        assert a.splitlines()[0].decode() == ",".join(TABLES[name].names)
        assert first[name] == len(a.splitlines()) - 1, name  # one line per row: no text holds a newline
    assert (tmp_path / "a" / "activities.csv").read_bytes() != (tmp_path / "c" / "activities.csv").read_bytes()


def test_written_csvs_read_back_without_issues(tmp_path: Path) -> None:
    counts = write_company(tmp_path, AS_OF, accounts=20)
    for name in TABLES:
        frame = pd.read_csv(tmp_path / f"{name}.csv", dtype=str, keep_default_na=False)
        typed, issues = coerce_table(name, frame)
        assert issues == [] and len(typed) == counts[name], name


def test_nothing_happens_after_as_of_except_future_dates(t: dict[str, pd.DataFrame]) -> None:
    past = [
        ("activities", "occurred_at"), ("deals", "created_at"), ("deals", "stage_changed_at"),
        ("orders", "ordered_at"), ("invoices", "issued_at"), ("invoices", "paid_at"), ("leads", "created_at"),
        ("contacts", "last_engaged_at"), ("contracts", "start_at"),
    ]
    for table, column in past:
        assert (t[table][column].dropna() <= NOW).all(), (table, column)
    closed = t["deals"][t["deals"]["is_closed"]]
    assert (closed["close_date"] <= NOW).all()
    assert (t["deals"]["created_at"] <= t["deals"]["stage_changed_at"]).all()


def test_ids_refer_to_existing_rows(t: dict[str, pd.DataFrame]) -> None:
    accounts = set(t["accounts"]["account_id"])
    for table in ("contacts", "deals", "orders", "invoices", "contracts"):
        assert set(t[table]["account_id"]) <= accounts, table
    acts = t["activities"]
    assert set(acts["account_id"].dropna()) <= accounts
    assert set(acts["deal_id"].dropna()) <= set(t["deals"]["deal_id"])
    assert set(acts["contact_id"].dropna()) <= set(t["contacts"]["contact_id"])
    assert set(acts["lead_id"].dropna()) <= set(t["leads"]["lead_id"])
    assert set(t["order_lines"]["order_id"]) == set(t["orders"]["order_id"])
    products = set(t["products"]["product_id"])
    assert set(t["order_lines"]["product_id"]) <= products
    for column in ("compatible_with", "substitutes"):
        assert {p for refs in t["products"][column] for p in refs} <= products
    assert set(t["leads"]["converted_account_id"].dropna()) <= accounts
    # An activity on a deal is on that deal's account.
    on_deal = acts.dropna(subset=["deal_id"]).merge(t["deals"][["deal_id", "account_id"]], on="deal_id")
    assert (on_deal["account_id_x"] == on_deal["account_id_y"]).all()


def test_default_scale_volumes() -> None:
    tables = generate_company(AS_OF)
    size = {name: len(frame) for name, frame in tables.items()}
    assert size["accounts"] == 300
    assert 1_300 <= size["deals"] <= 1_700
    assert 25_000 <= size["activities"] <= 35_000
    assert 250 <= size["leads"] <= 350
    assert 900 <= size["contacts"] <= 1_800
    assert 500 <= size["products"] <= 620 and size["stock"] == size["products"]
    assert 25 <= size["content"] <= 40
    # A wholesale order history: a few thousand orders of about fifteen lines each.
    assert 2_500 <= size["orders"] <= 4_500
    assert 11 * size["orders"] <= size["order_lines"] <= 19 * size["orders"]


def test_order_history_is_as_irregular_and_varied_as_real_wholesale_data() -> None:
    """Against a real distributor's ERP history: per-account CV of the days between orders (median 0.65),
    distinct products per order (median 15), share of lines re-buying a product (31%); each within ±25%."""
    realism = _bench("sample_realism")
    tables = generate_company(AS_OF)
    measured = realism.realism(tables["orders"], tables["order_lines"])
    real = realism.REAL
    for key in ("cv_median", "products_per_order", "repeat_share"):
        assert abs(measured[key] - real[key]) <= 0.25 * real[key], (key, measured[key], real[key])
    # The spread across accounts is real-like too, not one clock for everyone.
    assert measured["cv_q3"] - measured["cv_q1"] >= 0.2


# ------------------------------------------------------------------ ERP situations

def test_accounts_cover_industries_segments_reps_and_strategic(t: dict[str, pd.DataFrame]) -> None:
    accounts = t["accounts"]
    assert set(accounts["industry"]) == {"healthcare", "manufacturing", "logistics", "retail",
                                         "professional_services", "software"}
    assert set(accounts["segment"]) == {"enterprise", "mid_market", "smb"}
    assert accounts["owner_id"].str.fullmatch(r"rep_(0[1-9]|1[0-2])").all()
    assert accounts["owner_id"].nunique() >= 8
    assert 1 <= accounts["is_strategic"].sum() <= 0.2 * len(accounts)
    assert (accounts["credit_limit"] > 0).all() and (accounts["annual_revenue"] > 0).all()
    revenue = accounts.groupby("segment")["annual_revenue"].median()
    assert revenue["enterprise"] > revenue["mid_market"] > revenue["smb"]


def test_alfa_distribution_is_the_seed_002_customer(t: dict[str, pd.DataFrame]) -> None:
    alfa = t["accounts"].set_index("account_id").loc["ACC-0001"]
    assert (alfa["name"], alfa["segment"], alfa["industry"]) == ("Alfa Distribution SRL", "mid_market", "healthcare")

    orders = t["orders"][t["orders"]["account_id"] == "ACC-0001"].sort_values("ordered_at")
    gaps = orders["ordered_at"].diff().dropna() / DAY
    assert len(orders) >= 6
    assert gaps.between(35, 45).all()
    assert _days_ago(orders["ordered_at"].max()) == 38

    invoices = t["invoices"][t["invoices"]["account_id"] == "ACC-0001"]
    assert not (invoices["paid_at"].isna() & (invoices["due_at"] < NOW)).any()

    contract = t["contracts"][t["contracts"]["account_id"] == "ACC-0001"].iloc[0]
    assert contract["max_discount_pct"] == 5 and not contract["extended_terms_allowed"]

    lines = t["order_lines"][t["order_lines"]["order_id"].isin(orders["order_id"])]
    assert (lines["discount_pct"] <= 5).all()
    main = lines["product_id"].value_counts().idxmax()
    assert lines.groupby("product_id")["quantity"].sum().idxmax() == main  # also its biggest line
    assert len(orders) == orders.merge(lines[lines["product_id"] == main], on="order_id")["order_id"].nunique()
    stock = t["stock"].set_index("product_id")["available"]
    products = t["products"].set_index("product_id")
    assert stock[main] > 0
    never_bought = [p for p in products.loc[main, "compatible_with"] if p not in set(lines["product_id"])]
    assert any(stock[p] > 0 and products.loc[p, "category"] == "consumables" for p in never_bought)


def test_order_cadences_regular_due_and_broken(t: dict[str, pd.DataFrame]) -> None:
    history = _order_history(t)
    regular = history[history["orders"] >= 4]
    assert len(regular) >= 0.6 * len(history)
    # Monthly-ish rhythms, each with its own noise (see the realism test for how noisy).
    assert regular["mean_gap"].between(15, 110).mean() >= 0.9
    assert 30 <= regular["mean_gap"].median() <= 60
    broken = regular[regular["since"] > 2 * regular["mean_gap"]]
    due = regular[(regular["since"] - regular["mean_gap"]).abs() <= 0.15 * regular["mean_gap"]]
    assert len(broken) >= 2
    assert len(due) >= 3
    assert len(broken) + len(due) < 0.6 * len(regular)  # most are simply on rhythm


def test_order_lines_price_at_list_minus_discount(t: dict[str, pd.DataFrame]) -> None:
    lines = t["order_lines"].merge(t["products"][["product_id", "list_price"]], on="product_id")
    assert lines["discount_pct"].between(0, 10).all() and lines["discount_pct"].nunique() > 2
    expected = lines["list_price"] * (1 - lines["discount_pct"] / 100)
    assert np.allclose(lines["unit_price"], expected, atol=0.011)
    assert (lines["quantity"] >= 1).all()
    totals = (lines["quantity"] * lines["unit_price"]).groupby(lines["order_id"]).sum()
    orders = t["orders"].set_index("order_id")["total"]
    assert np.allclose(orders[totals.index], totals, atol=0.02)


def test_invoices_per_order_mostly_paid_some_overdue(t: dict[str, pd.DataFrame]) -> None:
    invoices, orders = t["invoices"], t["orders"]
    assert len(invoices) == len(orders)
    assert np.isclose(invoices["amount"].sum(), orders["total"].sum())
    terms = (invoices["due_at"] - invoices["issued_at"]) / DAY
    assert set(terms) <= {30, 45, 60} and len(set(terms)) == 3
    assert invoices["paid_at"].notna().mean() > 0.85
    assert (invoices["paid_at"].dropna() >= invoices.loc[invoices["paid_at"].notna(), "issued_at"]).all()
    unpaid = invoices[invoices["paid_at"].isna() & (invoices["due_at"] < NOW)]
    overdue_days = _days_ago(unpaid["due_at"])
    ordering = orders["account_id"].nunique()
    over_30 = unpaid.loc[overdue_days > 30, "account_id"].nunique()
    assert 0.04 * ordering <= over_30 <= 0.2 * ordering
    assert unpaid.loc[overdue_days.between(1, 30), "account_id"].nunique() >= 2


def test_products_margins_compatibility_and_segments(t: dict[str, pd.DataFrame]) -> None:
    products = t["products"].set_index("product_id")
    assert set(products["category"]) == {"consumables", "equipment", "spare_parts", "services"}
    margin = 1 - products["unit_cost"] / products["list_price"]
    assert margin.between(0.05, 0.60).all()
    assert (margin < 0.15).sum() >= 3
    # The named families' consumables fit their machine; the long tail of product lines carries no links.
    consumables = products[(products["category"] == "consumables") & (products["compatible_with"].map(len) > 0)]
    assert len(consumables) >= 30
    assert all(any(products.loc[p, "category"] == "equipment" for p in refs)
               for refs in consumables["compatible_with"])
    linked = products["compatible_with"].map(len) > 0
    assert 50 <= linked.sum() <= 0.2 * len(products)
    assert (products["substitutes"].map(len) > 0).sum() >= 4
    segments = products["approved_segments"].map(set)
    assert (segments == {"enterprise", "mid_market", "smb"}).mean() > 0.8
    assert (segments == {"enterprise"}).sum() >= 2


def test_stock_outs_with_in_stock_substitutes(t: dict[str, pd.DataFrame]) -> None:
    stock = t["stock"]
    assert stock["product_id"].is_unique and set(stock["product_id"]) == set(t["products"]["product_id"])
    assert set(stock["warehouse"]) == {"main"}
    out = set(stock.loc[stock["available"] == 0, "product_id"])
    assert 0.05 <= len(out) / len(stock) <= 0.15
    available = stock.set_index("product_id")["available"]
    substitutes = t["products"].set_index("product_id")["substitutes"]
    lines = t["order_lines"].merge(t["orders"][["order_id", "account_id"]], on="order_id")
    regular = lines.groupby(["account_id", "product_id"])["order_id"].nunique()
    regular = regular[regular >= 4].reset_index()["product_id"]
    assert any(p in out and any(available[s] > 0 for s in substitutes[p]) for p in regular)


def test_contracts_terms_and_renewals(t: dict[str, pd.DataFrame]) -> None:
    contracts = t["contracts"]
    ordering = t["orders"]["account_id"].nunique()
    assert 0.25 <= len(contracts) / ordering <= 0.55
    assert contracts["account_id"].is_unique
    assert (contracts["start_at"] < NOW).all() and (contracts["end_at"] > NOW).all()
    renewing = contracts["end_at"] <= NOW + 60 * DAY
    assert 1 <= renewing.sum() <= 0.35 * len(contracts)
    assert contracts["max_discount_pct"].between(3, 15).all()
    assert set(contracts["payment_terms_days"]) <= {30, 45, 60}
    assert contracts["extended_terms_allowed"].nunique() == 2
    # Order discounts respect the contract cap.
    lines = t["order_lines"].merge(t["orders"][["order_id", "account_id"]], on="order_id")
    capped = lines.merge(contracts[["account_id", "max_discount_pct"]], on="account_id")
    assert (capped["discount_pct"] <= capped["max_discount_pct"]).all()


# ------------------------------------------------------------------ CRM situations

def test_deals_pipeline_and_history(t: dict[str, pd.DataFrame]) -> None:
    deals = t["deals"]
    assert set(deals["stage"]) == {"prospecting", "discovery", "proposal", "negotiation", "closed_won", "closed_lost"}
    closed = deals["stage"].str.startswith("closed")
    assert (deals["is_closed"] == closed).all()
    assert (deals["is_won"] == (deals["stage"] == "closed_won")).all()
    assert 0.3 <= closed.mean() <= 0.5
    history = deals[closed]
    assert (history["close_date"] >= NOW - 731 * DAY).all()
    open_ = deals[~closed]
    assert (open_["close_date"] > NOW).mean() > 0.75
    assert (open_["close_date"] < NOW).sum() >= 3  # slipped
    assert (_days_ago(open_["stage_changed_at"]) > 45).sum() >= 3  # stuck in stage
    probability = deals.groupby("stage")["probability"].first()
    assert list(probability[["prospecting", "discovery", "proposal", "negotiation"]]) == sorted(
        probability[["prospecting", "discovery", "proposal", "negotiation"]])
    assert probability["closed_won"] == 1 and probability["closed_lost"] == 0
    assert set(deals["competitor"].dropna()) == set(COMPETITORS)
    assert 0.15 <= deals["competitor"].notna().mean() <= 0.45
    assert set(deals["currency"]) == {"EUR"}
    assert open_["next_step"].notna().all()
    owners = deals.merge(t["accounts"][["account_id", "owner_id"]], on="account_id")
    assert (owners["owner_id_x"] == owners["owner_id_y"]).all()
    amount = owners.merge(t["accounts"][["account_id", "segment"]], on="account_id").groupby("segment")["amount"]
    assert amount.median()["enterprise"] > amount.median()["mid_market"] > amount.median()["smb"]


def test_contacts_roles_titles_and_multithreading_gap(t: dict[str, pd.DataFrame]) -> None:
    contacts = t["contacts"]
    assert set(contacts["role"]) == {"champion", "economic_buyer", "technical_buyer", "user", "other"}
    assert contacts.groupby("account_id").size().between(3, 6).all()
    titles = contacts.groupby("role")["title"].agg(set)
    assert titles["economic_buyer"] & {"CFO", "VP Finance"}
    assert "IT Director" in titles["technical_buyer"]
    assert not titles["economic_buyer"] & titles["technical_buyer"]
    assert contacts["email"].str.fullmatch(r"[a-z.]+@[a-z0-9.-]+").all()

    recent = contacts[contacts["last_engaged_at"] > NOW - 30 * DAY]
    roles = recent.groupby("account_id")["role"].agg(set)
    champion_only = set(roles[roles == {"champion"}].index)
    open_accounts = set(t["deals"].loc[~t["deals"]["is_closed"], "account_id"])
    assert len(champion_only & open_accounts) >= 2


def test_activities_types_links_and_directions(t: dict[str, pd.DataFrame]) -> None:
    acts = t["activities"]
    assert set(acts["type"]) == {"email", "call", "meeting", "note", "web_visit", "quote_sent", "demo", "task"}
    assert set(acts["direction"].dropna()) == {"inbound", "outbound"}
    assert acts["activity_id"].is_unique
    deal_acts = acts[acts["deal_id"].notna()]
    assert deal_acts["contact_id"].notna().mean() > 0.6
    assert 10 <= deal_acts.groupby("deal_id").size().mean() <= 25
    visits = acts[acts["type"] == "web_visit"]
    assert visits["lead_id"].notna().all() and visits["body"].str.startswith("https://example-medtech.com/").all()
    assert acts.loc[acts["type"] != "web_visit", "lead_id"].isna().all()


TOPIC_PATTERNS = {
    "budget/ROI": r"\bROI\b|budget|return on investment",
    "competitor": "|".join(COMPETITORS),
    "timeline": r"go-live|timeline|deadline",
    "pricing": r"price list|pricing",
    "discount request": r"\b\d+% discount",
    "security": r"security review|GDPR|compliance",
    "technical validation": r"technical validation|architecture|\bAPI\b",
    "ERP integration": r"integrate with their ERP|ERP integration|Integration with",
    "pilot": r"\bpilot\b|\bPOC\b|trial|proof of concept",
    "contract/legal": r"legal review|redlines|legal team",
    "executive sign-off": r"CFO approval|sign-off|sign off",
    "objection": r"concerned about|worry|Objection",
    "pain point": r"pain point|struggle",
    "complaint": r"complain",
}
NEGATIONS = (r"no budget concerns", r"not evaluating other vendors", r"No security review needed",
             r"did not ask for any discount", r"No open complaints")


@pytest.mark.parametrize("topic", list(TOPIC_PATTERNS))
def test_activity_text_mentions_each_topic(t: dict[str, pd.DataFrame], topic: str) -> None:
    text = t["activities"]["subject"].fillna("") + " " + t["activities"]["body"].fillna("")
    assert text.str.contains(TOPIC_PATTERNS[topic], flags=re.IGNORECASE, regex=True).sum() >= 3, topic


def test_activity_text_is_filled_in(t: dict[str, pd.DataFrame]) -> None:
    text = t["activities"]["subject"].fillna("") + t["activities"]["body"].fillna("")
    assert not text.str.contains(r"[{}]", regex=True).any()
    assert t["activities"]["subject"].notna().all() and t["activities"]["body"].notna().all()


def test_activity_text_has_negated_mentions(t: dict[str, pd.DataFrame]) -> None:
    body = t["activities"]["body"].fillna("")
    for phrase in NEGATIONS:
        assert body.str.contains(phrase, case=False, regex=False).any(), phrase


def test_competitor_mentions_name_the_deal_competitor(t: dict[str, pd.DataFrame]) -> None:
    acts = t["activities"].merge(t["deals"][["deal_id", "competitor"]], on="deal_id")
    named = acts[acts["body"].str.contains("|".join(COMPETITORS))]
    assert len(named) > 0
    assert named.apply(lambda row: row["competitor"] in row["body"], axis=1).all()


def _open_deal_activities(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    open_ids = t["deals"].loc[~t["deals"]["is_closed"], "deal_id"]
    acts = t["activities"]
    return acts[acts["deal_id"].isin(open_ids)]


def test_quotes_without_reply(t: dict[str, pd.DataFrame]) -> None:
    acts = _open_deal_activities(t)
    last_quote = acts[acts["type"] == "quote_sent"].groupby("deal_id")["occurred_at"].max()
    last_quote = last_quote[_days_ago(last_quote).between(7, 20)]
    inbound = acts[acts["direction"] == "inbound"].groupby("deal_id")["occurred_at"].max()
    silent = [d for d, at in last_quote.items() if not (inbound.get(d, pd.NaT) > at)]
    assert len(silent) >= 3


def test_demos_without_follow_up_email(t: dict[str, pd.DataFrame]) -> None:
    acts = _open_deal_activities(t)
    last_demo = acts[acts["type"] == "demo"].groupby("deal_id")["occurred_at"].max()
    last_demo = last_demo[_days_ago(last_demo) >= 3]
    emails = acts[acts["type"] == "email"].groupby("deal_id")["occurred_at"].max()
    no_follow_up = [d for d, at in last_demo.items() if not (emails.get(d, pd.NaT) > at)]
    assert len(no_follow_up) >= 3


def test_declining_engagement_and_stale_deals(t: dict[str, pd.DataFrame]) -> None:
    acts = _open_deal_activities(t)
    age = _days_ago(acts["occurred_at"])
    earlier = acts[age.between(15, 28)].groupby("deal_id").size()
    lately = acts[age < 14].groupby("deal_id").size().reindex(earlier.index, fill_value=0)
    declining = earlier[(earlier >= 5) & (lately * 3 <= earlier)]
    assert len(declining) >= 3
    last_touch = _days_ago(acts.groupby("deal_id")["occurred_at"].max())
    assert (last_touch > 7).sum() >= 10
    assert (last_touch <= 7).sum() >= 10


def test_leads_mix(t: dict[str, pd.DataFrame]) -> None:
    leads = t["leads"]
    assert 0.8 * ACCOUNTS <= len(leads) <= 1.2 * ACCOUNTS
    assert set(leads["status"]) == {"new", "working", "nurturing", "qualified", "converted", "disqualified"}
    assert set(leads["source"]) == {"web", "event", "referral", "outbound", "partner"}
    titles = leads["title"]
    assert titles.isin({"CEO", "CFO", "CIO", "COO"}).any()
    for level in ("VP", "Director", "Manager", "Analyst"):
        assert titles.str.contains(level).any(), level
    assert (leads["estimated_value"] > 100_000).sum() >= 2
    assert leads["company_size"].min() >= 1 and leads["company_size"].nunique() > 10
    assert leads["industry"].nunique() >= 5
    converted = leads[leads["status"] == "converted"]
    assert converted["converted_account_id"].notna().all()
    assert leads.loc[leads["status"] != "converted", "converted_account_id"].isna().all()


def test_lead_reading_cloud_migration_six_times_this_week(t: dict[str, pd.DataFrame]) -> None:
    visits = t["activities"][t["activities"]["type"] == "web_visit"]
    week = visits[(_days_ago(visits["occurred_at"]) <= 7) & visits["body"].str.contains("/cloud-migration/")]
    assert week.groupby("lead_id").size().max() >= 6


def test_leads_with_pricing_visits_and_demo_request(t: dict[str, pd.DataFrame]) -> None:
    visits = t["activities"][t["activities"]["type"] == "web_visit"]
    path = visits["body"].str.replace("https://example-medtech.com", "", regex=False)
    pricing = set(visits.loc[path.str.startswith("/pricing"), "lead_id"])
    demo = set(visits.loc[path == "/demo-request", "lead_id"])
    assert len(pricing & demo) >= 2
    for topic in ("cloud-migration", "security", "integration", "pricing", "roi", "case-studies", "demo"):
        assert path.str.contains(topic).any(), topic


def test_content_library_assets(t: dict[str, pd.DataFrame]) -> None:
    content = t["content"]
    assert set(content["type"]) == set(CONTENT_TYPES)
    assert content["content_id"].is_unique and content["url"].str.startswith("https://").all()
    whitepaper = content[content["title"] == "Cloud Migration Whitepaper"].iloc[0]
    assert whitepaper["type"] == "whitepaper" and "cloud-migration" in whitepaper["topics"]
    for kind in ("battle_card", "comparison_matrix"):
        assert set(content.loc[content["type"] == kind, "competitor"]) == set(COMPETITORS), kind
    case_industries = {i for refs in content.loc[content["type"] == "case_study", "industries"] for i in refs}
    assert case_industries == set(t["accounts"]["industry"])
    topics = {topic for refs in content["topics"] for topic in refs}
    assert {"cloud-migration", "security", "integration", "roi", "pricing", "implementation", "competition",
            "replenishment"} <= topics
    assert content.loc[content["type"] == "roi_calculator", "topics"].map(lambda ts: "roi" in ts).all()
