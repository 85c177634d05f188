"""The one place every call goes through: retries on 429 and 5xx (POST too), token refresh, errors."""

from __future__ import annotations

import time

import pytest

from stepwise.integration.hubspot.client import (
    HubSpotAuthError,
    HubSpotDailyLimit,
    HubSpotError,
    StaticToken,
    cached_api,
)
from stepwise.integration.hubspot.fake import FakeHubSpot, stub
from stepwise.integration.hubspot.pull import batch_read


def test_429_with_rate_limit_headers_then_success_on_a_post(fake: FakeHubSpot, make_connector, make_client, sync):
    fake.populate(5)
    fake.rate_limit(r"/deals/search$", times=2)
    fake.rate_limit(r"/batch/read$", times=1, retry_after=None)   # no Retry-After: the interval headers decide
    client = make_client()
    data = sync(make_connector(client))
    assert len(data.deals) == 5
    assert client.retried["429"] == 3
    assert client.requests == client.total_calls + 3


def test_5xx_then_success(fake: FakeHubSpot, make_client):
    fake.populate(3)
    fake.fail(r"/companies/batch/read$", 502, times=2)
    client = make_client()
    assert [r["id"] for r in batch_read(client, "companies", ["50000"], ["name"])] == ["50000"]
    assert client.retried["502"] == 2


def test_gives_up_after_the_attempts_with_a_clear_error(fake: FakeHubSpot, make_client):
    fake.fail(r"/pipelines/", 503, times=10)
    with pytest.raises(HubSpotError, match="gave up after 3 attempts"):
        make_client(max_attempts=3).call("crm.pipelines.pipelines_api", "get_all", "deals")


def test_daily_limit_is_not_retried(fake: FakeHubSpot, make_client):
    fake.fail(r"/pipelines/", 429, times=5, body=stub("error_429_daily"))
    client = make_client()
    with pytest.raises(HubSpotDailyLimit, match="daily API limit"):
        client.call("crm.pipelines.pipelines_api", "get_all", "deals")
    assert client.requests == 1


def test_a_rejected_private_token_names_the_setting_and_is_never_logged(fake: FakeHubSpot, make_client, caplog):
    client = make_client(tokens=StaticToken("pat-wrong-secret-value"))
    with pytest.raises(HubSpotAuthError, match="HUBSPOT_ACCESS_TOKEN") as info:
        client.call("crm.pipelines.pipelines_api", "get_all", "deals")
    assert "pat-wrong-secret-value" not in str(info.value) + caplog.text
    assert "pat-wrong-secret-value" not in repr(client.tokens)


def test_a_missing_scope_is_an_auth_error_not_a_retry(fake: FakeHubSpot, make_client):
    fake.fail(r"/pipelines/", 403, times=1, body={
        "status": "error", "message": "This app hasn't been granted all required scopes to make this call.",
        "category": "MISSING_SCOPES", "errors": [{"message": "One or more of the following scopes are required.",
                                                  "context": {"requiredGranularScopes": ["crm.objects.deals.read"]}}]})
    with pytest.raises(HubSpotAuthError, match="403 This app hasn't been granted"):
        make_client().call("crm.pipelines.pipelines_api", "get_all", "deals")


def test_api_objects_are_built_once_per_process(fake: FakeHubSpot):
    first = cached_api(fake.base_url, "t1", "crm.objects.search_api")
    assert cached_api(fake.base_url, "t1", "crm.objects.search_api") is first
    assert cached_api(fake.base_url, "t2", "crm.objects.search_api") is not first
    config = first.api_client.configuration
    assert config.host == fake.base_url and config.retries.total == 0


def test_a_429s_retry_after_holds_the_shared_bucket_for_the_retry(fake: FakeHubSpot, make_client):
    fake.rate_limit(r"/pipelines/", times=1, retry_after="1")
    sleeps: list[float] = []
    client = make_client(max_wait=5.0, sleep=sleeps.append)  # the policy's own sleep does not wait here
    started = time.monotonic()
    client.call("crm.pipelines.pipelines_api", "get_all", "deals")
    assert sleeps == [1.0] and time.monotonic() - started >= 1.0  # so the paused bucket held the retry
    assert client.retried == {"429": 1} and client.requests == 2
