"""Each business rule: the removal and its recorded reason."""

from __future__ import annotations

from stepwise.engine.run import recommend
from tests.builders import AS_OF, days_ago, make_data
from tests.engine.test_seed_examples import _orders, alfa_distribution, by_action


def test_overdue_invoices_bring_a_payment_action_and_withhold_discount_offers(catalog):
    data = alfa_distribution(invoices=[
        dict(invoice_id="I9", account_id="ACC-0001", issued_at=days_ago(90), due_at=days_ago(45), amount="5200"),
    ])
    result = recommend(data, AS_OF, catalog)
    [payment] = by_action(result, "resolve_overdue_payment")
    assert payment.category == "finance"
    assert payment.why[0] == "5,200 overdue across 1 invoices, the oldest by 45 days."
    assert by_action(result, "call_for_replenishment") == []
    [removal] = result.removed[result.removed["action_id"] == "call_for_replenishment"].itertuples()
    assert removal.rule == "overdue_payments"
    assert removal.reason.startswith("invoices of 5,200 overdue 45 days (over 30)")
    assert "No discount until the overdue invoices are cleared." in payment.constraints


def test_no_deliverable_stock_removes_the_product_and_proposes_the_substitute(catalog):
    data = alfa_distribution(
        products=[
            dict(product_id="A", name="Product A", list_price="100", unit_cost="60", substitutes="A2"),
            dict(product_id="A2", name="Product A2", list_price="100", unit_cost="55"),
        ],
        stock=[dict(product_id="A", available="0"), dict(product_id="A2", available="30")],
    )
    [card] = by_action(recommend(data, AS_OF, catalog), "call_for_replenishment")
    assert [(p["product_id"], p["role"]) for p in card.offer["products"]] == [("A2", "substitute for Product A (out of stock)")]
    [removal] = [r for r in card.removed if r.product_id == "A"]
    assert (removal.rule, removal.reason) == ("stock", "Product A: no deliverable stock")
    assert "Product A2 replaces an out-of-stock product" in card.why[2]


def test_without_any_offerable_product_the_product_action_is_removed_with_the_reason(catalog):
    data = alfa_distribution(
        products=[dict(product_id="A", name="Product A", list_price="100", unit_cost="60")],
        stock=[dict(product_id="A", available="0")],
    )
    result = recommend(data, AS_OF, catalog)
    assert by_action(result, "call_for_replenishment") == []
    [removal] = result.removed[result.removed["action_id"] == "call_for_replenishment"].itertuples()
    assert removal.rule == "stock_margin_segment"
    assert removal.reason == "no product left to offer: Product A: no deliverable stock"


def test_product_not_approved_for_the_segment_becomes_a_request_for_inclusion(catalog):
    data = alfa_distribution(products=[
        dict(product_id="A", name="Product A", list_price="100", unit_cost="60", compatible_with="B"),
        dict(product_id="B", name="Product B", list_price="50", unit_cost="25", approved_segments="enterprise"),
    ])
    [card] = by_action(recommend(data, AS_OF, catalog), "call_for_replenishment")
    assert [p["product_id"] for p in card.offer["products"]] == ["A"]
    [removal] = [r for r in card.removed if r.product_id == "B"]
    assert removal.rule == "segment_approval"
    assert removal.reason == "Product B is not approved for the mid_market segment: request inclusion before offering it"
    assert card.how[-1] == "Ask product management to approve Product B for the mid_market segment."


def test_contract_forbidding_extended_terms_removes_the_terms_offer(catalog):
    orders, lines = _orders("A1", [30, 30], last_days_ago=200)
    data = make_data(
        accounts=[dict(account_id="A1", name="Beta", industry="retail", segment="smb")],
        deals=[dict(deal_id="D1", account_id="A1", stage="proposal", amount="10000", created_at=days_ago(10))],
        activities=[dict(activity_id="T1", occurred_at=days_ago(1), type="email", deal_id="D1", direction="inbound",
                         body="Could you send the price list and pricing options?")],
        contracts=[dict(contract_id="K1", account_id="A1", end_at="2027-06-01", extended_terms_allowed="false")],
        orders=orders, order_lines=lines,
    )
    result = recommend(data, AS_OF, catalog)
    assert by_action(result, "offer_payment_terms") == []
    [removal] = result.removed[result.removed["action_id"] == "offer_payment_terms"].itertuples()
    assert (removal.rule, removal.reason) == ("contract_terms", "the contract does not allow extended payment terms")


def test_a_content_action_without_a_matching_asset_is_not_offered(catalog):
    data = make_data(
        accounts=[dict(account_id="A1", name="Beta", industry="retail", segment="smb")],
        deals=[dict(deal_id="D1", account_id="A1", stage="discovery", amount="10000", created_at=days_ago(10))],
        activities=[dict(activity_id="T1", occurred_at=days_ago(1), type="call", deal_id="D1", direction="inbound",
                         body="Their security review starts next week.")],
        content=[dict(content_id="K1", title="Retail case study", type="case_study", industries="retail")],
    )
    result = recommend(data, AS_OF, catalog)
    assert by_action(result, "share_security_documentation") == []
    [removal] = result.removed[result.removed["action_id"] == "share_security_documentation"].itertuples()
    assert (removal.rule, removal.reason) == ("content_library", "no matching asset in the content library")
