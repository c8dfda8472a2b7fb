"""What the store-side commands share: the ``--database-url`` option and opening the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import click

from activityfeed.settings import Settings, SettingsError
from activityfeed.storage import Storage, StorageUnavailable, open_storage
from activityfeed.urls import without_secrets

T = TypeVar("T")

database_option = click.option(
    "--database-url",
    envvar="ACTIVITYFEED_DATABASE_URL",
    default=None,
    show_envvar=True,
    help="sqlite:///path.db or postgresql://user@host:port/db "
    "(default: activityfeed.db in the working directory).",
)


class CommandGroup(click.Group):
    """A group of commands: each one's whole first sentence in the listing, not cut at a
    width; a setting that cannot be used is one line and exit 1, for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)  # wraps a long description instead of cutting it


def plural(count: int, noun: str) -> str:
    """``1 team``, ``2 teams``, ``1 activity``, ``200,000 activities``."""
    if count == 1:
        return f"1 {noun}"
    return f"{count:,} " + (noun[:-1] + "ies" if noun.endswith("y") else noun + "s")


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

    url = settings_for(database_url).database_url

    async def run() -> T:
        store = open_storage(url)
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
        raise click.ClickException(f"{shown(url)}: {hide_password(url, str(exc))}") from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def shown(url: str) -> str:
    """How a message names the store of ``url``: the URL without its password."""
    return f"the store {without_secrets(url)}"


def hide_password(url: str, text: str) -> str:
    """``text`` on one line, with the password of ``url`` (as given or decoded) as ``***``."""
    text = " ".join(text.split())
    password = urlsplit(url).password
    for secret in {password, unquote(password)} if password else ():
        text = text.replace(secret, "***")
    return text
