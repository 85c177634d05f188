"""The one call path: login modes, timeouts, retries, re-auth, limits, usage — and no secret in any log line."""

from __future__ import annotations

import logging

import pytest
import requests

from stepwise.integration.salesforce.client import (
    SalesforceCallError,
    SalesforceConfigError,
    _domain,
    connect,
    local_limiter,
)
from stepwise.integration.salesforce.fake import FAST, password_settings, session_settings, stub
from stepwise.settings import Settings

SECRETS = ("s3cret-pw", "tok-XYZ", "00DFAKE!session")


def query(client, soql="SELECT Id FROM Account"):
    return list(client.query_iter(soql))


def assert_no_secrets(caplog):
    text = caplog.text
    assert not any(secret in text for secret in SECRETS), "a secret reached the log"


def test_session_id_and_instance_url_need_no_login(fake):
    client = connect(session_settings(), limiter=local_limiter(), policy=FAST)
    fake.add("Account", 2)
    assert len(query(client)) == 2
    assert fake.logins == 0 and client.instance == "fake.my.salesforce.com"


def test_password_login_uses_the_soap_login_and_every_call_has_a_timeout(fake, caplog):
    caplog.set_level(logging.DEBUG)
    client = connect(password_settings(), limiter=local_limiter(), policy=FAST)
    fake.add("Account", 1)
    assert len(query(client)) == 1
    assert fake.logins == 1
    sent = fake.rsps.calls
    assert all(call.request.req_kwargs.get("timeout") for call in sent), "a request went out without a timeout"
    assert_no_secrets(caplog)


def test_a_failed_login_is_one_clear_error_without_the_password(fake, caplog):
    fake.rsps.replace("POST", fake.rsps.registered()[-1].url, body=stub("soap_login_fault.xml"), status=500)
    with pytest.raises(SalesforceConfigError, match="INVALID_LOGIN") as err:
        connect(password_settings(), limiter=local_limiter(), policy=FAST)
    assert "s3cret-pw" not in str(err.value)
    assert_no_secrets(caplog)


def test_no_credentials_says_which_variables_to_set():
    with pytest.raises(SalesforceConfigError, match="SALESFORCE_INSTANCE_URL and SALESFORCE_SESSION_ID"):
        connect(Settings(), limiter=local_limiter(), policy=FAST)


def test_jwt_needs_an_existing_key_file(tmp_path):
    settings = Settings(SALESFORCE_USERNAME="u@example.com", SALESFORCE_CONSUMER_KEY="3MVG9",
                        SALESFORCE_PRIVATE_KEY_FILE=str(tmp_path / "missing.key"))
    with pytest.raises(SalesforceConfigError, match="SALESFORCE_PRIVATE_KEY_FILE"):
        connect(settings, limiter=local_limiter(), policy=FAST)


@pytest.mark.parametrize("given, expected", [
    ("login", "login"), ("test", "test"), ("acme.my", "acme.my"),
    ("https://acme.my.salesforce.com", "acme.my"), ("acme--uat.sandbox.my.salesforce.com", "acme--uat.sandbox.my"),
])
def test_domain_accepts_production_sandbox_and_my_domain(given, expected):
    assert _domain(given) == expected


def test_expired_session_logs_in_once_and_retries_the_call(fake, caplog):
    caplog.set_level(logging.DEBUG)
    client = connect(password_settings(), limiter=local_limiter(), policy=FAST)
    fake.add("Account", 3)
    fake.expire_session()
    assert len(query(client)) == 3
    assert fake.logins == 2 and client.stats.reauths == 1
    statuses = [c.response.status_code for c in fake.rsps.calls if "/query" in c.request.url]
    assert statuses == [401, 200]
    assert_no_secrets(caplog)


def test_expired_session_id_cannot_log_in_and_says_what_to_do(fake, client):
    fake.expire_session()
    with pytest.raises(SalesforceCallError, match="sf org display"):
        query(client)


def test_request_limit_exceeded_pauses_the_shared_bucket_then_retries(fake):
    paused = []
    limiter = local_limiter()
    original = limiter.pause
    limiter.pause = lambda seconds: (paused.append(seconds), original(seconds))  # type: ignore[method-assign]
    client = connect(session_settings(), limiter=limiter, policy=FAST)
    fake.add("Account", 1)
    fake.fail_next("query", 403, stub("errors.json")["REQUEST_LIMIT_EXCEEDED"])
    assert len(query(client)) == 1
    assert paused == [FAST.limit_pause] and client.stats.retries == 1


def test_503_then_success_is_retried_with_backoff(fake, client):
    fake.add("Account", 1)
    fake.fail_next("query", 503, "<html><body>Service Unavailable</body></html>", times=2)
    assert len(query(client)) == 1
    assert client.stats.retries == 2 and fake.calls["query"] == 3


def test_unable_to_lock_row_on_a_whole_request_is_retried(fake, client):
    fake.add("Account", 1)
    fake.fail_next("query", 400, [{"message": "unable to obtain exclusive access", "errorCode": "UNABLE_TO_LOCK_ROW"}])
    assert len(query(client)) == 1


def test_connection_errors_are_retried(fake, client):
    fake.add("Account", 1)
    fake.fail_next("query", 0, requests.ConnectionError("connection reset by peer"))
    assert len(query(client)) == 1
    assert client.stats.retries == 1


def test_a_persistent_outage_gives_up_with_a_clear_error(fake, client):
    fake.fail_next("query", 503, "down", times=10)
    with pytest.raises(SalesforceCallError, match="gave up after 4 attempts"):
        query(client)


def test_a_bad_query_is_not_retried(fake, client):
    fake.fail_next("query", 400, stub("errors.json")["INVALID_FIELD"])
    with pytest.raises(Exception, match="INVALID_FIELD"):
        query(client)
    assert fake.calls["query"] == 1


def test_api_usage_header_is_read_and_logged(fake, client, caplog):
    caplog.set_level(logging.DEBUG, logger="stepwise.integration.salesforce.client")
    fake.usage = 14000
    query(client)
    assert (client.stats.api_used, client.stats.api_limit) == (14001, 15000)
    assert any(r.levelno == logging.WARNING and "14001/15000" in r.getMessage() for r in caplog.records)


def test_calls_are_counted_by_kind(fake, client):
    fake.add("Account", 5)
    fake.page_size = 2
    query(client)
    assert client.stats.calls == 3 == fake.calls["query"]
    assert client.stats.by_kind["query"] == 3


def test_only_record_creates_are_treated_as_not_repeatable():
    from stepwise.integration.salesforce.client import _creates_a_record

    assert _creates_a_record("POST", "https://x.my.salesforce.com/services/data/v60.0/sobjects/Task/")
    assert not _creates_a_record("PATCH", "https://x/services/data/v60.0/composite/sobjects/Stepwise_Recommendation__c/Stepwise_Id__c")
    assert not _creates_a_record("POST", "https://x/services/data/v60.0/composite")
    assert not _creates_a_record("GET", "https://x/services/data/v60.0/sobjects/Task/describe")


def test_syncing_stops_before_the_org_runs_out_of_daily_calls(fake, client, caplog):
    import pytest

    from stepwise.integration.salesforce.client import SalesforceDailyQuota

    fake.usage = 14_300  # the next call reports 14,301 of 15,000: past the 95 % Stepwise leaves for others
    with pytest.raises(SalesforceDailyQuota, match=r"14301/15000 \(95%\) is past the 95%"):
        query(client)
    assert any(r.levelno == logging.ERROR and "syncing pauses" in r.getMessage() for r in caplog.records)


def test_a_create_answered_5xx_or_timed_out_is_not_repeated_but_one_never_sent_is(fake, client):
    create = "sobjects/Task/"
    fake.fail_next("create", 503, "down")
    with pytest.raises(SalesforceCallError, match="HTTP 503; not repeated here"):
        client.restful(create, method="POST", json={"Subject": "Call"})
    fake.fail_next("create", 0, requests.ReadTimeout("no answer"))
    with pytest.raises(SalesforceCallError, match="ReadTimeout talking to Salesforce; not repeated here"):
        client.restful(create, method="POST", json={"Subject": "Call"})
    assert fake.calls["create"] == 2 and not fake.tasks_created  # the caller's retry looks the record up first
    fake.fail_next("create", 0, requests.ConnectTimeout("never connected"))
    client.restful(create, method="POST", json={"Subject": "Call"})
    assert fake.calls["create"] == 4 and len(fake.tasks_created) == 1
    assert client.stats.retried == {"network": 1} and client.stats.by_kind["post"] == 4
