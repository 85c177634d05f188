"""`stepwise sync hubspot [--full]`, `stepwise check hubspot`, `stepwise setup hubspot`.

Registered on the main CLI's `sync`, `check` and `setup` groups (cli/core.py).
Bad configuration (no token, a token HubSpot rejects, HubSpot unreachable) is one line on stderr and
exit code 2, never a traceback; `check` exits 1 when something must be fixed (the same codes as
`stepwise check salesforce`).
"""

from __future__ import annotations

import sys

import click

from stepwise.cli.support import as_of_day, user_errors

PORTAL = click.option("--portal", default="", help="An OAuth-installed portal id (public app); default: the private app token.")


@click.command("hubspot")
@click.option("--full", is_flag=True, help="Re-read the whole portal instead of what changed since the last sync.")
@click.option("--as-of", "as_of", default=None, help="Score as of this day (YYYY-MM-DD); default today.")
@click.option("--no-write-back", is_flag=True, help="Pull and score, but write nothing to HubSpot.")
@PORTAL
@user_errors
def sync_hubspot(full: bool, as_of: str | None, no_write_back: bool, portal: str) -> None:
    """Pull what changed in HubSpot, score, store, and write the top action back onto each deal."""
    from stepwise.engine.catalog import load_catalog
    from stepwise.integration.hubspot.connector import HubSpotConnector
    from stepwise.settings import get_settings
    from stepwise.store import Store
    from stepwise.workers.pipeline import run_pipeline

    settings = get_settings()
    catalog = load_catalog(settings.catalog, settings.rules, settings.templates)
    store = Store(settings.database_url)
    try:
        connector = HubSpotConnector.from_settings(portal, full=full, store=store)
        result = run_pipeline(connector, catalog, as_of_day(as_of), store=store, write_back=not no_write_back)
    finally:
        store.close()
    stats = connector.last_sync.counts
    click.echo(
        f"hubspot: {stats.get('searched', 0)} deals seen, {stats.get('changed', 0)} changed, "
        f"{stats.get('skipped_own_write', 0)} only our own write-back, {stats.get('archived', 0)} archived; "
        f"{len(result.recommendations)} recommendations; written back {result.pushed.written}, "
        f"failed {len(result.pushed.failed)}; {connector.client.total_calls} API calls "
        f"({connector.client.requests - connector.client.total_calls} retries)"
    )
    if result.pushed.failed:
        sys.exit(1)


@click.command("hubspot")
@PORTAL
@user_errors
def check_hubspot(portal: str) -> None:
    """Check the token's scopes and the mapping against the portal; say what is missing."""
    from stepwise.integration.base import check_exit_code
    from stepwise.integration.hubspot.connector import HubSpotConnector

    findings = HubSpotConnector.from_settings(portal).check()
    for finding in findings:
        click.echo(f"{'ok  ' if finding.level == 'ok' else 'MISSING'} {finding.text}")
    problems = sum(f.level == "error" for f in findings)
    if problems:
        click.echo(f"error: {problems} problem(s); fix them and run `stepwise check hubspot` again", err=True)
    sys.exit(check_exit_code(findings))


@click.command("hubspot")
@PORTAL
@user_errors
def setup_hubspot(portal: str) -> None:
    """Create the `stepwise` property group and properties on deals (and tasks); safe to run again."""
    from stepwise.integration.hubspot.connector import HubSpotConnector
    from stepwise.integration.hubspot.push import DEAL_PROPERTIES, TASK_PROPERTIES, ensure_properties

    connector = HubSpotConnector.from_settings(portal)
    group = connector.mapping.write_group
    created = ensure_properties(connector.client, "deals", group, DEAL_PROPERTIES)
    if connector.create_tasks:
        created += ensure_properties(connector.client, "tasks", group, TASK_PROPERTIES)
    click.echo("\n".join(f"created {c}" for c in created) if created else "already set up: nothing to create")
