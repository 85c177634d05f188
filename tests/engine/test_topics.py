"""Topic detection in activity text: words, stems, phrases, negation."""

from __future__ import annotations

import pandas as pd
import pytest

from stepwise.engine.topics import competitor_mentions, first_match, topic_mentions


def mentions(text: str) -> dict[str, int]:
    row = topic_mentions(pd.Series([text])).iloc[0]
    return {name.removeprefix("topic_"): int(n) for name, n in row.items() if n}


@pytest.mark.parametrize(("text", "expected"), [
    ("Asked about ROI and the budget for next year.", {"budget": 2}),
    ("No budget concerns this year.", {}),
    ("They are not evaluating other vendors.", {}),
    ("They don't see any integration needs", {}),
    ("Without a security review we cannot sign.", {}),
    ("Asked for a price reduction on the price list.", {"discount": 1, "pricing": 1}),
    ("Proof of concept and a pilot planned; go-live in Q2.", {"pilot": 2, "timeline": 1}),
    ("Integrating with SAP; the integration team is frustrated.", {"integration": 2, "pain": 1}),
    ("Complaint about a late delivery and damaged boxes", {"complaint": 3}),
    ("Security review next week, then the GDPR questionnaire.", {"security": 2}),
    ("", {}),
])
def test_topics(text, expected):
    assert mentions(text) == {k: v for k, v in expected.items() if v}


def test_negation_reaches_three_words_back_and_no_further():
    assert mentions("no real hard budget") == {}
    assert mentions("no, we have talked a lot about budget") == {"budget": 1}


def test_blank_and_missing_texts_keep_the_index():
    out = topic_mentions(pd.Series([None, "ROI"], index=["x", "y"]))
    assert list(out.index) == ["x", "y"] and out.loc["y", "topic_budget"] == 1 and out.loc["x"].sum() == 0


def test_first_match_finds_the_named_competitor():
    found = first_match(pd.Series(["also evaluating vantor", "nothing", None]), ["Vantor", "Medisys"])
    assert list(found) == ["Vantor", None, None]


def test_a_single_topic_count_matches_the_full_count():
    from stepwise.engine.topics import mentions_of

    texts = pd.Series(["complaint about a late delivery", "no complaints", "all good", None, "Damaged boxes again"])
    assert list(mentions_of(texts, "complaint")) == list(topic_mentions(texts)["topic_complaint"]) == [2, 0, 0, 0, 1]


@pytest.mark.parametrize(("text", "expected"), [
    ("They are also evaluating Acme Corp; asked how we compare on price.", "Acme Corp"),
    ("Also looking at Beta Systems Inc. for the warehouse part", "Beta Systems Inc"),
    ("Procurement said Gamma Ltd quoted lower.", "Gamma Ltd"),
    ("Yesterday Delta is cheaper by 10%, they claim", "Delta"),
    ("They compared us to Northstar Health Group last week", "Northstar Health Group"),
    ("Switching from Omega Software, contract ends in March", "Omega Software"),
    ("Pricing vs Zeta: we are 5% above", "Zeta"),
    ("the CFO raised budget concerns and wants to see the ROI", None),
    ("They are not evaluating anyone else.", None),
    ("No competitors involved.", None),
    ("They are not also evaluating Acme Corp.", None),
    ("We won't be compared to Acme Corp on this one.", None),
    ("compared to last year the budget is higher", None),  # not a capitalised name
    ("The team is cheaper than expected", None),  # a sentence start, not a name
    ("", None),
])
def test_competitor_names_from_phrases(text, expected):
    assert competitor_mentions(pd.Series([text])).iloc[0] == expected


def test_known_names_match_in_any_case_without_a_phrase_and_keep_their_spelling():
    found = competitor_mentions(pd.Series(["we talked about VANTOR pricing", "medisys again", "not Vantor though",
                                           "also evaluating acme corp", None]), ["Vantor", "MediSys", "Acme Corp"])
    assert list(found) == ["Vantor", "MediSys", None, "Acme Corp", None]


def test_an_unseen_name_spelled_like_a_known_one_takes_the_known_spelling():
    assert competitor_mentions(pd.Series(["also evaluating Vantor Cloud"]), ["vantor cloud"]).iloc[0] == "vantor cloud"


def test_the_first_mention_in_a_text_wins_and_texts_stay_apart():
    texts = pd.Series(["also evaluating Acme. Beta is cheaper.", "Beta is cheaper", "nothing here"], index=["x", "y", "z"])
    assert competitor_mentions(texts).to_dict() == {"x": "Acme", "y": "Beta", "z": None}


def test_a_name_never_runs_across_texts():
    texts = pd.Series(["They are also evaluating", "Acme Corp is a partner"])
    assert list(competitor_mentions(texts)) == [None, None]
