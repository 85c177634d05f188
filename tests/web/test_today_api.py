"""GET /api/v1/reps/<owner>/today and /reps/<owner>/today: a rep's list from the last run, as JSON and HTML."""

from __future__ import annotations

import pytest

from stepwise.engine.catalog import load_catalog
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import Store
from stepwise.web.app import create_app
from stepwise.workers.pipeline import run_pipeline
from tests.web.cards_fixtures import AUTH, TOKEN

AS_OF = "2025-06-02"


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    folder = tmp_path_factory.mktemp("co")
    write_company(folder, as_of=AS_OF, accounts=40, seed=5)
    store = Store(f"sqlite:///{folder / 's.db'}")
    result = run_pipeline(FilesConnector(folder), load_catalog(), AS_OF, store=store, write_back=False)
    yield store, result.recommendations
    store.close()


@pytest.fixture
def client(synced):
    return create_app(store=synced[0], api_tokens=[TOKEN]).test_client()


def test_the_list_is_served_in_rank_order(client, synced):
    _, recs = synced
    owner = min(r.owner_id for r in recs if r.today_rank is not None)
    expected = sorted((r for r in recs if r.owner_id == owner and r.today_rank is not None), key=lambda r: r.today_rank)
    answer = client.get(f"/api/v1/reps/{owner}/today", headers=AUTH)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["owner"] == owner and body["as_of"] == AS_OF
    assert [i["id"] for i in body["items"]] == [r.id for r in expected]
    assert [i["today_rank"] for i in body["items"]] == list(range(1, len(expected) + 1))
    assert all(i["owner_id"] == owner and i["status"] == "new" for i in body["items"])
    assert body == client.get(f"/api/v1/reps/{owner}/today?as_of={AS_OF}&source=files", headers=AUTH).get_json()


def test_an_owner_with_nothing_gets_an_empty_list_and_bad_input_a_400(client):
    nobody = client.get("/api/v1/reps/nobody/today", headers=AUTH)
    assert nobody.status_code == 200 and nobody.get_json() == {"owner": "nobody", "as_of": AS_OF, "items": []}
    other_day = client.get("/api/v1/reps/nobody/today?as_of=2024-01-01", headers=AUTH).get_json()
    assert other_day == {"owner": "nobody", "as_of": "2024-01-01", "items": []}
    bad = client.get("/api/v1/reps/rep_01/today?as_of=June", headers=AUTH)
    assert bad.status_code == 400 and "as_of must be a date YYYY-MM-DD" in bad.get_json()["error"]
    assert client.get("/api/v1/reps/rep_01/today").status_code == 401


def test_a_card_dismissed_since_the_run_leaves_the_list(client, synced):
    store, recs = synced
    owner = max(r.owner_id for r in recs if r.today_rank is not None)
    first = client.get(f"/api/v1/reps/{owner}/today", headers=AUTH).get_json()["items"]
    store.record_feedback(first[0]["id"], "snoozed", user="rep", snooze_until="2099-01-01")
    after = client.get(f"/api/v1/reps/{owner}/today", headers=AUTH).get_json()["items"]
    assert [i["id"] for i in after] == [i["id"] for i in first[1:]]


def test_the_html_page_lists_the_same_cards(client, synced):
    _, recs = synced
    owner = min(r.owner_id for r in recs if r.today_rank is not None)
    items = client.get(f"/api/v1/reps/{owner}/today", headers=AUTH).get_json()["items"]
    page = client.get(f"/reps/{owner}/today", headers=AUTH)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    at = 0
    for item in items:  # each card's link, in rank order (two cards on one record share a link)
        at = html.index(f'/cards/files/{item["record_type"]}/{item["record_id"]}?as_of={AS_OF}', at) + 1
    assert html.count('class="n rank"') == len(items)
    assert all(i["urgency_reason"] in html for i in items if i["urgency_reason"])
    assert client.get("/reps/rep_01/today").status_code == 401
    assert client.get("/reps/rep_01/today?as_of=2024-13-01", headers=AUTH).status_code == 400
