"""The LLM client on the shared call policy, against a local server: Retry-After, one retry, clear errors."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug import Request, Response

from stepwise.integration.llm import ChatClient, LLMError

ANSWER = {"choices": [{"message": {"content": 'Sure: ```{"script": "Call Ana."}```'}}]}


def endpoint(httpserver, *answers: tuple[int, dict[str, str]]) -> list[dict]:
    """The model endpoint answers `answers` in turn, then a chat completion; returns the requests it saw."""
    script, seen = list(answers), []

    def handle(request: Request) -> Response:
        seen.append(request.get_json())
        if script:
            status, headers = script.pop(0)
            return Response("{}", status=status, headers=headers)
        return Response(json.dumps(ANSWER), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(handle)
    return seen


def test_a_429s_retry_after_is_waited_then_the_answer_is_read(httpserver):
    seen = endpoint(httpserver, (429, {"Retry-After": "1"}))
    client = ChatClient(httpserver.url_for("/v1"), "fake-1", api_key="sk-secret")
    started = time.monotonic()
    assert client.complete_json([{"role": "user", "content": "hi"}]) == {"script": "Call Ana."}
    assert time.monotonic() - started >= 1.0
    assert client.calls == 2 == len(seen) and seen[0]["model"] == "fake-1"


def test_a_second_failure_is_one_llm_error(httpserver):
    seen = endpoint(httpserver, (502, {}), (503, {}))
    client = ChatClient(httpserver.url_for("/v1"), "fake-1")
    with pytest.raises(LLMError, match=r"model endpoint chat: gave up after 2 attempts \(answered 503\)"):
        client.complete_json([{"role": "user", "content": "hi"}])
    assert client.calls == 2 == len(seen)


def test_a_refusal_is_not_retried(httpserver):
    seen = endpoint(httpserver, (401, {}))
    client = ChatClient(httpserver.url_for("/v1"), "fake-1", api_key="sk-secret")
    with pytest.raises(LLMError, match="model endpoint answered 401") as info:
        client.complete_json([{"role": "user", "content": "hi"}])
    assert len(seen) == 1 and "sk-secret" not in str(info.value)
