"""The SQLite side of ``activityfeed copy`` (see :mod:`activityfeed.storage.copying`)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from activityfeed.storage import writes
from activityfeed.storage.base import StoredRecord
from activityfeed.storage.copying import FreshSink, KeyRow, TeamState
from activityfeed.storage.sqlite import SQLiteStorage


class SQLiteEndpoint:
    """Whole-table reads and writes on an open :class:`SQLiteStorage`.

    A copy is the only thing running against the store, so reads use the
    read connection and writes the writer's, on the caller's thread.
    """

    def __init__(self, store: SQLiteStorage) -> None:
        self.store = store

    def _one(self, sql: str, params: Sequence[Any]) -> Any:
        return self.store.reader.execute(sql, params).fetchone()[0]

    async def teams(self) -> list[TeamState]:
        """Every team, with its clock."""
        rows = self.store.reader.execute(
            "SELECT id, name, rate_limit, created_at, clock FROM teams ORDER BY id"
        ).fetchall()
        return [TeamState(*row) for row in rows]

    async def keys(self) -> list[KeyRow]:
        """Every API key."""
        rows = self.store.reader.execute(
            "SELECT team_id, key_hash, prefix, scopes, created_at, revoked_at FROM api_keys "
            "ORDER BY id"
        ).fetchall()
        return [KeyRow(*row) for row in rows]

    async def activity_rows(
        self, team_id: int, after_seq: int, upto_seq: int, limit: int
    ) -> list[tuple[Any, ...]]:
        """A batch of the team's activities in ``seq`` order."""
        rows = self.store.reader.execute(
            f"SELECT {writes.INSERT_COLUMNS} FROM activities "  # noqa: S608
            "WHERE seq > ? AND seq <= ? AND team_id = ? ORDER BY seq LIMIT ?",
            (after_seq, upto_seq, team_id, limit),
        ).fetchall()
        return [tuple(row) for row in rows]

    async def all_activity_rows(self, batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Every activity in ``seq`` (rowid) order: one pass over the table, whatever the teams."""
        after = -1
        while rows := self.store.reader.execute(
            f"SELECT {writes.INSERT_COLUMNS} FROM activities "  # noqa: S608
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, batch),
        ).fetchall():
            after = rows[-1][1]
            yield rows

    async def seq_range(self, team_id: int, low: int, high: int) -> tuple[int, int] | None:
        """The team's smallest and largest ``seq`` within ``[low, high]``."""
        row = self.store.reader.execute(
            "SELECT min(seq), max(seq) FROM activities WHERE team_id = ? AND seq BETWEEN ? AND ?",
            (team_id, low, high),
        ).fetchone()
        return None if row[0] is None else (int(row[0]), int(row[1]))

    async def count_activities(self, team_id: int) -> int:
        """How many activities the team has."""
        return int(self._one("SELECT count(*) FROM activities WHERE team_id = ?", (team_id,)))

    async def count_records(self, team_id: int) -> int:
        """How many associated records the team has."""
        return int(
            self._one("SELECT count(*) FROM associated_records WHERE team_id = ?", (team_id,))
        )

    async def put_team(self, team: TeamState) -> int:
        """The team by name, else created with its id when that is free."""

        def work(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT id FROM teams WHERE name = ?", (team.name,)).fetchone()
            if row is not None:
                return int(row[0])
            taken = conn.execute("SELECT 1 FROM teams WHERE id = ?", (team.id,)).fetchone()
            cursor = conn.execute(
                "INSERT INTO teams (id, name, rate_limit, clock, created_at) "
                "VALUES (?, ?, ?, 0, ?)",
                (None if taken else team.id, team.name, team.rate_limit, team.created_at),
            )
            return int(cursor.lastrowid or 0)

        return self.store.write_sync(work)

    async def put_keys(self, rows: Sequence[KeyRow]) -> None:
        """Keys whose hash is new here."""
        self.store.write_sync(
            lambda conn: conn.executemany(
                "INSERT INTO api_keys (team_id, key_hash, prefix, scopes, created_at, revoked_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_hash) DO NOTHING",
                [
                    (k.team_id, k.key_hash, k.prefix, k.scopes, k.created_at, k.revoked_at)
                    for k in rows
                ],
            )
        )

    async def put_activity_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert a batch as it is, ``seq`` included."""
        marks = ", ".join("?" * len(rows[0]))
        self.store.write_sync(
            lambda conn: conn.executemany(
                f"INSERT INTO activities ({writes.INSERT_COLUMNS}) VALUES ({marks})",  # noqa: S608
                rows,
            )
        )

    def fresh_load(self) -> AbstractAsyncContextManager[FreshSink | None]:
        """None: activities go through :meth:`put_activity_rows`, in resumable batches."""
        return nullcontext(None)

    async def put_records(self, team_id: int, records: Sequence[StoredRecord]) -> None:
        """Upsert records with their timestamps."""
        self.store.write_sync(
            lambda conn: conn.executemany(
                "INSERT INTO associated_records "
                "(team_id, resource, id, attributes, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, resource, id) DO UPDATE "
                "SET attributes = excluded.attributes, created_at = excluded.created_at, "
                "updated_at = excluded.updated_at",
                [
                    (team_id, r.resource, r.id, r.attributes, r.created_at, r.updated_at)
                    for r in records
                ],
            )
        )

    async def finish(self) -> None:
        """Nothing: the SQLite store's statements are written for a planner without
        statistics (see ``sqlbuild``), so none are gathered."""

    async def finish_team(self, team_id: int, clock: int) -> None:
        """Raise the clock and rebuild the team's counters."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE teams SET clock = max(clock, ?, "
                "(SELECT coalesce(max(updated_at), 0) FROM activities WHERE team_id = ?)) "
                "WHERE id = ?",
                (clock, team_id, team_id),
            )
            conn.execute("DELETE FROM activity_counts WHERE team_id = ?", (team_id,))
            conn.execute(
                "INSERT INTO activity_counts (team_id, type, resource_type, n) "
                "SELECT team_id, type, resource_type, count(*) FROM activities "
                "WHERE team_id = ? GROUP BY team_id, type, resource_type",
                (team_id,),
            )

        self.store.write_sync(work)
