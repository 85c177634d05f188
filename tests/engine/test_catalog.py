"""A catalog is data: loading it never runs code, and every mistake is named."""

from __future__ import annotations

import textwrap

import pytest

from stepwise.engine.catalog import CatalogError, load_catalog

GOOD = """
  - id: follow_up
    category: engagement
    title: Follow up on {deal_name}
    trigger: days_since_touch > 7
    why: ["Last touch {days_since_touch} days ago."]
    how: ["Call."]
"""


def write(tmp_path, actions: str, rules: str | None = None):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("actions:\n" + textwrap.dedent(actions))
    rules_path = None
    if rules is not None:
        rules_path = tmp_path / "rules.yaml"
        rules_path.write_text(rules)
    return catalog, rules_path


def refused(tmp_path, actions: str, rules: str | None = None) -> str:
    with pytest.raises(CatalogError) as err:
        load_catalog(*write(tmp_path, actions, rules))
    return str(err.value)


def test_the_built_in_catalog_loads_and_covers_every_category():
    catalog = load_catalog()
    assert {a.category for a in catalog.actions} == {
        "engagement", "content", "process", "risk", "replenishment", "cross-sell", "renewal", "finance"}
    assert {a.scope for a in catalog.actions} == {"deal", "lead", "account"}


def test_a_valid_custom_catalog_loads(tmp_path):
    catalog = load_catalog(*write(tmp_path, GOOD))
    assert [a.id for a in catalog.actions] == ["follow_up"]


def test_unknown_signal_is_refused_naming_the_action(tmp_path):
    message = refused(tmp_path, GOOD.replace("days_since_touch > 7", "days_since_tuoch > 7"))
    assert "action follow_up" in message and "unknown signal 'days_since_tuoch'" in message


def test_a_bad_expression_is_refused(tmp_path):
    assert "cannot parse" in refused(tmp_path, GOOD.replace("days_since_touch > 7", "days_since_touch >"))


@pytest.mark.parametrize("evil", ["__import__('os').system('true')", "deal_name.__class__", "[x for x in stage]", "lambda: 1"])
def test_code_in_a_trigger_is_refused_not_run(tmp_path, evil):
    message = refused(tmp_path, GOOD.replace("days_since_touch > 7", f'"{evil}"'))
    assert "action follow_up" in message and ("not allowed" in message or "only these functions" in message)


def test_duplicate_ids_are_refused(tmp_path):
    assert "action follow_up: duplicate id" in refused(tmp_path, GOOD + GOOD)


def test_unknown_category_stage_and_template_field_are_refused(tmp_path):
    assert "unknown category 'gossip'" in refused(tmp_path, GOOD.replace("engagement", "gossip"))
    assert "unknown stage 'won'" in refused(tmp_path, GOOD + "    stages: [won]\n")
    assert "unknown field {deal_nme}" in refused(tmp_path, GOOD.replace("{deal_name}", "{deal_nme}"))


def test_unknown_keys_and_bad_yaml_are_refused(tmp_path):
    assert "triger" in refused(tmp_path, GOOD + "    triger: x\n")
    assert "not valid YAML" in refused(tmp_path, GOOD + "  - id: [unclosed\n")


def test_rules_are_validated_too(tmp_path):
    message = refused(tmp_path, GOOD, rules="weights: {relevance: 0.5, impact: 0.3, urgency: 0.2, feasibility: 0.1}\n")
    assert "rules.yaml" in message and "add up to 1" in message
    assert "min_margin_pct" in refused(tmp_path, GOOD, rules="min_margin_pct: -3\n")


def test_a_template_set_translates_the_texts_and_keeps_the_rest():
    from importlib import resources

    from stepwise.engine.run import recommend
    from tests.builders import AS_OF
    from tests.engine.test_seed_examples import alfa_distribution, by_action

    romanian = resources.files("stepwise.engine").joinpath("defaults", "templates.ro.yaml")
    catalog = load_catalog(templates_path=romanian)
    [card] = by_action(recommend(alfa_distribution(), AS_OF, catalog), "call_for_replenishment")
    assert card.title == "Sunați Alfa Distribution SRL pentru reaprovizionare"
    assert card.why[:2] == ("Ultima comandă a fost acum 38 zile.", "Istoricul arată o comandă nouă la fiecare 35–45 zile.")
    assert card.offer["max_discount_pct"] == 5  # the rules do not change with the language
    assert load_catalog(templates_path=romanian).by_id("send_roi_calculator").title == load_catalog().by_id("send_roi_calculator").title


def test_a_bad_template_set_is_refused_naming_the_action(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("actions:\n  no_such_action:\n    title: x\n")
    with pytest.raises(CatalogError, match="action no_such_action: not in the catalog"):
        load_catalog(templates_path=bad)
    bad.write_text("actions:\n  lead_nurture:\n    trigger: 'true'\n")
    with pytest.raises(CatalogError, match="only title, why, how, script, email can be translated, not trigger"):
        load_catalog(templates_path=bad)
    bad.write_text("actions:\n  lead_nurture:\n    title: 'Hi {nobody}'\n")
    with pytest.raises(CatalogError, match="unknown field {nobody}"):
        load_catalog(templates_path=bad)
