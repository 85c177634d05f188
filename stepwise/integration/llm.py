"""An OpenAI-compatible chat endpoint (hosted or a local server): the optional explanation writer.

Off unless STEPWISE_LLM_URL is set.  Every call has a timeout and goes through the
shared call policy (integration/http.py) with one retry on a transient failure
(a 429 or 5xx, waiting what `Retry-After` asks up to two seconds, or no answer at
all); the key is never logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from stepwise.integration.http import CallError, CallPolicy, Governor, TransientError, transient_answer

log = logging.getLogger(__name__)


class LLMError(Exception):
    """The model could not be reached or did not answer usable JSON."""


class ChatClient:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 20.0):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._session = requests.Session()
        if api_key:
            self._session.headers["Authorization"] = f"Bearer {api_key}"
        # No rate limiter: STEPWISE_LLM_BUDGET bounds the calls of a run (README "Explanations: templates first…").
        self.governor = Governor("model endpoint", CallPolicy(timeout=timeout, max_attempts=2, backoff=0.2,
                                                              max_backoff=2.0))

    @property
    def calls(self) -> int:
        """Requests sent, the retry included."""
        return self.governor.stats.calls

    def complete_json(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        try:
            content = self.governor.call(lambda: self._once(messages), label="chat")
        except CallError as exc:
            raise LLMError(str(exc)) from None
        try:
            return _json_object(content)
        except (ValueError, TypeError):
            raise LLMError("model answer is not the expected JSON object") from None

    def _once(self, messages: list[dict[str, str]]) -> Any:
        try:
            response = self._session.post(self.url, timeout=self.governor.policy.timeout, json={
                "model": self.model, "messages": messages, "temperature": 0.2,
            })
        except requests.RequestException as exc:
            raise TransientError(f"unreachable: {type(exc).__name__}", reason="network") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise transient_answer(response.status_code, response.headers, f"answered {response.status_code}")
        if response.status_code != 200:
            raise LLMError(f"model endpoint answered {response.status_code}")
        try:
            return response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError("model answer is not the expected JSON object") from None


def _json_object(content: str) -> dict[str, Any]:
    """The first JSON object in the answer (models like to wrap it in prose or code fences)."""
    start, end = content.find("{"), content.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object")
    value = json.loads(content[start:end + 1])
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value
