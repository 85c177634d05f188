"""A rep's "Today" (engine/today.py): value × urgency, diversity caps, dismissed out, stable within a day."""

from __future__ import annotations

from dataclasses import replace

from stepwise.engine.catalog import TodayRules
from stepwise.engine.recommendation import Factors, Recommendation, recommendation_id
from stepwise.engine.today import choose, with_ranks

DAY = "2025-06-02"


def rec(n: int, *, owner: str = "rep_1", action: str | None = None, account: str | None = None, score: float = 70.0,
        urgency: str = "MEDIUM", expected: float | None = None, record_type: str = "deal") -> Recommendation:
    record_id = f"D{n}"
    action_id = action or f"action_{n}"
    return Recommendation(
        id=recommendation_id("files", f"deal:{record_id}", action_id, DAY), source="files", record_type=record_type,
        record_id=record_id, deal_id=record_id, account_id=account or f"A{n}", lead_id=None, action_id=action_id,
        category="engagement", title=f"{action_id} on {record_id}", score=score, factors=Factors(70, 70, 70, 70),
        urgency=urgency, expected_impact="x", why=(), how=(), offer={}, constraints=(), best_before=DAY,
        success_rate=None, alternatives=(), removed=(), model_version="t", as_of=DAY, owner_id=owner,
        extra={"expected_value": expected} if expected is not None else {})


def keys(lists, owner="rep_1"):
    return [e.card_key for e in sorted(lists, key=lambda e: e.rank) if e.owner_id == owner]


def test_the_list_is_capped_and_spread_over_action_types_and_accounts():
    recs = ([rec(i, action="follow_up", score=90 - i) for i in range(6)]                 # one action type
            + [rec(10 + i, account="A-big", score=89 - i) for i in range(5)]              # one account
            + [rec(20 + i, score=60 - i) for i in range(30)])
    lists = choose(recs, DAY, TodayRules())
    chosen = {e.rec_id for e in lists}
    picked = [r for r in recs if r.id in chosen]
    assert len(lists) == 15 and [e.rank for e in sorted(lists, key=lambda e: e.rank)] == list(range(1, 16))
    assert sum(r.action_id == "follow_up" for r in picked) == 3
    assert sum(r.account_id == "A-big" for r in picked) == 2
    # The three best follow-ups and the two best on A-big are the ones kept.
    assert {r.record_id for r in picked if r.action_id == "follow_up"} == {"D0", "D1", "D2"}
    assert {r.record_id for r in picked if r.account_id == "A-big"} == {"D10", "D11"}


def test_each_rep_gets_their_own_list_and_the_size_comes_from_the_rules():
    recs = [rec(i, owner=f"rep_{i % 3}") for i in range(30)] + [replace(rec(99), owner_id=None)]
    lists = choose(recs, DAY, TodayRules(size=4))
    assert {e.owner_id for e in lists} == {"rep_0", "rep_1", "rep_2"}
    assert all(sum(e.owner_id == o for e in lists) == 4 for o in ("rep_0", "rep_1", "rep_2"))
    by_id = {r.id: r for r in recs}
    assert all(by_id[e.rec_id].owner_id == e.owner_id for e in lists)


def test_urgency_and_expected_value_rank_above_score_alone():
    urgent = rec(1, score=60, urgency="HIGH")
    big = rec(2, score=60, expected=400_000)
    plain = rec(3, score=80)
    small = rec(4, score=80, expected=1_000)
    typical = [rec(10 + i, score=10, expected=50_000) for i in range(5)]  # sets the typical deal value
    lists = choose([urgent, big, plain, small, *typical], DAY, TodayRules())
    order = keys(lists)
    # MEDIUM weighs 1.5, HIGH 3.  400k against a typical 50k: 60 × √8 × 1.5 ≈ 255; urgent 60 × 3 = 180;
    # plain 80 × 1.5 = 120; 1k against 50k (held at ×¼): 80 × ¼ × 1.5 = 30; the typical ones 15.
    assert order[:4] == [big.card_key, urgent.card_key, plain.card_key, small.card_key]


def test_dismissed_snoozed_and_other_days_cards_stay_out():
    recs = [rec(i) for i in range(5)]
    dismissed_in_store = recs[0].id
    snoozed = replace(recs[1], status="snoozed")
    yesterday = replace(recs[2], as_of="2025-06-01")
    lists = choose([*recs[:1], snoozed, yesterday, *recs[3:]], DAY, TodayRules(), excluded={dismissed_in_store})
    assert {e.rec_id for e in lists} == {recs[3].id, recs[4].id}


def test_ties_break_on_the_card_key_whatever_the_input_order():
    recs = [rec(i, score=70) for i in range(40)]
    assert choose(recs, DAY, TodayRules()) == choose(list(reversed(recs)), DAY, TodayRules())


def test_a_resync_with_nothing_material_changed_keeps_the_list_and_its_order():
    recs = [rec(i, score=90 - i) for i in range(40)]
    first = choose(recs, DAY, TodayRules())
    # Every score moves a little (under the 20 % margin): list 16 and 17 now beat the last listed ones.
    moved = [replace(r, score=r.score * (1.15 if r.id not in {e.rec_id for e in first} else 0.9)) for r in recs]
    fresh = choose(moved, DAY, TodayRules())
    again = choose(moved, DAY, TodayRules(), previous=first)
    assert keys(fresh) != keys(first)  # without the day's list, the small moves would reshuffle it
    assert keys(again) == keys(first)
    assert choose(recs, DAY, TodayRules(), previous=first) == first


def test_a_material_change_re_ranks():
    recs = [rec(i, score=90 - i) for i in range(40)]
    first = choose(recs, DAY, TodayRules())
    gone = first[0].rec_id
    challenger = next(r for r in recs if r.id not in {e.rec_id for e in first})
    changed = [replace(r, score=99.0) if r.id == challenger.id else r for r in recs]
    again = choose(changed, DAY, TodayRules(), previous=first, excluded={gone})
    assert gone not in {e.rec_id for e in again}                        # dismissed since: out
    # 99 beats every listed score from 82 down by more than 20 %: it enters, after the 89…83 still listed.
    assert keys(again).index(challenger.card_key) == 7 and len(again) == 15
    kept = [k for k in keys(first) if k in set(keys(again))]
    assert kept == [k for k in keys(again) if k in set(keys(first))]     # the others keep their order
    urgent = replace(recs[-1], urgency="HIGH", score=89.0)                # a band change is material too
    assert urgent.card_key in keys(choose([*recs[:-1], urgent], DAY, TodayRules(), previous=first))


def test_with_ranks_sets_the_rank_on_listed_cards_only():
    recs = [rec(i, score=90 - i) for i in range(20)]
    lists = choose(recs, DAY, TodayRules(size=5))
    ranked = with_ranks(recs, lists)
    assert [r.today_rank for r in ranked[:5]] == [1, 2, 3, 4, 5]
    assert all(r.today_rank is None for r in ranked[5:])
    assert [r.id for r in ranked] == [r.id for r in recs]
