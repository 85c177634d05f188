"""`stepwise sync salesforce [--full]` and `stepwise check salesforce`.

Both are `click.Command`s named "salesforce", registered on the main CLI's `sync` and
`check` groups (cli/core.py).
Bad configuration is one line on stderr and exit code 2, never a traceback; `check` exits 1 when
something must be fixed (the same codes as `stepwise check hubspot`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stepwise.cli.support import as_of_day, user_errors
from stepwise.settings import get_settings

_mapping_option = click.option(
    "--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="Your field and stage mapping (YAML); default: the shipped standard-org mapping.")


@click.command("salesforce")
@click.option("--full", is_flag=True, help="Read every record again instead of only what changed since the last sync.")
@click.option("--as-of", "as_of", default=None, help="Score as of this day (YYYY-MM-DD); default today.")
@click.option("--no-write-back", is_flag=True, help="Score and store, but do not write to Salesforce.")
@_mapping_option
@user_errors
def sync_salesforce(full: bool, as_of: str | None, no_write_back: bool, mapping: Path | None) -> None:
    """Pull from Salesforce, score, store, and write Stepwise_Recommendation__c back."""
    from stepwise.engine.catalog import load_catalog
    from stepwise.integration.salesforce.connector import SalesforceConnector
    from stepwise.store import Store
    from stepwise.workers.pipeline import run_pipeline

    day = as_of_day(as_of)
    settings = get_settings()
    catalog = load_catalog(settings.catalog, settings.rules, settings.templates)
    store = Store(settings.database_url)
    try:
        connector = SalesforceConnector.from_settings(settings, mapping_path=mapping, full=full, store=store)
        result = run_pipeline(connector, catalog, day, store=store, write_back=not no_write_back)
    finally:
        store.close()
    sync, push = connector.last_sync, connector.last_push
    deleted = sum(len(ids) for ids in sync.deleted.values())
    click.echo(f"{sync.mode} sync as of {day}: " + ", ".join(f"{n:,} {o}" for o, n in sync.rows.items())
               + f"; {deleted} deleted; {sync.skipped} rows skipped; {sync.feedback} rep responses read back"
               + (f"; Bulk API for {', '.join(sync.bulk_objects)}" if sync.bulk_objects else ""), err=True)
    click.echo(f"{len(result.recommendations):,} recommendations; cards written {push.written:,}, unchanged "
               f"{push.unchanged:,}, expired {push.expired:,}, deleted after {connector.retention_days} days "
               f"{push.deleted:,}" + (f", per-day records merged {push.merged:,}" if push.merged else "")
               + f", failed {len(push.failed)}; {connector.client.stats.summary()}", err=True)
    for rec_id, error in push.failed[:10]:
        click.echo(f"  not written: {rec_id}: {error}", err=True)
    if push.failed:
        sys.exit(1)


@click.command("salesforce")
@_mapping_option
@user_errors
def check_salesforce(mapping: Path | None) -> None:
    """Compare the mapping and Stepwise_Recommendation__c with the org; list what is missing."""
    from stepwise.integration.base import check_exit_code
    from stepwise.integration.salesforce.connector import SalesforceConnector

    connector = SalesforceConnector.from_settings(get_settings(), mapping_path=mapping)
    findings = connector.check()
    for finding in findings:
        click.echo(str(finding))
    errors = sum(f.level == "error" for f in findings)
    client = connector.client
    click.echo(f"{client.instance}: {errors} error(s), {len(findings) - errors} warning(s) "
               f"({client.stats.calls} API calls)", err=True)
    if not findings:
        click.echo("Salesforce is ready: every mapped field and the Stepwise object are there.")
    sys.exit(check_exit_code(findings))

