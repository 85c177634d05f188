"""After a run's write-back: the day's urgent actions to each rep's Slack or Teams webhook (README "Alerts").

Off unless STEPWISE_ALERTS_FILE is set.  Only HIGH cards still open ("new") with an owner whose webhook
the file names; each rep's best first ("Today" order when it exists, then score), at most
`max_per_rep_per_day` a day, each card once a day per channel: the sent-log (store/alert_log.py)
reserves an alert before it is sent, so re-syncs, chunks, workers and processes never send it twice.
A rep's alerts of one run go out as one message (a short digest), not one message each.

Never fails the run: a webhook that keeps failing is logged and counted (`counts["alerts"]`); its
alerts are taken over by the next run, and its other reps' alerts wait for it (unreserved) instead
of each paying the retries again.

Here rather than in integration/: deciding who is told what, once, under a cap, is part of the run
(workers); the HTTP to Slack and Teams is integration/webhooks.py, the sent-log store/alert_log.py.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from stepwise.engine.recommendation import Recommendation
from stepwise.integration.webhooks import MAX_PER_MESSAGE, Alert, WebhookError, WebhookSender, messages_for
from stepwise.settings import Settings, get_settings
from stepwise.store import AlertKey, AlertLog, FanoutRun, Store
from stepwise.workers.alerts_config import AlertsConfig, AlertsConfigError, load_alerts_config

log = logging.getLogger(__name__)

KEEP_DAYS = 30  # the sent-log's history: enough to answer "was I told?" for a month
_LABELS = {"deal": "Deal", "account": "Account", "lead": "Lead"}
_SALESFORCE_OBJECTS = {"deal": "Opportunity", "account": "Account", "lead": "Lead"}
_HUBSPOT_OBJECTS = {"deal": "0-3", "account": "0-2"}  # HubSpot's object type ids: deals, companies


def alert_run(run: FanoutRun, recs: Iterable[Recommendation], connector: Any, store: Store, *,
              settings: Settings | None = None, sender: WebhookSender | None = None,
              today: date | None = None) -> dict[str, Any]:
    """Send the run's alerts; {"alerts": counts} for the run's counts, {} when alerts are off (or the run
    does not write back: `--no-write-back` tells no one)."""
    settings = settings or get_settings()
    if settings.alerts_file is None or not run.write_back:
        return {}
    try:
        config = load_alerts_config(settings.alerts_file)
        counts = _alert(run.source, str(run.as_of)[:10], list(recs), connector, store, config, settings, sender, today)
    except AlertsConfigError as exc:
        log.error("alerts: none sent: %s", exc)
        return {"alerts": {"error": str(exc)}}
    except Exception as exc:  # the run is done and written back: nothing here may fail it
        # The type and where, not the message: it could carry a webhook URL.
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        log.error("alerts: stopped after an unexpected %s%s", type(exc).__name__,
                  f" at {Path(where.filename).name}:{where.lineno} in {where.name}" if where else "")
        return {"alerts": {"error": type(exc).__name__}}
    return {"alerts": counts}


def _alert(source: str, day: str, recs: list[Recommendation], connector: Any, store: Store, config: AlertsConfig,
           settings: Settings, sender: WebhookSender | None, today: date | None) -> dict[str, Any]:
    sent_log = AlertLog(store)
    if sent_log.in_memory():
        log.info("alerts: not sent from a run on a scratch store: nothing would remember them (run with a store)")
        return {"skipped": "scratch store"}
    today = today or datetime.now(UTC).date()
    if date.fromisoformat(str(day)[:10]) < today - timedelta(days=1):
        # A replay or backfill of an old day: its "urgent" is long past.
        log.info("alerts: not sent for %s, a past day", day)
        return {"skipped": "past day"}
    sender = sender or WebhookSender(redis_url=settings.redis_url)
    counts: Counter[str] = Counter({"sent": 0, "failed": 0, "skipped_over_cap": 0})
    down: set[str] = set()
    known, used, cap = sent_log.statuses(day), sent_log.reserved_on(day), config.max_per_rep_per_day
    for owner, mine in _urgent_by_owner(recs).items():
        webhook = config.webhook_for(owner)
        if webhook is None:
            counts["no_webhook"] += len(mine)
            continue
        if webhook.name in down:
            counts["waiting_for_webhook"] += len(mine)  # not reserved: the next run tries
            continue
        ours: list[tuple[AlertKey, Recommendation]] = []
        for rec in mine:
            key = AlertKey(rec.card_key or rec.id, day, webhook.name)
            # What the day's log already says needs no write (a re-sync's usual case): only a new or
            # retried alert is taken, in a transaction that settles any race with another process.
            if known.get(key) == "sent":
                counts["already_sent"] += 1
                continue
            if key not in known and used.get(owner, 0) >= cap:
                counts["skipped_over_cap"] += 1
                continue
            taken = sent_log.take(key, source=source, owner_id=owner, rec_id=rec.id, cap=cap)
            if taken == "over_cap":
                used[owner] = cap
                counts["skipped_over_cap"] += 1
            elif taken == "done":
                # Sent by a process that raced us, or in flight elsewhere / given up after its attempts.
                counts["already_sent" if known.get(key) is None else "not_retried"] += 1
            else:
                ours.append((key, rec))
        # One message per rep and run (up to MAX_PER_MESSAGE alerts each): a channel is told once, not N times.
        alerts = [_alert_of(rec, config, settings, connector) for _, rec in ours]
        for n, message in enumerate(messages_for(webhook.kind, alerts)):
            batch = ours[n * MAX_PER_MESSAGE:(n + 1) * MAX_PER_MESSAGE]
            try:
                sender.send(webhook, message)
            except WebhookError as exc:
                # This batch and any after it: reserved, unsent, taken over by the next run.
                unsent = ours[n * MAX_PER_MESSAGE:]
                sent_log.failed(*(key for key, _ in unsent), error=str(exc))
                counts["failed"] += len(unsent)
                down.add(webhook.name)
                log.warning("alerts: %s", exc)
                break
            sent_log.sent(*(key for key, _ in batch))
            counts["sent"] += len(batch)
            counts["messages"] += 1
    sent_log.forget_before((date.fromisoformat(str(day)[:10]) - timedelta(days=KEEP_DAYS)).isoformat())
    log.info("alerts: %s", ", ".join(f"{n} {what}" for what, n in counts.items()))
    return dict(counts)


def _urgent_by_owner(recs: list[Recommendation]) -> dict[str, list[Recommendation]]:
    """Each owner's open HIGH cards, the ones to tell first first."""
    out: dict[str, list[Recommendation]] = defaultdict(list)
    for rec in recs:
        if rec.urgency == "HIGH" and rec.status == "new" and rec.owner_id:
            out[str(rec.owner_id)].append(rec)
    for mine in out.values():
        mine.sort(key=lambda r: (r.today_rank is None, r.today_rank or 0, -r.score, r.id))
    return dict(out)


def _alert_of(rec: Recommendation, config: AlertsConfig, settings: Settings, connector: Any) -> Alert:
    reason = rec.urgency_reason or (rec.why[0] if rec.why else "Urgent today")
    return Alert(title=rec.title, reason=reason, record=f"{_LABELS.get(rec.record_type, rec.record_type)} {rec.record_id}",
                 best_before=rec.best_before, link=record_link(rec, config, settings, connector))


def record_link(rec: Recommendation, config: AlertsConfig, settings: Settings, connector: Any = None) -> str | None:
    """The record in its CRM when its address is known, else its Stepwise card page when STEPWISE_PUBLIC_URL is set."""
    if rec.source == "salesforce" and rec.record_type in _SALESFORCE_OBJECTS:
        host = _salesforce_host(connector, settings)
        if host:
            return f"https://{host}/lightning/r/{_SALESFORCE_OBJECTS[rec.record_type]}/{quote(rec.record_id, safe='')}/view"
    portal = rec.source.removeprefix("hubspot-") if rec.source.startswith("hubspot-") else ""
    if portal.isdigit() and rec.record_type in _HUBSPOT_OBJECTS:
        return (f"{config.hubspot_app_url}/contacts/{portal}/record/{_HUBSPOT_OBJECTS[rec.record_type]}/"
                f"{quote(rec.record_id, safe='')}")
    if settings.public_url:
        return (f"{settings.public_url}/cards/{quote(rec.source, safe='')}/{rec.record_type}/"
                f"{quote(rec.record_id, safe='')}")
    return None


def _salesforce_host(connector: Any, settings: Settings) -> str | None:
    # The org the run wrote back to (its client's instance), else the one SALESFORCE_INSTANCE_URL names.
    instance = getattr(getattr(connector, "client", None), "instance", None)
    if not isinstance(instance, str) or not instance:
        instance = settings.salesforce_instance_url or ""
    host = urlparse(instance).hostname if "://" in instance else instance.strip("/")
    return host or None
