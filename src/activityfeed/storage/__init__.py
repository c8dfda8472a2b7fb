"""Stores behind one interface, chosen by the database URL (contract, section 6).

:func:`open_storage` picks the store for a URL: ``sqlite/`` (the embedded
store) or ``postgres/`` (the production one, whose driver is imported only
when a PostgreSQL URL is opened). What every store implements is in
``base.py`` (the :class:`Storage` protocol and its copy ``Endpoint``), the
values and errors they hand over in ``values.py``; beside them, what the
stores share: ``sqlbuild.py`` (the list query's SQL, bound parameters only),
``writes.py`` (ids, clocks, upsert plans) and ``copying.py`` (a whole store
copied to another, through each store's endpoint). Storage imports only the
layers below it: ``model``, ``errors``, ``query``, ``timestamps`` and
``urls``; the service, hydration, the HTTP layer, the CLI and the demo
import it, never the other way. Within storage, a store's modules import the
shared ones; of those only :func:`open_storage` imports a store (``base``
names the stores' fast-loader types, for type checking only).
"""

from __future__ import annotations

from activityfeed.storage.base import (
    BulkResult,
    DuplicateId,
    ListResult,
    Row,
    Storage,
    StorageRefused,
    StorageUnavailable,
    StoredRecord,
)

__all__ = [
    "BulkResult",
    "DuplicateId",
    "ListResult",
    "Row",
    "Storage",
    "StorageRefused",
    "StorageUnavailable",
    "StoredRecord",
    "open_storage",
]


def open_storage(url: str, *, timeout: float | None = None) -> Storage:
    """The store for ``url``: ``sqlite:///...`` or ``postgresql://...``.

    ``timeout`` is the deadline of one store call, in seconds (the service's
    ``store_timeout_s``): a whole call on PostgreSQL, a write's wait for the
    writer and the write lock on SQLite; ``None``, for tools that run long
    loads, waits as long as the work takes.
    """
    if url.startswith("sqlite:"):
        from activityfeed.storage.sqlite.store import SQLiteStorage

        return SQLiteStorage.from_url(url, timeout=timeout)
    if url.startswith(("postgresql:", "postgres:")):
        from activityfeed.storage.postgres.store import PostgresStorage  # type: ignore[import-not-found,unused-ignore]

        store: Storage = PostgresStorage.from_url(url, timeout=timeout)
        return store
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]!r}")
