"""Teams and their API keys in the SQLite store.

A mixin of :class:`~activityfeed.storage.sqlite.store.SQLiteStorage`: reads
on the read connection, writes through the store's writer, like every other
write.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from activityfeed.model import ApiKey, Team
from activityfeed.storage.sqlite.connection import SQLiteParts
from activityfeed.storage.values import KEY_COLUMNS, api_key
from activityfeed.timestamps import now_us


class SQLiteTeams(SQLiteParts):
    """The team and key methods of the :class:`~activityfeed.storage.base.Storage` protocol."""

    async def ensure_team(self, name: str) -> Team:
        """The team called ``name``, created when missing."""

        def work(conn: sqlite3.Connection) -> Team:
            conn.execute(
                "INSERT INTO teams (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (name, now_us()),
            )
            return self._team(conn, name)  # type: ignore[return-value]

        return await self._write(work)

    @staticmethod
    def _team(conn: sqlite3.Connection, name: str) -> Team | None:
        row = conn.execute(
            "SELECT id, name, rate_limit, created_at FROM teams WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else Team(*row)

    async def get_team(self, name: str) -> Team | None:
        """The team called ``name``, if any."""
        with self._errors():
            return self._team(self.reader, name)

    async def list_teams(self) -> list[Team]:
        """Every team, by name."""
        with self._errors():
            rows = self.reader.execute(
                "SELECT id, name, rate_limit, created_at FROM teams ORDER BY name"
            ).fetchall()
        return [Team(*row) for row in rows]

    async def set_team_rate_limit(self, name: str, limit: int | None) -> bool:
        """Set one team's budget per minute."""
        return await self._write(
            lambda conn: (
                conn.execute(
                    "UPDATE teams SET rate_limit = ? WHERE name = ?", (limit, name)
                ).rowcount
                > 0
            )
        )

    async def add_key(
        self, team_id: int, key_hash: str, prefix: str, scopes: tuple[str, ...]
    ) -> ApiKey:
        """Store a new key by its hash."""

        def work(conn: sqlite3.Connection) -> ApiKey:
            cursor = conn.execute(
                "INSERT INTO api_keys (team_id, key_hash, prefix, scopes, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (team_id, key_hash, prefix, ",".join(scopes), now_us()),
            )
            row = conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys k JOIN teams t ON t.id = k.team_id "  # noqa: S608
                "WHERE k.id = ?",
                (cursor.lastrowid,),
            ).fetchone()
            return api_key(row)

        return await self._write(work)

    async def find_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, with its team."""
        with self._errors():
            row = self.reader.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys k JOIN teams t ON t.id = k.team_id "  # noqa: S608
                "WHERE k.key_hash = ?",
                (key_hash,),
            ).fetchone()
        return None if row is None else api_key(row)

    async def list_keys(self, team: str | None = None) -> list[ApiKey]:
        """Keys, optionally of one team."""
        sql = f"SELECT {KEY_COLUMNS} FROM api_keys k JOIN teams t ON t.id = k.team_id"  # noqa: S608
        params: tuple[Any, ...] = ()
        if team is not None:
            sql += " WHERE t.name = ?"
            params = (team,)
        with self._errors():
            rows = self.reader.execute(sql + " ORDER BY k.id", params).fetchall()
        return [api_key(row) for row in rows]

    async def revoke_key(self, prefix: str) -> int:
        """Revoke the live keys whose prefix is ``prefix``."""
        return await self._write(
            lambda conn: (
                conn.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL",
                    (now_us(), prefix),
                ).rowcount
            )
        )
