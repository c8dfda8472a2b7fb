"""Writing activities to SQLite: one ``BEGIN IMMEDIATE`` transaction per call.

Why ``updated_at`` is unique within a team and grows in commit order
(contract, section 2): every write runs on the store's one writer thread,
in a ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock
before it reads anything. Writers of every process are therefore serial: the
team's clock each one reads (``teams.clock``) is the latest committed, the
values it hands out (:class:`~activityfeed.storage.writes.Clock`) go
strictly above it, and it stores the last one back before it commits.

``seq`` is SQLite's rowid (``AUTOINCREMENT``), drawn under the same lock:
it grows in commit order across every team.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from activityfeed.model import Activity, ActivityChanges, ActivityInput
from activityfeed.storage import writes
from activityfeed.storage.sqlbuild import chunks
from activityfeed.storage.sqlite.connection import SQLiteParts
from activityfeed.storage.values import BulkResult, DuplicateId, Row
from activityfeed.timestamps import now_us

_INSERT = (
    f"INSERT INTO activities ({writes.INSERT_COLUMNS}) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def read_clock(conn: sqlite3.Connection, team_id: int) -> writes.Clock:
    """The team's clock, read inside the write transaction (so under the write lock)."""
    (last,) = conn.execute("SELECT clock FROM teams WHERE id = ?", (team_id,)).fetchone()
    return writes.Clock(last, now_us())


def save_clock(conn: sqlite3.Connection, team_id: int, clock: writes.Clock) -> None:
    """Store the last ``updated_at`` handed out."""
    conn.execute("UPDATE teams SET clock = ? WHERE id = ?", (clock.value, team_id))


def next_seq(conn: sqlite3.Connection) -> int:
    """The ``seq`` the next inserted activity gets (the next rowid)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'activities'").fetchone()
    return 1 if row is None else int(row[0]) + 1


def insert_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows of :data:`writes.INSERT_COLUMNS`."""
    conn.executemany(_INSERT, rows)


def replace_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Overwrite stored activities, found by ``seq``, with rows of :data:`writes.INSERT_COLUMNS`."""
    conn.executemany(
        "UPDATE activities SET resource_type = ?, resource_id = ?, user_guid = ?, "
        "occurred_at = ?, updated_at = ?, pinned_at = ?, refs = ?, doc = ? "
        "WHERE seq = ?",
        [(*r[4:7], r[7], *r[9:13], r[1]) for r in rows],
    )


def add_counts(conn: sqlite3.Connection, team_id: int, deltas: dict[tuple[str, str], int]) -> None:
    """Apply changes to the per-(type, resource type) counters."""
    conn.executemany(
        "INSERT INTO activity_counts (team_id, type, resource_type, n) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (team_id, type, resource_type) DO UPDATE SET n = n + excluded.n",
        [(team_id, t, rt, n) for (t, rt), n in deltas.items() if n],
    )


def existing(
    conn: sqlite3.Connection, team_id: int, ids: list[str]
) -> dict[str, tuple[int, Activity]]:
    """The stored activities among ``ids``, by id, with their ``seq``."""
    found: dict[str, tuple[int, Activity]] = {}
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT {writes.ACTIVITY_COLUMNS} FROM activities "  # noqa: S608
            f"WHERE team_id = ? AND id IN ({marks})",
            [team_id, *chunk],
        ):
            seq, activity = writes.activity_from_row(row)
            found[activity.id] = (seq, activity)
    return found


def id_taken(conn: sqlite3.Connection, team_id: int, activity_id: str) -> bool:
    """Whether the team has an activity with this id."""
    return (
        conn.execute(
            "SELECT 1 FROM activities WHERE team_id = ? AND id = ?", (team_id, activity_id)
        ).fetchone()
        is not None
    )


class SQLiteWrites(SQLiteParts):
    """The activity writes of :class:`~activityfeed.storage.sqlite.store.SQLiteStorage`."""

    async def create_activity(self, team_id: int, item: ActivityInput) -> Row:
        """Store a new activity; :class:`DuplicateId` when its id is taken."""

        def work(conn: sqlite3.Connection) -> Row:
            seq = next_seq(conn)
            if item.id is not None:
                activity_id = item.id
                if id_taken(conn, team_id, activity_id):
                    raise DuplicateId(activity_id)
            else:
                activity_id = writes.auto_id(item.type, seq)
                while id_taken(conn, team_id, activity_id):
                    seq += 1
                    activity_id = writes.auto_id(item.type, seq)
            clock = read_clock(conn, team_id)
            activity = writes.new_activity(item, activity_id, clock.tick())
            values = writes.stored_columns(team_id, seq, activity)
            insert_rows(conn, [values])
            save_clock(conn, team_id, clock)
            add_counts(conn, team_id, {(activity.type, activity.resource_type): 1})
            return Row(values[-1], values[-2])

        return await self._write(work)

    async def update_activity(
        self, team_id: int, activity_id: str, changes: ActivityChanges
    ) -> Row | None:
        """Apply an update body and bump ``updated_at``; ``None`` when unknown."""

        def work(conn: sqlite3.Connection) -> Row | None:
            found = existing(conn, team_id, [activity_id]).get(activity_id)
            if found is None:
                return None
            seq, stored = found
            clock = read_clock(conn, team_id)
            activity = writes.changed(stored, changes, clock.tick())
            values = writes.stored_columns(team_id, seq, activity)
            replace_rows(conn, [values])
            save_clock(conn, team_id, clock)
            return Row(values[-1], values[-2])

        return await self._write(work)

    async def delete_activity(self, team_id: int, activity_id: str) -> bool:
        """Delete an activity; ``False`` when unknown."""

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "DELETE FROM activities WHERE team_id = ? AND id = ? RETURNING type, resource_type",
                (team_id, activity_id),
            ).fetchone()
            if row is None:
                return False
            add_counts(conn, team_id, {(row[0], row[1]): -1})
            return True

        return await self._write(work)

    async def upsert_activities(self, team_id: int, items: list[ActivityInput]) -> BulkResult:
        """Create or replace by id, in array order, in one transaction."""
        return await self._write(lambda conn: self.upsert_sync(conn, team_id, items))

    @staticmethod
    def upsert_sync(
        conn: sqlite3.Connection, team_id: int, items: list[ActivityInput]
    ) -> BulkResult:
        """The bulk upsert inside an open write transaction."""
        stored = existing(conn, team_id, [item.id for item in items if item.id])
        clock = read_clock(conn, team_id)
        plan = writes.plan_upsert(items, stored, clock)
        seq = next_seq(conn)
        inserts = [
            writes.new_row(team_id, seq + n, item, stamp)
            for n, (item, stamp) in enumerate(plan.inserts)
        ]
        replaces = [writes.stored_columns(team_id, s, a) for s, a in plan.replaces]
        insert_rows(conn, inserts)
        replace_rows(conn, replaces)
        save_clock(conn, team_id, clock)
        add_counts(conn, team_id, plan.deltas)
        return BulkResult(created=len(inserts), updated=len(replaces), unchanged=plan.unchanged)
