"""The card endpoint serves the stored JSON without decoding it in Python: the answer must stay byte for
byte what jsonify of the decoded payloads (with each row's status) gave, whatever the payload holds."""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask

from stepwise.engine.recommendation import Recommendation
from stepwise.store import Store
from stepwise.web.app import create_app
from tests.web.cards_fixtures import AUTH, DAY, SOURCE, TOKEN, make_rec

# What the writer can put in a string: escapes, separators and keys inside text, non-ASCII, control characters.
_BITS = ['"', "\\", '\\"', ", ", ": ", '"status": "x"', "status", "{", "]", "é", "—", "😀", "\n", "\t", "\x01", "\x7f", " ", "a"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_BITS) for _ in range(rng.randint(0, 6)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 2 or pick < 0.4:
        return rng.choice([None, True, False, 0, -7, 2**70, -0.0, 1e16, 1.5e-7, rng.random() * 10 ** rng.randint(-8, 20),
                           _text(rng), "status"])
    if pick < 0.7:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["status", "a", _text(rng)]): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _odd_recs(count: int, seed: int = 7) -> list[Recommendation]:
    rng = random.Random(seed)
    return [
        replace(make_rec(f"D{n}", f"act{n}", score=rng.random() * 100), title=_text(rng) or "t",
                why=(_text(rng), _text(rng)), extra={_text(rng) or "k": _value(rng), "status": _value(rng)},
                offer={"products": [_text(rng)], "max_discount_pct": _value(rng)})
        for n in range(count)
    ]


def _expected(app: Flask, source: str, record_type: str, record_id: str, stored: list[tuple[str, str]]) -> bytes:
    """The answer as it was built before: jsonify of each stored payload, decoded, with the row's status."""
    with app.app_context():
        cards = [{**json.loads(payload), "status": status} for payload, status in stored]
        resp = app.json.response(record={"source": source, "record_type": record_type, "record_id": record_id},
                                 recommendations=cards)
        return resp.get_data()


def _stored(path: str, *rec_ids: str) -> list[tuple[str, str]]:
    """(payload text, status) of these rows, as SQLite holds them."""
    with sqlite3.connect(path) as db:
        rows = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, payload, status FROM recommendations")}
    return [rows[i] for i in rec_ids]


def test_answer_is_jsonify_of_the_stored_payloads_for_any_content(tmp_path) -> None:
    path = str(tmp_path / "cards.db")
    store = Store(f"sqlite:///{path}")
    recs = _odd_recs(150)
    store.upsert_recommendations(store.start_run(SOURCE, DAY, "t"), recs)
    store.record_feedback(recs[1].id, "snoozed", user="u", snooze_until="2020-01-01")  # back: shown as snoozed
    app = create_app(store=store, api_tokens=[TOKEN])
    client = app.test_client()
    for rec in recs:
        got = client.get(f"/api/v1/records/{SOURCE}/deal/{rec.record_id}/recommendations", headers=AUTH)
        assert got.status_code == 200
        assert got.get_data() == _expected(app, SOURCE, "deal", rec.record_id, _stored(path, rec.id))


@pytest.mark.parametrize("payload", [
    {"status": "new", "score": float("nan"), "x": float("inf")},  # json.dumps writes NaN: no strict JSON
    {"title": "no status key"},  # the status is added at the end
    {"status": {"nested": "status"}, "k": "a, b: c"},  # a non-string status is replaced
    {"title": "Zürich — “quoted”", "status": None},
])
def test_unusual_stored_payloads(tmp_path, payload: dict[str, Any]) -> None:
    path = str(tmp_path / "cards.db")
    store = Store(f"sqlite:///{path}")
    rec = make_rec("D1", "call")
    store.upsert_recommendations(store.start_run(SOURCE, DAY, "t"), [rec])
    with sqlite3.connect(path) as db:  # written behind the store's back, as json.dumps would have
        db.execute("UPDATE recommendations SET payload = ? WHERE id = ?", (json.dumps(payload), rec.id))
    app = create_app(store=store, api_tokens=[TOKEN])
    got = app.test_client().get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH)
    assert got.get_data() == _expected(app, SOURCE, "deal", "D1", _stored(path, rec.id))
    if "score" not in payload:  # (NaN never equals itself)
        assert store.card_payloads_for(SOURCE, "deal", "D1") == [{**payload, "status": "new"}]


def test_debug_mode_pretty_prints_as_jsonify(tmp_path) -> None:
    path = str(tmp_path / "cards.db")
    store = Store(f"sqlite:///{path}")
    recs = _odd_recs(3, seed=3)
    store.upsert_recommendations(store.start_run(SOURCE, DAY, "t"), recs)
    app = create_app(store=store, api_tokens=[TOKEN])
    app.debug = True
    got = app.test_client().get(f"/api/v1/records/{SOURCE}/deal/D0/recommendations", headers=AUTH)
    assert got.get_data() == _expected(app, SOURCE, "deal", "D0", _stored(path, recs[0].id))
    assert got.get_data().startswith(b'{\n  "record"')


def test_a_store_failure_mid_query_is_a_503(tmp_path) -> None:
    path = str(tmp_path / "cards.db")
    store = Store(f"sqlite:///{path}")
    store.upsert_recommendations(store.start_run(SOURCE, DAY, "t"), [make_rec("D1", "call")])
    client = create_app(store=store, api_tokens=[TOKEN]).test_client()
    assert client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH).status_code == 200
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE recommendations RENAME TO gone")
    resp = client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE gone RENAME TO recommendations")
    assert client.get(f"/api/v1/records/{SOURCE}/deal/D1/recommendations", headers=AUTH).status_code == 200


def test_the_card_query_only_searches_indexes(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'cards.db'}")
    store.upsert_recommendations(store.start_run(SOURCE, DAY, "t"), [make_rec("D1", "call")])
    for sql, _, _ in store._card_queries.values():
        with sqlite3.connect(str(tmp_path / "cards.db")) as db:
            plan = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("?"))]
        assert not [step for step in plan if step.startswith("SCAN")], plan
        # A deal deal_accounts does not know (a new one, say) is looked up by its id, not by scanning the source.
        assert "SEARCH recommendations USING INDEX ix_recommendations_deal (source=? AND deal_id=?)" in plan, plan
