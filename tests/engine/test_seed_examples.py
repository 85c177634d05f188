"""The seeds' worked examples, as tests that read like the seed text."""

from __future__ import annotations

from stepwise.engine.run import recommend
from tests.builders import AS_OF, days_ago, days_ahead, make_data


def _orders(account_id: str, gaps: list[int], last_days_ago: int, product_id: str = "A", qty: str = "10"):
    """Orders every `gaps` days, the last one `last_days_ago` days before as-of."""
    when, at = [], last_days_ago
    for gap in reversed(gaps):
        when.append(at)
        at += gap
    when.append(at)
    orders = [dict(order_id=f"{account_id}-O{i}", account_id=account_id, ordered_at=days_ago(d), total="1000")
              for i, d in enumerate(sorted(when, reverse=True))]
    lines = [dict(order_id=o["order_id"], product_id=product_id, quantity=qty, unit_price="100") for o in orders]
    return orders, lines


def alfa_distribution(**overrides):
    """Seed 002: Alfa Distribution SRL, last order 38 days ago, orders every 35–45 days, max discount 5%."""
    orders, lines = _orders("ACC-0001", [35, 45, 40, 42, 38, 44], last_days_ago=38)
    tables = dict(
        accounts=[dict(account_id="ACC-0001", name="Alfa Distribution SRL", industry="healthcare", segment="mid_market")],
        orders=orders, order_lines=lines,
        invoices=[dict(invoice_id="I1", account_id="ACC-0001", issued_at=days_ago(80), due_at=days_ago(50), amount="1000", paid_at=days_ago(52))],
        products=[
            dict(product_id="A", name="Product A", list_price="100", unit_cost="60", compatible_with="B"),
            dict(product_id="B", name="Product B", list_price="50", unit_cost="25"),
        ],
        stock=[dict(product_id="A", available="120"), dict(product_id="B", available="40")],
        contracts=[dict(contract_id="K1", account_id="ACC-0001", start_at=days_ago(300), end_at=days_ahead(200),
                        max_discount_pct="5", payment_terms_days="30", extended_terms_allowed="false")],
    )
    tables.update(overrides)
    return make_data(**tables)


def by_action(result, action_id):
    return [r for r in result.recommendations if r.action_id == action_id]


def test_alfa_distribution_gets_the_replenishment_call_of_seed_002(catalog):
    result = recommend(alfa_distribution(), AS_OF, catalog)
    [card] = by_action(result, "call_for_replenishment")
    assert card.title == "Call Alfa Distribution SRL for replenishment"
    assert card.deal_id is None and card.account_id == "ACC-0001"
    assert "Last order was 38 days ago." in card.why
    assert "Order history indicates a new order every 35–45 days." in card.why
    assert [p["name"] for p in card.offer["products"]] == ["Product A", "Product B"]
    assert card.offer["products"][1]["role"] == "compatible with Product A"
    assert card.offer["bundle"] == "Product A + Product B"
    assert card.offer["max_discount_pct"] == 5
    assert "Maximum discount: 5%." in card.constraints
    assert "Do not propose extended payment terms." in card.constraints
    assert "Keep the margin above 15%." in card.constraints
    assert "Good morning" in card.script


def test_product_x_y_z_of_seed_002_are_filtered_by_the_rules(catalog):
    """X removed (insufficient margin at the customer's discount), Y accepted, Z accepted without extended terms."""
    data = alfa_distribution(
        products=[
            dict(product_id="A", name="Product A", list_price="100", unit_cost="60", compatible_with="X;Y;Z"),
            dict(product_id="X", name="Product X", list_price="100", unit_cost="88"),
            dict(product_id="Y", name="Product Y", list_price="100", unit_cost="50"),
            dict(product_id="Z", name="Product Z", list_price="100", unit_cost="60"),
        ],
        stock=[dict(product_id=p, available="10") for p in "AXYZ"],
        orders=_orders("ACC-0001", [10, 10, 10, 10], last_days_ago=5)[0],
        order_lines=_orders("ACC-0001", [10, 10, 10, 10], last_days_ago=5)[1],
    )
    result = recommend(data, AS_OF, catalog)
    [card] = by_action(result, "propose_complementary_products")
    offered = [p["name"] for p in card.offer["products"]]
    assert offered == ["Product Y", "Product Z"]  # best margin first
    [x] = [r for r in card.removed if r.product_id == "X"]
    assert x.rule == "min_margin"
    assert "margin 7% at the 5% discount ceiling is below the 15% floor" in x.reason
    assert "Do not propose extended payment terms." in card.constraints


def test_roi_calculator_card_of_seed_001(catalog):
    data = make_data(
        accounts=[dict(account_id="A1", name="Northwind Clinics", industry="healthcare", segment="enterprise")],
        contacts=[dict(contact_id="C1", account_id="A1", name="Dana Reyes", role="champion", last_engaged_at=days_ago(2))],
        deals=[dict(deal_id="D1", account_id="A1", stage="discovery", name="Northwind rollout", amount="90000",
                    created_at=days_ago(20), close_date=days_ahead(40))],
        activities=[dict(activity_id="T1", occurred_at=days_ago(1), type="call", deal_id="D1", account_id="A1",
                         contact_id="C1", direction="inbound", subject="Discovery call",
                         body="Dana mentioned budget concerns and asked about ROI for next year.")],
        content=[dict(content_id="K1", title="Medtech ROI Calculator", type="roi_calculator", topics="roi",
                      industries="", url="https://example.com/roi")],
    )
    result = recommend(data, AS_OF, catalog)
    [card] = by_action(result, "send_roi_calculator")
    assert card.title == "Send the ROI calculator to Dana Reyes"
    assert card.deal_id == "D1"
    assert card.offer["asset"]["title"] == "Medtech ROI Calculator"
    assert card.why[0] == "Budget or ROI came up twice in the last 30 days."
    assert card.factors.relevance == 90 and 0 < card.score <= 100


def test_a_negated_budget_mention_is_not_a_budget_signal(catalog):
    data = make_data(
        accounts=[dict(account_id="A1", name="Northwind", industry="healthcare", segment="enterprise")],
        deals=[dict(deal_id="D1", account_id="A1", stage="discovery", amount="90000", created_at=days_ago(20))],
        activities=[dict(activity_id="T1", occurred_at=days_ago(1), type="call", deal_id="D1", direction="inbound",
                         body="They have no budget concerns this year.")],
        content=[dict(content_id="K1", title="ROI Calculator", type="roi_calculator", topics="roi")],
    )
    assert by_action(recommend(data, AS_OF, catalog), "send_roi_calculator") == []


def test_lead_visiting_migration_pages_gets_the_whitepaper_of_seed_000(catalog):
    visits = [dict(activity_id=f"V{i}", occurred_at=days_ago(i), type="web_visit", lead_id="L1",
                   subject="Moving clinical systems to the cloud", body=f"https://example.com/resources/cloud-migration/part-{i}")
              for i in range(6)]
    data = make_data(
        leads=[dict(lead_id="L1", created_at=days_ago(40), name="Sam Patel", company="Highmoor Software",
                    title="IT Manager", status="working", industry="software")],
        activities=visits,
        content=[
            dict(content_id="K1", title="Cloud Migration Whitepaper", type="whitepaper", topics="cloud-migration"),
            dict(content_id="K2", title="Security Whitepaper", type="whitepaper", topics="security"),
        ],
    )
    result = recommend(data, AS_OF, catalog)
    [card] = by_action(result, "lead_send_topic_content")
    assert card.title == "Send the Cloud Migration Whitepaper"
    assert card.lead_id == "L1" and card.record_type == "lead"
    assert card.why == ("This lead visited cloud migration pages 6 times in the last week.",)


def _discovery_deal_with_a_note(body: str, stage: str = "discovery", **tables):
    """Northwind's deal with one call note; no competitor field, and no content library unless given."""
    return make_data(
        accounts=[dict(account_id="A1", name="Northwind Clinics", industry="healthcare", segment="enterprise")],
        contacts=[dict(contact_id="C1", account_id="A1", name="Dana Reyes", role="champion", last_engaged_at=days_ago(2))],
        deals=[dict(deal_id="D1", account_id="A1", stage=stage, name="Northwind rollout", amount="90000",
                    created_at=days_ago(20), close_date=days_ahead(40))],
        activities=[dict(activity_id="T1", occurred_at=days_ago(1), type="call", deal_id="D1", account_id="A1",
                         contact_id="C1", direction="inbound", subject="Discovery call", body=body)],
        **tables,
    )


def test_a_competitor_named_only_in_a_call_note_gets_the_competitor_card_of_seed_001(catalog):
    """'When competitor mentioned: pull up the battle card for [Competitor]': with no battle card in the
    library (there is no library at all), research the competitor's positioning instead."""
    data = _discovery_deal_with_a_note("They are also evaluating Acme Corp; asked how we compare on price.")
    result = recommend(data, AS_OF, catalog)
    [card] = by_action(result, "research_competitor")
    assert card.title == "Research Acme Corp's positioning before the next call"
    assert card.deal_id == "D1"
    assert "Acme Corp is in the deal early: position before they set the criteria." in card.why
    [removal] = [r for r in card.removed if r.action_id == "share_competitive_comparison"]
    assert (removal.rule, removal.reason) == ("content_library", "no matching asset in the content library")


def test_budget_concerns_without_a_content_library_fall_back_to_the_budget_approval_question(catalog):
    """'When budget discussed: Send ROI calculator (90) → Ask about budget approval process (85)'."""
    data = _discovery_deal_with_a_note("the CFO raised budget concerns and wants to see the ROI")
    result = recommend(data, AS_OF, catalog)
    [card] = by_action(result, "ask_budget_approval_process")
    assert card.title == "Ask about budget approval process"
    assert card.why[0] == "Budget or ROI came up twice in the last 30 days."
    assert card.factors.relevance == 85 and card.score >= catalog.rules.weak_signal_cutoff
    assert by_action(result, "send_roi_calculator") == []
    removed = {(r.action_id, r.rule) for r in card.removed}
    assert ("send_roi_calculator", "content_library") in removed


def test_budget_concerns_with_an_roi_calculator_in_the_library_get_the_calculator(catalog):
    data = _discovery_deal_with_a_note(
        "the CFO raised budget concerns and wants to see the ROI",
        content=[dict(content_id="K1", title="ROI Calculator", type="roi_calculator", topics="roi")])
    result = recommend(data, AS_OF, catalog)
    [card] = by_action(result, "send_roi_calculator")
    assert card.offer["asset"]["title"] == "ROI Calculator"
    assert by_action(result, "ask_budget_approval_process") == []  # the fallback stands in only when needed
