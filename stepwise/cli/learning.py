"""`stepwise train`, `evaluate`, `predict` (add them to the CLI group with main.add_command).

`predict` prints exactly the README's contract ("`stepwise predict` (public contract)") on stdout; logs go to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stepwise.cli.support import as_of_day, user_errors


def _history(source_name: str, database_url: str, use_store: bool):
    if not use_store:
        return None
    from stepwise.store import Store

    return Store(database_url).feedback_history(source_name)


@click.command()
@click.option("--source", required=True, help="Where to read from, e.g. files:./sample-data")
@click.option("--as-of", "as_of", default=None, help="Predict as of this day (YYYY-MM-DD); default today.")
@click.option("--from-store", is_flag=True, help="Use the newest stored model trained on or before the day "
              "(default: train now on what was known before the day).")
@user_errors
def predict(source: str, as_of: str | None, from_store: bool) -> None:
    """Win, reorder and conversion probabilities as one JSON object (the public contract in the README)."""
    from stepwise.learning import jobs as learning
    from stepwise.settings import get_settings

    day = as_of_day(as_of)
    name, data = learning.pull(source)
    bundle = None
    if from_store:
        from stepwise.store import ModelStore

        bundle = ModelStore(get_settings().database_url).latest(name, day)
        if bundle is None:
            raise click.UsageError(f"no stored model for {name} trained on or before {day}: run stepwise train")
        from stepwise.engine.training import MODEL_FAMILY

        if bundle.version.split("@")[0].removesuffix("-auto") != MODEL_FAMILY:
            raise click.UsageError(f"the stored model {bundle.version} predates {MODEL_FAMILY}: run stepwise train")
    json.dump(learning.predict(data, day, bundle), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


@click.command()
@click.option("--source", required=True, help="Where to read from, e.g. files:./sample-data")
@click.option("--as-of", "as_of", default=None, help="Train on what was known on this day; default today.")
@user_errors
def train(source: str, as_of: str | None) -> None:
    """Train every model on what was known on the day and store it as a new version."""
    from stepwise.learning import jobs as learning
    from stepwise.settings import get_settings

    day = as_of_day(as_of)
    name, data = learning.pull(source)
    bundle = learning.train_and_store(data, name, day, get_settings().database_url)
    click.echo(json.dumps({"version": bundle.version, "train_from": bundle.train_from,
                           "trained_as_of": bundle.trained_as_of, "metrics": bundle.metrics}, default=str))


@click.command()
@click.option("--source", default=None, help="Where to read from, e.g. files:./sample-data (with --lift: the stored "
              "source name, e.g. files or hubspot-123; default every source).")
@click.option("--as-of", "as_of", default=None, help="The data's last day; the test window ends here.")
@click.option("--out", "out_dir", default="evaluation", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--test-days", default=120, show_default=True, type=click.IntRange(28, 730),
              help="Days before --as-of where training stops and testing starts.")
@click.option("--feedback/--no-feedback", default=False, help="Include the reps' feedback from the store.")
@click.option("--lift", is_flag=True, help="Print the measured lift of shown over held-out cards from the store "
              "(README, \"Measured lift\") instead of the model evaluation.")
@click.option("--json", "as_json", is_flag=True, help="With --lift: the report as JSON (the API's shape).")
@click.option("--card-days", default=4, show_default=True, type=click.IntRange(0, 26),
              help="As-of days (two weeks apart, the last 30 days before --as-of) on which the cards themselves are "
                   "checked against what customers did next; 0 skips it.")
@user_errors
def evaluate(source: str | None, as_of: str | None, out_dir: Path, test_days: int, feedback: bool, lift: bool,
             as_json: bool, card_days: int) -> None:
    """Out-of-time evaluation against naive baselines at the same count: writes report.md and PNG plots,
    and prints the cards' scorecard table.  With --lift: what the cards caused, measured by the holdout."""
    if lift:
        _print_lift(source, as_json)
        return
    if source is None:
        raise click.UsageError("--source is required (except with --lift)")
    from stepwise.engine.catalog import load_catalog
    from stepwise.learning import jobs as learning
    from stepwise.settings import get_settings

    settings = get_settings()
    day = as_of_day(as_of)
    name, data = learning.pull(source)
    history = _history(name, settings.database_url, feedback)
    catalog = load_catalog(settings.catalog, settings.rules, settings.templates) if card_days else None
    path = learning.evaluate(data, day, out_dir, history, test_days=test_days, catalog=catalog, card_days=card_days)
    click.echo(str(path))


def _print_lift(source: str | None, as_json: bool) -> None:
    from stepwise.settings import get_settings
    from stepwise.store import Store
    from stepwise.workers.holdout import measured_lift

    report = measured_lift(Store(get_settings().database_url), source)
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(f"Measured lift{' of ' + source if source else ''}: shown vs held-out cards, 95 % intervals")
    for row in [*report["families"], report["overall"]]:
        click.echo(f"  {row['family']:<16} {row['outcome']:<27} {row['message']}")
    click.echo("Was the rep right? headline outcome rate by response")
    for rate in report["responses"]:
        shown = "—" if rate["rate"] is None else f"{rate['rate']:.1%} ({rate['low']:.1%}–{rate['high']:.1%})"
        click.echo(f"  {rate['group']:<12} {shown} of {rate['n']}")


COMMANDS = (train, evaluate, predict)
