"""The production store: PostgreSQL through asyncpg and its connection pool.

asyncpg was chosen over psycopg 3 by ``bench/pg_driver.py`` (figures in
``docs/benchmarks.md``): on the list endpoint's query it serves about 1.5 times
the pages per second, with prepared statements cached per connection.

The URL is a libpq one, ``postgresql://user@host:port/dbname``; its query may
carry ``options=-csearch_path%3Dmy_schema`` (any libpq ``options``, sent in the
startup packet), ``connect_timeout`` in seconds (default 3) and ``pool_size``
(connections per process, default 10). While the server is unreachable every
call fails fast with :class:`StorageUnavailable` (a 503): the pool connects
lazily, so a refused connection is an immediate error and a silent network
at most ``connect_timeout``; once the server is back the pool reconnects on
the next request, without a restart.

A server that accepts and then says nothing (hung, frozen, a dead peer
behind a live network) is bounded by the store's ``timeout``: the deadline of
one call, around all of it (waiting for a connection, connecting, every
statement, the commit or rollback, handing the connection back). A call that
misses it is :class:`StorageUnavailable`, and its connection, which may be
mid-statement or mid-transaction, is closed instead of going back to the
pool; the next call gets a fresh one.

Teams and keys are in :mod:`~activityfeed.storage.postgres.teams`, activity
writes in :mod:`~activityfeed.storage.postgres.writes`, associated records in
:mod:`~activityfeed.storage.postgres.records`, the fast load of an empty store
in :mod:`~activityfeed.storage.postgres.bulk`, the copy endpoint in
:mod:`~activityfeed.storage.postgres.copy`, the schema in
:mod:`~activityfeed.storage.postgres.schema`; the page statement is
:func:`activityfeed.storage.sqlbuild.list_sql`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from activityfeed.model import storable
from activityfeed.query import ListQuery
from activityfeed.storage.postgres.bulk import KEPT, FreshLoad, PostgresFreshLoader, fresh_load
from activityfeed.storage.postgres.connection import UNAVAILABLE, time_left
from activityfeed.storage.postgres.copy import PostgresEndpoint
from activityfeed.storage.postgres.records import PostgresRecords
from activityfeed.storage.postgres.schema import MIGRATIONS
from activityfeed.storage.postgres.teams import PostgresTeams
from activityfeed.storage.postgres.writes import PostgresWrites
from activityfeed.storage.sqlbuild import count_sql, counted, list_sql, without_unstorable
from activityfeed.storage.values import (
    ListResult,
    Row,
    StorageRefused,
    StorageUnavailable,
)
from activityfeed.timestamps import now_us

T = TypeVar("T")
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_POOL_SIZE = 10


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """The URL without this module's own parameters, and those parameters."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    own: dict[str, str] = {}
    for name in ("connect_timeout", "pool_size"):
        if name in query:
            own[name] = query.pop(name)
    return urlunsplit(parts._replace(query=urlencode(query))), own


class PostgresStorage(PostgresTeams, PostgresWrites, PostgresRecords):
    """The :class:`~activityfeed.storage.base.Storage` on a PostgreSQL database."""

    def __init__(
        self,
        dsn: str,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        pool_size: int = DEFAULT_POOL_SIZE,
        timeout: float | None = None,
    ) -> None:
        """``timeout`` is the deadline of one call (see the module); ``None``: none."""
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.pool_size = pool_size
        self.timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._open_lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, timeout: float | None = None) -> PostgresStorage:
        """The store for a ``postgresql:`` URL, each call within ``timeout`` seconds."""
        dsn, own = split_url(url)
        try:
            connect_timeout = float(own.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
            pool_size = int(own.get("pool_size", DEFAULT_POOL_SIZE))
        except ValueError:
            raise ValueError("connect_timeout and pool_size must be numbers") from None
        if connect_timeout <= 0 or pool_size < 1:
            raise ValueError("connect_timeout must be positive and pool_size at least 1")
        return cls(dsn, connect_timeout=connect_timeout, pool_size=pool_size, timeout=timeout)

    # Connections.

    async def open(self) -> None:
        """Create the pool and apply pending migrations.

        :class:`StorageUnavailable` when the server is down or starting up
        (worth waiting for), :class:`StorageRefused` when it refuses us.
        """
        async with self._open_lock:
            if self._pool is not None:
                return
            try:
                pool = await asyncpg.create_pool(
                    self.dsn,
                    # No connection floor: the pool would keep one by
                    # reconnecting in the background, with a traceback in
                    # the log for every failure of an outage. Calls connect
                    # when they need to; the migration below connects first.
                    min_size=0,
                    max_size=self.pool_size,
                    timeout=self.connect_timeout,
                    # Idle connections are closed after a while, so that a
                    # quiet process does not hold the server's slots.
                    max_inactive_connection_lifetime=60.0,
                )
                try:
                    async with pool.acquire(timeout=self.connect_timeout + 2.0) as conn:
                        await self.migrate(conn)
                except BaseException:
                    pool.terminate()
                    raise
            except UNAVAILABLE as exc:
                raise StorageUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
            except asyncpg.PostgresError as exc:
                raise StorageRefused(f"PostgreSQL refused: {exc}") from exc
            self._pool = pool

    @staticmethod
    async def migrate(conn: asyncpg.Connection) -> None:
        """Apply every migration not yet applied, in one transaction.

        An advisory lock keyed by the schema serialises processes that start
        at once; each then sees what the others applied.
        """
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('activityfeed:' || "
                "coalesce(current_schema(), '')))"
            )
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version integer PRIMARY KEY, applied_at bigint NOT NULL)"
            )
            done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, script in MIGRATIONS:
                if version in done:
                    continue
                await conn.execute(script)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    version,
                    now_us(),
                )

    async def close(self) -> None:
        """Close the pool."""
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=5.0)
            except (*UNAVAILABLE, asyncpg.PostgresError):
                pool.terminate()

    def connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection for one call, within the store's deadline.

        A lost or unreachable server, or a missed deadline, is
        :class:`StorageUnavailable`.
        """
        return self._call(self.timeout)

    @asynccontextmanager
    async def _call(self, seconds: float | None) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, from the wait for it to its release within ``seconds``."""
        pool = self._pool
        if pool is None:
            raise StorageUnavailable("the store is not open")
        try:
            async with asyncio.timeout(seconds) as deadline:
                # Without a deadline, still a bound on the wait for a connection.
                wait = self.connect_timeout + 2.0 if seconds is None else None
                conn = await pool.acquire(timeout=wait)
                try:
                    yield conn
                except BaseException as exc:
                    # Cancelled (the deadline) or cut off: the connection may be
                    # mid-statement or mid-transaction, and a rollback or reset
                    # on it could hang too. Closed, it leaves the pool.
                    if not isinstance(exc, Exception) or isinstance(exc, UNAVAILABLE):
                        conn.terminate()
                    raise
                finally:
                    # The release resets the connection, a round trip: it
                    # gets what is left of the deadline, then the connection
                    # is closed instead.
                    await pool.release(conn, timeout=time_left(deadline))
        except TimeoutError as exc:
            if seconds is not None and deadline.expired():
                raise StorageUnavailable(f"PostgreSQL did not answer within {seconds:g} s") from exc
            raise StorageUnavailable(
                f"PostgreSQL is unavailable: {str(exc) or 'timed out'}"
            ) from exc
        except UNAVAILABLE as exc:
            raise StorageUnavailable(
                f"PostgreSQL is unavailable: {str(exc) or type(exc).__name__}"
            ) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection in a READ COMMITTED transaction, within the store's deadline.

        A failure of the block rolls back, unless the connection itself
        failed: then there is nothing to roll back on, the connection is
        closed (the server rolls back), and the caller sees one
        :class:`StorageUnavailable`, never an error of the rollback.
        """
        async with self.connection() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                yield conn
            except UNAVAILABLE:
                raise
            except Exception:
                await transaction.rollback()
                raise
            await transaction.commit()

    def fresh_load(
        self, keep: frozenset[str] = KEPT
    ) -> AbstractAsyncContextManager[FreshLoad | None]:
        """A fast load of the activities when the store has none, else ``None``.

        See :mod:`activityfeed.storage.postgres.bulk`: one transaction, the
        secondary indexes but those named in ``keep`` built at the end,
        committed when the block ends.
        """
        return fresh_load(self.connection(), keep)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Rows of one read."""
        async with self.connection() as conn:
            result: list[Any] = await conn.fetch(sql, *args)
            return result

    async def analyze(self) -> None:
        """Gather the planner's statistics of the tables a bulk load fills."""
        async with self.connection() as conn:
            await conn.execute("ANALYZE activities, activity_counts, associated_records, teams")

    def fresh_loader(self) -> PostgresFreshLoader:
        """:meth:`fresh_load`, as the ``Storage`` protocol offers it (the demo's fast path)."""
        return PostgresFreshLoader(self.fresh_load, self.analyze)

    def copy_endpoint(self) -> PostgresEndpoint:
        """Whole-table access for ``activityfeed copy``."""
        return PostgresEndpoint(self)

    async def read_unopened(self, read: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``read`` in one read-only snapshot on a connection of its own, the store unopened.

        No pool and no migration: a copy looks at its target this way before
        deciding to write into it.
        """
        try:
            conn = await asyncpg.connect(self.dsn, timeout=self.connect_timeout)
        except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
            raise StorageUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                return await read(conn)
        except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
            raise StorageUnavailable(f"cannot read the PostgreSQL store: {exc}") from exc
        finally:
            await conn.close()

    def generation(self) -> int | None:
        """PostgreSQL offers no cheap change counter across servers: nothing is cached."""
        return None

    async def ping(self) -> None:
        """A trivial query, all within the connect timeout (``/readyz``'s promise)."""
        seconds = self.connect_timeout if self.timeout is None else self.timeout
        async with self._call(min(seconds, self.connect_timeout)) as conn:
            await conn.fetchval("SELECT 1")

    # Activities: reads.

    async def list_activities(self, team_id: int, query: ListQuery) -> ListResult:
        """One page, one row of look-ahead, and the count when asked for."""
        usable = without_unstorable(query)
        if usable is None:
            return ListResult([], False, 0 if query.include_counts else None)
        query = usable
        sql, params = list_sql(team_id, query)
        async with self.connection() as conn:
            rows = await conn.fetch(sql, *params)
            total = await self._count(conn, team_id, query) if query.include_counts else None
        has_more = len(rows) > query.per_page
        return ListResult([Row(doc, refs) for doc, refs in rows[: query.per_page]], has_more, total)

    @staticmethod
    async def _count(conn: asyncpg.Connection, team_id: int, query: ListQuery) -> int:
        sql, params = count_sql(team_id, query, "$")
        return counted(await conn.fetchval(sql, *params), query)

    async def get_activity(self, team_id: int, activity_id: str) -> Row | None:
        """One activity by id."""
        if not storable(activity_id):
            return None
        rows = await self.fetch(
            "SELECT doc, refs FROM activities WHERE team_id = $1 AND id = $2",
            team_id,
            activity_id,
        )
        return Row(rows[0][0], rows[0][1]) if rows else None

    async def explain(self, sql: str, *args: Any) -> str:
        """The plan of a query, as text (for tests and operators)."""
        rows = await self.fetch("EXPLAIN " + sql, *args)
        return "\n".join(row[0] for row in rows)
