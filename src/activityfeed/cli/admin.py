"""``keys`` and ``teams``: the operator's commands on API keys and rate limits, on the store."""

from __future__ import annotations

import re

import click

from activityfeed.auth import PREFIX_LENGTH, hash_key, new_key
from activityfeed.cli.common import CommandGroup, database_option, settings_for, with_store
from activityfeed.model import SCOPE_READ, SCOPE_WRITE, SCOPES, ApiKey
from activityfeed.storage import Storage
from activityfeed.timestamps import format_timestamp

# What `keys revoke` takes: a whole key, or ak_ and at least the 8 hex digits `keys list` shows.
KEY_OR_PREFIX = re.compile(r"ak_[0-9a-f]{8,64}")
WHOLE_KEY_LENGTH = 3 + 64


def no_team(team: str) -> click.ClickException:
    """The error of a command given a team that does not exist."""
    return click.ClickException(f"no team named {team!r} (`keys create --team` makes one)")


@click.group(cls=CommandGroup)
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

    async def create(store: Storage) -> tuple[bool, str]:
        existed = await store.get_team(team) is not None
        return existed, await new_key(store, team, chosen)

    existed, key = with_store(database_url, create)
    if not existed:  # a typo would otherwise make a team without a word
        click.echo(f"created team {team!r} (it did not exist)", err=True)
    click.echo(f"Created a key for team {team!r} with scopes {', '.join(chosen)}.", err=True)
    click.echo("Store it now: it is not shown again.", err=True)
    click.echo(key)


@keys.command("list")
@database_option
@click.option("--team", default=None, help="Only this team's keys (it must exist).")
def keys_list(database_url: str | None, team: str | None) -> None:
    """List keys by prefix (the keys themselves are not stored)."""

    async def listed(store: Storage) -> list[ApiKey] | None:
        if team is not None and await store.get_team(team) is None:
            return None
        return await store.list_keys(team)

    found = with_store(database_url, listed)
    if found is None:
        raise no_team(str(team))
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
    """Revoke a key, given whole or by a prefix of it (ak_ and 8 or more hex digits)."""
    given = key_or_prefix.strip().rstrip("…").lower()
    if not KEY_OR_PREFIX.fullmatch(given):
        raise click.BadParameter(
            "give the whole key or its prefix: ak_ and at least 8 hex digits, "
            "as `keys list` shows it",
            param_hint="KEY_OR_PREFIX",
        )
    prefix = given[:PREFIX_LENGTH]  # only this much of a key is stored, besides its hash

    async def revoke(store: Storage) -> int:
        live = [k for k in await store.list_keys() if k.prefix == prefix and not k.revoked_at]
        if len(given) == WHOLE_KEY_LENGTH and (found := await store.find_key(hash_key(given))):
            if found.id not in {k.id for k in live}:
                return 0  # revoked already, or another key of the same prefix
        elif len(given) == WHOLE_KEY_LENGTH:
            return 0
        return await store.revoke_key(prefix) if len(live) == 1 else len(live)

    count = with_store(database_url, revoke)
    if count == 0:  # never the whole key in a message: it is a secret
        raise click.ClickException(f"no active key matches {prefix}…")
    if count > 1:
        raise click.ClickException(
            f"{count} active keys have the prefix {prefix}; revoke cannot tell them apart"
        )
    click.echo(f"revoked the key {prefix}…")


@click.group(cls=CommandGroup)
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
        raise no_team(team)
    shown = "the default" if chosen is None else "unlimited" if chosen == 0 else f"{chosen}"
    click.echo(f"rate limit of team {team!r}: {shown} per minute")
    if settings_for(database_url).rate_limit_per_minute <= 0:
        click.echo(
            "note: rate limiting is off (ACTIVITYFEED_RATE_LIMIT_PER_MINUTE=0); "
            "this applies once it is on",
            err=True,
        )
