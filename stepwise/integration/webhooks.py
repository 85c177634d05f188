"""Slack and Microsoft Teams incoming webhooks: the message shapes and the one POST (README "Alerts").

- Slack: an incoming webhook (https://hooks.slack.com/services/…) takes `{"text", "blocks"}`; `text`
  is the notification's fallback, the blocks the message.  It answers 200 "ok".
- Teams: Office 365 connectors (MessageCard) are retired; a Workflows webhook ("Post to a channel
  when a webhook request is received") takes a message whose one attachment is an Adaptive Card, and
  answers 202.  Adaptive Card 1.4: what Teams renders on desktop and mobile alike.

Every POST goes through the shared call policy (integration/http.py): a 429 waits its `Retry-After`,
a 5xx or a lost connection is retried with backoff, anything else fails at once.  A webhook URL is
a secret (it is the whole credential): it never appears in a log line or an error; the host does.
urllib3 logs the request path at DEBUG level, so that one logger gets a filter that masks it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

import requests
from pydantic import SecretStr

from stepwise.integration.http import (
    CallError,
    CallPolicy,
    CallStats,
    Governor,
    RateLimiter,
    TransientError,
    limiter_for,
    transient_answer,
)

log = logging.getLogger(__name__)

Kind = Literal["slack", "teams"]
KINDS: tuple[Kind, ...] = ("slack", "teams")
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True)
class Webhook:
    name: str       # what the alerts file calls it: the sent-log's channel, safe to log
    kind: Kind
    url: SecretStr

    @property
    def host(self) -> str:
        """The one part of the URL that may be logged."""
        return urlparse(self.url.get_secret_value()).hostname or "?"


@dataclass(frozen=True)
class Alert:
    """One urgent action, as a message says it, whichever the chat."""

    title: str
    reason: str                  # why it is urgent
    record: str                  # "Opportunity 006…": what it is about
    best_before: str
    link: str | None = None      # the record in the CRM, or its Stepwise card page


# -- the message shapes -------------------------------------------------------------------------


def _mrkdwn(text: str) -> str:
    # Slack reads &, < and > as markup (links, mentions): escaped, a deal name cannot ping a channel.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(alerts: list[Alert]) -> dict[str, Any]:
    """One message for a rep's alerts of a run: `text` is what the notification shows, `blocks` the message."""
    first = alerts[0]
    if len(alerts) == 1:
        fallback = _mrkdwn(f"🔴 Urgent: {first.title} — {first.reason}") + (f" <{first.link}|Open>" if first.link else "")
        blocks: list[dict[str, Any]] = []
    else:
        fallback = _mrkdwn(f"🔴 {len(alerts)} urgent actions today: " + "; ".join(a.title for a in alerts))[:3000]
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": f"🔴 {len(alerts)} urgent actions today"}}]
    for alert in alerts:
        section: dict[str, Any] = {"type": "section", "text": {
            "type": "mrkdwn", "text": f"*🔴 {_mrkdwn(alert.title)}*\n{_mrkdwn(alert.reason)}"[:3000]}}
        if alert.link:
            section["accessory"] = {"type": "button", "text": {"type": "plain_text", "text": "Open the record"},
                                    "url": alert.link}
        blocks += [section, {"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(
            f"{alert.record} · best before {alert.best_before} · Stepwise")[:3000]}]}]
    return {"text": fallback, "blocks": blocks}


def teams_message(alerts: list[Alert]) -> dict[str, Any]:
    """A Workflows webhook message: one Adaptive Card, one container per alert."""
    body: list[dict[str, Any]] = []
    if len(alerts) > 1:
        body.append({"type": "TextBlock", "text": f"🔴 {len(alerts)} urgent actions today", "weight": "Bolder",
                     "size": "Large", "wrap": True})
    for alert in alerts:
        items: list[dict[str, Any]] = [
            {"type": "TextBlock", "text": f"🔴 {alert.title}", "weight": "Bolder", "size": "Medium",
             "color": "Attention", "wrap": True},
            {"type": "TextBlock", "text": alert.reason, "wrap": True},
            {"type": "FactSet", "facts": [{"title": "Record", "value": alert.record},
                                          {"title": "Best before", "value": alert.best_before}]},
        ]
        if alert.link:
            items.append({"type": "ActionSet", "actions": [
                {"type": "Action.OpenUrl", "title": "Open the record", "url": alert.link}]})
        body.append({"type": "Container", "separator": len(body) > 0, "items": items})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body}
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}]}


#: alerts in one message at most: Slack takes 50 blocks (a header and two per alert)
MAX_PER_MESSAGE = 10


def messages_for(kind: Kind, alerts: list[Alert]) -> list[dict[str, Any]]:
    """The messages that carry `alerts`, in order, at most MAX_PER_MESSAGE alerts each."""
    build = slack_message if kind == "slack" else teams_message
    return [build(alerts[i:i + MAX_PER_MESSAGE]) for i in range(0, len(alerts), MAX_PER_MESSAGE)]


# -- the POST -----------------------------------------------------------------------------------


class WebhookError(CallError):
    """The webhook refused the message for good, or kept failing; the message names the host only."""


class _MaskPaths(logging.Filter):
    """Masks the webhooks' secret paths and queries in urllib3's request lines (`"POST /services/T…/B…/X… HTTP/1.1"
    200`; a Workflows URL carries its signature in the query)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []
        self.lock = threading.Lock()

    def add(self, url: str) -> None:
        parts = urlparse(url)
        found = [parts.path + "?" + parts.query if parts.query else "", parts.path if len(parts.path) > 1 else ""]
        with self.lock:
            new = [s for s in found if s and s not in self.secrets]
            if new:
                self.secrets = sorted([*self.secrets, *new], key=len, reverse=True)  # the whole URL tail first

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "/…")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(self.mask(a) if isinstance(a, str) else a for a in args)
        return True


_MASK = _MaskPaths()
logging.getLogger("urllib3.connectionpool").addFilter(_MASK)


class WebhookSender:
    """POSTs messages to webhooks under the shared call policy, paced per webhook.

    Slack allows about one message a second per webhook (short bursts pass): each webhook gets a bucket
    of `burst` messages refilled at one a second, shared through Redis when workers run.
    """

    def __init__(self, policy: CallPolicy | None = None, *, redis_url: str | None = None, burst: int = 5):
        self.policy = policy or CallPolicy(timeout=(3.05, 10.0), max_attempts=4, backoff=1.0, max_backoff=30.0)
        self.redis_url, self.burst = redis_url, burst
        self.stats = CallStats()
        self._session = requests.Session()
        self._limiters: dict[str, RateLimiter] = {}

    def send(self, webhook: Webhook, message: dict[str, Any]) -> None:
        """Deliver `message`, retrying what may pass on another try; a `WebhookError` when it does not."""
        url = webhook.url.get_secret_value()
        _MASK.add(url)
        governor = Governor(f"{webhook.kind} webhook {webhook.host}", self.policy, [self._limiter(url)], self.stats)
        try:
            governor.call(lambda: self._post(url, message), label="alert")
        except CallError as exc:
            text = str(exc) if str(exc).startswith(governor.service) else f"{governor.service}: {exc}"
            raise WebhookError(text, exc.status) from None

    def _limiter(self, url: str) -> RateLimiter:
        name = "webhook:" + hashlib.sha256(url.encode()).hexdigest()[:16]  # the URL itself is never a key
        if name not in self._limiters:
            self._limiters[name] = limiter_for(name, self.burst, float(self.burst), self.redis_url)
        return self._limiters[name]

    def _post(self, url: str, message: dict[str, Any]) -> None:
        try:
            response = self._session.post(url, json=message, timeout=self.policy.timeout)
        except requests.RequestException as exc:
            # Only the exception's name: its text carries the URL.
            raise TransientError(f"unreachable: {type(exc).__name__}", reason="network",
                                 refused=isinstance(exc, requests.ConnectionError)) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise transient_answer(response.status_code, response.headers, f"answered {response.status_code}")
        if not 200 <= response.status_code < 300:
            # Slack says why in a word (invalid_payload, no_service, channel_is_archived…): safe and useful.
            raise WebhookError(f"answered {response.status_code} {_MASK.mask(response.text)[:100]!r}",
                               response.status_code)
