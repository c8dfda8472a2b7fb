"""The SQLite side of ``activityfeed copy`` (see :mod:`activityfeed.storage.copying`).

:meth:`SQLiteStorage.copy_endpoint <activityfeed.storage.sqlite.store.SQLiteStorage.copy_endpoint>`
makes the :class:`SQLiteEndpoint`; this module does not import the store, it
names what it uses of it (:class:`SQLiteFile`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, closing, nullcontext
from pathlib import Path
from typing import Any, Protocol, TypeVar

from activityfeed.storage import writes
from activityfeed.storage.base import FreshSink, Storage
from activityfeed.storage.values import (
    PROGRESS_TABLE,
    KeyRow,
    StorageUnavailable,
    StoredRecord,
    TargetState,
    TargetTeam,
    TeamState,
)

T = TypeVar("T")


class SQLiteFile(Storage, Protocol):
    """What the endpoint uses of :class:`~activityfeed.storage.sqlite.store.SQLiteStorage`."""

    path: str

    @property
    def reader(self) -> sqlite3.Connection:
        """The read connection."""

    def write_sync(
        self, work: Callable[[sqlite3.Connection], T], deadline: float | None = None
    ) -> T:
        """Run ``work`` in one write transaction on the calling thread."""


def read_state(conn: sqlite3.Connection) -> TargetState:
    """What the store behind ``conn`` holds (tables in the order they were created)."""
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY rowid"
        )
    ]
    # Names come from the catalog, quoted as identifiers.
    holding = tuple(
        name
        for name in tables
        if name != "schema_migrations"
        and conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{_ident(name)}")').fetchone()[0]  # noqa: S608
    )
    if "teams" not in holding:
        return TargetState(holding)
    offsets: dict[int, int] = {}
    if PROGRESS_TABLE in tables:
        offsets = dict(
            conn.execute(f"SELECT team_id, seq_offset FROM {PROGRESS_TABLE}").fetchall()  # noqa: S608
        )
    teams = tuple(
        TargetTeam(team_id, name, created_at, offsets.get(team_id))
        for team_id, name, created_at in conn.execute(
            "SELECT id, name, created_at FROM teams ORDER BY id"
        )
    )
    key_teams = (
        dict(conn.execute("SELECT key_hash, team_id FROM api_keys").fetchall())
        if "api_keys" in holding
        else {}
    )
    top = (
        conn.execute("SELECT coalesce(max(seq), 0) FROM activities").fetchone()[0]
        if "activities" in holding
        else 0
    )
    return TargetState(holding, teams, key_teams, int(top))


def peek_file(path: str) -> TargetState:
    """What the SQLite file holds, read without writing a byte.

    A missing or empty file holds nothing. Without a ``-wal`` (or rollback
    journal) file, whatever the store holds is in the file itself, read as
    immutable, so that SQLite creates neither ``-wal`` nor ``-shm``; with one
    (a server on it, or a crash), read-only, through it.
    """
    file = Path(path)
    if path == ":memory:" or not file.exists() or not file.stat().st_size:
        return TargetState()
    journals = (Path(f"{path}{suffix}") for suffix in ("-wal", "-journal"))
    mode = "mode=ro" if any(journal.exists() for journal in journals) else "immutable=1"
    try:
        with closing(
            sqlite3.connect(f"{file.absolute().as_uri()}?{mode}", uri=True, isolation_level=None)
        ) as conn:
            conn.execute("BEGIN")  # one snapshot for every read
            try:
                return read_state(conn)
            finally:
                conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"cannot read the SQLite store {path}: {exc}") from exc


def _ident(name: str) -> str:
    return name.replace('"', '""')


class SQLiteEndpoint:
    """Whole-table reads and writes on an open SQLite store.

    A copy is the only thing running against the store, so reads use the
    read connection and writes the writer's, on the caller's thread.
    """

    def __init__(self, store: SQLiteFile) -> None:
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

    async def peek(self) -> TargetState:
        """What the file holds, read without opening the store (:func:`peek_file`)."""
        return peek_file(self.store.path)

    async def state(self) -> TargetState:
        """What the open store holds."""
        return read_state(self.store.reader)

    async def create_team(self, team: TeamState, seq_offset: int) -> int:
        """The team, with its id when that is free, listed in ``copy_progress``."""

        def work(conn: sqlite3.Connection) -> int:
            taken = conn.execute("SELECT 1 FROM teams WHERE id = ?", (team.id,)).fetchone()
            cursor = conn.execute(
                "INSERT INTO teams (id, name, rate_limit, clock, created_at) "
                "VALUES (?, ?, ?, 0, ?)",
                (None if taken else team.id, team.name, team.rate_limit, team.created_at),
            )
            team_id = int(cursor.lastrowid or 0)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} "
                "(team_id INTEGER PRIMARY KEY, seq_offset INTEGER NOT NULL)"
            )
            conn.execute(
                f"INSERT INTO {PROGRESS_TABLE} (team_id, seq_offset) VALUES (?, ?)",  # noqa: S608
                (team_id, seq_offset),
            )
            return team_id

        return self.store.write_sync(work)

    async def forget_copy(self, team_ids: Sequence[int]) -> None:
        """The teams out of ``copy_progress``; the table dropped once empty."""

        def work(conn: sqlite3.Connection) -> None:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (PROGRESS_TABLE,)
            ).fetchone()
            if not exists:
                return
            conn.executemany(
                f"DELETE FROM {PROGRESS_TABLE} WHERE team_id = ?",  # noqa: S608
                [(team_id,) for team_id in team_ids],
            )
            if not conn.execute(f"SELECT 1 FROM {PROGRESS_TABLE} LIMIT 1").fetchone():  # noqa: S608
                conn.execute(f"DROP TABLE {PROGRESS_TABLE}")

        self.store.write_sync(work)

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
