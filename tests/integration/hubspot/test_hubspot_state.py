"""The HubSpot connector's remembered rows, on SQLite and PostgreSQL: a put replaces by id."""

from __future__ import annotations

from stepwise.store import HubSpotState


def test_put_inserts_then_replaces_rows_by_id_and_keeps_other_tables_and_portals(store):
    state = HubSpotState(store, "portal-1")
    other = HubSpotState(store, "portal-2")
    state.put("deals", [("1", {"v": 1}, "1", "fp1"), ("2", {"v": 2}, "2", "fp2")])
    other.put("deals", [("1", {"v": "other"}, "1", "x")])
    state.put("activities", [("1", {"v": "act"}, "1", None)])
    state.put("deals", [("2", {"v": 22}, "2", "fp22"), ("3", {"v": 3}, "3", "fp3"), ("3", {"v": 33}, "3", "fp33")])

    assert state.all_rows("deals") == [{"v": 1}, {"v": 22}, {"v": 33}]
    assert state.fingerprints(["1", "2", "3", "4"]) == {"1": "fp1", "2": "fp22", "3": "fp33"}
    assert other.all_rows("deals") == [{"v": "other"}]
    assert state.all_rows("activities") == [{"v": "act"}]
    state.drop_deal_context("activities", ["1"])
    assert state.all_rows("activities") == []


def test_written_hashes_are_replaced_by_deal(store):
    state = HubSpotState(store, "portal-1")
    state.remember_written({"1": "a", "2": "b"})
    state.remember_written({"2": "c", "3": "d"})
    assert state.written_hashes() == {"1": "a", "2": "c", "3": "d"}
    assert HubSpotState(store, "portal-2").written_hashes() == {}
