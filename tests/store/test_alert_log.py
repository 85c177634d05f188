"""The alert sent-log: reserved once per (card, day, channel), the rep's daily cap, a crashed or failed send taken over."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from stepwise.store import AlertKey, AlertLog
from stepwise.store.schema import alert_log

DAY = "2026-12-02"


def take(log: AlertLog, card: str, owner: str = "005A", cap: int = 5, **kw) -> str:
    return log.take(AlertKey(card, DAY, "sales"), source="salesforce", owner_id=owner, rec_id=f"rec_{card}", cap=cap, **kw)


def test_a_card_is_reserved_once_a_day_per_channel(store):
    log = AlertLog(store)
    assert take(log, "card_1") == "new"
    assert take(log, "card_1") == "done"
    # Another channel or another day is another alert.
    assert log.take(AlertKey("card_1", DAY, "emea"), source="s", owner_id="005A", rec_id="r", cap=5) == "new"
    assert log.take(AlertKey("card_1", "2026-12-03", "sales"), source="s", owner_id="005A", rec_id="r", cap=5) == "new"


def test_the_daily_cap_holds_per_rep_and_leaves_no_row_for_what_it_refused(store):
    log = AlertLog(store)
    assert [take(log, f"card_{i}", cap=2) for i in range(4)] == ["new", "new", "over_cap", "over_cap"]
    assert take(log, "card_9", owner="005B", cap=2) == "new"
    assert log.reserved_for("005A", DAY) == 2
    assert {k.card_key for k in log.statuses(DAY)} == {"card_0", "card_1", "card_9"}


def test_a_failed_send_is_taken_over_until_its_attempts_run_out_without_new_quota(store):
    log = AlertLog(store)
    assert take(log, "card_1", cap=1) == "new"
    for _ in range(2):
        log.failed(AlertKey("card_1", DAY, "sales"), error="answered 500")
        assert take(log, "card_1", cap=1, max_attempts=3) == "retry"
    log.failed(AlertKey("card_1", DAY, "sales"), error="answered 500")
    assert take(log, "card_1", cap=1, max_attempts=3) == "done"  # three sends started: given up
    assert log.reserved_for("005A", DAY) == 1


def test_a_reservation_left_by_a_crash_is_taken_over_only_after_the_lease(store):
    log = AlertLog(store)
    assert take(log, "card_1") == "new"
    assert take(log, "card_1", lease_seconds=600) == "done"  # maybe still being sent by its owner
    with log.engine.begin() as conn:
        conn.execute(update(alert_log).values(reserved_at=datetime.now(UTC) - timedelta(minutes=11)))
    assert take(log, "card_1", lease_seconds=600) == "retry"
    log.sent(AlertKey("card_1", DAY, "sales"))
    assert log.statuses(DAY) == {AlertKey("card_1", DAY, "sales"): "sent"}
    with log.engine.begin() as conn:
        conn.execute(update(alert_log).values(reserved_at=datetime.now(UTC) - timedelta(days=1)))
    assert take(log, "card_1", lease_seconds=600) == "done"  # sent stays sent


def test_racing_threads_send_each_card_once_and_respect_the_cap(store):
    log, results, lock = AlertLog(store), [], threading.Lock()

    def worker() -> None:
        mine = [(card, take(AlertLog(store), card, cap=3)) for card in ("c1", "c2", "c3", "c4", "c5")]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [card for card, taken in results if taken == "new"]
    assert len(won) == len(set(won)) == 3
    assert log.reserved_for("005A", DAY) == 3


def test_old_days_are_forgotten(store):
    log = AlertLog(store)
    log.take(AlertKey("card_1", "2026-11-01", "sales"), source="s", owner_id="005A", rec_id="r", cap=5)
    take(log, "card_2")
    assert log.forget_before(DAY) == 1
    assert log.reserved_for("005A", "2026-11-01") == 0 and log.reserved_for("005A", DAY) == 1
