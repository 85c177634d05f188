"""The SFDX project: well-formed XML, and the object's fields exactly what Python writes (no drift)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stepwise.integration.salesforce.fake import make_rec
from stepwise.integration.salesforce.fields import (
    EXTERNAL_ID,
    FIELDS,
    OBJECT,
    REP_FIELDS,
    STATUS_VALUES,
    TASK_MARKER,
    to_fields,
    written_hash,
)

PROJECT = Path(__file__).resolve().parents[3] / "cards" / "salesforce"
SOURCE = PROJECT / "force-app" / "main" / "default"
OBJECT_DIR = SOURCE / "objects" / OBJECT
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def text(element: ET.Element, tag: str) -> str | None:
    found = element.find(f"md:{tag}", NS)
    return None if found is None else found.text


def deployed_fields() -> dict[str, ET.Element]:
    return {p.name.removesuffix(".field-meta.xml"): parse(p) for p in (OBJECT_DIR / "fields").glob("*.field-meta.xml")}


@pytest.mark.parametrize("path", sorted(p for p in SOURCE.rglob("*-meta.xml")), ids=lambda p: p.name)
def test_every_metadata_file_is_well_formed_in_the_metadata_namespace(path):
    root = parse(path)
    assert root.tag.startswith("{http://soap.sforce.com/2006/04/metadata}")


def test_sfdx_project_points_at_force_app():
    project = json.loads((PROJECT / "sfdx-project.json").read_text())
    assert project["packageDirectories"][0]["path"] == "force-app"
    assert re.fullmatch(r"\d+\.0", project["sourceApiVersion"])


def test_the_fields_python_writes_are_the_fields_of_the_object():
    deployed = deployed_fields()
    expected = {name for name in {**FIELDS, **REP_FIELDS} if name != "Name"}  # Name is the standard name field
    assert set(deployed) - expected == set(), "fields in the XML that Python does not know (add to salesforce_fields)"
    assert expected - set(deployed) == set(), "fields Python writes that the object lacks (add the XML)"


@pytest.mark.parametrize("name", [n for n in {**FIELDS, **REP_FIELDS} if n != "Name"])
def test_each_field_has_the_type_length_and_target_python_expects(name):
    spec = {**FIELDS, **REP_FIELDS}[name]
    field = deployed_fields()[name]
    assert text(field, "fullName") == name
    assert text(field, "type") == spec.type
    if spec.length is not None:
        assert int(text(field, "length")) == spec.length, "Python cuts text to this length"
    if spec.reference_to:
        assert text(field, "referenceTo") == spec.reference_to
    if spec.values:
        values = [v.text for v in field.findall("md:valueSet/md:valueSetDefinition/md:value/md:fullName", NS)]
        assert values == list(spec.values)


def test_the_external_id_is_unique_and_case_sensitive():
    field = deployed_fields()[EXTERNAL_ID]
    assert (text(field, "externalId"), text(field, "unique"), text(field, "caseSensitive")) == ("true", "true", "true")


def test_a_new_record_starts_as_new_because_python_never_sends_status():
    field = deployed_fields()["Status__c"]
    defaults = [v.find("md:fullName", NS).text for v in field.findall("md:valueSet/md:valueSetDefinition/md:value", NS)
                if v.find("md:default", NS).text == "true"]
    assert defaults == ["New"] and STATUS_VALUES[0] == "New"


def test_the_name_field_holds_what_python_sends():
    obj = parse(OBJECT_DIR / f"{OBJECT}.object-meta.xml")
    assert text(obj.find("md:nameField", NS), "type") == "Text"
    assert FIELDS["Name"].length == 80  # a Text name field holds 80 characters


def test_permission_sets_cover_every_field():
    fields = {n for n in {**FIELDS, **REP_FIELDS} if n != "Name"}
    for name, editable in (("Stepwise_Integration", fields), ("Stepwise_User", {"Status__c", "Dismiss_Reason__c", "Snooze_Until__c"})):
        ps = parse(SOURCE / "permissionsets" / f"{name}.permissionset-meta.xml")
        granted = {text(fp, "field").split(".", 1)[1]: text(fp, "editable") == "true"
                   for fp in ps.findall("md:fieldPermissions", NS) if text(fp, "field").startswith(f"{OBJECT}.")}
        assert set(granted) == fields, name
        assert {f for f, can_edit in granted.items() if can_edit} == editable, name


def test_the_task_marker_field_is_deployed_and_the_integration_user_may_write_it():
    field = parse(SOURCE / "objects" / "Activity" / "fields" / f"{TASK_MARKER}.field-meta.xml")
    assert text(field, "fullName") == TASK_MARKER and text(field, "type") == "Text"
    assert int(text(field, "length")) >= 64  # holds a recommendation id (Stepwise_Id__c's length)
    ps = parse(SOURCE / "permissionsets" / "Stepwise_Integration.permissionset-meta.xml")
    # Activity fields are granted per Task (Salesforce mirrors the grant onto Event itself).
    grants = {text(fp, "field"): text(fp, "editable") for fp in ps.findall("md:fieldPermissions", NS)}
    assert grants[f"Task.{TASK_MARKER}"] == "true"
    assert len(text(ps, "description")) <= 255, "a permission set description holds 255 characters"


def test_the_controller_reads_only_fields_that_exist_and_keeps_sharing():
    apex = (SOURCE / "classes" / "StepwiseRecommendationsController.cls").read_text()
    assert "public with sharing class StepwiseRecommendationsController" in apex
    used = set(re.findall(r"\b(\w+__c)\b", apex)) - {OBJECT}
    assert used <= set(deployed_fields()), f"Apex uses unknown fields: {used - set(deployed_fields())}"
    test = (SOURCE / "classes" / "StepwiseRecommendationsControllerTest.cls").read_text()
    assert test.startswith("@IsTest") and test.count("Assert.") >= 10


def test_the_component_reads_only_fields_that_exist():
    js = (SOURCE / "lwc" / "stepwiseRecommendations" / "stepwiseRecommendations.js").read_text()
    used = set(re.findall(r"\b(\w+__c)\b", js)) - {OBJECT}
    assert used and used <= set(deployed_fields()) | {"Name"}
    meta = parse(SOURCE / "lwc" / "stepwiseRecommendations" / "stepwiseRecommendations.js-meta.xml")
    objects = {o.text for o in meta.findall("md:targetConfigs/md:targetConfig/md:objects/md:object", NS)}
    assert objects == {"Opportunity", "Account", "Lead"}


DEAL = "006000000000001AAA"
REP = "005000000000001AAA"


def test_to_fields_sends_every_field_of_fields_but_the_reps_status():
    # Status__c is the rep's once the card exists: Python sends it only to expire or revive a card.
    assert set(to_fields(make_rec("rec_1", DEAL))) == set(FIELDS) - {"Status__c"}


def test_the_rep_is_the_cards_owner_only_when_it_is_a_salesforce_user():
    assert to_fields(make_rec("rec_1", DEAL, owner_id=REP))["Rep__c"] == REP
    # A queue (00G…) owns no "Today"; a files-sourced owner id points at no Salesforce record.
    assert to_fields(make_rec("rec_1", DEAL, owner_id="00G000000000001AAA"))["Rep__c"] is None
    assert to_fields(make_rec("rec_1", DEAL, owner_id="rep-7"))["Rep__c"] is None
    assert to_fields(make_rec("rec_1", DEAL))["Rep__c"] is None


def test_today_rank_and_urgency_reason_are_written_as_the_card_has_them():
    fields = to_fields(make_rec("rec_1", DEAL, owner_id=REP, today_rank=4, urgency_reason="close date in 9 days"))
    assert (fields["Today_Rank__c"], fields["Urgency_Reason__c"]) == (4, "close date in 9 days")
    fields = to_fields(make_rec("rec_1", DEAL, owner_id=REP))
    assert (fields["Today_Rank__c"], fields["Urgency_Reason__c"]) == (None, None)  # not in Today, LOW
    long = to_fields(make_rec("rec_1", DEAL, urgency_reason="x" * 400))["Urgency_Reason__c"]
    assert len(long) == FIELDS["Urgency_Reason__c"].length  # cut, or Salesforce refuses the whole record


def test_a_card_entering_leaving_or_moving_in_today_is_written_again():
    def digest(**kw):
        return written_hash(to_fields(make_rec("rec_1", DEAL, **{"owner_id": REP, **kw})))

    outside = digest()
    assert len({outside, digest(today_rank=1), digest(today_rank=2)}) == 3
    assert digest(today_rank=2) == digest(today_rank=2)
    assert digest(owner_id="005000000000002AAA") != outside, "a deal handed to another rep moves its card"


def test_an_urgency_reason_whose_numbers_move_a_day_later_is_not_a_change():
    def digest(reason):
        return written_hash(to_fields(make_rec("rec_1", DEAL, today_rank=1, urgency_reason=reason)))

    assert digest("close date in 9 days") == digest("close date in 8 days")
    assert digest("close date in 9 days") != digest("contract ends in 9 days")


def test_the_today_controller_reads_only_the_reps_open_cards_in_today_with_sharing():
    apex = (SOURCE / "classes" / "StepwiseTodayController.cls").read_text()
    assert "public with sharing class StepwiseTodayController" in apex
    used = set(re.findall(r"\b(\w+__c)\b", apex)) - {OBJECT}
    assert used <= set(deployed_fields()), f"Apex uses unknown fields: {used - set(deployed_fields())}"
    query = " ".join(re.search(r"\[\s*(SELECT .*?)\]", apex, re.S).group(1).split())
    for clause in ("Rep__c = :userId", "Today_Rank__c != null",
                   "(Status__c = 'New' OR (Status__c = 'Snoozed' AND Snooze_Until__c <= :today))",
                   "WITH USER_MODE", "ORDER BY Today_Rank__c ASC", "LIMIT :MAX_ITEMS"):
        assert clause in query, clause
    assert "UserInfo.getUserId()" in apex
    test = (SOURCE / "classes" / "StepwiseTodayControllerTest.cls").read_text()
    assert test.startswith("@IsTest") and test.count("Assert.") >= 8
    ps = parse(SOURCE / "permissionsets" / "Stepwise_User.permissionset-meta.xml")
    assert "StepwiseTodayController" in {text(c, "apexClass") for c in ps.findall("md:classAccesses", NS)}


def test_the_today_component_goes_on_the_home_page_and_reads_only_fields_that_exist():
    js = (SOURCE / "lwc" / "stepwiseToday" / "stepwiseToday.js").read_text()
    used = set(re.findall(r"\b(\w+__[cr])\b", js)) - {OBJECT}
    relationships = {f.removesuffix("__r") + "__c" for f in used if f.endswith("__r")}
    assert used and ({f for f in used if f.endswith("__c")} | relationships) <= set(deployed_fields()) | {"Name"}
    lookups = {name for name, spec in FIELDS.items() if spec.type == "Lookup"}
    assert relationships <= lookups
    meta = parse(SOURCE / "lwc" / "stepwiseToday" / "stepwiseToday.js-meta.xml")
    assert text(meta, "isExposed") == "true"
    assert {t.text for t in meta.findall("md:targets/md:target", NS)} == {"lightning__HomePage", "lightning__AppPage"}
