"""The fast load of PostgreSQL's activities table while it holds no activities.

``activityfeed copy`` into a new PostgreSQL store and ``activityfeed demo``
into one without activities write every row of the table. Through the normal
path each row costs a B-tree insert, and its WAL record, in each of the
table's seven secondary indexes, and a lookup of its team for the foreign
key: most of a ``COPY``'s time. Here the load drops those indexes (all but
:data:`KEPT`) and the foreign key, streams the rows with ``COPY`` into the
heap and the primary key, then builds each index by sorting once (``CREATE
INDEX``, which writes whole pages to the WAL) and checks the foreign key with
one join.

Indexes and foreign keys are rebuilt from their own definitions, read from
the catalog (``pg_get_indexdef``, ``pg_get_constraintdef``) before they are
dropped, so the load can never drift from the migrations. The indexes are
partitioned indexes, rebuilt as ``pg_dump`` restores them: the partitioned
index alone (``ON ONLY``), then each partition's index under its old name,
attached to it. The primary key stays: rows arrive in its order, so keeping
it is cheap appending, and it guards ``seq`` during the load. The unique
indexes check uniqueness as they are built. At the end the load compares
every index and constraint of the table and its partitions (name,
definition, parent, validity) with what it saw before, and fails when
anything differs.

Everything is one transaction: a failure anywhere, the index builds and the
comparison included, rolls back to the empty table with its indexes, and the
load can simply run again. For its duration the transaction holds
``activities`` exclusively (no one reads or writes activities meanwhile),
``team_clocks`` against writes, which every activity writer takes first
(:mod:`activityfeed.storage.postgres.writes`), so that writers wait for the load instead of
failing and no one draws ``seq`` values in the meantime, and ``teams``
against writes (dropping the foreign key): new teams wait too.
``synchronous_commit`` is off for the transaction (a load lost to a crash is
simply run again) and ``maintenance_work_mem`` is raised for the index
builds; the server's own configuration is left alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from activityfeed.storage import writes
from activityfeed.storage.postgres.writes import INSERT_COLUMN_LIST, add_counts
from activityfeed.timestamps import now_us

# Kept up during the load: the partial index of pinned activities takes only
# the few pinned rows, while building it afterwards would read the whole
# table once more.
KEPT = frozenset({"activities_team_pinned"})
# Also kept by a load whose rows come in the order of these indexes' keys
# within each team (the demo's: occurred_at and updated_at grow row by row),
# for which keeping them is appending, done while the server would otherwise
# wait for the next rows, instead of two more reads of the table at the end.
IN_TIME_ORDER = frozenset({"activities_team_occurred", "activities_team_updated"})
# Memory for each index build's sort: a million activities' largest key
# (team, resource type, resource id, occurred_at, seq) sorts in memory.
MAINTENANCE_WORK_MEM = "256MB"

# Every index of activities and of its partitions, with its parent index.
_INDEXES = """
SELECT t.relname, x.relname, pg_get_indexdef(i.indexrelid), coalesce(p.relname, ''),
       i.indisvalid, i.indisready
FROM pg_index i
JOIN pg_class x ON x.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
LEFT JOIN pg_inherits h ON h.inhrelid = i.indexrelid
LEFT JOIN pg_class p ON p.oid = h.inhparent
WHERE i.indrelid = 'activities'::regclass
   OR i.indrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'activities'::regclass)
ORDER BY 1, 2
"""

# Every constraint of activities and its partitions, with its parent constraint.
_CONSTRAINTS = """
SELECT t.relname, c.conname, c.contype::text, pg_get_constraintdef(c.oid),
       coalesce(p.conname, ''), c.convalidated
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
LEFT JOIN pg_constraint p ON p.oid = c.conparentid
WHERE c.conrelid = 'activities'::regclass
   OR c.conrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'activities'::regclass)
ORDER BY 1, 2
"""

# The foreign keys of the partitioned table (its partitions hold clones).
_FOREIGN_KEYS = """
SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = 'activities'::regclass AND contype = 'f' ORDER BY oid
"""

# The indexes of the partitioned table not behind a constraint, oldest first,
# each with its partitions' indexes: names qualified and quoted (regclass),
# definitions as the catalog gives them.
_SECONDARY = """
SELECT x.relname, p.indexrelid::regclass::text, pg_get_indexdef(p.indexrelid),
       array_remove(array_agg(h.inhrelid::regclass::text ORDER BY h.inhrelid), NULL),
       array_remove(array_agg(pg_get_indexdef(h.inhrelid) ORDER BY h.inhrelid), NULL)
FROM pg_index p
JOIN pg_class x ON x.oid = p.indexrelid
LEFT JOIN pg_inherits h ON h.inhparent = p.indexrelid
WHERE p.indrelid = 'activities'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = p.indexrelid)
GROUP BY p.indexrelid, x.relname
ORDER BY p.indexrelid
"""


@dataclass(frozen=True, slots=True)
class SavedIndex:
    """A partitioned index as dropped: enough to build it again exactly."""

    name: str
    definition: str  # CREATE INDEX ... ON ONLY activities: the parent alone
    partitions: tuple[tuple[str, str], ...]  # (name, definition) of each partition's index


@dataclass(frozen=True, slots=True)
class IndexState:
    """One index as the catalog describes it."""

    table: str
    name: str
    definition: str
    parent: str  # the partitioned index it is attached to, or ""
    valid: bool
    ready: bool


@dataclass(frozen=True, slots=True)
class ConstraintState:
    """One constraint as the catalog describes it."""

    table: str
    name: str
    kind: str  # p, u, f, c...
    definition: str
    parent: str  # the partitioned table's constraint it comes from, or ""
    validated: bool


class IndexesChanged(RuntimeError):
    """The rebuilt indexes or constraints differ from those dropped: the load is rolled back."""


async def schema_state(conn: asyncpg.Connection) -> list[IndexState | ConstraintState]:
    """Every index and constraint of ``activities`` and its partitions, by table and name."""
    indexes: list[IndexState | ConstraintState] = [
        IndexState(*row) for row in await conn.fetch(_INDEXES)
    ]
    return indexes + [ConstraintState(*row) for row in await conn.fetch(_CONSTRAINTS)]


class FreshLoad:
    """A load in progress into an activities table that was empty when it began.

    :meth:`copy` streams rows of :data:`~activityfeed.storage.writes.INSERT_COLUMNS`;
    a loader that makes its own rows (the demo) draws ``seq`` from
    :meth:`next_seq` and stamps with :meth:`clock`, then saves each team
    with :meth:`finish_team`.
    """

    def __init__(
        self,
        conn: asyncpg.Connection,
        dropped: list[SavedIndex],
        foreign_keys: list[tuple[str, str]],
        before: list[IndexState | ConstraintState],
    ) -> None:
        self.conn = conn
        self._dropped = dropped
        self._foreign_keys = foreign_keys
        self._before = before
        self.now = now_us()

    async def copy(self, rows: Iterable[tuple[Any, ...]] | AsyncIterable[tuple[Any, ...]]) -> None:
        """``COPY`` rows into the table; an async iterable is read as the server takes rows."""
        await self.conn.copy_records_to_table(
            "activities", records=rows, columns=INSERT_COLUMN_LIST
        )

    async def next_seq(self) -> int:
        """The first ``seq`` not drawn yet (no one else draws during the load)."""
        last, called = await self.conn.fetchrow("SELECT last_value, is_called FROM activities_seq")
        return int(last) + 1 if called else int(last)

    async def clock(self, team_id: int) -> writes.Clock:
        """The team's ``updated_at`` clock, as the bulk upsert would start it now."""
        last = await self.conn.fetchval("SELECT clock FROM team_clocks WHERE team_id = $1", team_id)
        return writes.Clock(int(last or 0), self.now)

    async def finish_team(
        self, team_id: int, clock: int, deltas: dict[tuple[str, str], int], last_seq: int
    ) -> None:
        """Save the team's clock, add its counts, move ``seq`` past its rows."""
        await self.conn.execute(
            "INSERT INTO team_clocks (team_id, clock) VALUES ($1, $2) "
            "ON CONFLICT (team_id) DO UPDATE SET clock = excluded.clock",
            team_id,
            clock,
        )
        await add_counts(self.conn, team_id, deltas)
        await self.conn.execute(
            "SELECT setval('activities_seq', greatest($1::bigint, "
            "(SELECT last_value FROM activities_seq), 1))",
            last_seq,
        )

    async def rebuild(self) -> None:
        """Build the dropped indexes again, then check every index is as it was.

        As ``pg_dump`` restores them: the partitioned index alone (its
        definition says ``ON ONLY``), then each partition's index under its
        own name, attached to it; the partitioned index is valid once every
        partition has its index.
        """
        await self.conn.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        for index in self._dropped:
            await self.conn.execute(index.definition)
            for name, definition in index.partitions:
                await self.conn.execute(definition)
                await self.conn.execute(f"ALTER INDEX {index.name} ATTACH PARTITION {name}")
        for name, definition in self._foreign_keys:
            # Checked by one join over the table instead of a lookup per row.
            await self.conn.execute(f"ALTER TABLE activities ADD CONSTRAINT {name} {definition}")
        after = await schema_state(self.conn)
        if after != self._before:
            changed = sorted(set(after).symmetric_difference(self._before), key=str)
            raise IndexesChanged(f"the rebuilt indexes differ from the dropped ones: {changed}")


@dataclass(frozen=True, slots=True)
class PostgresFreshLoader:
    """The PostgreSQL store's fast load, as its ``fresh_loader()`` offers it.

    ``open(keep)`` is the store's ``fresh_load``: a :class:`FreshLoad` while
    the table has no activities, else ``None``; ``analyze`` gathers the
    planner's statistics after the load.
    """

    open: Callable[[frozenset[str]], AbstractAsyncContextManager[FreshLoad | None]]
    analyze: Callable[[], Awaitable[None]]
    kind: Literal["postgresql"] = "postgresql"


async def _begin(conn: asyncpg.Connection, keep: frozenset[str]) -> FreshLoad | None:
    """Lock, check the table is empty, drop the secondary indexes (in a transaction)."""
    # team_clocks first, as every activity writer takes it: no deadlock.
    await conn.execute("LOCK TABLE team_clocks IN EXCLUSIVE MODE")
    await conn.execute("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM activities)"):
        return None
    await conn.execute("SET LOCAL synchronous_commit = off")
    before = await schema_state(conn)
    dropped = [
        SavedIndex(name, definition, tuple(zip(names, definitions, strict=True)))
        for relname, name, definition, names, definitions in await conn.fetch(_SECONDARY)
        if relname not in keep
    ]
    for index in dropped:
        # Its partitions' indexes go with it.
        await conn.execute(f"DROP INDEX {index.name}")  # quoted by the catalog (regclass)
    foreign_keys = [(str(name), str(sql)) for name, sql in await conn.fetch(_FOREIGN_KEYS)]
    for name, _ in foreign_keys:
        # Its partitions' clones go with it.
        await conn.execute(f"ALTER TABLE activities DROP CONSTRAINT {name}")
    return FreshLoad(conn, dropped, foreign_keys, before)


@asynccontextmanager
async def fresh_load(
    connection: Any, keep: frozenset[str] = KEPT
) -> AsyncIterator[FreshLoad | None]:
    """A :class:`FreshLoad` when the activities table is empty, else ``None``.

    ``connection`` is the store's pooled-connection context manager; the
    indexes named in ``keep`` stay up during the load. The
    indexes are rebuilt and everything committed when the block ends; an
    exception rolls it all back.
    """
    async with connection as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            load = await _begin(conn, keep)
        except BaseException:
            await transaction.rollback()
            raise
        if load is not None:
            try:
                yield load
                await load.rebuild()
            except BaseException:
                await transaction.rollback()
                raise
            await transaction.commit()
            return
        await transaction.rollback()
    yield None
