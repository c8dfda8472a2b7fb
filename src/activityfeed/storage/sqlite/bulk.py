"""The fast load of a fresh SQLite store: rows first, secondary indexes once at the end.

``activityfeed demo`` loads a million activities into a store that has none.
Through the bulk upsert each row costs a lookup of its id and an insert into
seven B-trees besides the table; here, with no activity stored, no lookup can
find anything, so the load writes the table alone and builds the indexes by
sorting once (``CREATE INDEX``) when every row is in. The unique indexes check
uniqueness as they are built: a duplicate id fails the whole load.

The rows are the bulk upsert's own (:func:`activityfeed.storage.writes.new_row`)
and so are the clock, ``seq`` and the counts table: the store ends byte for
byte as if every batch had gone through :meth:`SQLiteStorage.upsert_sync`.

The whole load is one exclusive transaction, so that no other connection ever
sees the table without its indexes. When no other connection has the file open,
it also leaves WAL for an in-memory rollback journal without ``fsync`` for the
duration (the pages of a fresh store are written once, not to the WAL and then
again by the checkpoint): a crash or power loss in the middle can then leave
the file unusable, and the remedy is to delete it and load again. WAL and
``synchronous = NORMAL`` come back at the end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from activityfeed.storage import writes
from activityfeed.timestamps import now_us

_COLUMNS = writes.INSERT_COLUMNS.count(",") + 1
# Rows per INSERT statement: one statement of many rows binds and steps far
# less than executemany's statement per row (and its AUTOINCREMENT upkeep);
# 13 columns x 500 rows stays well under SQLite's 32,766 variables.
ROWS_PER_STATEMENT = 500
# Indexes dropped for the load and built by one sort at the end. Only the
# resource timeline's: the demo's rows arrive in the order of every other
# index's key (per team: occurred_at, updated_at, one id sequence per type, a
# few hundred users), so keeping those up is cheap appending, while person
# ids come in random order. Measured on 2 cores: dropping all seven makes the
# final sort a long serial tail after the rows are in; dropping none leaves
# the random inserts on the writer, the busier of the two processes.
REBUILT = frozenset({"activities_team_resource"})


def _insert_sql(rows: int) -> str:
    one = "(" + ",".join("?" * _COLUMNS) + ")"
    return f"INSERT INTO activities ({writes.INSERT_COLUMNS}) VALUES " + ",".join([one] * rows)  # noqa: S608


class FreshLoad:
    """A load in progress into a store that had no activities when it began.

    Use it team by team: :meth:`start_team` gives the first ``seq`` and the
    clock the team's rows must use, :meth:`insert` writes rows made with them
    (flattened, column after column, row after row), :meth:`finish_team` saves
    the team's clock and counts.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._full_sql = _insert_sql(ROWS_PER_STATEMENT)
        self.now = now_us()
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'activities'").fetchone()
        self.next_seq = 1 if row is None else int(row[0]) + 1

    def clock(self, team_id: int) -> writes.Clock:
        """The team's ``updated_at`` clock, as the bulk upsert would start it now."""
        (last,) = self._conn.execute("SELECT clock FROM teams WHERE id = ?", (team_id,)).fetchone()
        return writes.Clock(last, self.now)

    def insert(self, flat: Sequence[Any]) -> None:
        """Insert rows given flattened: the columns of :data:`writes.INSERT_COLUMNS`, row by row."""
        step = _COLUMNS * ROWS_PER_STATEMENT
        whole = len(flat) - len(flat) % step
        execute = self._conn.execute
        sql = self._full_sql
        for start in range(0, whole, step):
            execute(sql, flat[start : start + step])
        if whole < len(flat):
            execute(_insert_sql((len(flat) - whole) // _COLUMNS), flat[whole:])

    def finish_team(self, team_id: int, clock: int, deltas: dict[tuple[str, str], int]) -> None:
        """Save the team's clock (its last ``updated_at``) and add its counts."""
        self._conn.execute("UPDATE teams SET clock = ? WHERE id = ?", (clock, team_id))
        self._conn.executemany(
            "INSERT INTO activity_counts (team_id, type, resource_type, n) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (team_id, type, resource_type) DO UPDATE SET n = n + excluded.n",
            [(team_id, t, rt, n) for (t, rt), n in deltas.items() if n],
        )


@dataclass(frozen=True, slots=True)
class SQLiteFreshLoader:
    """The SQLite store's fast load, as its ``fresh_loader()`` offers it.

    ``open()`` is the store's ``fresh_load``: a :class:`FreshLoad` on the
    calling thread while the store has no activities, else ``None``.
    """

    open: Callable[[], AbstractContextManager[FreshLoad | None]]
    kind: Literal["sqlite"] = "sqlite"


def _secondary_indexes(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """``(name, CREATE statement)`` of every index on activities but the primary key."""
    return conn.execute(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = 'activities' AND sql IS NOT NULL ORDER BY name"
    ).fetchall()


def _set_journal(conn: sqlite3.Connection, mode: str) -> bool:
    """Switch the journal mode; False when another connection holds the file."""
    try:
        (now,) = conn.execute(f"PRAGMA journal_mode = {mode}").fetchone()
    except sqlite3.OperationalError:
        return False
    return bool(str(now).lower() == mode.lower())


@contextmanager
def fresh_load(conn: sqlite3.Connection, alone: bool) -> Iterator[FreshLoad | None]:
    """A :class:`FreshLoad` on ``conn`` when the store has no activities, else ``None``.

    ``alone`` says that this process holds no other connection to the file:
    only then may the journal leave WAL (SQLite itself refuses while another
    process has the file open). Everything the load wrote is committed when
    the block ends, and rolled back when it raises.
    """
    if conn.execute("SELECT 1 FROM activities LIMIT 1").fetchone() is not None:
        yield None
        return
    conn.execute("PRAGMA busy_timeout = 0")
    left_wal = alone and _set_journal(conn, "MEMORY")
    conn.execute("PRAGMA busy_timeout = 30000")
    try:
        if left_wal:
            conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN EXCLUSIVE")
        try:
            # Checked again under the lock: another process may have written since.
            fresh = conn.execute("SELECT 1 FROM activities LIMIT 1").fetchone() is None
            indexes = [i for i in _secondary_indexes(conn) if i[0] in REBUILT] if fresh else []
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if not fresh:
            conn.execute("ROLLBACK")
        else:
            try:
                yield FreshLoad(conn)
                for _, sql in indexes:
                    conn.execute(sql)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    finally:
        if left_wal:
            conn.execute("PRAGMA synchronous = NORMAL")
            _set_journal(conn, "WAL")
    if not fresh:
        yield None
