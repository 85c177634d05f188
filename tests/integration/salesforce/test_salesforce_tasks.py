"""Accept → a Task for the rep: off by default, on the right record, owned by the rep, created once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stepwise.integration.base import ConnectorError
from stepwise.integration.salesforce.check import check
from stepwise.integration.salesforce.connector import SalesforceConnector
from stepwise.integration.salesforce.fake import FAST, build_org, session_settings
from stepwise.integration.salesforce.fake import make_rec as rec
from stepwise.integration.salesforce.fields import FIELDS, REP_FIELDS, TASK_MARKER
from stepwise.integration.salesforce.mapping import load_mapping
from stepwise.workers.follow_up import create_follow_up

REP = "005000000000042AAA"


def accepted(deal_id: str, **changes):
    return replace(rec("rec_0123456789abcdef01234567", deal_id), owner_id=REP, **changes)


def test_off_by_default_creates_nothing(fake, client):
    org = build_org(fake, 1)
    assert SalesforceConnector(client).follow_up(accepted(org["Opportunity"][0]["Id"])) is None
    assert fake.calls["total"] == 0


def test_the_worker_call_creates_the_task_on_the_opportunity_for_the_rep(fake, client):
    org = build_org(fake, 1)
    deal = org["Opportunity"][0]["Id"]
    r = accepted(deal)
    task_id = create_follow_up(r, SalesforceConnector(client, create_tasks=True))  # what stepwise.follow_up runs
    [task] = fake.tasks_created
    assert task_id == task["Id"] and task_id.startswith("00T")
    assert task["WhatId"] == deal and "WhoId" not in task and task["OwnerId"] == REP
    assert task["Subject"] == r.title and task[TASK_MARKER] == r.id
    assert task["Description"].startswith("Budget came up 3 times.\n\nHow:\n- Open the calculator.\n- Send it.")
    assert task["ActivityDate"] == "2026-03-04" and task["Priority"] == "High"


def test_a_retry_returns_the_same_task_instead_of_a_second_one(fake, client):
    org = build_org(fake, 1)
    c = SalesforceConnector(client, create_tasks=True)
    r = accepted(org["Opportunity"][0]["Id"])
    first = c.follow_up(r)
    calls = fake.calls["total"]
    assert c.follow_up(r) == first
    assert len(fake.tasks_created) == 1 and fake.calls["total"] - calls == 1  # one lookup, no create
    lookup = [x.request.url for x in fake.rsps.calls if "FROM+Task" in x.request.url][-1]
    assert f"{TASK_MARKER}+%3D+%27{r.id}%27" in lookup and "WhatId+%3D" in lookup


def test_a_lead_recommendation_puts_the_task_on_the_lead(fake, client):
    lead = fake.add("Lead", 1)[0]["Id"]
    r = replace(accepted(None), record_type="lead", record_id=lead, lead_id=lead, deal_id=None)
    SalesforceConnector(client, create_tasks=True).follow_up(r)
    [task] = fake.tasks_created
    assert task["WhoId"] == lead and "WhatId" not in task


def test_an_inactive_rep_gets_the_task_created_for_the_integration_user(fake, client):
    org = build_org(fake, 1)
    fake.inactive_users = frozenset({REP})
    task_id = SalesforceConnector(client, create_tasks=True).follow_up(accepted(org["Opportunity"][0]["Id"]))
    assert task_id and "OwnerId" not in fake.tasks_created[0]


def test_a_record_that_is_not_a_salesforce_one_creates_nothing(fake, client):
    c = SalesforceConnector(client, create_tasks=True)
    assert c.follow_up(accepted("deal-17")) is None  # not a Salesforce id
    assert fake.calls["total"] == 0


def test_the_setting_comes_from_the_environment(fake, monkeypatch):
    org = build_org(fake, 1)
    monkeypatch.setenv("STEPWISE_SALESFORCE_CREATE_TASKS", "true")
    c = SalesforceConnector.from_settings(session_settings(), policy=FAST)
    assert c.create_tasks and c.follow_up(accepted(org["Opportunity"][0]["Id"]))


def test_without_the_task_field_deployed_the_error_says_what_to_deploy(fake, client):
    org = build_org(fake, 1)
    fake.fail_next("query", 400, [{"message": f"No such column '{TASK_MARKER}' on entity 'Task'",
                                   "errorCode": "INVALID_FIELD"}])
    with pytest.raises(ConnectorError, match="deploy the current cards/salesforce"):
        SalesforceConnector(client, create_tasks=True).follow_up(accepted(org["Opportunity"][0]["Id"]))


def test_check_wants_the_task_field_when_tasks_are_on(fake, client):
    build_org(fake, 1)
    fake.describe_fields["Task"].remove(TASK_MARKER)
    assert check(client, load_mapping()) == []
    fake.recommendation_fields = lambda: [*FIELDS, *REP_FIELDS]
    findings = [str(f) for f in check(client, load_mapping(), create_tasks=True)]
    assert findings == [f"error: Task has no field {TASK_MARKER}, which accepting a recommendation needs to create its "
                        "Task only once: deploy the current cards/salesforce and assign 'Stepwise Integration' "
                        "(or turn STEPWISE_SALESFORCE_CREATE_TASKS off)."]
