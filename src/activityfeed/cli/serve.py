"""``serve`` and ``migrate``: open (and migrate) the store, waiting for its server, then serve."""

from __future__ import annotations

import asyncio
import math
import os
import time
from urllib.parse import unquote, urlsplit

import click

from activityfeed.cli.common import database_option, with_store
from activityfeed.ratelimit.factory import describe as describe_rate_limit
from activityfeed.ratelimit.factory import rate_limit_env
from activityfeed.records.registry import RecordsConfigError, load_registry
from activityfeed.settings import Settings
from activityfeed.storage import StorageRefused, StorageUnavailable
from activityfeed.urls import database_location

WAIT_FOR_DB = 60.0  # seconds `serve` waits for its database at start, by default
RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 5.0)  # between attempts, then 5 s each


@click.command()
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


@click.command()
@database_option
def migrate(database_url: str | None) -> None:
    """Create or migrate the store's schema."""
    with_store(database_url, lambda store: asyncio.sleep(0))
    click.echo("schema is up to date")


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
    # Imported here for the start-up time of every other command only (uvicorn and the
    # whole HTTP app); neither imports the command line, so no cycle hides here.
    import uvicorn

    from activityfeed.http.server import server_options

    open_at_boot(settings.database_url, wait_for_db)  # migrate once, up front
    try:  # a bad records config stops here with its message, not in every worker
        load_registry(settings.records_config, settings.records_env)
    except RecordsConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    # Workers are separate processes that build the app from the environment.
    os.environ["ACTIVITYFEED_DATABASE_URL"] = settings.database_url
    os.environ.update(rate_limit_env(settings))
    click.echo(describe_rate_limit(settings), err=True)
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
