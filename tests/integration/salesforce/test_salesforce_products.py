"""Products with list price, a won opportunity's line items as order lines, optional objects skipped by describe."""

from __future__ import annotations

import logging
from dataclasses import replace

from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import build_org
from stepwise.integration.salesforce.mapping import load_mapping
from tests.integration.salesforce.test_salesforce_bulk import org_with_products
from tests.integration.syncs import sync


def test_products_carry_the_standard_list_price(fake, client):
    build_org(fake, 1)
    fake.add_product(2)
    data = SalesforceConnector(client).pull().data
    products = data.products.set_index("name")
    assert len(products) == 2 and set(products["list_price"]) == {2000.0}
    assert set(products["category"]) == {"Spare parts"} and products.index[0].startswith("Conveyor belt")
    soql = [c.request.url for c in fake.rsps.calls if "FROM+PricebookEntry" in c.request.url][0]
    assert "Product2.Name" in soql.replace("%2C", ",").replace("+", " ")


def test_a_won_opportunitys_products_become_an_order_and_its_lines(fake, client):
    org = org_with_products(fake)
    data = SalesforceConnector(client).pull().data
    won = org["Opportunity"][0]
    orders = data.orders.set_index("order_id")
    assert won["Id"] in orders.index and orders.loc[won["Id"], "status"] == "Closed Won"
    assert orders.loc[won["Id"], "total"] == 84000.0 and str(orders.loc[won["Id"], "ordered_at"])[:10] == "2026-04-30"
    lines = data.order_lines[data.order_lines["order_id"] == won["Id"]]
    assert sorted(lines["quantity"]) == [1.0, 4.0] and sorted(lines["unit_price"]) == [1800.0, 2000.0]
    assert lines["discount_pct"].max() == 10.0 and lines["discount_pct"].isna().sum() == 1
    assert org["Opportunity"][1]["Id"] not in set(data.order_lines["order_id"])  # open deal: no order


def test_won_opportunities_as_orders_can_be_turned_off(fake, client):
    org = org_with_products(fake)
    mapping = replace(load_mapping(), won_opportunities_as_orders=False)
    data = SalesforceConnector(client, mapping).pull().data
    assert org["Opportunity"][0]["Id"] not in set(data.orders["order_id"])


def test_absent_optional_objects_cost_one_describe_and_one_log_line(fake, client, caplog):
    build_org(fake, 2, orders=False)
    fake.missing |= {"PricebookEntry", "OrderItem"}
    caplog.set_level(logging.INFO, logger="stepwise.integration.salesforce.connector")
    c = SalesforceConnector(client)
    data = c.pull().data
    assert set(c.last_sync.skipped_objects) == {"Order", "OrderItem", "PricebookEntry", "Contract"}
    assert data.orders is None and data.products is None
    assert fake.calls["describe"] == 1
    queried = [c.request.url for c in fake.rsps.calls if "/query" in c.request.url]
    assert not any(f"FROM+{name}" in url for url in queried for name in ("Order+", "Contract", "PricebookEntry"))
    lines = [r.getMessage() for r in caplog.records if "the org has no" in r.getMessage()]
    assert lines == ["salesforce: the org has no Contract, Order, OrderItem, PricebookEntry (or this user cannot read "
                     "them): contracts, order_lines, orders, products skipped"]


def test_an_incremental_sync_remembers_which_objects_the_org_lacks(fake, client, sf_store, tmp_path):
    build_org(fake, 2, orders=False)
    c = SalesforceConnector(client, mirror_dir=tmp_path / "m")
    sync(c, sf_store)
    sync(c, sf_store)
    assert c.last_sync.mode == "incremental" and fake.calls["describe"] == 1
    assert {"Order", "Contract"} <= set(c.last_sync.skipped_objects)
