"""Content actions never leave a card silently empty: with no asset, the seed pattern's next option stands in."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from stepwise.engine.catalog import CatalogError, load_catalog
from stepwise.engine.run import recommend
from tests.builders import AS_OF, days_ago, days_ahead, make_data


def deal_with_note(body: str, stage: str = "discovery", **tables):
    return make_data(
        accounts=[dict(account_id="A1", name="Beta Retail", industry="retail", segment="smb")],
        contacts=[dict(contact_id="C1", account_id="A1", name="Ana Pop", role="technical_buyer", last_engaged_at=days_ago(3))],
        deals=[dict(deal_id="D1", account_id="A1", stage=stage, name="Beta rollout", amount="10000",
                    created_at=days_ago(10), close_date=days_ahead(30))],
        activities=[dict(activity_id="T1", occurred_at=days_ago(1), type="note", deal_id="D1", account_id="A1",
                         direction="inbound", body=body)],
        **tables,
    )


def cards(result) -> dict[str, object]:
    return {r.action_id: r for r in result.recommendations}


def test_every_deal_content_action_names_a_fallback_or_its_topics_are_covered(catalog):
    content = [a for a in catalog.actions if a.scope == "deal" and a.content]
    assert {a.id: a.fallback for a in content if a.fallback} == {
        "send_roi_calculator": "ask_budget_approval_process",
        "share_competitive_comparison": "research_competitor",
        "share_security_documentation": "offer_security_team_call",
        "send_integration_guide": "arrange_technical_deep_dive",
        "send_industry_case_study": "ask_about_current_solution",
        "send_implementation_timeline": "create_mutual_action_plan",
    }
    assert [a.id for a in content if not a.fallback] == ["share_benchmark_report"]  # budget/pain: covered above


def test_a_security_review_without_a_security_pack_gets_the_security_team_call(catalog):
    result = recommend(deal_with_note("Their security review starts next week."), AS_OF, catalog)
    card = cards(result)["offer_security_team_call"]
    assert card.title == "Offer a call with your security team for the review"
    assert card.why == ("A security or compliance review came up once in the last 30 days.",)
    assert "asset" not in card.offer
    [removal] = [r for r in card.removed if r.action_id == "share_security_documentation"]
    assert removal.rule == "content_library"


def test_a_security_pack_in_the_library_is_sent_and_the_call_is_not_proposed(catalog):
    data = deal_with_note("Their security review starts next week.",
                          content=[dict(content_id="K1", title="Security pack", type="security_doc", url="https://x/s")])
    found = cards(recommend(data, AS_OF, catalog))
    assert found["share_security_documentation"].offer["asset"]["title"] == "Security pack"
    assert "offer_security_team_call" not in found


def test_a_pain_point_without_a_case_study_asks_about_the_current_solution(catalog):
    """'When prospect mentions pain point: Send relevant case study (85) → Ask about current solution (80)'."""
    result = recommend(deal_with_note("Their manual process is a bottleneck for the warehouse team."), AS_OF, catalog)
    card = cards(result)["ask_about_current_solution"]
    assert card.title == "Ask about their current solution and its pain points"
    assert card.factors.relevance == 80


def test_budget_in_negotiation_asks_about_the_approval_process_on_its_own(catalog):
    result = recommend(deal_with_note("Budget approval is still pending on their side.", stage="negotiation"), AS_OF, catalog)
    assert "ask_budget_approval_process" in cards(result)
    assert not (result.removed["action_id"] == "send_roi_calculator").any()  # not a fallback here: the ROI calculator is not for negotiation


def test_a_fallback_is_not_proposed_twice_when_its_own_trigger_fired(catalog):
    result = recommend(deal_with_note("Integration with their ERP is a must-have."), AS_OF, catalog)
    shown = [r.action_id for r in result.recommendations].count("arrange_technical_deep_dive")
    audited = int((result.removed["action_id"] == "arrange_technical_deep_dive").sum())  # lost to the focused demo
    assert shown + audited == 1


# ───────────── the catalog field, validated at load ─────────────
def _default_actions() -> list[dict]:
    text = resources.files("stepwise.engine").joinpath("defaults", "catalog.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["actions"]


def _load_with(tmp_path, action_id: str, **changes):
    actions = _default_actions()
    for entry in actions:
        if entry["id"] == action_id:
            entry.update(changes)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"actions": actions}), encoding="utf-8")
    return load_catalog(path)


@pytest.mark.parametrize(("action_id", "fallback", "message"), [
    ("send_roi_calculator", "ask_nobody", "action send_roi_calculator: fallback 'ask_nobody' is not in the catalog"),
    ("send_roi_calculator", "share_benchmark_report", "fallback share_benchmark_report is a content action"),
    ("send_roi_calculator", "call_for_replenishment", "fallback call_for_replenishment has scope account, not deal"),
    ("schedule_follow_up", "research_competitor", "action schedule_follow_up: fallback only applies to content actions"),
])
def test_a_bad_fallback_is_refused_at_load(tmp_path, action_id, fallback, message):
    with pytest.raises(CatalogError, match=message):
        _load_with(tmp_path, action_id, fallback=fallback)


def test_a_catalog_without_fallbacks_still_loads_and_drops_the_content_action(tmp_path):
    actions = [{k: v for k, v in a.items() if k != "fallback"} for a in _default_actions()]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"actions": actions}), encoding="utf-8")
    catalog = load_catalog(path)
    result = recommend(deal_with_note("Their security review starts next week."), AS_OF, catalog)
    assert "offer_security_team_call" not in cards(result)
    assert (result.removed["action_id"] == "share_security_documentation").any()
