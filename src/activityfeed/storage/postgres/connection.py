"""Connections to PostgreSQL, and what the store's mixins use of them.

:data:`UNAVAILABLE` tells an outage (the server is not there right now,
:class:`~activityfeed.storage.values.StorageUnavailable`) from a query the
server refused; :class:`PostgresParts` declares what the mixins of
:class:`~activityfeed.storage.postgres.store.PostgresStorage` (teams, writes,
records) call on it, as :class:`~activityfeed.storage.sqlite.connection.SQLiteParts`
does for SQLite.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg

# Errors that mean "the database is not there right now", not "the query is wrong".
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)


def time_left(deadline: asyncio.Timeout) -> float | None:
    """Seconds left before ``deadline``; ``None`` when it has none."""
    when = deadline.when()
    if when is None:
        return None
    return max(0.0, when - asyncio.get_running_loop().time())


class PostgresParts:
    """What the mixins call on :class:`~activityfeed.storage.postgres.store.PostgresStorage`.

    The store provides each, within its deadline of one call: a pooled
    connection, the same in a READ COMMITTED transaction, and the rows of one
    read.
    """

    def connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        raise NotImplementedError

    def transaction(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        raise NotImplementedError

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        raise NotImplementedError
