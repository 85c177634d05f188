"""The dashboard's LLM panel: drafts used and rejected by reason, from the latest run's counts."""

from __future__ import annotations

from flask.testing import FlaskClient

from stepwise.store import Store
from tests.web.cards_fixtures import AUTH, DAY, SOURCE


def test_the_dashboard_shows_drafts_used_and_rejected_by_reason(client: FlaskClient, store: Store) -> None:
    older = store.start_run(SOURCE, DAY, "test-1")
    store.finish_run(older, {"recommendations": 2, "llm": {"used": 99, "rejected_by_reason": {"link": 99}}})
    latest = store.start_run(SOURCE, DAY, "test-1")
    store.finish_run(latest, {"recommendations": 2, "llm": {
        "calls": 7, "used": 4, "cached": 2, "rejected": 3, "over_budget": 5, "notes_dropped": 1,
        "rejected_by_reason": {"discount_above_ceiling": 2, "commitment": 1, "number": 3}}})
    html = client.get("/dashboard", headers=AUTH).get_data(as_text=True)
    panel = html.split("<h2>LLM drafts</h2>", 1)[1].split("</div>", 1)[0]
    for row in ("used (new)</td><td class=\"n\">4", "used (from the cache)</td><td class=\"n\">2",
                "rejected</td><td class=\"n\">3", "over the day's budget (template kept)</td><td class=\"n\">5",
                "model calls</td><td class=\"n\">7", "discount_above_ceiling", "commitment", "number"):
        assert row in panel, row
    assert "link" not in panel and "99" not in panel  # only the latest run of the source counts


def test_without_the_writer_there_is_no_llm_panel(client: FlaskClient) -> None:
    assert "LLM drafts" not in client.get("/dashboard", headers=AUTH).get_data(as_text=True)
