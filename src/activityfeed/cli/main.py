"""The ``activityfeed`` command."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import click

from activityfeed import __version__
from activityfeed.auth import generate_key, hash_key, key_prefix
from activityfeed.cli.copy import copy_command
from activityfeed.cli.data import activities, export_command, import_command
from activityfeed.model import SCOPE_READ, SCOPE_WRITE, SCOPES
from activityfeed.ratelimit.factory import describe as describe_rate_limit
from activityfeed.ratelimit.factory import rate_limit_env
from activityfeed.settings import Settings
from activityfeed.storage import Storage, StorageRefused, StorageUnavailable, open_storage
from activityfeed.timestamps import format_timestamp

T = TypeVar("T")

WAIT_FOR_DB = 60.0  # seconds `serve` waits for its database at start, by default
RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 5.0)  # between attempts, then 5 s each

database_option = click.option(
    "--database-url",
    envvar="ACTIVITYFEED_DATABASE_URL",
    default=None,
    help="sqlite:///path.db or postgresql://user@host:port/db "
    "(default: activityfeed.db in the working directory).",
)


def settings_for(database_url: str | None) -> Settings:
    """Settings from the environment, with the command line's database URL."""
    try:
        return Settings.from_env(database_url=database_url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def with_store(
    database_url: str | None, work: Callable[[Storage], Awaitable[T]], *, errors: bool = True
) -> T:
    """Open the store, run ``work``, close it; a clear message when it cannot open.

    With ``errors=False``, :class:`StorageUnavailable` is left to the caller.
    """

    async def run() -> T:
        store = open_storage(settings_for(database_url).database_url)
        try:
            await store.open()
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StorageUnavailable as exc:
        if not errors:
            raise
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


async def new_key(store: Storage, team: str, scopes: tuple[str, ...]) -> str:
    """Make a key for ``team`` (created when missing); the key, shown once."""
    found = await store.ensure_team(team)
    key = generate_key()
    await store.add_key(found.id, hash_key(key), key_prefix(key), scopes)
    return key


@click.group()
@click.version_option(__version__, prog_name="activityfeed")
def main() -> None:
    """activityfeed: a Salesloft-compatible activity history service."""


# The integrator's commands, which talk to a running service (cli_data.py).
main.add_command(activities)
main.add_command(export_command)
main.add_command(import_command)
main.add_command(copy_command)


@main.command()
@database_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--redis-url",
    envvar="ACTIVITYFEED_REDIS_URL",
    default=None,
    help="redis://host:port/db: count the rate limit there, across every host "
    "(default: a file shared by this machine's workers).",
)
@click.option(
    "--wait-for-db",
    default=WAIT_FOR_DB,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="How long to wait at start for a PostgreSQL server that is down or starting, "
    "trying again with a logged backoff; 0 fails at once.",
)
def serve(
    database_url: str | None,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    redis_url: str | None,
    wait_for_db: float,
) -> None:
    """Run the service."""
    settings = Settings.from_env(database_url=database_url, redis_url=redis_url)
    run_server(settings, host, port, workers, log_level, wait_for_db)


def database_location(url: str) -> str:
    """Where the database of ``url`` is, for messages: host and port, or the file; no secret."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return url.removeprefix("sqlite:///").split("?", 1)[0]
    hosts = parts.netloc.rpartition("@")[2]  # never the user or the password
    if not hosts:  # libpq's host and port parameters (a socket directory, say)
        query = parse_qs(parts.query)
        hosts = f"{query.get('host', ['localhost'])[0]}:{query.get('port', ['5432'])[0]}"
    elif "," not in hosts and not hosts.rpartition(":")[2].isdigit():
        hosts += ":5432"
    return hosts


def open_at_boot(database_url: str, wait: float) -> None:
    """Open (and migrate) the store once, waiting up to ``wait`` seconds for its server.

    Each failed attempt logs one line naming the server; a server that
    refuses (credentials, no such database) is not waited for, nor is a
    SQLite file. When the time is up: one line, and a non-zero exit.
    """
    if not database_url.startswith(("postgresql:", "postgres:")):
        with_store(database_url, lambda store: asyncio.sleep(0))
        return
    where = database_location(database_url)
    password = urlsplit(database_url).password

    def reason(exc: Exception) -> str:
        text = " ".join(str(exc).split())
        for secret in {password, unquote(password)} if password else ():
            text = text.replace(secret, "***")
        return text

    give_up = time.monotonic() + wait
    attempt = 0
    while True:
        attempt += 1
        try:
            with_store(database_url, lambda store: asyncio.sleep(0), errors=False)
            return
        except StorageRefused as exc:
            raise click.ClickException(
                f"the database at {where} cannot be used: {reason(exc)}"
            ) from exc
        except StorageUnavailable as exc:
            left = give_up - time.monotonic()
            if left <= 0:
                waited = f" within {wait:g} s ({attempt} attempts)" if wait else ""
                message = f"the database at {where} did not answer{waited}: {reason(exc)}"
                raise click.ClickException(message) from exc
            pause = min(RETRY_PAUSES[min(attempt, len(RETRY_PAUSES)) - 1], left)
            click.echo(
                f"waiting for the database at {where} (attempt {attempt}, "
                f"next in {pause:.1f} s, {math.ceil(left)} s left): {reason(exc)}",
                err=True,
            )
            time.sleep(pause)


def run_server(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    wait_for_db: float = WAIT_FOR_DB,
) -> None:
    """Migrate the store (waiting up to ``wait_for_db`` for it), then serve it with uvicorn."""
    import uvicorn

    open_at_boot(settings.database_url, wait_for_db)  # migrate once, up front
    from activityfeed.records.registry import RecordsConfigError, load_registry

    try:  # a bad records config stops here with its message, not in every worker
        load_registry(settings.records_config, settings.records_env)
    except RecordsConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    # Workers are separate processes that build the app from the environment.
    os.environ["ACTIVITYFEED_DATABASE_URL"] = settings.database_url
    os.environ.update(rate_limit_env(settings))
    click.echo(describe_rate_limit(settings), err=True)
    from activityfeed.http.server import server_options

    # The factory builds each worker's app and ties the worker to this process:
    # no worker outlives it, even killed with SIGKILL (http/server.py).
    uvicorn.run(
        "activityfeed.http.server:create_worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        **server_options(settings),
    )


@main.command()
@database_option
def migrate(database_url: str | None) -> None:
    """Create or migrate the store's schema."""
    with_store(database_url, lambda store: asyncio.sleep(0))
    click.echo("schema is up to date")


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@database_option
@click.option("--team", required=True, help="The team; created if it does not exist.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help="Repeat for several (default: both).",
)
def keys_create(database_url: str | None, team: str, scopes: tuple[str, ...]) -> None:
    """Make a key. It is printed once, as the last line; only its hash is kept."""
    chosen = tuple(dict.fromkeys(scopes)) or (SCOPE_READ, SCOPE_WRITE)
    key = with_store(database_url, lambda store: new_key(store, team, chosen))
    click.echo(f"Created a key for team {team!r} with scopes {', '.join(chosen)}.", err=True)
    click.echo("Store it now: it is not shown again.", err=True)
    click.echo(key)


@keys.command("list")
@database_option
@click.option("--team", default=None)
def keys_list(database_url: str | None, team: str | None) -> None:
    """List keys by prefix (the keys themselves are not stored)."""
    found = with_store(database_url, lambda store: store.list_keys(team))
    for key in found:
        state = "revoked " + format_timestamp(key.revoked_at) if key.revoked_at else "active"
        click.echo(
            f"{key.prefix}…  team={key.team_name}  scopes={','.join(key.scopes)}  "
            f"created={format_timestamp(key.created_at)}  {state}"
        )


@keys.command("revoke")
@database_option
@click.argument("key_or_prefix")
def keys_revoke(database_url: str | None, key_or_prefix: str) -> None:
    """Revoke a key, given whole or by the prefix that `keys list` shows."""
    prefix = key_prefix(key_or_prefix.rstrip("…"))
    count = with_store(database_url, lambda store: store.revoke_key(prefix))
    if count == 0:
        raise click.ClickException(f"no active key with prefix {prefix}")
    click.echo(f"revoked {count} key(s) with prefix {prefix}")


@main.group()
def teams() -> None:
    """List teams and set their rate limits."""


@teams.command("list")
@database_option
def teams_list(database_url: str | None) -> None:
    """List teams with their budget per minute."""
    default = settings_for(database_url).rate_limit_per_minute
    for team in with_store(database_url, lambda store: store.list_teams()):
        if team.rate_limit is None:
            limit = f"default ({default if default > 0 else 'off'})"
        else:
            limit = "unlimited" if team.rate_limit == 0 else str(team.rate_limit)
        click.echo(f"{team.name}  rate_limit={limit}")
    if default <= 0:
        click.echo("rate limiting is off (ACTIVITYFEED_RATE_LIMIT_PER_MINUTE=0)", err=True)


@teams.command("set-limit")
@database_option
@click.argument("team")
@click.argument("limit", required=False, type=click.IntRange(0))
@click.option("--default", "use_default", is_flag=True, help="Go back to the global default.")
def teams_set_limit(
    database_url: str | None, team: str, limit: int | None, use_default: bool
) -> None:
    """Set TEAM's rate limit: LIMIT per minute, 0 for unlimited, or --default."""
    if use_default == (limit is not None):
        raise click.UsageError("give either a LIMIT or --default")
    chosen = None if use_default else limit
    if not with_store(database_url, lambda store: store.set_team_rate_limit(team, chosen)):
        raise click.ClickException(f"no team named {team!r} (`keys create --team` makes one)")
    shown = "the default" if chosen is None else "unlimited" if chosen == 0 else f"{chosen}"
    click.echo(f"rate limit of team {team!r}: {shown} per minute")
    if settings_for(database_url).rate_limit_per_minute <= 0:
        click.echo(
            "note: rate limiting is off (ACTIVITYFEED_RATE_LIMIT_PER_MINUTE=0); "
            "this applies once it is on",
            err=True,
        )


@main.command()
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
