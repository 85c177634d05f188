"""Slack and Teams alerts for the day's HIGH cards, against a local fake webhook server (README "Alerts")."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug import Request, Response

from stepwise.engine.recommendation import Factors, Recommendation, recommendation_id
from stepwise.integration.http import CallPolicy
from stepwise.integration.webhooks import WebhookSender
from stepwise.settings import load_settings
from stepwise.store import AlertLog, FanoutRun, Store
from stepwise.workers import alerts as alerts_module
from stepwise.workers.alerts import alert_run

TODAY = datetime.now(UTC).date().isoformat()
SLACK_PATH = "/services/T0001/B0001/slackSECRETtoken"
TEAMS_PATH = "/workflows/4f1c/triggers/manual/paths/invoke"
TEAMS_SIG = "teamsSIGsecret"
FAST = CallPolicy(timeout=5.0, max_attempts=3, backoff=0.05, max_backoff=0.2)
SF = SimpleNamespace(client=SimpleNamespace(instance="acme.my.salesforce.com"))  # what the Salesforce connector has


def rec(record_id: str, owner: str = "005A", *, score: float = 80.0, urgency: str = "HIGH", source: str = "salesforce",
        record_type: str = "deal", title: str | None = None, status: str = "new", today_rank: int | None = None,
        urgency_reason: str = "") -> Recommendation:
    return Recommendation(
        id=recommendation_id(source, record_id, "close_window", TODAY), source=source, record_type=record_type,
        record_id=record_id, deal_id=record_id if record_type == "deal" else None, account_id="001X", lead_id=None,
        action_id="close_window", category="renewal", title=title or f"Renew contract on {record_id}", score=score,
        factors=Factors(0.5, 0.5, 0.9, 0.5), urgency=urgency, expected_impact="keeps the contract",
        why=("Contract ends in 9 days", "No renewal quote yet"), how=("Call the buyer",), offer={}, constraints=(),
        best_before="2026-12-09", success_rate=None, alternatives=(), removed=(), model_version="test-1",
        as_of=TODAY, owner_id=owner, status=status, today_rank=today_rank, urgency_reason=urgency_reason)


def run_of(source: str = "salesforce", day: str = TODAY, write_back: bool = True) -> FanoutRun:
    return FanoutRun(run_id="run-1", source=source, spec=source, full=False, as_of=day, write_back=write_back,
                     population={}, pulled={}, skipped_rows=0, chunks=1)


def webhook_server(httpserver, path: str, *answers: tuple[int, dict[str, str], str]) -> list[dict]:
    """`path` answers `answers` in turn, then 200 "ok"; returns the JSON bodies it received."""
    script, seen = list(answers), []

    def handle(request: Request) -> Response:
        seen.append(json.loads(request.get_data()))
        if script:
            status, headers, body = script.pop(0)
            return Response(body, status=status, headers=headers)
        return Response("ok", status=200)

    httpserver.expect_request(path, method="POST").respond_with_handler(handle)
    return seen


@pytest.fixture
def configure(httpserver, tmp_path: Path, monkeypatch):
    """Writes an alerts file whose webhooks point at the fake server and sets STEPWISE_ALERTS_FILE to it."""

    def write(owners: dict[str, str] | None = None, default: str | None = "sales", cap: int = 5,
              extra_env: dict[str, str] | None = None) -> object:
        hooks = {
            "sales": {"kind": "slack", "url": httpserver.url_for(SLACK_PATH)},
            "emea": {"kind": "teams", "url_env": "TEST_TEAMS_WEBHOOK"},
        }
        monkeypatch.setenv("TEST_TEAMS_WEBHOOK", httpserver.url_for(TEAMS_PATH) + f"?api-version=1&sig={TEAMS_SIG}")
        body = {"max_per_rep_per_day": cap, "webhooks": hooks, "owners": owners or {}}
        if default:
            body["default"] = default
        path = tmp_path / "alerts.yaml"
        path.write_text(json.dumps(body), encoding="utf-8")  # JSON is YAML
        monkeypatch.setenv("STEPWISE_ALERTS_FILE", str(path))
        for name, value in (extra_env or {}).items():
            monkeypatch.setenv(name, value)
        return load_settings()

    return write


def send(recs, store, settings, connector=SF, source: str = "salesforce") -> dict:
    return alert_run(run_of(source), recs, connector, store, settings=settings, sender=WebhookSender(FAST))["alerts"]


def test_a_slack_alert_is_an_incoming_webhook_message_with_a_link_to_the_salesforce_record(httpserver, store, configure):
    seen = webhook_server(httpserver, SLACK_PATH)
    counts = send([rec("006AA", title="Renew <Acme & Co>"), rec("006BB", urgency="MEDIUM")], store, configure())
    assert counts == {"sent": 1, "failed": 0, "skipped_over_cap": 0, "messages": 1}
    [message] = seen
    assert set(message) == {"text", "blocks"}
    link = "https://acme.my.salesforce.com/lightning/r/Opportunity/006AA/view"
    assert message["text"] == f"🔴 Urgent: Renew &lt;Acme &amp; Co&gt; — Contract ends in 9 days <{link}|Open>"
    section, context = message["blocks"]
    assert section == {"type": "section",
                       "text": {"type": "mrkdwn", "text": "*🔴 Renew &lt;Acme &amp; Co&gt;*\nContract ends in 9 days"},
                       "accessory": {"type": "button", "url": link,
                                     "text": {"type": "plain_text", "text": "Open the record"}}}
    assert context == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "Deal 006AA · best before 2026-12-09 · Stepwise"}]}


def test_a_reps_alerts_of_a_run_are_one_digest_of_at_most_ten_a_message(httpserver, store, configure):
    seen = webhook_server(httpserver, SLACK_PATH)
    counts = send([rec(f"006A{i:02}", score=90 - i) for i in range(12)], store, configure(cap=12))
    assert counts == {"sent": 12, "failed": 0, "skipped_over_cap": 0, "messages": 2}
    first, second = seen
    assert first["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "🔴 10 urgent actions today"}}
    assert len(first["blocks"]) == 1 + 2 * 10 <= 50  # Slack's block limit
    assert first["text"].startswith("🔴 10 urgent actions today: Renew contract on 006A00; Renew contract on 006A01")
    assert second["blocks"][0]["text"]["text"] == "🔴 2 urgent actions today"
    assert [b["text"]["text"].split("*")[1] for b in second["blocks"][1::2]] == [
        "🔴 Renew contract on 006A10", "🔴 Renew contract on 006A11"]


def test_a_teams_alert_is_a_workflows_message_with_an_adaptive_card_and_the_hubspot_deal_link(httpserver, store,
                                                                                               configure):
    seen = webhook_server(httpserver, TEAMS_PATH, (202, {}, ""))  # a Workflows webhook answers 202 Accepted
    settings = configure(owners={"77": "emea"}, default=None)
    counts = send([rec("9001", owner="77", source="hubspot-4242"), rec("9002", owner="88", source="hubspot-4242")],
                  store, settings, connector=None, source="hubspot-4242")
    assert counts == {"sent": 1, "failed": 0, "skipped_over_cap": 0, "messages": 1, "no_webhook": 1}
    [message] = seen
    assert message["type"] == "message" and len(message["attachments"]) == 1
    attachment = message["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive" and attachment["contentUrl"] is None
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    [container] = card["body"]
    assert container["type"] == "Container"
    title, reason, facts, actions = container["items"]
    assert (title["type"], title["text"]) == ("TextBlock", "🔴 Renew contract on 9001")
    assert (reason["type"], reason["text"]) == ("TextBlock", "Contract ends in 9 days")
    assert facts == {"type": "FactSet", "facts": [{"title": "Record", "value": "Deal 9001"},
                                                  {"title": "Best before", "value": "2026-12-09"}]}
    assert actions == {"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "Open the record",
                                                        "url": "https://app.hubspot.com/contacts/4242/record/0-3/9001"}]}


def test_without_a_crm_address_the_link_is_the_stepwise_card_page_when_a_public_url_is_set(httpserver, store, configure):
    seen = webhook_server(httpserver, SLACK_PATH)
    settings = configure(extra_env={"STEPWISE_PUBLIC_URL": "https://stepwise.example.com/"})
    send([rec("A 1", source="files", record_type="account")], store, settings, connector=None, source="files")
    assert seen[0]["blocks"][0]["accessory"]["url"] == "https://stepwise.example.com/cards/files/account/A%201"


def test_each_alert_is_sent_once_across_two_runs_of_the_same_day(httpserver, store, configure):
    seen = webhook_server(httpserver, SLACK_PATH)
    settings, recs = configure(), [rec("006A1"), rec("006A2"), rec("006B1", owner="005B")]
    assert send(recs, store, settings) == {"sent": 3, "failed": 0, "skipped_over_cap": 0, "messages": 2}
    again = send(recs, store, settings)
    assert again == {"sent": 0, "failed": 0, "skipped_over_cap": 0, "already_sent": 3}
    assert len(seen) == 2


def test_a_rep_gets_at_most_the_cap_a_day_their_most_urgent_first(httpserver, store, configure):
    seen = webhook_server(httpserver, SLACK_PATH)
    settings = configure(cap=3)
    mine = [rec(f"006A{i}", score=50 + i) for i in range(5)] + [rec("006B1", owner="005B")]
    assert send(mine, store, settings) == {"sent": 4, "failed": 0, "skipped_over_cap": 2, "messages": 2}
    reps_a = next(m for m in seen if "006A" in m["text"])
    assert [b["text"]["text"].split("*")[1] for b in reps_a["blocks"][1::2]] == [
        f"🔴 Renew contract on 006A{i}" for i in (4, 3, 2)]
    # A later run the same day with a new, more urgent card: the rep's day is already full.
    assert send([rec("006A9", score=99)], store, settings) == {"sent": 0, "failed": 0, "skipped_over_cap": 1}
    assert len(seen) == 2


def test_a_webhook_answering_500_twice_then_200_is_retried_and_sent_once(httpserver, store, configure):
    seen = webhook_server(httpserver, SLACK_PATH, (500, {}, "rollup_error"), (500, {}, "rollup_error"))
    assert send([rec("006A1")], store, configure()) == {"sent": 1, "failed": 0, "skipped_over_cap": 0, "messages": 1}
    assert len(seen) == 3
    assert set(AlertLog(store).statuses(TODAY).values()) == {"sent"}


def test_a_429_waits_its_retry_after(httpserver, store, configure):
    seen = webhook_server(httpserver, SLACK_PATH, (429, {"Retry-After": "1"}, "rate_limited"))
    started = time.monotonic()
    assert send([rec("006A1")], store, configure())["sent"] == 1
    assert time.monotonic() - started >= 1.0 and len(seen) == 2


def test_a_webhook_that_refuses_for_good_is_not_retried_and_its_other_alerts_wait(httpserver, store, configure):
    seen = webhook_server(httpserver, SLACK_PATH, (404, {}, "no_service"))
    counts = send([rec("006A1"), rec("006A2"), rec("006B1", owner="005B")], store, configure())
    assert counts == {"sent": 0, "failed": 2, "skipped_over_cap": 0, "waiting_for_webhook": 1}
    assert len(seen) == 1
    # The next run: the failed ones are taken over, the waiting one reserved, and all sent.
    again = send([rec("006A1"), rec("006A2"), rec("006B1", owner="005B")], store, configure())
    assert again == {"sent": 3, "failed": 0, "skipped_over_cap": 0, "messages": 2}
    assert len(seen) == 3


def test_a_run_with_an_always_failing_webhook_completes_and_counts_the_failure(httpserver, store, configure, catalog,
                                                                               tmp_path, monkeypatch):
    from stepwise.integration.files import FilesConnector
    from stepwise.sample.company import write_company
    from stepwise.workers.pipeline import run_pipeline

    webhook_server(httpserver, SLACK_PATH, *[(500, {}, "rollup_error")] * 50)
    settings = configure()
    # The run reads the process's settings (cached once per process): this test's, whatever ran before.
    monkeypatch.setattr(alerts_module, "get_settings", lambda: settings)
    monkeypatch.setattr(alerts_module, "WebhookSender", lambda **_: WebhookSender(FAST))
    write_company(tmp_path / "company", as_of=TODAY, accounts=20, seed=3)
    result = run_pipeline(FilesConnector(tmp_path / "company"), catalog, TODAY, store=store)
    assert any(r.urgency == "HIGH" for r in result.recommendations)
    [latest] = store.latest_runs(1)
    assert latest["status"] == "succeeded"
    alerts = latest["counts"]["alerts"]
    assert 1 <= alerts["failed"] <= 5 and alerts["sent"] == 0 and alerts["waiting_for_webhook"] > 0
    assert len(httpserver.log) == FAST.max_attempts  # one rep's digest tried; the other reps' wait for the next run


def test_no_webhook_url_reaches_the_logs_or_the_stored_errors(httpserver, store, configure, caplog):
    # The Teams body echoes its URL back, as an error page might.
    echo = f"bad request to {TEAMS_PATH}?api-version=1&sig={TEAMS_SIG}"
    webhook_server(httpserver, TEAMS_PATH, (500, {}, "oops"), (400, {}, echo))
    webhook_server(httpserver, SLACK_PATH, (500, {}, "rollup_error"))
    settings = configure(owners={"005T": "emea"})
    with caplog.at_level(logging.DEBUG):
        counts = send([rec("006A1"), rec("006T1", owner="005T")], store, settings)
    assert counts["sent"] == 1 and counts["failed"] == 1
    # Ours, not the fake server's (werkzeug logs each request line it receives).
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))
    logged = ours + json.dumps(counts) + str(AlertLog(store).statuses(TODAY))
    with store.engine.connect() as conn:
        from stepwise.store.schema import alert_log
        logged += " ".join(str(r.error) for r in conn.execute(alert_log.select()))
    for secret in ("slackSECRETtoken", TEAMS_SIG, "4f1c", "T0001/B0001"):
        assert secret not in logged
    assert "webhook localhost" in ours  # the host is what a log names
    assert "answered 400" in logged


def test_alerts_are_off_unless_configured_and_never_sent_from_a_scratch_store_or_for_a_past_day(
        httpserver, store, configure, monkeypatch):
    seen = webhook_server(httpserver, SLACK_PATH)
    monkeypatch.delenv("STEPWISE_ALERTS_FILE", raising=False)
    assert alert_run(run_of(), [rec("006A1")], SF, store, settings=load_settings()) == {}
    settings = configure()
    assert alert_run(run_of(write_back=False), [rec("006A1")], SF, store, settings=settings) == {}
    scratch = Store("sqlite://")
    assert alert_run(run_of(), [rec("006A1")], SF, scratch, settings=settings) == {"alerts": {"skipped": "scratch store"}}
    assert alert_run(run_of(day="2026-01-05"), [rec("006A1")], SF, store,
                     settings=settings) == {"alerts": {"skipped": "past day"}}
    assert seen == []


def test_a_wrong_alerts_file_is_one_clear_error_in_the_counts_and_sends_nothing(httpserver, store, configure, tmp_path,
                                                                               monkeypatch):
    seen = webhook_server(httpserver, SLACK_PATH)
    settings = configure(owners={"005A": "nowhere"})
    counts = alert_run(run_of(), [rec("006A1")], SF, store, settings=settings)["alerts"]
    assert "005A names webhook 'nowhere'" in counts["error"] and seen == []
    settings = configure()
    monkeypatch.delenv("TEST_TEAMS_WEBHOOK")
    counts = alert_run(run_of(), [rec("006A1")], SF, store, settings=settings)["alerts"]
    assert counts["error"].endswith("webhook 'emea': the environment variable TEST_TEAMS_WEBHOOK is not set")


@pytest.mark.parametrize(("body", "error"), [
    ({"webhooks": {"a": {"kind": "discord", "url": "https://x.example/h"}}}, "webhook 'a': kind must be slack or teams"),
    ({"webhooks": {"a": {"kind": "slack", "url": "hooks.slack.com/services/T/B/SECRET"}}},
     "webhook 'a': url must be an https:// webhook URL"),
    ({"webhooks": {}, "max_per_rep_per_day": -1}, "max_per_rep_per_day must be a whole number ≥ 0"),
    ({"webhooks": {}, "owner": {}}, "unknown key(s) owner"),
    ({"webhooks": {}, "default": "sales"}, "default names webhook 'sales'"),
])
def test_an_alerts_file_mistake_is_named_without_repeating_the_url(tmp_path, body, error):
    from stepwise.workers.alerts_config import AlertsConfigError, load_alerts_config

    path = tmp_path / "alerts.yaml"
    path.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(AlertsConfigError) as caught:
        load_alerts_config(path, environ={})
    assert error in str(caught.value) and "SECRET" not in str(caught.value)


def test_the_public_url_setting_must_be_a_web_address(monkeypatch):
    from stepwise.settings import SettingsError

    monkeypatch.setenv("STEPWISE_PUBLIC_URL", "stepwise.example.com")
    with pytest.raises(SettingsError, match="STEPWISE_PUBLIC_URL: .*http"):
        load_settings()


def test_the_card_says_why_it_is_urgent_and_a_reps_today_order_comes_before_score(httpserver, store, configure):
    seen = webhook_server(httpserver, SLACK_PATH)
    recs = [rec("006A1", score=95), rec("006A2", score=60, today_rank=1, urgency_reason="Contract ends on 2026-12-11"),
            rec("006A3", score=70, today_rank=2)]
    send(recs, store, configure(cap=2))
    [message] = seen
    assert [b["text"]["text"] for b in message["blocks"][1::2]] == [
        "*🔴 Renew contract on 006A2*\nContract ends on 2026-12-11",   # the urgency reason, when the card has one
        "*🔴 Renew contract on 006A3*\nContract ends in 9 days"]       # else the first reason why
