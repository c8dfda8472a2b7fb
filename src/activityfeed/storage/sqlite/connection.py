"""Connections to the SQLite store's file, and what the store's mixins use of them.

:func:`connect` opens the file as every connection of the store needs it (WAL,
the pragmas, a new file created private); :func:`writable` and
:func:`is_read_only_error` tell a store that can only be read; and
:class:`SQLiteParts` declares what the mixins of
:class:`~activityfeed.storage.sqlite.store.SQLiteStorage` (teams, writes,
records) call on it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

from activityfeed.storage.values import StorageRefused

T = TypeVar("T")
log = logging.getLogger("activityfeed")
_reported: set[tuple[str, str]] = set()  # (what, file): each said once per process

# How long a connection waits for a lock another process holds, when no deadline is given.
BUSY_TIMEOUT_MS = 30_000


def report_once(what: str, path: str, message: str, *args: object) -> None:
    """Log a warning about the store's file once per process (``serve`` opens it twice)."""
    key = (what, os.path.realpath(path))
    if key not in _reported:
        _reported.add(key)
        log.warning(message, *args)


def is_read_only_error(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused a write because the store cannot be written (SQLITE_READONLY)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_READONLY


def create_private(path: str) -> None:
    """Create the store's file with mode 0600 when it does not exist yet.

    SQLite would create it 0644 (less the umask); it gives the ``-wal`` and
    ``-shm`` files it makes later the mode of the main file, so those are
    private too. An existing file keeps its mode: see
    :meth:`~activityfeed.storage.sqlite.store.SQLiteStorage.open_sync`.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError:
        return  # it exists, or cannot be made here: SQLite opens it or says why
    os.close(fd)


def connect(path: str) -> sqlite3.Connection:
    """A connection to the store's file (created private), in WAL mode, with the store's pragmas.

    The file's directory must exist (:class:`StorageRefused` otherwise): only the file is made.
    """
    if path != ":memory:":
        if not (parent := Path(path).parent).is_dir():
            # A typo in the path must not make directories and an empty store there.
            raise StorageRefused(f"the directory {parent} does not exist: create it first")
        create_private(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.OperationalError as exc:
        if not is_read_only_error(exc):
            conn.close()
            raise
        # A read-only store keeps the journal mode it has.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("PRAGMA mmap_size = 1073741824")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def writable(conn: sqlite3.Connection) -> bool:
    """Whether SQLite lets this connection write: a write of nothing, rolled back.

    SQLite opens a file it may not write read-only without a word, and
    ``BEGIN IMMEDIATE`` succeeds on it; only a write says so.
    """
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"PRAGMA user_version = {int(version)}")
    except sqlite3.OperationalError as exc:
        if is_read_only_error(exc):
            return False
        raise
    finally:
        conn.execute("ROLLBACK")
    return True


class SQLiteParts:
    """What the store's mixins call on :class:`~activityfeed.storage.sqlite.store.SQLiteStorage`.

    The store provides each: its read connection, its mapping of SQLite's
    errors, and its writer (one ``BEGIN IMMEDIATE`` transaction on the writer
    thread).
    """

    @property
    def reader(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _errors(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError
