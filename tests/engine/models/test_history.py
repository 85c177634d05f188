"""The "as known on day X" view hides every later fact."""

from __future__ import annotations

from stepwise.engine.history import as_known_on
from tests.builders import days_ago, make_data

DAY = days_ago(30)[:10]


def company():
    return make_data(
        accounts=[dict(account_id="A1", name="Alfa")],
        deals=[
            dict(deal_id="D1", account_id="A1", stage="closed_won", created_at=days_ago(90), stage_changed_at=days_ago(10),
                 close_date=days_ago(10)[:10], is_closed="true", is_won="true", probability="1"),
            dict(deal_id="D2", account_id="A1", stage="closed_lost", created_at=days_ago(90), stage_changed_at=days_ago(60),
                 is_closed="true", is_won="false"),
            dict(deal_id="D3", account_id="A1", stage="proposal", created_at=days_ago(5)),
        ],
        orders=[dict(order_id="O1", account_id="A1", ordered_at=days_ago(40)),
                dict(order_id="O2", account_id="A1", ordered_at=days_ago(3))],
        order_lines=[dict(order_id="O1", product_id="P1"), dict(order_id="O2", product_id="P1")],
        invoices=[dict(invoice_id="I1", account_id="A1", due_at=days_ago(35), amount="10", issued_at=days_ago(40),
                       paid_at=days_ago(2))],
        leads=[dict(lead_id="L1", created_at=days_ago(100), status="converted", converted_account_id="A1"),
               dict(lead_id="L2", created_at=days_ago(100), status="disqualified"),
               dict(lead_id="L3", created_at=days_ago(2), status="new")],
        activities=[dict(activity_id="T1", occurred_at=days_ago(5), type="web_visit", lead_id="L1"),
                    dict(activity_id="T2", occurred_at=days_ago(50), type="web_visit", lead_id="L2")],
    )


def test_later_rows_disappear_and_later_outcomes_are_unknown():
    view = as_known_on(company(), DAY)
    deals = view.deals.set_index("deal_id")
    assert list(deals.index) == ["D1", "D2"]  # D3 was created later
    assert deals.loc["D1", "stage"] is None and not deals.loc["D1", "is_closed"] and not deals.loc["D1", "is_won"]
    assert deals.loc["D2", "stage"] == "closed_lost" and deals.loc["D2", "is_closed"]
    assert list(view.orders["order_id"]) == ["O1"] and list(view.order_lines["order_id"]) == ["O1"]
    assert view.invoices["paid_at"].isna().all()  # paid after the day: unpaid on the day
    leads = view.leads.set_index("lead_id")
    assert list(leads.index) == ["L1", "L2"]
    assert leads.loc["L1", "status"] == "working"  # touched after the day: its conversion date is unknown
    assert leads.loc["L1", "converted_account_id"] is None
    assert leads.loc["L2", "status"] == "disqualified"  # nothing after the day: decided by then
    assert len(view.activities) == 1


def test_the_source_data_is_not_changed():
    data = company()
    as_known_on(data, DAY)
    assert data.deals.loc[0, "stage"] == "closed_won" and len(data.orders) == 2
