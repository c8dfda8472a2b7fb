"""``demo``: fill the store with deterministic demo data, print a key, and maybe serve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from activityfeed.auth import KEY_PATTERN, hash_key, new_key
from activityfeed.cli.common import database_option, settings_for, with_store
from activityfeed.cli.demo_files import demo_file, read_state, read_text, write_private, write_state
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

    Rerunning with the same options on an unchanged store loads nothing and
    prints the same key: it is kept in a file beside the store (mode 0600).
    """
    # Imported here for the start-up time of the other commands only: the demo's data
    # generators do not import the command line, so no cycle hides here.
    from activityfeed.demo.load import load_demo, loaded_state

    settings = settings_for(database_url)
    key_file = demo_file(settings.database_url, "demo-key")
    state_file = demo_file(settings.database_url, "demo-state")
    options = {"activities": activities, "seed": seed, "teams": teams}

    async def work(store: Storage) -> tuple[str, str, str]:
        recorded = read_state(state_file)
        names = _recorded_names(recorded, options)
        if recorded is not None and names and await loaded_state(store, names) == recorded["state"]:
            key = await _demo_key(store, key_file, names[0])
            return (
                names[0],
                key,
                f"demo data already loaded ({activities:,} activities, seed {seed}) and unchanged",
            )
        report = await load_demo(
            store, activities=activities, seed=seed, teams=teams, progress=True
        )
        names = [team.name for team in report.teams]
        write_state(state_file, {"options": options, "state": await loaded_state(store, names)})
        return (
            report.main_team,
            await _demo_key(store, key_file, report.main_team),
            report.summary(),
        )

    main_team, key, summary = with_store(settings.database_url, work)
    click.echo(summary, err=True)
    if then_serve:
        click.echo(f"Serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
        click.echo(
            f"Try: curl -H 'Authorization: Bearer {key}' "
            f"'http://{host}:{port}/v2/activity_histories?per_page=2'"
        )
    click.echo(f"API key for team {main_team!r} (kept in {key_file}):", err=True)
    click.echo(key)
    if then_serve:
        run_server(settings, host, port, 1, "warning")


def _recorded_names(recorded: dict[str, Any] | None, options: dict[str, int]) -> list[str]:
    """The teams of a demo recorded with these options, main team first; none if another's."""
    if recorded is None or recorded.get("options") != options:
        return []
    state = recorded.get("state")
    if not isinstance(state, list) or not state:
        return []
    if not all(isinstance(team, list) and team and isinstance(team[0], str) for team in state):
        return []
    return [team[0] for team in state]


async def _demo_key(store: Storage, key_file: Path, team: str) -> str:
    """The key saved in ``key_file`` while it is still a live key of ``team``, else a new one."""
    saved = read_text(key_file)
    if saved and KEY_PATTERN.fullmatch(saved):
        found = await store.find_key(hash_key(saved))
        if (
            found is not None
            and found.revoked_at is None
            and found.team_name == team
            and set(SCOPES) <= set(found.scopes)
        ):
            return saved
    key = await new_key(store, team, SCOPES)
    write_private(key_file, key + "\n")
    return key
