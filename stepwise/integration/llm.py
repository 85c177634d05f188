"""An OpenAI-compatible chat endpoint (hosted or a local server): the optional explanation writer.

Off unless STEPWISE_LLM_URL is set.  Every call has a timeout and one retry
on a transient failure; the key is never logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

log = logging.getLogger(__name__)


class LLMError(Exception):
    """The model could not be reached or did not answer usable JSON."""


class _Transient(LLMError):
    pass


class ChatClient:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 20.0):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.timeout = model, timeout
        self._session = requests.Session()
        if api_key:
            self._session.headers["Authorization"] = f"Bearer {api_key}"
        self.calls = 0

    @retry(retry=retry_if_exception_type(_Transient), stop=stop_after_attempt(2), wait=wait_exponential(0.2, max=2),
           reraise=True)
    def complete_json(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        self.calls += 1
        try:
            response = self._session.post(self.url, timeout=self.timeout, json={
                "model": self.model, "messages": messages, "temperature": 0.2,
            })
        except requests.RequestException as exc:
            raise _Transient(f"model endpoint unreachable: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"model endpoint answered {response.status_code}")
        if response.status_code != 200:
            raise LLMError(f"model endpoint answered {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
            return _json_object(content)
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
