"""Line items and products, custom objects (orders, stock …), companies without deals, and what they feed."""

from __future__ import annotations

from collections import Counter
from importlib import resources

import pandas as pd
import pytest

from stepwise.integration.hubspot.fake import FakeHubSpot, iso, make_rec
from stepwise.integration.hubspot.mapping import Mapping, load_mapping

DAY = 86_400_000
ORDERS, STOCK = "2-1234567", "2-3456789"
MISSING_SCOPES = {
    "status": "error", "category": "MISSING_SCOPES", "correlationId": "0b1f1c0e-3c1a-4a53-9d3c-5d6c9a0e7a11",
    "message": "This app hasn't been granted all required scopes to make this call. "
               "Read more about required scopes here: https://developers.hubspot.com/scopes.",
    "errors": [{"message": "One or more of the following scopes are required.",
                "context": {"requiredScopes": ["crm.objects.line_items.read"]}}],
    "links": {"scopes": "https://developers.hubspot.com/scopes"},
}
OBJECTS_YAML = f"""
orders:
  object: "{ORDERS}"
  properties: {{ordered_at: order_date, total: order_total, status: order_status}}
  line_items: true
stock:
  object: "{STOCK}"
  properties: {{product_id: hubspot_product_id, available: quantity_available, warehouse: warehouse}}
"""


def mapping_with(tmp_path, extra: str) -> Mapping:
    default = resources.files("stepwise.integration.hubspot").joinpath("mapping.yaml").read_text("utf-8")
    path = tmp_path / "mapping.yaml"
    path.write_text(default + extra)
    return load_mapping(path)


def calls_since(fake: FakeHubSpot, start: int) -> Counter[str]:
    return Counter(f"{m} {p}" for _, m, p in fake.log[start:])


# -- line items and products ------------------------------------------------------------------


def test_line_items_become_order_lines_and_products_the_products_table(fake: FakeHubSpot, make_connector, sync):
    fake.populate(3, line_items_per_deal=2, products=5)
    fake.add_line_item("5999999", "80001", quantity=4, price="200.00", discount="20.00")   # an amount off
    fake.add_line_item("5999998", "80002", quantity=1, price="150.00", discount_pct="15")
    fake.link("deals", "1000", "line_items", "5999999")
    fake.link("deals", "1000", "line_items", "5999998")

    data = sync(make_connector())

    lines = data.order_lines
    assert len(lines) == 8 and set(lines["order_id"]) == {"1000", "1001", "1002"}
    first = lines[(lines["order_id"] == "1000") & (lines["quantity"] == 4)].iloc[0]
    assert (first["product_id"], first["unit_price"], first["discount_pct"]) == ("80001", 200.0, 10.0)
    assert lines.loc[lines["unit_price"] == 150.0, "discount_pct"].tolist() == [15.0]
    assert (lines.loc[lines["unit_price"] < 150.0, "discount_pct"] == 0.0).all()      # no discount at all: 0 %
    products = data.products.set_index("product_id")
    assert len(products) == 5
    assert (products.loc["80000", "name"], products.loc["80000", "list_price"], products.loc["80000", "unit_cost"]) \
        == ("Product 0", 100.0, 60.0)
    calls = calls_since(fake, 0)
    assert calls["POST /crm/v4/associations/deals/line_items/batch/read"] == 1
    assert calls["POST /crm/v3/objects/line_items/batch/read"] == 1
    assert calls["POST /crm/v3/objects/products/search"] == 1
    assert calls["POST /crm/v3/objects/products/batch/read"] == 0    # the search brought the whole library


def test_a_changed_deal_rereads_its_line_items_and_a_product_new_since_the_search(fake: FakeHubSpot, make_connector, sync):
    fake.populate(4, line_items_per_deal=2, products=3)
    sync(make_connector())
    before = fake.total()
    # After the product search: a new product, sold on deal 1001, whose other line item was removed.
    fake.add("products", "80099", {"name": "New kit", "price": "990.00", "hs_cost_of_goods_sold": "400.00"},
             fake.now_ms - 30 * DAY)
    fake.links[("deals", "line_items")]["1001"] = [("5000002", 19)]
    fake.add_line_item("5999999", "80099", quantity=2, price="990.00")
    fake.link("deals", "1001", "line_items", "5999999")
    fake.touch("deals", "1001", hs_num_of_associated_line_items="2")

    data = sync(make_connector())

    lines = data.order_lines
    assert sorted(lines.loc[lines["order_id"] == "1001", "product_id"]) == ["80001", "80099"]
    assert len(lines) == 8 and "New kit" in set(data.products["name"])
    calls = calls_since(fake, before)
    assert calls["POST /crm/v3/objects/products/batch/read"] == 1     # only the product the search missed
    assert calls["POST /crm/v3/objects/line_items/batch/read"] == 1


def test_without_the_line_items_scope_the_sync_goes_on_without_order_lines(fake: FakeHubSpot, make_connector, caplog, sync):
    fake.populate(5, line_items_per_deal=1, products=2)
    fake.fail(r"/line_items/", 403, times=100, body=MISSING_SCOPES)

    data = sync(make_connector())

    assert len(data.deals) == 5 and data.order_lines is None and len(data.products) == 2
    assert "order_lines skipped" in caplog.text and "crm.objects.line_items.read" in caplog.text


def test_line_items_and_products_can_be_left_out_of_the_mapping(fake: FakeHubSpot, make_connector, tmp_path, sync):
    fake.populate(3, line_items_per_deal=1, products=2)
    path = tmp_path / "m.yaml"
    default = resources.files("stepwise.integration.hubspot").joinpath("mapping.yaml").read_text("utf-8")
    path.write_text(default.split("line_items:\n  properties:")[0] + "write_back: {group: stepwise}\n")

    data = sync(make_connector(mapping=load_mapping(path)))

    assert data.order_lines is None and data.products is None and len(data.deals) == 3
    assert not any("line_items" in p or "products" in p for _, _, p in fake.log)


# -- companies without deals ------------------------------------------------------------------


def test_companies_without_deals_are_accounts_too(fake: FakeHubSpot, make_connector, sync, hs_store):
    fake.populate(5, deals_per_company=5)
    fake.add("companies", "60000", {"name": "Quiet Customer GmbH", "industry": "RETAIL"})
    data = sync(make_connector())
    assert set(data.accounts["account_id"]) == {"50000", "60000"}
    assert calls_since(fake, 0)["POST /crm/v3/objects/companies/batch/read"] == 0

    before = fake.total()
    fake.add("companies", "60001", {"name": "New Customer SRL", "industry": "RETAIL"})
    fake.touch("companies", "60000", name="Quiet Customer AG")
    connector = make_connector()
    hs_store.set_cursor(connector.source, "companies", str(fake.now_ms - 10_000))  # the last sync, in fake time
    data = sync(connector)

    names = data.accounts.set_index("account_id")["name"]
    assert names["60000"] == "Quiet Customer AG" and names["60001"] == "New Customer SRL"
    assert calls_since(fake, before)["POST /crm/v3/objects/companies/search"] == 1


def test_company_filters_narrow_the_accounts_but_every_deal_keeps_its_company(fake: FakeHubSpot, make_connector,
                                                                               tmp_path, sync):
    fake.populate(5, deals_per_company=5)                                  # company 50000: no lifecycle stage
    fake.add("companies", "60000", {"name": "Customer", "lifecyclestage": "customer"})
    fake.add("companies", "60001", {"name": "Someone's lead", "lifecyclestage": "lead"})
    default = resources.files("stepwise.integration.hubspot").joinpath("mapping.yaml").read_text("utf-8")
    path = tmp_path / "m.yaml"
    path.write_text(default.replace("  filters: []", "  filters:\n    - {propertyName: lifecyclestage, operator: EQ, "
                                                     "value: customer}"))

    data = sync(make_connector(mapping=load_mapping(path)))

    assert set(data.accounts["account_id"]) == {"50000", "60000"} and len(data.deals) == 5
    assert calls_since(fake, 0)["POST /crm/v3/objects/companies/batch/read"] == 1   # the deals' company


# -- custom objects -----------------------------------------------------------------------------


def _erp_portal(fake: FakeHubSpot) -> str:
    """Five deals at company 50000, and company 60000 with no deal but an order every 30 days."""
    fake.populate(5, deals_per_company=5, products=3)
    fake.add("companies", "60000", {"name": "Quiet Customer GmbH", "industry": "MANUFACTURING", "country": "Germany"})
    fake.custom_object("orders", ["order_number", "order_date", "order_total", "order_status"], ORDERS)
    fake.custom_object("stock", ["hubspot_product_id", "quantity_available", "warehouse"], STOCK)
    now = fake.now_ms
    for k in range(1, 6):                                   # 30, 60 … 150 days ago: due again today
        order = str(7_000_000 + k)
        fake.add(ORDERS, order, {"order_number": f"SO-{k}", "order_date": iso(now - 30 * k * DAY),
                                 "order_total": "1200.00", "order_status": "delivered"}, now - 30 * k * DAY)
        fake.link(ORDERS, order, "companies", "60000")
        fake.add_line_item(str(6_000_000 + k), "80000", quantity=10, price="100.00", ms=now - 30 * k * DAY)
        fake.link(ORDERS, order, "line_items", str(6_000_000 + k))
    fake.add(ORDERS, "7000100", {"order_number": "SO-100", "order_date": iso(now - 400 * DAY),
                                 "order_total": "90.00", "order_status": "delivered"}, now - 400 * DAY)
    fake.link(ORDERS, "7000100", "companies", "50000")
    for p in range(3):
        fake.add(STOCK, str(7_100_000 + p), {"hubspot_product_id": str(80_000 + p), "quantity_available": "500",
                                             "warehouse": "Main"})
    return pd.Timestamp(now, unit="ms", tz="UTC").strftime("%Y-%m-%d")


def test_an_orders_custom_object_feeds_replenishment_for_an_account_without_deals(fake: FakeHubSpot, make_connector,
                                                                                  tmp_path, caplog, catalog, sync):
    from stepwise.engine.run import recommend

    day = _erp_portal(fake)
    caplog.set_level("INFO", logger="stepwise.integration.hubspot.connector")
    connector = make_connector(mapping=mapping_with(tmp_path, OBJECTS_YAML))

    data = sync(connector)

    orders = data.orders.set_index("order_id")
    assert len(orders) == 6 and orders.loc["7000001", "account_id"] == "60000"
    assert orders.loc["7000001", "total"] == 1200.0 and orders.loc["7000100", "account_id"] == "50000"
    order_lines = data.order_lines[data.order_lines["order_id"].isin(orders.index)]
    assert len(order_lines) == 5 and set(order_lines["product_id"]) == {"80000"}
    assert len(data.stock) == 3 and data.invoices is None and data.contracts is None
    assert "names no object for invoices, contracts: skipped" in caplog.text
    calls = calls_since(fake, 0)
    assert calls[f"POST /crm/v3/objects/{ORDERS}/search"] == 1
    assert calls[f"POST /crm/v4/associations/{ORDERS}/companies/batch/read"] == 1
    assert calls[f"POST /crm/v4/associations/{ORDERS}/line_items/batch/read"] == 1
    assert calls[f"POST /crm/v3/objects/{STOCK}/search"] == 1
    assert calls[f"POST /crm/v4/associations/{STOCK}/companies/batch/read"] == 0   # stock has no company

    result = recommend(data, day, catalog, source=connector.source)

    replenish = [r for r in result.recommendations if r.action_id == "call_for_replenishment"]
    assert [(r.record_type, r.account_id) for r in replenish] == [("account", "60000")]
    assert "Product 0" in str(replenish[0].offer)
    assert not any("orders.csv" in note for note in result.notes)


def test_custom_objects_are_read_incrementally_and_archived_records_dropped(fake: FakeHubSpot, make_connector,
                                                                            tmp_path, sync, hs_store):
    _erp_portal(fake)
    mapping = mapping_with(tmp_path, OBJECTS_YAML)
    first = make_connector(mapping=mapping)
    sync(first)
    for name in ("deals", "companies", "contacts", "products", f"object:{ORDERS}", f"object:{STOCK}"):
        hs_store.set_cursor(first.source, name, str(fake.now_ms))              # the last sync, in fake time
    before = fake.total()
    fake.touch(ORDERS, "7000001", order_total="1500.00")
    fake.archive(ORDERS, "7000002")

    data = sync(make_connector(mapping=mapping))

    orders = data.orders.set_index("order_id")
    assert orders.loc["7000001", "total"] == 1500.0 and "7000002" not in orders.index and len(orders) == 5
    assert "7000002" not in set(data.order_lines["order_id"])
    calls = calls_since(fake, before)
    assert calls[f"POST /crm/v3/objects/{ORDERS}/search"] == 1
    assert calls[f"POST /crm/v4/associations/{ORDERS}/companies/batch/read"] == 1   # the one changed order
    assert calls[f"GET /crm/v3/objects/{ORDERS}"] == 1                              # archived orders listed
    assert calls[f"POST /crm/v4/associations/{STOCK}/companies/batch/read"] == 0


@pytest.mark.parametrize(("extra", "message"), [
    ('orders: {properties: {ordered_at: d}}', "orders.object"),
    ('orders: {object: "2-1", properties: {total: t}}', "orders.properties.ordered_at: required"),
    ('orders: {object: "2-1", properties: {ordered_at: d, account_id: c}}', "orders.properties.account_id: set by"),
    ('stock: {object: "2-1", properties: {product_id: p, shelf: s}}', "shelf is not a column of stock"),
    ('companies: {filters: [{value: x}]}', "companies.filters"),
])
def test_a_bad_object_mapping_names_the_key(tmp_path, extra, message):
    from stepwise.integration.base import ConnectorError

    path = tmp_path / "m.yaml"
    path.write_text(extra)
    with pytest.raises(ConnectorError, match=message):
        load_mapping(path)


def test_check_names_missing_custom_objects_and_properties(fake: FakeHubSpot, make_connector, tmp_path):
    _erp_portal(fake)
    extra = OBJECTS_YAML.replace("warehouse: warehouse", "warehouse: bin") + \
        'contracts: {object: "2-999", properties: {end_at: end_date}}\n'
    findings = make_connector(mapping=mapping_with(tmp_path, extra)).check()
    text = "\n".join(str(f) for f in findings).replace(f"{tmp_path}/", "")

    assert f"ok: mapping.yaml: orders ({ORDERS}) properties all exist" in text
    assert f"error: mapping.yaml: stock ({STOCK}) properties not in this portal: bin" in text
    assert "error: contracts: object 2-999 is not in this portal (custom objects: 2-1234567 (orders), 2-3456789 (stock))" in text
    assert "ok: invoices: not in the mapping" in text
    assert "ok: mapping.yaml: line_items properties all exist" in text


# -- Accept on an account-level recommendation ---------------------------------------------------


def test_accepting_an_account_recommendation_puts_the_task_on_the_company(fake: FakeHubSpot, make_connector):
    from dataclasses import replace

    fake.populate(1)
    connector = make_connector()
    rec = replace(make_rec("60000", "call_for_replenishment"), record_type="account", record_id="60000",
                  deal_id=None, account_id="60000", owner_id="701")

    task = connector.follow_up(rec)
    again = connector.follow_up(rec)

    assert task == again and fake.links[("tasks", "companies")][task] == [("60000", 192)]
    assert fake.objects["tasks"][task]["properties"]["hubspot_owner_id"] == "701"
    assert sum(1 for _, m, p in fake.log if m == "POST" and p == "/crm/v3/objects/tasks") == 1


def test_a_recommendation_of_another_portal_goes_to_that_portals_install(fake: FakeHubSpot, make_connector,
                                                                         monkeypatch):
    from dataclasses import replace

    from stepwise.integration.hubspot.connector import HubSpotConnector

    private = make_connector(source="hubspot-4242")
    oauth_portal = make_connector(source="hubspot-777", account="777")
    asked = []

    def from_settings(argument: str = "", *, full: bool = False, store=None):
        asked.append(argument)
        return oauth_portal

    monkeypatch.setattr(HubSpotConnector, "from_settings", staticmethod(from_settings))
    rec = replace(make_rec("1000"), source="hubspot-777")

    task = private.follow_up(rec)

    assert asked == ["777"] and task is not None
    assert oauth_portal.state.task_for(rec.id) == (True, task)


def test_the_workers_follow_up_reaches_the_connectors_follow_up_once(fake: FakeHubSpot, make_connector):
    """stepwise.follow_up (workers/tasks.py) → follow_up.create_follow_up(rec, connector_for(spec))."""
    from dataclasses import replace

    from stepwise.workers.follow_up import create_follow_up, source_spec

    fake.populate(1)
    connector = make_connector(source="hubspot-4242")        # what from_settings names a private app's data
    rec = replace(make_rec("1000"), source="hubspot-4242", owner_id="702")
    assert source_spec(rec, private_app=True) == "hubspot" and source_spec(rec, private_app=False) == "hubspot:4242"

    task = create_follow_up(rec, connector)

    assert task is not None and create_follow_up(rec, connector) == task
    assert fake.objects["tasks"][task]["properties"]["hubspot_owner_id"] == "702"
    assert fake.links[("tasks", "deals")][task] == [("1000", 216)]


def test_the_private_app_connector_the_worker_builds_accepts_its_portals_recommendations(fake: FakeHubSpot, tmp_path,
                                                                                        monkeypatch):
    from dataclasses import replace

    from stepwise.integration.sources import connector_for
    from stepwise.settings import get_settings

    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-test-token")
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake.base_url)
    monkeypatch.setenv("STEPWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'worker.db'}")
    monkeypatch.delenv("STEPWISE_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        connector = connector_for("hubspot")                 # what tasks.follow_up asks for (private app)
        assert connector.source == "hubspot-4242"            # = the source its recommendations are stored under
        rec = replace(make_rec("1000"), source=connector.source)
        task = connector.follow_up(rec)
        assert fake.links[("tasks", "deals")][task] == [("1000", 216)]
    finally:
        get_settings.cache_clear()
