"""The shared call policy over real HTTP (a local server): Retry-After, backoff, giving up, creates, the
daily quota, counting.  `send` is the least a client does on the policy, as the CRM and LLM clients do."""

from __future__ import annotations

import email.utils
import logging
import re
import time

import pytest
import requests
from werkzeug import Request, Response

from stepwise.integration.http import (
    CallError,
    CallPolicy,
    DailyQuotaExhausted,
    Governor,
    LocalTokenBucket,
    TransientError,
    retry_after,
    transient_answer,
)


class Server:
    """A local server playing a script: each request gets the next (status, headers) answer, then 200s.

    It also counts the day's calls and reports them in `X-Usage: used/limit`, as a CRM reports its quota.
    """

    def __init__(self, httpserver, *answers: tuple[int, dict[str, str]], daily_limit: int = 1000):
        self.answers, self.seen, self.daily_limit = list(answers), [], daily_limit
        self.url = httpserver.url_for("/api")
        httpserver.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.seen.append(request.method)
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        return Response("{}", status=status, headers={**headers, "X-Usage": f"{len(self.seen)}/{self.daily_limit}"})


class Clock:
    """Time that moves only when someone sleeps: the policy's waits and the bucket's, on one timeline."""

    def __init__(self) -> None:
        self.now, self.slept = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def governed(clock: Clock, **policy) -> tuple[Governor, LocalTokenBucket]:
    bucket = LocalTokenBucket(1000, 1.0, clock=lambda: clock.now, sleep=clock.sleep)
    policy = {"backoff": 0.5, "max_backoff": 30.0, "max_attempts": 4, "timeout": 5.0, **policy}
    return Governor("Test", CallPolicy(sleep=clock.sleep, **policy), [bucket]), bucket


def send(governor: Governor, server: Server, method: str = "GET", label: str = "ping",
         sent_at: list[float] | None = None, clock: Clock | None = None) -> requests.Response:
    def attempt() -> requests.Response:
        if sent_at is not None and clock is not None:
            sent_at.append(clock.now)
        try:
            response = requests.request(method, server.url, timeout=governor.policy.timeout)
        except requests.ConnectionError as exc:
            raise TransientError(type(exc).__name__, reason="network") from None
        used, limit = map(int, response.headers["X-Usage"].split("/"))
        governor.note_daily_usage(used, limit)
        if response.status_code == 429 or response.status_code >= 500:
            raise transient_answer(response.status_code, response.headers, f"HTTP {response.status_code}")
        return response

    return governor.call(attempt, label=label, idempotent=method != "POST")


def test_a_429s_retry_after_is_waited_and_holds_the_shared_bucket_for_everyone(httpserver):
    clock = Clock()
    server = Server(httpserver, (429, {"Retry-After": "3"}))
    governor, bucket = governed(clock)
    sent_at: list[float] = []
    assert send(governor, server, sent_at=sent_at, clock=clock).status_code == 200
    assert sent_at == [0.0, 3.0] and clock.slept == [3.0]
    assert bucket.paused_until == 3.0  # another worker on this bucket waited too
    assert governor.stats.retried == {"429": 1} and governor.stats.calls == 2 == len(server.seen)


def test_a_retry_after_longer_than_the_longest_wait_still_holds_the_bucket_that_long(httpserver):
    clock = Clock()
    server = Server(httpserver, (429, {"Retry-After": "90"}))
    governor, _ = governed(clock, max_backoff=30.0)
    sent_at: list[float] = []
    send(governor, server, sent_at=sent_at, clock=clock)
    # The policy sleeps at most 30 s; the bucket, paused for the 90 s asked, holds the retry the rest.
    assert clock.slept[0] == 30.0 and sent_at == [0.0, 90.0]


def test_a_503s_retry_after_as_a_date_is_waited(httpserver):
    clock = Clock()
    when = email.utils.formatdate(time.time() + 6, usegmt=True)  # whole seconds: between 5 and 6 s from now
    server = Server(httpserver, (503, {"Retry-After": when}))
    governor, _ = governed(clock)
    send(governor, server)
    assert 3.0 <= clock.slept[0] <= 6.0  # less the time the request took, however loaded the machine
    assert governor.stats.retried == {"503": 1}


def test_without_retry_after_the_waits_double_up_to_the_longest(httpserver):
    clock = Clock()
    server = Server(httpserver, (500, {}), (502, {}), (503, {}))
    governor, _ = governed(clock, backoff=1.0, max_backoff=3.0)
    send(governor, server)
    assert clock.slept == [1.0, 2.0, 3.0]
    assert governor.stats.retried == {"500": 1, "502": 1, "503": 1} and governor.stats.done == {"ping": 1}


def test_a_persistent_failure_gives_up_with_one_clear_error(httpserver):
    clock = Clock()
    server = Server(httpserver, *[(503, {})] * 5)
    governor, _ = governed(clock, max_attempts=3)
    with pytest.raises(CallError, match=r"^Test ping: gave up after 3 attempts \(HTTP 503\)$") as info:
        send(governor, server)
    assert info.value.status == 503 and not isinstance(info.value, TransientError)
    assert len(server.seen) == 3 == governor.stats.calls and governor.stats.retried == {"503": 2}
    assert not governor.stats.done


def test_a_create_is_repeated_only_after_a_refusal_that_did_nothing(httpserver):
    clock = Clock()
    server = Server(httpserver, (500, {}), (429, {"Retry-After": "0"}))
    governor, _ = governed(clock)
    with pytest.raises(CallError, match="HTTP 500; not repeated here"):
        send(governor, server, method="POST")  # the 500 may have created it: the caller looks it up first
    assert server.seen == ["POST"]
    assert send(governor, server, method="POST").status_code == 200  # a 429 created nothing
    assert server.seen == ["POST"] * 3


def test_calls_stop_before_the_daily_quota_runs_out(httpserver, caplog):
    clock = Clock()
    server = Server(httpserver, daily_limit=100)
    governor, _ = governed(clock)
    with pytest.raises(DailyQuotaExhausted, match=r"Test API usage 95/100 \(95%\) is past the 95%"):
        for _ in range(100):
            send(governor, server)
    assert len(server.seen) == 95  # stopped at 95 % of the quota, and the stopping answer was not retried
    assert (governor.stats.api_used, governor.stats.api_limit) == (95, 100)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "API usage" in r.getMessage()]
    assert warned and warned[0].getMessage().startswith("Test API usage 80/100")


def test_every_request_is_counted_by_kind_and_every_call_done_by_label(httpserver):
    clock = Clock()
    server = Server(httpserver, (200, {}), (200, {}), (503, {"Retry-After": "0"}))
    governor, _ = governed(clock)
    send(governor, server, label="read:a")
    send(governor, server, label="read:a")
    send(governor, server, label="write")
    stats = governor.stats
    assert stats.calls == 4 == len(server.seen)
    assert stats.by_kind == {"read:a": 2, "write": 2} and stats.done == {"read:a": 2, "write": 1}
    assert stats.retries == 1 and stats.retried == {"503": 1}
    assert stats.summary() == "4 API calls (read:a 2, write 2), org usage 4/1000, 1 retries, 0 re-auths"


def test_an_unreachable_service_is_retried_then_given_up(httpserver):
    clock = Clock()
    server = Server(httpserver)
    server.url = "http://127.0.0.1:9/api"  # nothing listens on the discard port
    governor, _ = governed(clock, max_attempts=2)
    with pytest.raises(CallError, match="gave up after 2 attempts"):
        send(governor, server)
    assert governor.stats.retried == {"network": 1} and governor.stats.calls == 2


@pytest.mark.parametrize("value, expected", [
    ("3", 3.0), ("1.5", 1.5), ("-4", 0.0), ("soon", None), (None, None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: go now
])
def test_retry_after_reads_seconds_and_dates(value, expected):
    assert retry_after({} if value is None else {"Retry-After": value}) == expected
