"""Teams and their API keys in the PostgreSQL store.

A mixin of :class:`~activityfeed.storage.postgres.store.PostgresStorage`. A
team is created with its row of ``team_clocks``, which every activity write
of the team locks first (see :mod:`activityfeed.storage.postgres.writes`).
"""

from __future__ import annotations

from activityfeed.model import ApiKey, Team
from activityfeed.storage.postgres.connection import PostgresParts
from activityfeed.storage.values import KEY_COLUMNS, api_key
from activityfeed.timestamps import now_us

_TEAM_COLUMNS = "id, name, rate_limit, created_at"


class PostgresTeams(PostgresParts):
    """The team and key methods of the :class:`~activityfeed.storage.base.Storage` protocol."""

    async def ensure_team(self, name: str) -> Team:
        """The team called ``name``, created (with its clock) when missing."""
        async with self.transaction() as conn:
            sql = f"SELECT {_TEAM_COLUMNS} FROM teams WHERE name = $1"  # noqa: S608
            row = await conn.fetchrow(sql, name)
            if row is None:
                insert = (
                    "INSERT INTO teams (name, created_at) VALUES ($1, $2) "  # noqa: S608
                    "ON CONFLICT (name) DO UPDATE SET name = excluded.name "
                    f"RETURNING {_TEAM_COLUMNS}"
                )
                row = await conn.fetchrow(insert, name, now_us())
                await conn.execute(
                    "INSERT INTO team_clocks (team_id) VALUES ($1) ON CONFLICT DO NOTHING",
                    row[0],
                )
        return Team(*row)

    async def get_team(self, name: str) -> Team | None:
        """The team called ``name``, if any."""
        rows = await self.fetch(f"SELECT {_TEAM_COLUMNS} FROM teams WHERE name = $1", name)  # noqa: S608
        return Team(*rows[0]) if rows else None

    async def list_teams(self) -> list[Team]:
        """Every team, by name."""
        rows = await self.fetch(f"SELECT {_TEAM_COLUMNS} FROM teams ORDER BY name")  # noqa: S608
        return [Team(*row) for row in rows]

    async def set_team_rate_limit(self, name: str, limit: int | None) -> bool:
        """Set one team's budget per minute."""
        async with self.connection() as conn:
            status = await conn.execute(
                "UPDATE teams SET rate_limit = $1 WHERE name = $2", limit, name
            )
        return bool(status != "UPDATE 0")

    async def add_key(
        self, team_id: int, key_hash: str, prefix: str, scopes: tuple[str, ...]
    ) -> ApiKey:
        """Store a new key by its hash."""
        async with self.transaction() as conn:
            key_id = await conn.fetchval(
                "INSERT INTO api_keys (team_id, key_hash, prefix, scopes, created_at) "
                "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                team_id,
                key_hash,
                prefix,
                ",".join(scopes),
                now_us(),
            )
            row = await conn.fetchrow(
                f"SELECT {KEY_COLUMNS} FROM api_keys k JOIN teams t ON t.id = k.team_id "  # noqa: S608
                "WHERE k.id = $1",
                key_id,
            )
        return api_key(row)

    async def find_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, with its team."""
        rows = await self.fetch(
            f"SELECT {KEY_COLUMNS} FROM api_keys k JOIN teams t ON t.id = k.team_id "  # noqa: S608
            "WHERE k.key_hash = $1",
            key_hash,
        )
        return api_key(rows[0]) if rows else None

    async def list_keys(self, team: str | None = None) -> list[ApiKey]:
        """Keys, optionally of one team."""
        sql = f"SELECT {KEY_COLUMNS} FROM api_keys k JOIN teams t ON t.id = k.team_id"  # noqa: S608
        if team is None:
            rows = await self.fetch(sql + " ORDER BY k.id")
        else:
            rows = await self.fetch(sql + " WHERE t.name = $1 ORDER BY k.id", team)
        return [api_key(row) for row in rows]

    async def revoke_key(self, prefix: str) -> int:
        """Revoke the live keys whose prefix is ``prefix``."""
        async with self.connection() as conn:
            status: str = await conn.execute(
                "UPDATE api_keys SET revoked_at = $1 WHERE prefix = $2 AND revoked_at IS NULL",
                now_us(),
                prefix,
            )
        return int(status.rsplit(" ", 1)[-1])
