"""`stepwise check hubspot` exits like `stepwise check salesforce`: 2 for bad configuration (a token
HubSpot rejects), 1 for findings to fix (a missing scope or property), 0 when all is there."""

from __future__ import annotations

from click.testing import CliRunner

from stepwise.cli.core import check
from stepwise.integration.hubspot.fake import FakeHubSpot
from stepwise.settings import get_settings


def _check_hubspot(fake: FakeHubSpot, monkeypatch, tmp_path, token: str):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", token)
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake.base_url)
    monkeypatch.setenv("HUBSPOT_PORTAL_ID", "4242")  # so the token is first used by the check itself
    monkeypatch.setenv("STEPWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'check.db'}")
    monkeypatch.delenv("STEPWISE_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(check, ["hubspot"])
    finally:
        get_settings.cache_clear()


def test_a_token_hubspot_rejects_is_bad_configuration(fake: FakeHubSpot, monkeypatch, tmp_path):
    fake.populate(1)
    result = _check_hubspot(fake, monkeypatch, tmp_path, "pat-na1-not-this-portals")
    assert result.exit_code == 2 and "rejected the access token" in result.output
    assert "Traceback" not in result.output


def test_missing_write_back_properties_are_findings_to_fix(fake: FakeHubSpot, monkeypatch, tmp_path):
    fake.populate(1)
    result = _check_hubspot(fake, monkeypatch, tmp_path, "pat-na1-test-token")
    assert result.exit_code == 1 and "MISSING write-back properties missing" in result.output
    assert "ok   read deals" in result.output
