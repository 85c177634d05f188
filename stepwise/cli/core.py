"""The `stepwise` command.  Results on stdout, logs and progress on stderr.

Bad configuration or input is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from stepwise.cli.support import as_of_day, user_errors
from stepwise.engine.catalog import load_catalog
from stepwise.settings import SettingsError, get_settings

err_console = Console(stderr=True)
log = logging.getLogger("stepwise")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
def main(verbose: bool) -> None:
    """Stepwise: the next best action on every deal, lead and account."""
    try:
        level = "DEBUG" if verbose else get_settings().log_level
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    from stepwise import logs

    logs.configure(level)


@main.command("sample-data")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--accounts", default=300, show_default=True, type=click.IntRange(1, 100_000), help="Accounts (≈5 deals each).")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed: same seed, same company.")
@click.option("--as-of", "as_of", default=None, help="The company's 'today' (YYYY-MM-DD); default today.")
@user_errors
def sample_data(directory: Path, accounts: int, seed: int, as_of: str | None) -> None:
    """Write a believable sample B2B company as CSV files (the files-source format)."""
    from stepwise.sample.company import write_company

    day = as_of_day(as_of)
    with err_console.status(f"Generating {accounts} accounts…"):
        counts = write_company(directory, as_of=day, accounts=accounts, seed=seed)
    summary = ", ".join(f"{n} {t}" for t, n in counts.items())
    click.echo(f"wrote {directory} as of {day}: {summary}", err=True)


def _write_json_array(items, out, batch: int = 2000) -> None:
    """What `json.dump(list, out)` writes, byte for byte, but with the C encoder: `json.dump` encodes
    in pure Python and took longer than the whole engine on 100,000 deals."""
    out.write("[")
    first = True
    pending: list[str] = []
    for item in items:
        pending.append(json.dumps(item, ensure_ascii=False, default=str))
        if len(pending) == batch:
            out.write(("" if first else ", ") + ", ".join(pending))
            first, pending = False, []
    if pending:
        out.write(("" if first else ", ") + ", ".join(pending))
    out.write("]\n")


@main.command()
@click.option("--source", required=True, help="Where to read from, e.g. files:./sample-data")
@click.option("--as-of", "as_of", default=None, help="Score as of this day (YYYY-MM-DD); default today.")
@click.option("--format", "fmt", type=click.Choice(["json", "table", "cards"]), default="table", show_default=True)
@click.option("--store/--no-store", default=False, help="Also save the run and recommendations in the store.")
@click.option("--limit", default=20, show_default=True, help="Cards/rows to show (table and cards formats).")
@user_errors
def score(source: str, as_of: str | None, fmt: str, store: bool, limit: int) -> None:
    """Score every open deal, lead and account; print the recommendations.

    --format json prints one JSON array (the public contract in the README).
    """
    from stepwise.integration.sources import connector_for
    from stepwise.workers.narrate import narrator_from
    from stepwise.workers.pipeline import run_pipeline

    settings = get_settings()
    catalog = load_catalog(settings.catalog, settings.rules, settings.templates)
    connector = connector_for(source)
    target = _store(settings.database_url) if store else None
    result = run_pipeline(connector, catalog, as_of_day(as_of), store=target, narrator=narrator_from(settings))
    recs = result.recommendations
    if fmt == "json":
        _write_json_array((r.to_dict() for r in recs), sys.stdout)
        return
    top = sorted(recs, key=lambda r: -r.score)[:limit]
    if fmt == "cards":
        from stepwise.cli.terminal import print_cards

        print_cards(top)
    else:
        _print_table(top, len(recs))


def _print_table(recs, total: int) -> None:
    from rich.table import Table

    table = Table(title=f"Top {len(recs)} of {total} recommendations")
    for col in ("score", "urgency", "category", "record", "title"):
        table.add_column(col)
    for r in recs:
        table.add_row(f"{r.score:.0f}", r.urgency, r.category, f"{r.record_type} {r.record_id}", r.title)
    Console().print(table)


def _store(url: str):
    from stepwise.store import Store

    return Store(url)


@main.command()
@click.option("--dir", "directory", default="sample-data", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--accounts", default=300, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--as-of", "as_of", default=None, help="Default: today.")
@click.option("--cards", "n_cards", default=5, show_default=True, help="How many top cards to show.")
@click.option("--train/--no-train", default=True, show_default=True,
              help="Train the learning models on the sample's history first (success rates on the cards).")
@user_errors
def demo(directory: Path, accounts: int, as_of: str | None, n_cards: int, train: bool) -> None:
    """Generate the sample company, run the whole pipeline in-process, show the top cards."""
    from stepwise.cli.terminal import print_cards
    from stepwise.integration.files import FilesConnector
    from stepwise.sample.company import write_company
    from stepwise.workers.intake import take_in
    from stepwise.workers.narrate import narrator_from
    from stepwise.workers.pipeline import run_pipeline

    settings = get_settings()
    day = as_of_day(as_of)
    started = time.perf_counter()
    with err_console.status("Generating the sample company…"):
        counts = write_company(directory, as_of=day, accounts=accounts, seed=7)
    err_console.print(f"Sample company in {directory}/: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    store = _store(settings.database_url)
    if train:
        from stepwise.learning.jobs import train_and_store

        with err_console.status("Learning from the sample's won/lost deals, orders and leads…"):
            bundle = train_and_store(take_in(FilesConnector(directory), None).data, "files", day, settings.database_url)
        err_console.print(f"Models trained: {bundle.version} (see `stepwise evaluate` for how they compare with baselines)")
    with err_console.status("Scoring every open deal, lead and account…"):
        result = run_pipeline(FilesConnector(directory), load_catalog(settings.catalog, settings.rules, settings.templates), day, store=store,
                              narrator=narrator_from(settings))
    recs = result.recommendations
    console = Console()
    by_category: dict[str, int] = {}
    for r in recs:
        by_category[r.category] = by_category.get(r.category, 0) + 1
    console.rule(f"[bold]{len(recs):,} recommendations as of {day}")
    console.print("By category: " + ", ".join(f"{c} {n}" for c, n in sorted(by_category.items())))
    removed = result.engine.stats["removed_by_rule"]
    console.print("Removed by the rules: " + ", ".join(f"{rule} {n}" for rule, n in sorted(removed.items())))
    print_cards(_showcase(recs, n_cards), console)
    elapsed = time.perf_counter() - started
    console.print(f"\nDone in {elapsed:.1f}s. Store: {store.describe()} (run {result.run_id}).")
    console.print("Next: [bold]stepwise serve[/bold] to open the card service on http://127.0.0.1:5000 "
                  "(set STEPWISE_API_TOKENS first), or [bold]stepwise score --source files:"
                  f"{directory} --as-of {day} --format json[/bold].")


def _showcase(recs, n: int):
    """The best card of each category first, so the demo shows the breadth, then the best of the rest."""
    best: dict[str, object] = {}
    for r in sorted(recs, key=lambda r: -r.score):
        best.setdefault(r.category, r)
    picked = sorted(best.values(), key=lambda r: -r.score)[:n]
    return picked


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@user_errors
def serve(host: str, port: int) -> None:
    """Run the card service (development server; production uses gunicorn, see the Procfile)."""
    from stepwise.web.app import create_app

    app = create_app()
    if not get_settings().api_tokens:
        click.echo("warning: STEPWISE_API_TOKENS is not set: every /api call will answer 401", err=True)
    app.run(host=host, port=port)


@main.command()
@click.option("--limit", default=10, show_default=True)
@user_errors
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run instead of a table.")
def status(limit: int, as_json: bool) -> None:
    """The last runs in the store: when, source, as-of, status, what was pulled, scored, removed, written."""
    from stepwise.store import RunChunks

    store = _store(get_settings().database_url)
    runs = store.latest_runs(limit)
    # A fanned-out run's progress while it runs: chunks settled of planned, records scored so far.
    progress = RunChunks(store).progress([r["id"] for r in runs])
    if as_json:
        for run in runs:
            click.echo(json.dumps({**run, "chunks": progress.get(run["id"])}, default=str))
        return
    from rich.table import Table

    table = Table(title=f"Last {len(runs)} runs — {store.describe()}")
    for col in ("started", "source", "as of", "status", "chunks", "pulled", "scored", "skipped rows", "recommendations",
                "written back", "error"):
        table.add_column(col)
    for run in runs:
        counts = run.get("counts") or {}
        pulled = sum((counts.get("pulled") or {}).values())
        written = f"{counts.get('written_back', 0)} ({counts.get('write_back_failed', 0)} failed)" if counts else ""
        chunks = progress.get(run["id"])
        done = (f"{chunks['done'] + chunks['failed']}/{chunks['chunks']}" + (f" ({chunks['failed']} failed)" if chunks["failed"] else "")
                if chunks else "")
        table.add_row(str(run["started_at"])[:19], run["source"], run["as_of"], run["status"], done, f"{pulled:,}",
                      f"{chunks['scored']:,}" if chunks else "", str(counts.get("skipped_rows", "")),
                      str(counts.get("recommendations", "")), written, (run.get("error") or "")[:60])
    Console().print(table)


def _celery(*args: str) -> None:
    from stepwise.workers.celery_app import app

    if not get_settings().redis_url:
        raise SettingsError("STEPWISE_REDIS_URL is not set: workers need a Redis broker (the demo runs in-process)")
    app.start(argv=list(args))


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@user_errors
def worker(celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker (extra arguments go to celery, e.g. --concurrency 4)."""
    import os

    if os.environ.get("STEPWISE_WORKER_METRICS_PORT") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile

        # Before prometheus_client is imported: the pool processes then count into files the
        # worker's main process serves summed (workers/metrics.py).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="stepwise-metrics-")
    _celery("worker", "--loglevel", "INFO", *celery_args)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@user_errors
def beat(celery_args: tuple[str, ...]) -> None:
    """Run Celery beat, the scheduler: exactly one runs (a second one exits with a message)."""
    import redis

    from stepwise.workers.leader import LeaderLock, NotLeader

    settings = get_settings()
    if not settings.redis_url:
        raise SettingsError("STEPWISE_REDIS_URL is not set: the scheduler needs a Redis broker")
    lock = LeaderLock(redis.Redis.from_url(settings.redis_url))
    try:
        lock.acquire()
    except NotLeader as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    try:
        _celery("beat", "--loglevel", "INFO", *celery_args)
    finally:
        lock.release()


@main.command("check-catalog")
@click.argument("catalog", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rules", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--templates", type=click.Path(dir_okay=False, path_type=Path), help="A template set (e.g. another language).")
@user_errors
def check_catalog(catalog: Path | None, rules: Path | None, templates: Path | None) -> None:
    """Validate an action catalog (and rules file, and template set) without running anything."""
    settings = get_settings()
    loaded = load_catalog(catalog or settings.catalog, rules or settings.rules, templates or settings.templates)
    click.echo(f"ok: {len(loaded.actions)} actions, weak-signal cut-off {loaded.rules.weak_signal_cutoff:g}")


@main.command()
@click.option("--scope", type=click.Choice(["deal", "lead", "account"]), default=None)
def signals(scope: str | None) -> None:
    """List the signal names a catalog trigger may use, with their meaning (learned predictions included)."""
    from stepwise.engine.predictions import ACCOUNT_PREDICTIONS, DEAL_PREDICTIONS, LEAD_PREDICTIONS
    from stepwise.engine.signals import ACCOUNT_SIGNALS, DEAL_SIGNALS, LEAD_SIGNALS

    tables = {"deal": {**DEAL_SIGNALS, **DEAL_PREDICTIONS}, "lead": {**LEAD_SIGNALS, **LEAD_PREDICTIONS},
              "account": {**ACCOUNT_SIGNALS, **ACCOUNT_PREDICTIONS}}
    for name, table in tables.items():
        if scope and name != scope:
            continue
        click.echo(f"[{name}]" + (" (deal triggers may also use every account signal)" if name == "deal" else ""))
        for signal, meaning in table.items():
            click.echo(f"  {signal:28} {meaning}")


@main.group()
def sync() -> None:
    """Pull from a CRM, score and write back (in-process when no Redis is configured)."""


@main.group()
def check() -> None:
    """Check a CRM connection, its permissions and the field mapping; say what is missing."""


@main.group()
def setup() -> None:
    """Prepare a CRM for Stepwise (custom properties)."""


def _register_extensions() -> None:
    """Commands that live beside their feature (learning, CRM connectors) join the one `stepwise` group."""
    from stepwise.cli import hubspot as hubspot_commands
    from stepwise.cli import salesforce as salesforce_commands
    from stepwise.cli.learning import COMMANDS

    for command in COMMANDS:
        main.add_command(command)
    sync.add_command(salesforce_commands.sync_salesforce)
    sync.add_command(hubspot_commands.sync_hubspot)
    check.add_command(salesforce_commands.check_salesforce)
    check.add_command(hubspot_commands.check_hubspot)
    setup.add_command(hubspot_commands.setup_hubspot)


_register_extensions()

if __name__ == "__main__":
    main()
