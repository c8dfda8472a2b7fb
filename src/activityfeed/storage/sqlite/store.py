"""The embedded store: SQLite in WAL mode.

Reads run on the event loop's thread with their own connection: a page is a
few index probes, cheaper than a hop to a thread. Writes run on one dedicated
thread with a second connection, each in ``BEGIN IMMEDIATE`` so that writers of
every process are serialised and the team clock they read is the latest.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from activityfeed.query import ListQuery
from activityfeed.storage.sqlbuild import count_sql, counted, page_sql
from activityfeed.storage.sqlite.bulk import FreshLoad, SQLiteFreshLoader, fresh_load
from activityfeed.storage.sqlite.connection import (
    BUSY_TIMEOUT_MS,
    connect,
    is_read_only_error,
    report_once,
    writable,
)
from activityfeed.storage.sqlite.copy import SQLiteEndpoint
from activityfeed.storage.sqlite.records import SQLiteRecords
from activityfeed.storage.sqlite.schema import MIGRATIONS
from activityfeed.storage.sqlite.teams import SQLiteTeams
from activityfeed.storage.sqlite.writes import SQLiteWrites
from activityfeed.storage.values import (
    ListResult,
    Row,
    StorageUnavailable,
    StoreReadOnly,
)
from activityfeed.timestamps import now_us
from activityfeed.urls import sqlite_path

T = TypeVar("T")


class SQLiteStorage(SQLiteTeams, SQLiteWrites, SQLiteRecords):
    """The :class:`~activityfeed.storage.base.Storage` on one SQLite file.

    Teams and keys come from :class:`SQLiteTeams`, activity writes from
    :class:`SQLiteWrites`, associated records from :class:`SQLiteRecords`. A
    store this process cannot write (a read-only file or file system) opens
    :attr:`read_only`: reads are served, every write raises
    :class:`~activityfeed.storage.values.StoreReadOnly` without trying.
    """

    def __init__(self, path: str, *, timeout: float | None = None) -> None:
        self.path = path
        # The service's deadline of one write: how long a write may wait for the
        # writer thread and for SQLite's write lock together (None: as long as it
        # takes, for tools that run long loads).
        self.timeout = timeout
        self._busy_ms = BUSY_TIMEOUT_MS  # the writer's busy_timeout now
        self.read_only = False
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._open_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, timeout: float | None = None) -> SQLiteStorage:
        """The store for a ``sqlite:`` URL."""
        return cls(sqlite_path(url), timeout=timeout)

    # Connections.

    @property
    def reader(self) -> sqlite3.Connection:
        """The read connection, used on the caller's thread."""
        if self._reader is None:
            raise StorageUnavailable("the store is not open")
        return self._reader

    async def open(self) -> None:
        """Connect and migrate."""
        self.open_sync()

    def open_sync(self) -> None:
        """Connect and migrate, for callers without an event loop (the CLI)."""
        with self._open_lock:
            if self._writer is not None:
                return
            try:
                writer = connect(self.path)
                try:
                    self.read_only = not writable(writer)
                    if self.read_only:
                        self._check_schema(writer)
                    else:
                        self.migrate(writer)
                except BaseException:
                    writer.close()
                    raise
                self._writer = writer
                self._reader = connect(self.path)
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"cannot open the SQLite store: {exc}") from exc
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
            self._check_mode()
            if self.read_only:
                report_once(
                    "read-only",
                    self.path,
                    "the SQLite store %s is read-only: serving reads, refusing writes with 503",
                    self.path,
                )

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        """A read-only store is served only when no migration is pending."""
        try:
            done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        except sqlite3.OperationalError:
            done = set()
        if any(version not in done for version, _ in MIGRATIONS):
            raise StoreReadOnly(
                f"the SQLite store {self.path} is read-only and its schema is not up to "
                "date: make it writable for one start, so that its migrations are applied"
            )

    def _refuse_writes(self) -> None:
        if self.read_only:
            raise StoreReadOnly(f"the SQLite store {self.path} is read-only")

    def _check_mode(self) -> None:
        """Warn when the store is readable by every local user; its mode is left alone."""
        if self.path == ":memory:":
            return
        try:
            mode = stat.S_IMODE(os.stat(self.path).st_mode)
        except OSError:
            return
        if mode & stat.S_IROTH:
            report_once(
                "readable",
                self.path,
                "the SQLite store %s is readable by other users (mode %o): "
                "chmod 600 %s unless that is intended",
                self.path,
                mode,
                self.path,
            )

    @staticmethod
    def migrate(conn: sqlite3.Connection) -> None:
        """Apply every migration not yet applied, each in its own transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
            )
            done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
            for version, script in MIGRATIONS:
                if version in done:
                    continue
                for statement in script.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, now_us()),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        """Close both connections and the writer thread."""
        self.close_sync()

    def close_sync(self) -> None:
        """Close without an event loop."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        for conn in (self._reader, self._writer):
            if conn is not None:
                conn.close()
        self._reader = self._writer = None

    def generation(self) -> int | None:
        """``PRAGMA data_version``: it moves on every commit of any other connection.

        The writer is another connection than the reader, so this process's
        own writes move it too, and so do those of every other process.
        """
        try:
            return int(self.reader.execute("PRAGMA data_version").fetchone()[0])
        except (sqlite3.Error, StorageUnavailable):
            return None

    async def ping(self) -> None:
        """A trivial read."""
        with self._errors():
            self.reader.execute("SELECT 1").fetchone()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if is_read_only_error(exc):
                raise StoreReadOnly(f"the SQLite store {self.path} is read-only: {exc}") from exc
            raise StorageUnavailable(f"the SQLite store failed: {exc}") from exc

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one IMMEDIATE transaction on the writer thread."""
        if self._executor is None or self._writer is None:
            raise StorageUnavailable("the store is not open")
        self._refuse_writes()
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        return await loop.run_in_executor(self._executor, self.write_sync, work, deadline)

    def write_sync(
        self, work: Callable[[sqlite3.Connection], T], deadline: float | None = None
    ) -> T:
        """Run ``work`` in one IMMEDIATE transaction on the calling thread.

        With a ``deadline`` (a ``time.monotonic()`` instant), a write that has
        waited past it behind other writes is not started, and SQLite's wait for
        the write lock (held by another process) ends at it: a locked store is a
        503 within the deadline, never a request that hangs.
        """
        conn = self._writer
        if conn is None:
            raise StorageUnavailable("the store is not open")
        self._refuse_writes()
        busy_ms = BUSY_TIMEOUT_MS
        if deadline is not None:
            busy_ms = int((deadline - time.monotonic()) * 1000)
            if busy_ms <= 0:
                raise StorageUnavailable("the SQLite store is busy: the write waited too long")
        if busy_ms != self._busy_ms:
            conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
            self._busy_ms = busy_ms
        with self._errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return result

    # Activities: reads.

    async def list_activities(self, team_id: int, query: ListQuery) -> ListResult:
        """One page, one row of look-ahead, and the count when asked for."""
        sql, params = page_sql(team_id, query, steer_planner=True)
        with self._errors():
            rows = self.reader.execute(sql, params).fetchall()
            total = self._count(team_id, query) if query.include_counts else None
        has_more = len(rows) > query.per_page
        return ListResult([Row(doc, refs) for doc, refs in rows[: query.per_page]], has_more, total)

    def _count(self, team_id: int, query: ListQuery) -> int:
        sql, params = count_sql(team_id, query)
        (total,) = self.reader.execute(sql, params).fetchone()
        return counted(total, query)

    async def get_activity(self, team_id: int, activity_id: str) -> Row | None:
        """One activity by id."""
        with self._errors():
            row = self.reader.execute(
                "SELECT doc, refs FROM activities WHERE team_id = ? AND id = ?",
                (team_id, activity_id),
            ).fetchone()
        return None if row is None else Row(row[0], row[1])

    def fresh_loader(self) -> SQLiteFreshLoader:
        """:meth:`fresh_load`, as the ``Storage`` protocol offers it (the demo's fast path)."""
        return SQLiteFreshLoader(self.fresh_load)

    def copy_endpoint(self) -> SQLiteEndpoint:
        """Whole-table access for ``activityfeed copy``."""
        return SQLiteEndpoint(self)

    @contextmanager
    def fresh_load(self) -> Iterator[FreshLoad | None]:
        """A fast load on the calling thread when the store has no activities, else ``None``.

        See :mod:`activityfeed.storage.sqlite.bulk`. The read connection is
        closed meanwhile, so that the journal may leave WAL for the load.
        """
        conn = self._writer
        if conn is None:
            raise StorageUnavailable("the store is not open")
        self._refuse_writes()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        try:
            with self._errors(), fresh_load(conn, alone=True) as load:
                yield load
        finally:
            self._reader = connect(self.path)
