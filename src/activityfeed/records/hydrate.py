"""Dynamic data: attributes of associated records, loaded at read time (section 4).

The service hydrates every page it returns through a :class:`Hydrator`.
:class:`RecordHydrator` makes one batched load per page for all local names
(the store decides how many statements that is) and one per remote name:
local names from the store, remote names over HTTP, all remote calls of a
page concurrently under one deadline. Attributes merge flat, the first
reference in ``static_data`` order winning a clash; a reference that cannot
be loaded puts its name in ``failed_dynamic_resources``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
import orjson

from activityfeed.records.registry import Registry
from activityfeed.records.remote import CircuitBreaker, RemoteFailure, RemoteSource, new_client
from activityfeed.render import EMPTY_DYNAMIC
from activityfeed.storage.base import Row, Storage, StorageUnavailable

log = logging.getLogger("activityfeed.records.hydrate")
Ref = tuple[str, str]
# A loaded record: raw JSON from the store, or an object from a remote source.
Loaded = bytes | dict[str, Any]
_NOTHING: Mapping[str, Loaded] = {}


class Hydrator(Protocol):
    """Loads the dynamic part of a page of activities."""

    # Whether a hydrated page depends on the store alone (no remote source),
    # so that it may be cached for as long as the store is unchanged.
    cacheable: bool

    async def hydrate(self, team_id: int, rows: list[Row]) -> list[tuple[bytes, bytes]] | None:
        """``(dynamic_data, failed_dynamic_resources)`` as JSON per row, or ``None`` if empty."""


class NoDynamicData:
    """The hydrator with no associated records: every activity gets ``{}`` and ``[]``."""

    cacheable = True

    async def hydrate(self, team_id: int, rows: list[Row]) -> list[tuple[bytes, bytes]] | None:
        return None


class RecordHydrator:
    """Hydrates pages from the registry's sources.

    ``open``/``close`` run in the application's lifespan: the shared HTTP
    client is made there, on the serving event loop, and closed with it.
    """

    def __init__(
        self,
        storage: Storage,
        registry: Registry,
        deadline_ms: int = 250,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.registry = registry
        self.names = registry.names
        self.deadline = max(deadline_ms, 1) / 1000  # 0 or less would fail every remote call
        self.remote = {
            name: RemoteSource(
                name,
                spec,
                CircuitBreaker(spec.failure_threshold, spec.cooldown_seconds, clock, name),
            )
            for name, spec in registry.remote.items()
        }
        self.client: httpx.AsyncClient | None = None
        self.cacheable = not self.remote
        self._team_names: dict[int, str] = {}

    async def open(self) -> None:
        """Make the shared connection pool when any source is remote."""
        if self.remote and self.client is None:
            self.client = new_client(self.deadline)

    async def close(self) -> None:
        """Close the connection pool."""
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def hydrate(self, team_id: int, rows: list[Row]) -> list[tuple[bytes, bytes]] | None:
        """The dynamic part of each row, or ``None`` when no row references a record."""
        names = self.names
        per_row: list[list[Ref] | None] = []
        wanted: dict[str, dict[str, None]] = {}  # ordered sets of ids per name
        for row in rows:
            if row.refs is None:
                per_row.append(None)
                continue
            refs = [(name, rid) for name, rid in orjson.loads(row.refs) if name in names]
            per_row.append(refs or None)
            for name, rid in refs:
                wanted.setdefault(name, {})[rid] = None
        if not wanted:
            return None
        loaded = await self._load(team_id, {name: list(ids) for name, ids in wanted.items()})
        parsed: dict[Ref, dict[str, Any]] = {}
        return [EMPTY_DYNAMIC if refs is None else _merge(refs, loaded, parsed) for refs in per_row]

    async def _load(
        self, team_id: int, wanted: dict[str, list[str]]
    ) -> dict[str, Mapping[str, Loaded]]:
        """One load for the local names, one per remote name; remote calls start first."""
        started = time.monotonic()
        tasks: dict[str, asyncio.Task[dict[str, dict[str, Any]]]] = {}
        remote_names = [name for name in wanted if name in self.remote]
        if remote_names:
            if self.client is None:
                await self.open()
            assert self.client is not None
            team = await self._team_name(team_id)
            for name in remote_names:
                load = self.remote[name].load(self.client, team, team_id, wanted[name])
                tasks[name] = asyncio.ensure_future(load)
            # Let the calls go out before the local reads, which may not yield.
            await asyncio.sleep(0)
        loaded: dict[str, Mapping[str, Loaded]] = {}
        local = {name: ids for name, ids in wanted.items() if name not in tasks}
        if local:
            try:
                loaded.update(await self.storage.get_records(team_id, local))
            except StorageUnavailable as exc:
                log.warning("local records unavailable: %s", exc)
        if tasks:
            await self._settle(tasks, loaded, self.deadline - (time.monotonic() - started))
        return loaded

    @staticmethod
    async def _settle(
        tasks: dict[str, asyncio.Task[dict[str, dict[str, Any]]]],
        loaded: dict[str, Mapping[str, Loaded]],
        remaining: float,
    ) -> None:
        """Wait for the remote loads until the deadline; whatever is late is cancelled."""
        try:
            await asyncio.wait(tasks.values(), timeout=max(0.0, remaining))
        finally:
            pending = [task for task in tasks.values() if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        for name, task in tasks.items():
            if task.cancelled():
                continue
            error = task.exception()
            if error is None:
                loaded[name] = task.result()
            elif not isinstance(error, RemoteFailure):
                log.error("remote source %s: unexpected error", name, exc_info=error)

    async def _team_name(self, team_id: int) -> str:
        name = self._team_names.get(team_id)
        if name is None:
            self._team_names = {team.id: team.name for team in await self.storage.list_teams()}
            name = self._team_names.get(team_id, str(team_id))
        return name


def _merge(
    refs: list[Ref], loaded: dict[str, Mapping[str, Loaded]], parsed: dict[Ref, dict[str, Any]]
) -> tuple[bytes, bytes]:
    """One activity's ``(dynamic_data, failed_dynamic_resources)`` JSON.

    ``parsed`` caches records parsed for merging, shared by the rows of a page.
    """
    if len(refs) == 1:
        # The common case: one reference, whose record's JSON is the whole answer.
        name, rid = refs[0]
        record = loaded.get(name, _NOTHING).get(rid)
        if record is None:
            return b"{}", orjson.dumps([name])
        return (record if isinstance(record, bytes) else orjson.dumps(record)), b"[]"
    dynamic: dict[str, Any] = {}
    failed: list[str] = []
    for ref in refs:
        record = loaded.get(ref[0], _NOTHING).get(ref[1])
        if record is None:
            if ref[0] not in failed:
                failed.append(ref[0])
            continue
        if isinstance(record, bytes):
            attributes = parsed.get(ref)
            if attributes is None:
                attributes = parsed[ref] = orjson.loads(record)
        else:
            attributes = record
        for key, value in attributes.items():
            dynamic.setdefault(key, value)  # the first reference wins a clash
    return orjson.dumps(dynamic), orjson.dumps(failed) if failed else b"[]"
