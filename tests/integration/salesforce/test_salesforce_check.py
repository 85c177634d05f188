"""`stepwise check salesforce` and `stepwise sync salesforce`: plain-words findings, exit codes, one line on bad config."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stepwise.cli.core import check as check_group
from stepwise.cli.core import sync as sync_group
from stepwise.integration.salesforce.check import check
from stepwise.integration.salesforce.fake import INSTANCE, build_org
from stepwise.integration.salesforce.fields import FIELDS, REP_FIELDS
from stepwise.integration.salesforce.mapping import load_mapping
from stepwise.settings import get_settings


def test_a_standard_org_with_the_object_deployed_has_no_findings(fake, client):
    build_org(fake, 1)
    assert check(client, load_mapping()) == []
    assert client.stats.calls == 1  # every describe in one Composite request


def test_missing_fields_objects_and_stages_are_listed_in_plain_words(fake, client):
    build_org(fake, 1)
    fake.describe_fields["Opportunity"].remove("LastStageChangeDate")
    fake.describe_fields["_picklists"]["Opportunity.StageName"].append("Demo Scheduled")
    fake.missing.add("Order")
    fake.recommendation_fields = lambda: [n for n in [*FIELDS, *REP_FIELDS] if n != "Details__c"]
    findings = [str(f) for f in check(client, load_mapping())]
    assert any(f.startswith("error: Opportunity has no field LastStageChangeDate (mapped to deals.stage_changed_at)")
               for f in findings)
    assert any("'Demo Scheduled' are not in the mapping's stage values" in f for f in findings)
    assert any(f.startswith("warning: The org has no Order object") for f in findings)
    assert any("lacks field(s) Details__c: deploy the current cards/salesforce" in f for f in findings)


@pytest.fixture()
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", INSTANCE)
    monkeypatch.setenv("SALESFORCE_SESSION_ID", "00DFAKE!session-1")
    monkeypatch.setenv("STEPWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("HOME", str(tmp_path))  # the mirror lives under ~/.cache
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_check_command_exits_0_when_ready_and_1_with_errors(fake, env):
    build_org(fake, 1)
    ok = CliRunner().invoke(check_group, ["salesforce"])
    assert ok.exit_code == 0, ok.output
    assert "Salesforce is ready" in ok.output
    fake.missing.add("Stepwise_Recommendation__c")
    fake.recommendation_fields = None
    original = fake._describe
    fake._describe = lambda s: (404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]) \
        if s == "Stepwise_Recommendation__c" else original(s)
    bad = CliRunner().invoke(check_group, ["salesforce"])
    assert bad.exit_code == 1
    assert "deploy cards/salesforce" in bad.output


def test_missing_configuration_is_one_line_and_exit_2(monkeypatch):
    for name in ("SALESFORCE_INSTANCE_URL", "SALESFORCE_SESSION_ID", "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    result = CliRunner().invoke(check_group, ["salesforce"])
    get_settings.cache_clear()
    assert result.exit_code == 2
    assert result.output.startswith("error: Salesforce is not configured")
    assert "Traceback" not in result.output


def test_sync_command_pulls_scores_and_writes_back(fake, env):
    build_org(fake, 20, accounts=4, tasks=30)
    result = CliRunner().invoke(sync_group, ["salesforce", "--as-of", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert "full sync as of 2026-03-01" in result.output
    cards = len(fake.cards())
    assert cards > 0 and f"cards written {cards:,}," in result.output and "composite" in result.output
    again = CliRunner().invoke(sync_group, ["salesforce", "--as-of", "2026-03-02"])
    assert again.exit_code == 0, again.output
    assert "incremental sync as of 2026-03-02" in again.output
    same_day = CliRunner().invoke(sync_group, ["salesforce", "--as-of", "2026-03-02"])
    assert same_day.exit_code == 0, same_day.output
    assert "cards written 0," in same_day.output and "composite" not in same_day.output  # no write call at all
    assert len(fake.cards()) <= cards + len([r for r in fake.cards() if r["Status__c"] == "Expired"])
