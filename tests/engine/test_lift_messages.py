"""What the lift says when it cannot give a number yet: the reason, not a wrong one."""

from __future__ import annotations

from stepwise.engine.lift import compare


def test_no_control_card_yet_is_said_as_such():
    lift = compare("lead", "converted", 3, 200, 0, 0, weeks_observed=4)
    assert not lift.enough and lift.message == "Not enough data yet (200 shown, 0 control; no control cards yet, so no estimate of when)"


def test_control_cards_without_any_outcome_are_not_called_missing():
    lift = compare("cross_sell", "order_with_offered_product", 0, 600, 0, 35, weeks_observed=8)
    assert not lift.enough and lift.weeks_more is None
    assert lift.message == "Not enough data yet (600 shown, 35 control; no outcome seen yet, so no estimate of when)"
