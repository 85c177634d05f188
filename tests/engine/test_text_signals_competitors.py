"""Competitors named in notes (seed 001, 'When competitor mentioned'): learned names, unseen names, negations."""

from __future__ import annotations

from stepwise.engine.records import as_utc
from stepwise.engine.run import build_signals, recommend
from tests.builders import AS_OF, days_ago, days_ahead, make_data


def company(*notes: str, stage: str = "discovery", competitor: str | None = None, **tables):
    """One deal with a call note per text (the first the most recent); more tables as given."""
    acts = [dict(activity_id=f"T{i}", occurred_at=days_ago(1 + i), type="call" if i % 2 == 0 else "note",
                 deal_id="D1", account_id="A1", direction="inbound", body=note) for i, note in enumerate(notes)]
    deals = [dict(deal_id="D1", account_id="A1", stage=stage, name="Northwind rollout", amount="90000",
                  created_at=days_ago(20), close_date=days_ahead(40), competitor=competitor)]
    deals += tables.pop("deals", [])
    return make_data(
        accounts=[dict(account_id="A1", name="Northwind", industry="healthcare", segment="enterprise")],
        deals=deals, activities=acts, **tables,
    )


def competitor_of(data) -> str | None:
    value = build_signals(data, as_utc(AS_OF))["deal"].loc["D1", "competitor_name"]
    return value if isinstance(value, str) else None


def actions(data, catalog) -> set[str]:
    return {r.action_id for r in recommend(data, AS_OF, catalog).recommendations if r.deal_id == "D1"}


BATTLE_CARD = dict(content_id="K1", title="Acme Corp battle card", type="battle_card", competitor="Acme Corp",
                   url="https://example.com/acme")


def test_an_unseen_competitor_in_a_note_is_the_deals_competitor():
    data = company("They are also evaluating Acme Corp; asked how we compare on price.")
    assert competitor_of(data) == "Acme Corp"
    assert build_signals(data, as_utc(AS_OF))["deal"].loc["D1", "topic_competitor"] >= 1


def test_with_a_battle_card_the_rep_shares_the_comparison(catalog):
    data = company("They are also evaluating Acme Corp; asked how we compare on price.", content=[BATTLE_CARD])
    result = recommend(data, AS_OF, catalog)
    [card] = [r for r in result.recommendations if r.action_id == "share_competitive_comparison"]
    assert card.title == "Share the comparison against Acme Corp"
    assert card.offer["asset"]["title"] == "Acme Corp battle card"
    assert "research_competitor" not in {r.action_id for r in result.recommendations}  # one competitor card


def test_a_library_without_this_competitors_card_falls_back_to_research(catalog):
    other = dict(BATTLE_CARD, content_id="K2", title="Vantor battle card", competitor="Vantor")
    data = company("Procurement said Acme Corp quoted lower.", content=[other])
    result = recommend(data, AS_OF, catalog)
    [card] = [r for r in result.recommendations if r.action_id == "research_competitor"]
    assert card.title == "Research Acme Corp's positioning before the next call"


def test_a_competitor_known_only_from_the_content_library_is_recognised_in_any_case(catalog):
    data = company("we talked about vantor a lot on the call", content=[dict(BATTLE_CARD, competitor="Vantor",
                                                                            title="Vantor battle card")])
    assert competitor_of(data) == "Vantor"
    [card] = [r for r in recommend(data, AS_OF, catalog).recommendations if r.action_id == "share_competitive_comparison"]
    assert card.title == "Share the comparison against Vantor" and card.offer["asset"]["title"] == "Vantor battle card"


def test_a_competitor_known_from_another_deal_is_recognised_without_a_phrase():
    old = dict(deal_id="D0", account_id="A1", stage="closed_lost", amount="5000", created_at=days_ago(300),
               is_closed="true", competitor="Medisys")
    assert competitor_of(company("medisys came up twice today", deals=[old])) == "Medisys"


def test_the_deals_competitor_field_wins_over_the_note():
    assert competitor_of(company("They are also evaluating Acme Corp.", competitor="Vantor")) == "Vantor"


def test_the_most_recent_note_names_the_competitor():
    assert competitor_of(company("Now they are also looking at Beta Systems.", "They are switching from Acme Corp.")) \
        == "Beta Systems"


def test_negations_name_no_competitor(catalog):
    for note in ("They are not evaluating anyone else.", "No competitors involved.",
                 "They are not also evaluating Acme Corp.", "They said they would never switch from Acme Corp."):
        data = company(note)
        assert competitor_of(data) is None, note
        assert not actions(data, catalog) & {"research_competitor", "share_competitive_comparison"}, note


def test_in_proposal_the_fallback_stands_in_outside_its_own_stages(catalog):
    """research_competitor triggers on its own only in discovery; as the comparison's fallback it comes in proposal too."""
    data = company("Their CFO compared us to Acme Corp.", stage="proposal")
    result = recommend(data, AS_OF, catalog)
    [card] = [r for r in result.recommendations if r.action_id == "research_competitor"]
    assert card.title == "Research Acme Corp's positioning before the next call"
    assert card.factors.relevance == 75


def test_a_chunk_knows_the_competitor_names_only_another_chunks_deals_carry():
    """A fanned-out run scores a chunk with the whole portfolio's population: 'brightwave' in lower case,
    with no phrase around it, is recognised only because another account's deal names Brightwave."""
    from stepwise.engine.population import population_of

    other = dict(deal_id="D9", account_id="A9", stage="proposal", name="Other", amount="5000",
                 created_at=days_ago(30), close_date=days_ahead(20), competitor="Brightwave")
    whole = make_data(
        accounts=[dict(account_id="A1", name="Northwind", segment="enterprise"),
                  dict(account_id="A9", name="Other", segment="smb")],
        deals=[dict(deal_id="D1", account_id="A1", stage="discovery", name="Northwind rollout", amount="90000",
                    created_at=days_ago(20), close_date=days_ahead(40)), other],
        activities=[dict(activity_id="T0", occurred_at=days_ago(1), type="call", deal_id="D1", account_id="A1",
                         direction="inbound", body="the brightwave demo went better than ours")])
    day = as_utc(AS_OF)
    chunk = whole.subset({"A1"}, set())
    alone = build_signals(chunk, day)["deal"].loc["D1", "competitor_name"]
    assert not isinstance(alone, str)  # the chunk by itself has never heard of Brightwave
    signals = build_signals(chunk, day, population_of(whole, day))["deal"]
    assert signals.loc["D1", "competitor_name"] == "Brightwave"
