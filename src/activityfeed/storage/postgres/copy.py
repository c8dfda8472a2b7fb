"""The PostgreSQL side of ``activityfeed copy`` (see :mod:`activityfeed.storage.copying`).

Activities go in with ``COPY`` (binary): into a store without activities all
at once, through the fresh load (:mod:`activityfeed.storage.postgres.bulk`),
otherwise a batch per transaction.

:meth:`PostgresStorage.copy_endpoint
<activityfeed.storage.postgres.store.PostgresStorage.copy_endpoint>` makes the
:class:`PostgresEndpoint`; this module does not import the store, it names
what it uses of it (:class:`PostgresDatabase`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

import asyncpg

from activityfeed.storage import writes
from activityfeed.storage.base import FreshSink, Storage
from activityfeed.storage.postgres.bulk import FreshLoad
from activityfeed.storage.postgres.writes import INSERT_COLUMN_LIST
from activityfeed.storage.values import (
    PROGRESS_TABLE,
    KeyRow,
    StoredRecord,
    TargetState,
    TargetTeam,
    TeamState,
)

T = TypeVar("T")


class PostgresDatabase(Storage, Protocol):
    """What the endpoint uses of :class:`~activityfeed.storage.postgres.store.PostgresStorage`."""

    def connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection for one call."""

    def transaction(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection in a transaction."""

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Rows of one read."""

    def fresh_load(
        self, keep: frozenset[str] = ...
    ) -> AbstractAsyncContextManager[FreshLoad | None]:
        """The fast load of the activities while the store has none."""

    async def analyze(self) -> None:
        """Gather the planner's statistics of the loaded tables."""

    async def read_unopened(self, read: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``read`` in a read-only snapshot on a connection of its own, the store unopened."""


async def read_state(conn: asyncpg.Connection) -> TargetState:
    """What the store on ``conn``'s schema holds (tables in the order they were created)."""
    schema = await conn.fetchval("SELECT current_schema()")
    if schema is None:  # no schema of the search path exists: nothing there
        return TargetState()
    tables = [
        row[0]
        for row in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "ORDER BY c.oid",
            schema,
        )
    ]
    holding = []
    for name in tables:
        if name == "schema_migrations":
            continue
        # Names come from the catalog, quoted as identifiers.
        table = f'"{_ident(schema)}"."{_ident(name)}"'
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):  # noqa: S608
            holding.append(name)
    if "teams" not in holding:
        return TargetState(tuple(holding))
    offsets: dict[int, int] = {}
    if PROGRESS_TABLE in tables:
        offsets = {
            row[0]: row[1]
            for row in await conn.fetch(f"SELECT team_id, seq_offset FROM {PROGRESS_TABLE}")  # noqa: S608
        }
    teams = tuple(
        TargetTeam(row[0], row[1], row[2], offsets.get(row[0]))
        for row in await conn.fetch("SELECT id, name, created_at FROM teams ORDER BY id")
    )
    key_teams = (
        {row[0]: row[1] for row in await conn.fetch("SELECT key_hash, team_id FROM api_keys")}
        if "api_keys" in holding
        else {}
    )
    top = 0
    if "activities" in holding:
        for team in teams:  # team by team: the primary key (team_id, seq) answers each
            found = await conn.fetchval(
                "SELECT max(seq) FROM activities WHERE team_id = $1", team.id
            )
            top = max(top, found or 0)
    return TargetState(tuple(holding), teams, key_teams, int(top))


def _ident(name: str) -> str:
    return name.replace('"', '""')


class PostgresEndpoint:
    """Whole-table reads and writes on an open PostgreSQL store."""

    def __init__(self, store: PostgresDatabase) -> None:
        self.store = store

    async def _value(self, sql: str, *args: Any) -> int:
        rows = await self.store.fetch(sql, *args)
        return int(rows[0][0])

    async def teams(self) -> list[TeamState]:
        """Every team, with its clock."""
        rows = await self.store.fetch(
            "SELECT t.id, t.name, t.rate_limit, t.created_at, coalesce(c.clock, 0) "
            "FROM teams t LEFT JOIN team_clocks c ON c.team_id = t.id ORDER BY t.id"
        )
        return [TeamState(*row) for row in rows]

    async def keys(self) -> list[KeyRow]:
        """Every API key."""
        rows = await self.store.fetch(
            "SELECT team_id, key_hash, prefix, scopes, created_at, revoked_at FROM api_keys "
            "ORDER BY id"
        )
        return [KeyRow(*row) for row in rows]

    async def activity_rows(
        self, team_id: int, after_seq: int, upto_seq: int, limit: int
    ) -> list[tuple[Any, ...]]:
        """A batch of the team's activities in ``seq`` order (its primary key)."""
        rows = await self.store.fetch(
            f"SELECT {writes.INSERT_COLUMNS} FROM activities "  # noqa: S608
            "WHERE team_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
            team_id,
            after_seq,
            upto_seq,
            limit,
        )
        return [tuple(row) for row in rows]

    async def all_activity_rows(self, batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Team after team, each in ``seq`` order: its primary key, one partition at a time."""
        for team in await self.teams():
            after = -1
            while rows := await self.activity_rows(team.id, after, 2**63 - 1, batch):
                after = rows[-1][1]
                yield rows

    async def seq_range(self, team_id: int, low: int, high: int) -> tuple[int, int] | None:
        """The team's smallest and largest ``seq`` within ``[low, high]``."""
        rows = await self.store.fetch(
            "SELECT min(seq), max(seq) FROM activities "
            "WHERE team_id = $1 AND seq BETWEEN $2 AND $3",
            team_id,
            low,
            high,
        )
        return None if rows[0][0] is None else (int(rows[0][0]), int(rows[0][1]))

    async def count_activities(self, team_id: int) -> int:
        """How many activities the team has."""
        return await self._value("SELECT count(*) FROM activities WHERE team_id = $1", team_id)

    async def count_records(self, team_id: int) -> int:
        """How many associated records the team has."""
        return await self._value(
            "SELECT count(*) FROM associated_records WHERE team_id = $1", team_id
        )

    async def peek(self) -> TargetState:
        """What the database holds, read in one read-only transaction without migrating it."""
        return await self.store.read_unopened(read_state)

    async def state(self) -> TargetState:
        """What the open store holds."""
        async with (
            self.store.connection() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await read_state(conn)

    async def create_team(self, team: TeamState, seq_offset: int) -> int:
        """The team, with its id when that is free, listed in ``copy_progress``."""
        async with self.store.transaction() as conn:
            taken = await conn.fetchval("SELECT 1 FROM teams WHERE id = $1", team.id)
            if taken:
                team_id = await conn.fetchval(
                    "INSERT INTO teams (name, rate_limit, created_at) VALUES ($1, $2, $3) "
                    "RETURNING id",
                    team.name,
                    team.rate_limit,
                    team.created_at,
                )
            else:
                team_id = await conn.fetchval(
                    "INSERT INTO teams (id, name, rate_limit, created_at) "
                    "VALUES ($1, $2, $3, $4) RETURNING id",
                    team.id,
                    team.name,
                    team.rate_limit,
                    team.created_at,
                )
                # Explicit ids leave the identity behind; keep it ahead of them.
                await conn.execute(
                    "SELECT setval(pg_get_serial_sequence('teams', 'id'), "
                    "(SELECT max(id) FROM teams))"
                )
            await conn.execute(
                "INSERT INTO team_clocks (team_id) VALUES ($1) ON CONFLICT DO NOTHING", team_id
            )
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} "
                "(team_id bigint PRIMARY KEY, seq_offset bigint NOT NULL)"
            )
            await conn.execute(
                f"INSERT INTO {PROGRESS_TABLE} (team_id, seq_offset) VALUES ($1, $2)",  # noqa: S608
                team_id,
                seq_offset,
            )
        return int(team_id)

    async def forget_copy(self, team_ids: Sequence[int]) -> None:
        """The teams out of ``copy_progress``; the table dropped once empty."""
        async with self.store.transaction() as conn:
            if await conn.fetchval("SELECT to_regclass($1)", PROGRESS_TABLE) is None:
                return
            await conn.execute(
                f"DELETE FROM {PROGRESS_TABLE} WHERE team_id = ANY($1::bigint[])",  # noqa: S608
                list(team_ids),
            )
            if not await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {PROGRESS_TABLE})"):  # noqa: S608
                await conn.execute(f"DROP TABLE {PROGRESS_TABLE}")

    async def put_keys(self, rows: Sequence[KeyRow]) -> None:
        """Keys whose hash is new here."""
        if not rows:
            return
        async with self.store.transaction() as conn:
            await conn.executemany(
                "INSERT INTO api_keys (team_id, key_hash, prefix, scopes, created_at, revoked_at) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_hash) DO NOTHING",
                [
                    (k.team_id, k.key_hash, k.prefix, k.scopes, k.created_at, k.revoked_at)
                    for k in rows
                ],
            )

    async def put_activity_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """COPY a batch as it is, ``seq`` included, in one transaction."""
        async with self.store.transaction() as conn:
            # A copy is resumable: a batch lost to a crash is copied again, so
            # its commit need not wait for the WAL flush.
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.copy_records_to_table(
                "activities", records=list(rows), columns=INSERT_COLUMN_LIST
            )

    def fresh_load(self) -> AbstractAsyncContextManager[FreshSink | None]:
        """The store's fresh load (:mod:`activityfeed.storage.postgres.bulk`) while it has none."""
        return self.store.fresh_load()

    async def put_records(self, team_id: int, records: Sequence[StoredRecord]) -> None:
        """Upsert records with their timestamps, in one statement."""
        async with self.store.transaction() as conn:
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(
                "INSERT INTO associated_records "
                "(team_id, resource, id, attributes, created_at, updated_at) "
                "SELECT $1, r, i, a, c, u FROM unnest($2::text[], $3::text[], $4::bytea[], "
                "$5::bigint[], $6::bigint[]) AS batch (r, i, a, c, u) "
                "ON CONFLICT (team_id, resource, id) DO UPDATE "
                "SET attributes = excluded.attributes, created_at = excluded.created_at, "
                "updated_at = excluded.updated_at",
                team_id,
                [r.resource for r in records],
                [r.id for r in records],
                [r.attributes for r in records],
                [r.created_at for r in records],
                [r.updated_at for r in records],
            )

    async def finish(self) -> None:
        """``ANALYZE`` the loaded tables: until autovacuum gets to them the planner
        believes a team holds a few thousand rows, and walks a million for page 400."""
        await self.store.analyze()

    async def finish_team(self, team_id: int, clock: int) -> None:
        """Raise the clock, rebuild the team's counters, keep ``seq`` ahead of the copy."""
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT INTO team_clocks (team_id, clock) VALUES ($1, greatest($2::bigint, "
                "(SELECT coalesce(max(updated_at), 0) FROM activities WHERE team_id = $1))) "
                "ON CONFLICT (team_id) DO UPDATE "
                "SET clock = greatest(team_clocks.clock, excluded.clock)",
                team_id,
                clock,
            )
            await conn.execute("DELETE FROM activity_counts WHERE team_id = $1", team_id)
            await conn.execute(
                "INSERT INTO activity_counts (team_id, type, resource_type, n) "
                "SELECT team_id, type, resource_type, count(*) FROM activities "
                "WHERE team_id = $1 GROUP BY team_id, type, resource_type",
                team_id,
            )
            top = await conn.fetchval(
                "SELECT coalesce(max(seq), 0) FROM activities WHERE team_id = $1", team_id
            )
            # Never move the sequence back: other teams may be ahead.
            await conn.execute(
                "SELECT setval('activities_seq', greatest($1::bigint, "
                "(SELECT last_value FROM activities_seq), 1))",
                top,
            )
