"""The mapping an admin edits: clear errors for a broken file, the forms a field can take."""

from __future__ import annotations

import pytest

from stepwise.integration.base import ConnectorError
from stepwise.integration.salesforce.mapping import FieldSource, load_mapping, map_records, parse_mapping


def one(fields, table="deals", **extra):
    return {"objects": [{"table": table, "sobject": "Opportunity", "fields": fields, **extra}]}


DEAL = {"deal_id": "Id", "account_id": "AccountId", "stage": "StageName"}


@pytest.mark.parametrize("raw, message", [
    ({}, "needs an 'objects' list"),
    ({"objects": [{"table": "deals"}]}, "needs 'table' and 'sobject'"),
    (one(DEAL, table="opportunities"), "unknown table 'opportunities'"),
    (one({"deal_id": "Id", "stage": "StageName"}), "required column(s) account_id"),
    (one({**DEAL, "colour": "Colour__c"}), "'colour' is not a column of this table"),
    (one({**DEAL, "amount": 12}), "column 'amount' needs a field name"),
    (one(DEAL, values={"amount": {"a": "b"}}), "'values' names unmapped column(s) amount"),
])
def test_a_broken_mapping_is_refused_with_a_message_naming_the_problem(raw, message):
    with pytest.raises(ConnectorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_mapping(raw, "my-mapping.yaml")


def test_a_missing_or_malformed_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConnectorError, match="cannot read the Salesforce mapping"):
        load_mapping(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("objects: [\n")
    with pytest.raises(ConnectorError, match="not valid YAML"):
        load_mapping(bad)


def test_field_forms_path_coalesce_prefix_and_constant():
    record = {"Id": "00T1", "Account": {"Name": "Acme"}, "CompletedDateTime": None, "CreatedDate": "2026-03-01",
              "WhatId": "001000000000001AAA"}
    assert FieldSource(("Account.Name",)).value(record) == "Acme"
    assert FieldSource(("Owner.Name",)).value(record) is None  # a null lookup, not an error
    assert FieldSource(("CompletedDateTime", "CreatedDate")).value(record) == "2026-03-01"
    assert FieldSource(("WhatId",), prefix="006").value(record) is None  # an account, not an opportunity
    assert FieldSource(constant="meeting").value(record) == "meeting"


def test_a_catch_all_value_and_a_null_translation():
    mapping = parse_mapping({"objects": [{"table": "leads", "sobject": "Lead",
                                          "fields": {"lead_id": "Id", "created_at": "CreatedDate", "status": "Status"},
                                          "values": {"status": {"Open": "new", "*": None}}}]})
    rows = map_records(mapping.objects[0], [
        {"Id": "00Q1", "CreatedDate": "2026-03-01", "Status": "Open"},
        {"Id": "00Q2", "CreatedDate": "2026-03-01", "Status": "Recycled"},
    ]).rows
    assert [r["status"] for r in rows] == ["new", None]


def test_the_shipped_mapping_covers_a_standard_org():
    mapping = load_mapping()
    assert {o.sobject for o in mapping.objects} >= {"Account", "Contact", "Opportunity", "Task", "Event", "Lead"}
    assert mapping.tables() >= {"accounts", "contacts", "deals", "activities", "leads"}
