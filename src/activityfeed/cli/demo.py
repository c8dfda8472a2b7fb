"""``demo``: fill the store with deterministic demo data, print a key, and maybe serve."""

from __future__ import annotations

from typing import Any

import click

from activityfeed.auth import new_key
from activityfeed.cli.common import database_option, settings_for, with_store
from activityfeed.cli.serve import run_server
from activityfeed.model import SCOPES
from activityfeed.storage import Storage


@click.command()
@database_option
@click.option("--activities", default=200_000, show_default=True, type=click.IntRange(0))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option(
    "--teams",
    default=4,
    show_default=True,
    type=click.IntRange(1, 12),
    help="How many teams; the first (acme) gets most of the activities.",
)
@click.option("--serve", "then_serve", is_flag=True, help="Start the service afterwards.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo(
    database_url: str | None,
    activities: int,
    seed: int,
    teams: int,
    then_serve: bool,
    host: str,
    port: int,
) -> None:
    """Fill the store with realistic, deterministic demo data and print a key.

    Rerunning with the same options changes nothing.
    """
    # Imported here for the start-up time of the other commands only: the demo's data
    # generators do not import the command line, so no cycle hides here.
    from activityfeed.demo.load import load_demo

    settings = settings_for(database_url)

    async def work(store: Storage) -> Any:
        return await load_demo(store, activities=activities, seed=seed, teams=teams, progress=True)

    report = with_store(settings.database_url, work)
    key = with_store(settings.database_url, lambda store: new_key(store, report.main_team, SCOPES))
    click.echo(report.summary(), err=True)
    if then_serve:
        click.echo(f"Serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
        click.echo(
            f"Try: curl -H 'Authorization: Bearer {key}' "
            f"'http://{host}:{port}/v2/activity_histories?per_page=2'"
        )
    click.echo(f"API key for team {report.main_team!r}:", err=True)
    click.echo(key)
    if then_serve:
        run_server(settings, host, port, 1, "warning")
