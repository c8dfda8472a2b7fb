"""Writing activities to PostgreSQL: one transaction per call, the team's clock locked.

Why ``updated_at`` is unique within a team and grows in commit order, under
READ COMMITTED and any number of writer processes (contract, section 2):

1. Every write transaction of a team first locks the team's row of
   ``team_clocks`` (an ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``,
   which takes the row lock and returns the *latest committed* clock even
   when it had to wait: PostgreSQL re-reads the row after the lock is
   granted, whatever the statement's snapshot). The lock is held to commit.
2. Under that lock the transaction hands out ``updated_at`` values above the
   clock (:class:`~activityfeed.storage.writes.Clock`), stores the last one
   back and commits. The next writer of the team gets the lock only after
   that commit, so it reads the new clock and goes strictly above it: values
   are unique, and they grow in the order in which the transactions commit.
3. PostgreSQL makes a transaction visible (removes it from the proc array)
   before it releases its locks. So once a reader sees an activity stamped
   ``T``, every transaction of that team that stamped something below ``T``
   is already visible to any later statement: polling with
   ``updated_at[gt]=<largest seen>`` neither misses nor repeats a row.

``seq`` (the order of first storage) is drawn under the same lock, so it
too grows in commit order within a team. Deletes take the lock as well,
which keeps every team's writes strictly serial (no deadlocks between the
activity rows and the counters).

Large inserts go through ``COPY`` (binary): a bulk upsert of new ids, the
demo loader and ``activityfeed copy`` all take that path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import asyncpg

from activityfeed.model import Activity, ActivityChanges, ActivityInput, storable
from activityfeed.storage import writes
from activityfeed.storage.postgres.connection import PostgresParts
from activityfeed.storage.values import BulkResult, DuplicateId, Row
from activityfeed.timestamps import now_us

# Batch statements are planned for their actual parameters and the table's
# actual size. A cached generic plan made while a table was empty (say, the
# first batches of a bulk load) can pick any index that leads with team_id
# for an id lookup, then read the whole team once per id as the table grows.
CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"
COPY_THRESHOLD = 64  # rows from which COPY beats a prepared INSERT run
INSERT_COLUMN_LIST = [name.strip() for name in writes.INSERT_COLUMNS.split(",")]
_INSERT = (
    f"INSERT INTO activities ({writes.INSERT_COLUMNS}) "  # noqa: S608
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)


async def lock_clock(conn: asyncpg.Connection, team_id: int) -> writes.Clock:
    """Lock the team's clock row until commit and return its clock (see the module).

    Every write transaction starts here, so this is also where its statements
    are set to be planned for their actual parameters (:data:`CUSTOM_PLANS`).
    """
    await conn.execute(CUSTOM_PLANS)
    last = await conn.fetchval(
        "INSERT INTO team_clocks (team_id, clock) VALUES ($1, 0) "
        "ON CONFLICT (team_id) DO UPDATE SET clock = team_clocks.clock RETURNING clock",
        team_id,
    )
    return writes.Clock(int(last), now_us())


async def save_clock(conn: asyncpg.Connection, team_id: int, clock: writes.Clock) -> None:
    """Store the last ``updated_at`` handed out."""
    await conn.execute("UPDATE team_clocks SET clock = $2 WHERE team_id = $1", team_id, clock.value)


async def next_seqs(conn: asyncpg.Connection, count: int) -> list[int]:
    """``count`` fresh values of the store-wide ``seq``, increasing."""
    if count == 0:
        return []
    rows = await conn.fetch(
        "SELECT nextval('activities_seq') FROM generate_series(1, $1::integer)", count
    )
    return sorted(row[0] for row in rows)


async def insert_rows(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows of :data:`writes.INSERT_COLUMNS`: COPY when there are many."""
    if len(rows) >= COPY_THRESHOLD:
        await conn.copy_records_to_table("activities", records=rows, columns=INSERT_COLUMN_LIST)
    elif rows:
        await conn.executemany(_INSERT, rows)


async def insert_planned(
    conn: asyncpg.Connection, team_id: int, planned: list[tuple[int, ActivityInput, int]]
) -> None:
    """Insert new activities planned as ``(seq, item, stamp)``.

    Through COPY, each row is rendered as the driver asks for it, so that the
    server indexes the rows already sent while Python renders the next ones.
    """
    if len(planned) < COPY_THRESHOLD:
        await insert_rows(conn, [writes.new_row(team_id, *row) for row in planned])
        return

    async def rows() -> AsyncIterator[tuple[Any, ...]]:
        for seq, item, stamp in planned:
            yield writes.new_row(team_id, seq, item, stamp)

    await conn.copy_records_to_table("activities", records=rows(), columns=INSERT_COLUMN_LIST)


async def add_counts(
    conn: asyncpg.Connection, team_id: int, deltas: dict[tuple[str, str], int]
) -> None:
    """Apply changes to the per-(type, resource type) counters, in a fixed order."""
    keys = sorted(key for key, n in deltas.items() if n)
    if not keys:
        return
    await conn.execute(
        "INSERT INTO activity_counts (team_id, type, resource_type, n) "
        "SELECT $1, t, r, n FROM unnest($2::text[], $3::text[], $4::bigint[]) AS d (t, r, n) "
        "ON CONFLICT (team_id, type, resource_type) "
        "DO UPDATE SET n = activity_counts.n + excluded.n",
        team_id,
        [t for t, _ in keys],
        [r for _, r in keys],
        [deltas[key] for key in keys],
    )


class PostgresWrites(PostgresParts):
    """The activity writes of :class:`~activityfeed.storage.postgres.store.PostgresStorage`."""

    @staticmethod
    async def _existing(
        conn: asyncpg.Connection, team_id: int, ids: list[str]
    ) -> dict[str, tuple[int, Activity]]:
        found: dict[str, tuple[int, Activity]] = {}
        if not ids:
            return found
        # One index probe per id, whatever the statistics say: with `id =
        # ANY($2)`, or a plain join, and stale statistics (a table growing
        # fast under a bulk load) the planner can choose to read every row
        # of the team for each batch. The LIMIT keeps the subquery from being
        # flattened into a join: it stays a lookup of one id by the unique
        # index, once per wanted id.
        rows = await conn.fetch(
            f"SELECT {writes.ACTIVITY_COLUMNS} FROM unnest($2::text[]) AS wanted (wanted_id) "  # noqa: S608
            "CROSS JOIN LATERAL (SELECT * FROM activities "
            "WHERE team_id = $1 AND id = wanted.wanted_id LIMIT 1) AS found",
            team_id,
            ids,
        )
        for row in rows:
            seq, activity = writes.activity_from_row(row)
            found[activity.id] = (seq, activity)
        return found

    @staticmethod
    async def _id_taken(conn: asyncpg.Connection, team_id: int, activity_id: str) -> bool:
        found = await conn.fetchval(
            "SELECT 1 FROM activities WHERE team_id = $1 AND id = $2", team_id, activity_id
        )
        return found is not None

    @staticmethod
    async def _replace(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        await conn.executemany(
            "UPDATE activities SET resource_type = $3, resource_id = $4, user_guid = $5, "
            "occurred_at = $6, updated_at = $7, pinned_at = $8, refs = $9, doc = $10 "
            "WHERE team_id = $1 AND seq = $2",
            [(r[0], r[1], *r[4:7], r[7], *r[9:13]) for r in rows],
        )

    async def create_activity(self, team_id: int, item: ActivityInput) -> Row:
        """Store a new activity; :class:`DuplicateId` when its id is taken."""
        async with self.transaction() as conn:
            clock = await lock_clock(conn, team_id)
            (seq,) = await next_seqs(conn, 1)
            if item.id is not None:
                activity_id = item.id
                # Race-free: every writer of the team holds the clock lock.
                if await self._id_taken(conn, team_id, activity_id):
                    raise DuplicateId(activity_id)
            else:
                activity_id = writes.auto_id(item.type, seq)
                suffix = seq
                while await self._id_taken(conn, team_id, activity_id):
                    suffix += 1
                    activity_id = writes.auto_id(item.type, suffix)
            activity = writes.new_activity(item, activity_id, clock.tick())
            values = writes.stored_columns(team_id, seq, activity)
            await insert_rows(conn, [values])
            await save_clock(conn, team_id, clock)
            await add_counts(conn, team_id, {(activity.type, activity.resource_type): 1})
        return Row(values[-1], values[-2])

    async def update_activity(
        self, team_id: int, activity_id: str, changes: ActivityChanges
    ) -> Row | None:
        """Apply an update body and bump ``updated_at``; ``None`` when unknown."""
        if not storable(activity_id):  # PostgreSQL cannot hold it: no such activity
            return None
        async with self.transaction() as conn:
            clock = await lock_clock(conn, team_id)
            found = (await self._existing(conn, team_id, [activity_id])).get(activity_id)
            if found is None:
                return None
            seq, stored = found
            activity = writes.changed(stored, changes, clock.tick())
            values = writes.stored_columns(team_id, seq, activity)
            await self._replace(conn, [values])
            await save_clock(conn, team_id, clock)
        return Row(values[-1], values[-2])

    async def delete_activity(self, team_id: int, activity_id: str) -> bool:
        """Delete an activity; ``False`` when unknown."""
        if not storable(activity_id):
            return False
        async with self.transaction() as conn:
            await lock_clock(conn, team_id)
            row = await conn.fetchrow(
                "DELETE FROM activities WHERE team_id = $1 AND id = $2 "
                "RETURNING type, resource_type",
                team_id,
                activity_id,
            )
            if row is None:
                return False
            await add_counts(conn, team_id, {(row[0], row[1]): -1})
        return True

    async def upsert_activities(self, team_id: int, items: list[ActivityInput]) -> BulkResult:
        """Create or replace by id, in array order, all or nothing."""
        async with self.transaction() as conn:
            return await self.upsert_in(conn, team_id, items)

    async def upsert_in(
        self, conn: asyncpg.Connection, team_id: int, items: Iterable[ActivityInput]
    ) -> BulkResult:
        """The bulk upsert inside an open transaction."""
        batch = list(items)
        clock = await lock_clock(conn, team_id)
        existing = await self._existing(conn, team_id, [item.id for item in batch if item.id])
        plan = writes.plan_upsert(batch, existing, clock)
        seqs = await next_seqs(conn, len(plan.inserts))
        # New rows are rendered lazily while COPY streams them (see insert_planned).
        inserts = [
            (seq, item, stamp) for seq, (item, stamp) in zip(seqs, plan.inserts, strict=True)
        ]
        replaces = [writes.stored_columns(team_id, s, a) for s, a in plan.replaces]
        await insert_planned(conn, team_id, inserts)
        await self._replace(conn, replaces)
        await save_clock(conn, team_id, clock)
        await add_counts(conn, team_id, plan.deltas)
        return BulkResult(created=len(inserts), updated=len(replaces), unchanged=plan.unchanged)
