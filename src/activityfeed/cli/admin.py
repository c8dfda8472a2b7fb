"""``keys`` and ``teams``: the operator's commands on API keys and rate limits, on the store."""

from __future__ import annotations

import click

from activityfeed.auth import key_prefix, new_key
from activityfeed.cli.common import database_option, settings_for, with_store
from activityfeed.model import SCOPE_READ, SCOPE_WRITE, SCOPES
from activityfeed.timestamps import format_timestamp


@click.group()
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


@click.group()
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
