"""The allowlist against its suites in tests/engine/drafts (data, in both template languages):
every adversarial and held-out draft is rejected, and the clean control drafts still pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stepwise.engine.catalog import load_catalog
from stepwise.engine.guardrails import check_draft
from stepwise.engine.run import recommend
from tests.builders import AS_OF
from tests.engine.test_seed_examples import alfa_distribution, by_action

DRAFTS = Path(__file__).parent / "drafts"
RO_TEMPLATES = Path(__file__).parents[2] / "stepwise" / "engine" / "defaults" / "templates.ro.yaml"


def _load(name: str) -> list[dict]:
    return yaml.safe_load((DRAFTS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cards():
    def card(templates):
        [rec] = by_action(recommend(alfa_distribution(), AS_OF, load_catalog(templates_path=templates)),
                          "call_for_replenishment")
        return rec

    return {"alfa_en": (card(None), "en"), "alfa_ro": (card(RO_TEMPLATES), "ro")}


BASE = _load("base.yaml")


def _verdict(cards, entry):
    rec, language = cards[entry["card"]]
    return check_draft({**BASE[entry["card"]], entry["field"]: entry["text"]}, rec, language)


def test_the_suites_are_big_enough_and_speak_both_languages():
    adversarial = _load("adversarial.yaml") + _load("heldout.yaml")
    assert len(_load("adversarial.yaml")) >= 40
    assert {e["card"] for e in adversarial} == {"alfa_en", "alfa_ro"} == {e["card"] for e in _load("control.yaml")}


def test_the_base_drafts_pass(cards):
    for name, (rec, language) in cards.items():
        assert check_draft(BASE[name], rec, language).ok, name


@pytest.mark.parametrize("entry", _load("adversarial.yaml") + _load("heldout.yaml"),
                         ids=lambda e: f"{e['card']}-{e['text'][:40]}")
def test_every_adversarial_draft_is_rejected(cards, entry):
    verdict = _verdict(cards, entry)
    assert not verdict.ok and verdict.codes and verdict.draft == {}


def test_at_least_nine_in_ten_clean_drafts_pass(cards):
    control = _load("control.yaml")
    failed = [(e["text"], _verdict(cards, e).reasons) for e in control if not _verdict(cards, e).ok]
    assert 1 - len(failed) / len(control) >= 0.9, failed
