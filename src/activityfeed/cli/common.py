"""What the store-side commands share: the ``--database-url`` option and opening the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from activityfeed.settings import Settings
from activityfeed.storage import Storage, StorageUnavailable, open_storage

T = TypeVar("T")

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
