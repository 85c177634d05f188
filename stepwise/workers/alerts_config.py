"""STEPWISE_ALERTS_FILE: who gets which urgent actions in which Slack or Teams channel (README "Alerts").

    max_per_rep_per_day: 5          # optional, default 5
    webhooks:                       # named incoming webhooks: one per rep, per team, or one for all
      sales-emea: {kind: teams, url_env: STEPWISE_WEBHOOK_EMEA}   # the URL from the environment (12-factor)
      ana: {kind: slack, url: "https://hooks.slack.com/services/T000/B000/XXXX"}
    owners:                         # CRM owner id → the webhook its alerts go to
      "0055g00000AbCdE": ana
      "0055g00000FgHiJ": sales-emea
    default: sales-emea             # optional: the owners not listed; without it they get no alert
    hubspot_app_url: https://app-eu1.hubspot.com   # optional: HubSpot record links on an EU portal

A webhook URL is a secret: it is kept as a SecretStr and an error names the webhook, never its URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from stepwise.integration.webhooks import KINDS, Webhook

DEFAULT_CAP = 5
HUBSPOT_APP_URL = "https://app.hubspot.com"


class AlertsConfigError(ValueError):
    """The alerts file is unreadable or wrong; the message says where."""


@dataclass(frozen=True)
class AlertsConfig:
    webhooks: dict[str, Webhook]
    owners: dict[str, str] = field(default_factory=dict)   # owner id → webhook name
    default: str | None = None
    max_per_rep_per_day: int = DEFAULT_CAP
    hubspot_app_url: str = HUBSPOT_APP_URL

    def webhook_for(self, owner_id: str | None) -> Webhook | None:
        if not owner_id:
            return None
        name = self.owners.get(str(owner_id), self.default)
        return self.webhooks.get(name) if name else None


def load_alerts_config(path: Path, environ: dict[str, str] | None = None) -> AlertsConfig:
    environ = dict(os.environ) if environ is None else environ
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AlertsConfigError(f"STEPWISE_ALERTS_FILE {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise AlertsConfigError(f"STEPWISE_ALERTS_FILE {path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise AlertsConfigError(f"STEPWISE_ALERTS_FILE {path}: expected a mapping with `webhooks` and `owners`")

    def fail(what: str) -> AlertsConfigError:
        return AlertsConfigError(f"STEPWISE_ALERTS_FILE {path}: {what}")

    unknown = set(raw) - {"max_per_rep_per_day", "webhooks", "owners", "default", "hubspot_app_url"}
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    webhooks = {str(name): _webhook(str(name), spec, environ, fail) for name, spec in (raw.get("webhooks") or {}).items()}
    owners = {str(owner): str(name) for owner, name in (raw.get("owners") or {}).items()}
    default = raw.get("default")
    for owner, name in [*owners.items(), *([("default", str(default))] if default is not None else [])]:
        if name not in webhooks:
            raise fail(f"{owner} names webhook {name!r}, which `webhooks` does not define")
    cap = raw.get("max_per_rep_per_day", DEFAULT_CAP)
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
        raise fail(f"max_per_rep_per_day must be a whole number ≥ 0, got {cap!r}")
    app = str(raw.get("hubspot_app_url") or HUBSPOT_APP_URL).rstrip("/")
    if not app.startswith("https://"):
        raise fail(f"hubspot_app_url must be an https:// URL, got {app!r}")
    return AlertsConfig(webhooks, owners, str(default) if default is not None else None, cap, app)


def _webhook(name: str, spec: Any, environ: dict[str, str], fail: Any) -> Webhook:
    if not isinstance(spec, dict):
        raise fail(f"webhook {name!r}: expected {{kind: slack|teams, url: …}} or {{kind: …, url_env: VARIABLE}}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise fail(f"webhook {name!r}: kind must be slack or teams, got {kind!r}")
    if "url_env" in spec:
        url = environ.get(str(spec["url_env"]), "")
        if not url:
            raise fail(f"webhook {name!r}: the environment variable {spec['url_env']} is not set")
    else:
        url = str(spec.get("url") or "")
    if not url.startswith(("https://", "http://")):
        # The value itself is not repeated: it may be most of a secret.
        raise fail(f"webhook {name!r}: url must be an https:// webhook URL")
    return Webhook(name, kind, SecretStr(url))
