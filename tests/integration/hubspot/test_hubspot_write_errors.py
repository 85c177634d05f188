"""HubSpot refusing what we send: a property create missing a field its spec requires, and a batch update
refused whole (400) for one invalid value, split down to that deal; refusals every deal shares are not split."""

from __future__ import annotations

import copy
import math

import pytest

from stepwise.integration.hubspot.client import HubSpotError
from stepwise.integration.hubspot.fake import FakeHubSpot, make_rec
from stepwise.integration.hubspot.push import (
    BATCH_WRITE,
    DEAL_PROPERTIES,
    ensure_properties,
    invalid_values,
    write_back,
)
from stepwise.store import HubSpotState

UPDATE = "/crm/v3/objects/deals/batch/update"


def _updates(fake: FakeHubSpot, since: int = 0) -> int:
    return sum(1 for _, _, p in fake.log[since:] if p == UPDATE)


def _portal(fake: FakeHubSpot, make_client, n: int, setup: bool = True):
    fake.populate(n, contacts_per_deal=0, engagements_per_deal=0)
    client = make_client()
    if setup:
        ensure_properties(client, "deals", "stepwise", DEAL_PROPERTIES)
    return client, {str(1000 + i) for i in range(n)}


def split_bound(n: int, invalid: int) -> int:
    """The module docstring's bound for a batch of n deals holding `invalid` invalid values."""
    return min(1 + 2 * invalid * math.ceil(math.log2(n)), 2 * n - 1)


# -- setup ----------------------------------------------------------------------------------------


def test_setup_sends_every_field_hubspot_requires_of_a_property_and_its_options(fake: FakeHubSpot, make_client):
    client = make_client()
    ensure_properties(client, "deals", "stepwise", DEAL_PROPERTIES)
    urgency = next(p for p in fake.properties["deals"] if p["name"] == "stepwise_urgency")
    assert [(o["value"], o["hidden"]) for o in urgency["options"]] == [("HIGH", False), ("MEDIUM", False), ("LOW", False)]
    assert all({"name", "label", "type", "fieldType", "groupName"} <= set(p) for p in fake.properties["deals"]
               if p["name"].startswith("stepwise_"))


def test_the_fake_refuses_options_without_hidden_as_hubspot_does(fake: FakeHubSpot, make_client):
    # What setup sent before: options with label, value and displayOrder only.
    old = copy.deepcopy(DEAL_PROPERTIES)
    for prop in old:
        for option in prop.get("options", []):
            del option["hidden"]
    with pytest.raises(HubSpotError) as refused:
        ensure_properties(make_client(), "deals", "stepwise", old)
    assert refused.value.status == 400 and refused.value.category == "VALIDATION_ERROR"
    assert "Cannot build OptionInput, some of required attributes are not set [hidden]" in str(refused.value)
    assert "correlationId" in refused.value.body
    assert "stepwise_urgency" not in {p["name"] for p in fake.properties["deals"]}


def test_the_fake_refuses_a_property_without_its_group(fake: FakeHubSpot, make_client):
    client = make_client()
    body = {k: v for k, v in DEAL_PROPERTIES[0].items()}
    with pytest.raises(HubSpotError) as refused:
        client.call("crm.properties.core_api", "create", "deals", body, label="create:property")
    assert refused.value.status == 400 and "[groupName]" in str(refused.value)


# -- a batch refused whole ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, 37, 99])
def test_one_invalid_deal_in_a_batch_of_100_is_split_out_and_the_other_99_written(
        fake: FakeHubSpot, make_client, hs_store, bad: int):
    client, deals = _portal(fake, make_client, BATCH_WRITE)
    recs = [make_rec(str(1000 + i), urgency="URGENT" if i == bad else "HIGH") for i in range(BATCH_WRITE)]
    state = HubSpotState(hs_store, "private")
    before = fake.total()

    result = write_back(client, state, recs, deals)

    assert result.written == BATCH_WRITE - 1
    assert result.failed == [(recs[bad].id, "VALIDATION_ERROR: URGENT was not one of the allowed options: "
                                            "[HIGH, MEDIUM, LOW]")]
    calls = _updates(fake, before)
    assert math.floor(math.log2(BATCH_WRITE)) + 1 <= calls <= split_bound(BATCH_WRITE, 1) == 15
    written = {d for d, r in fake.objects["deals"].items() if r["properties"].get("stepwise_urgency") == "HIGH"}
    assert written == deals - {str(1000 + bad)}
    assert "stepwise_urgency" not in fake.objects["deals"][str(1000 + bad)]["properties"]

    # Its hash was not remembered: once the value is one HubSpot takes, the next sync writes that deal alone.
    recs[bad] = make_rec(str(1000 + bad), urgency="LOW")
    before = fake.total()
    retry = write_back(client, state, recs, deals)
    assert retry.written == 1 and not retry.failed and _updates(fake, before) == 1
    assert fake.objects["deals"][str(1000 + bad)]["properties"]["stepwise_urgency"] == "LOW"


def test_two_invalid_deals_cost_at_most_the_bound_for_two(fake: FakeHubSpot, make_client, hs_store):
    client, deals = _portal(fake, make_client, 250)
    bad = {3: "URGENT", 80: "SOON", 180: "NOW"}          # two in the first batch, one in the second, none in the third
    recs = [make_rec(str(1000 + i), urgency=bad.get(i, "MEDIUM")) for i in range(250)]
    before = fake.total()

    result = write_back(client, HubSpotState(hs_store, "private"), recs, deals)

    assert result.written == 247
    assert sorted(result.failed) == sorted(
        (recs[i].id, f"VALIDATION_ERROR: {value} was not one of the allowed options: [HIGH, MEDIUM, LOW]")
        for i, value in bad.items())
    assert _updates(fake, before) <= split_bound(100, 2) + split_bound(100, 1) + 1


def test_a_batch_refused_because_setup_never_ran_is_not_split(fake: FakeHubSpot, make_client, hs_store):
    fake.strict_properties = True
    client, deals = _portal(fake, make_client, 250, setup=False)
    recs = [make_rec(str(1000 + i)) for i in range(250)]
    before = fake.total()

    result = write_back(client, HubSpotState(hs_store, "private"), recs, deals)

    assert result.written == 0 and len(result.failed) == 250
    assert _updates(fake, before) == 1                     # stopped at the first batch, as every batch would be refused
    assert all('Property \\"stepwise_top_action\\" does not exist' in message for _, message in result.failed)


@pytest.mark.parametrize(("status", "body"), [
    (403, {"status": "error", "message": "This app hasn't been granted all required scopes to make this call.",
           "correlationId": "0f0c4c3e-6a3e-4a8e-9a57-0d1c0f5b6a7e", "category": "MISSING_SCOPES",
           "errors": [{"message": "One or more of the following scopes are required.",
                       "context": {"requiredGranularScopes": ["crm.objects.deals.write"]}}]}),
    (400, {"status": "error", "message": "Invalid input JSON on line 1, column 12: Unexpected character",
           "correlationId": "0f0c4c3e-6a3e-4a8e-9a57-0d1c0f5b6a7f", "category": "VALIDATION_ERROR"}),
])
def test_a_refusal_that_names_no_invalid_value_is_not_split(fake: FakeHubSpot, make_client, hs_store, status, body):
    client, deals = _portal(fake, make_client, 150)
    fake.fail(r"/batch/update$", status, times=10, body=body)
    recs = [make_rec(str(1000 + i)) for i in range(150)]
    before = fake.total()

    result = write_back(client, HubSpotState(hs_store, "private"), recs, deals)

    assert result.written == 0 and len(result.failed) == 150 and _updates(fake, before) == 1
    assert all(body["message"] in message for _, message in result.failed)


def test_an_invalid_value_in_every_deal_costs_one_batch_split_not_one_per_batch(
        fake: FakeHubSpot, make_client, hs_store):
    client, deals = _portal(fake, make_client, 250)
    recs = [make_rec(str(1000 + i), urgency="URGENT") for i in range(250)]
    before = fake.total()

    result = write_back(client, HubSpotState(hs_store, "private"), recs, deals)

    assert result.written == 0 and len(result.failed) == 250
    # The first batch split all the way down (every half refused), then the write-back stopped.
    assert _updates(fake, before) == split_bound(BATCH_WRITE, BATCH_WRITE) == 2 * BATCH_WRITE - 1
    later = [m for rec_id, m in result.failed if rec_id in {r.id for r in recs[BATCH_WRITE:]}]
    assert len(later) == 150 and all(m.startswith("not sent: a batch before was refused") for m in later)


# -- telling the refusals apart -------------------------------------------------------------------


def _error(status: int, body: dict) -> HubSpotError:
    return HubSpotError(f"HubSpot batch_update:deals: {status} {body.get('message')}", status, body.get("category"),
                        body)


def test_only_a_validation_error_naming_invalid_values_is_worth_splitting():
    option = {"message": "X was not one of the allowed options", "code": "INVALID_OPTION",
              "context": {"propertyName": ["stepwise_urgency"]}}
    missing = {"message": 'Property "x" does not exist', "code": "PROPERTY_DOESNT_EXIST",
               "context": {"propertyName": ["x"]}}
    embedded = ('Property values were not valid: [{"isValid":false,"message":"X was not one of the allowed options",'
                '"error":"INVALID_OPTION","name":"stepwise_urgency"}]')
    assert invalid_values(_error(400, {"category": "VALIDATION_ERROR", "message": "…", "errors": [option]}))
    assert invalid_values(_error(400, {"category": "VALIDATION_ERROR", "message": embedded}))
    assert not invalid_values(_error(400, {"category": "VALIDATION_ERROR", "message": "…", "errors": [option, missing]}))
    assert not invalid_values(_error(400, {"category": "VALIDATION_ERROR", "message": embedded.replace(
        "INVALID_OPTION", "READ_ONLY_VALUE")}))
    assert not invalid_values(_error(400, {"category": "VALIDATION_ERROR", "message": "Property values were not valid"}))
    assert not invalid_values(_error(429, {"category": "RATE_LIMITS", "message": "…", "errors": [option]}))
