"""Copying a whole store to another: ``activityfeed copy --from URL --to URL``.

Teams, API keys (by hash), activities and associated records move between
any two stores (SQLite to PostgreSQL and back), keeping what the contract
depends on: team ids where the target has them free, each activity's ``seq``
(the order of first storage, the sort tie-break), ``created_at`` and
``updated_at``, and each team's clock, so that ``updated_at`` stays unique
and growing after the move.

Into a target without any activity (a new store, or a copy that failed
before its activities were in), the target's fresh load, when it has one,
takes every team's activities in one transaction (PostgreSQL's: ``COPY``
without the secondary indexes, built at the end; ``postgres_bulk.py``); a
failure rolls it back whole and running the copy again starts over. Otherwise
the copy is resumable: a team's activities are split into ``JOBS`` ranges of
``seq`` fixed by the source, copied side by side (two ``COPY`` streams keep
both of PostgreSQL's cores busy while Python reads the next batch); each
range goes in ``seq`` order, in batches, each batch one transaction, so an
interrupted copy restarts each range after the largest ``seq`` the target
holds in it. Keys and records are upserts. At the end it
verifies that the target holds as many activities and records per team as
the source, and every key. The target should be empty or a previous,
interrupted copy of the same source.

Each store kind provides a :class:`Endpoint` (``copying_sqlite.py``,
``copying_postgres.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from activityfeed.storage.base import Storage, StoredRecord

BATCH = 5_000
JOBS = 2  # concurrent COPY streams per team
RECORD_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class TeamState:
    """A team as copied: with its clock (the last ``updated_at`` handed out)."""

    id: int
    name: str
    rate_limit: int | None
    created_at: int
    clock: int


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An API key as copied (its own id is not kept: keys are found by hash)."""

    team_id: int
    key_hash: str
    prefix: str
    scopes: str
    created_at: int
    revoked_at: int | None


class FreshSink(Protocol):
    """A target's fast load of activities into a store that has none."""

    async def copy(self, rows: AsyncIterable[tuple[Any, ...]]) -> None:
        """Store rows of :data:`~activityfeed.storage.writes.INSERT_COLUMNS` as they are."""


class Endpoint(Protocol):
    """Raw access to one store, for copying whole tables."""

    @property
    def store(self) -> Storage:
        """The open store (records are read through its protocol)."""

    async def teams(self) -> list[TeamState]:
        """Every team, with its clock."""

    async def keys(self) -> list[KeyRow]:
        """Every API key."""

    async def activity_rows(
        self, team_id: int, after_seq: int, upto_seq: int, limit: int
    ) -> list[tuple[Any, ...]]:
        """Up to ``limit`` activities of a team with ``after_seq < seq <= upto_seq``, by ``seq``.

        Each row holds the columns of :data:`~activityfeed.storage.writes.INSERT_COLUMNS`.
        """

    def all_activity_rows(self, batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Every activity of every team, ``batch`` at a time, in the order the store reads fastest.

        Rows as :meth:`activity_rows` gives them; for a load that needs no order.
        """

    async def seq_range(self, team_id: int, low: int, high: int) -> tuple[int, int] | None:
        """The smallest and largest ``seq`` of the team within ``[low, high]``, if any."""

    async def count_activities(self, team_id: int) -> int:
        """How many activities the team has."""

    async def count_records(self, team_id: int) -> int:
        """How many associated records the team has."""

    async def put_team(self, team: TeamState) -> int:
        """Create the team (with its id when free) or find it by name; its id here."""

    async def put_keys(self, rows: Sequence[KeyRow]) -> None:
        """Store keys whose hash is not stored yet."""

    async def put_activity_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert activities as they are (``seq`` included), in one transaction."""

    def fresh_load(self) -> AbstractAsyncContextManager[FreshSink | None]:
        """The store's fast load while it has no activities, committed at the end; else ``None``."""

    async def put_records(self, team_id: int, records: Sequence[StoredRecord]) -> None:
        """Upsert records, keeping their timestamps."""

    async def finish_team(self, team_id: int, clock: int) -> None:
        """Raise the team's clock to ``clock``, rebuild its counters, advance ``seq``."""

    async def finish(self) -> None:
        """After the whole copy: bring the planner's statistics up to date."""


class Progress(Protocol):
    """Where the copy reports how far it is (the CLI draws a Rich progress bar)."""

    def start(self, total: int) -> None:
        """The number of activities and records to copy."""

    def advance(self, done: int) -> None:
        """``done`` more copied."""


@dataclass
class CopyReport:
    """What a copy did and what the verification found."""

    teams: int = 0
    keys: int = 0
    activities: int = 0
    records: int = 0
    activity_seconds: float = 0.0  # time spent copying activities
    mismatches: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """Whether every count matched."""
        return not self.mismatches


async def copy_store(source: Endpoint, target: Endpoint, progress: Progress) -> CopyReport:
    """Copy everything from ``source`` to ``target``; see the module."""
    report = CopyReport()
    teams = await source.teams()
    mapping = {team.id: await target.put_team(team) for team in teams}
    report.teams = len(teams)

    keys = await source.keys()
    await target.put_keys([_remap_key(key, mapping[key.team_id]) for key in keys])
    report.keys = len(keys)

    total = 0
    for team in teams:
        remaining = await source.count_activities(team.id) - await target.count_activities(
            mapping[team.id]
        )
        total += max(remaining, 0) + await source.count_records(team.id)
    progress.start(total)

    started = time.perf_counter()
    fresh = await _copy_fresh(source, target, mapping, progress)
    report.activity_seconds = time.perf_counter() - started
    if fresh is not None:
        report.activities = fresh

    for team in teams:
        to_id = mapping[team.id]
        span = None if fresh is not None else await source.seq_range(team.id, 0, 2**63 - 1)
        started = time.perf_counter()
        if span is not None:
            copied = await asyncio.gather(
                *(
                    _copy_range(source, target, team.id, to_id, low, high, progress)
                    for low, high in split_range(*span, JOBS)
                )
            )
            report.activities += sum(copied)
        report.activity_seconds += time.perf_counter() - started
        report.records += await _copy_records(source, target, team.id, to_id, progress)
        await target.finish_team(to_id, team.clock)

    await target.finish()
    for team in teams:
        await _verify(source, target, team, mapping[team.id], report)
    have = {key.key_hash for key in await target.keys()}
    missing = [key.prefix for key in keys if key.key_hash not in have]
    if missing:
        report.mismatches.append(f"keys missing in the target: {', '.join(missing)}")
    return report


def split_range(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    """``[low, high]`` cut into at most ``parts`` contiguous ranges, the same on every run."""
    size = max(1, -(-(high - low + 1) // parts))
    return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


async def _copy_range(
    source: Endpoint,
    target: Endpoint,
    from_id: int,
    to_id: int,
    low: int,
    high: int,
    progress: Progress,
) -> int:
    """Copy one ``seq`` range in order, after what the target holds of it already."""
    done = await target.seq_range(to_id, low, high)
    after = low - 1 if done is None else done[1]
    copied = 0
    while rows := await source.activity_rows(from_id, after, high, BATCH):
        await target.put_activity_rows([(to_id, *row[1:]) for row in rows])
        after = rows[-1][1]
        copied += len(rows)
        progress.advance(len(rows))
    return copied


async def _copy_fresh(
    source: Endpoint, target: Endpoint, mapping: dict[int, int], progress: Progress
) -> int | None:
    """Every activity through the target's fresh load, in one ``COPY``: how many; else ``None``."""
    async with target.fresh_load() as load:
        if load is None:
            return None
        copied = [0]
        await load.copy(_remapped(source, mapping, progress, copied))
        return copied[0]


async def _remapped(
    source: Endpoint, mapping: dict[int, int], progress: Progress, copied: list[int]
) -> AsyncIterator[tuple[Any, ...]]:
    """Every source activity with its team id in the target, a batch read at a time."""
    same = all(source_id == target_id for source_id, target_id in mapping.items())
    async for rows in source.all_activity_rows(BATCH):
        if same:
            for row in rows:
                yield row
        else:
            for row in rows:
                yield (mapping[row[0]], *row[1:])
        copied[0] += len(rows)
        progress.advance(len(rows))


def _remap_key(key: KeyRow, team_id: int) -> KeyRow:
    return KeyRow(team_id, key.key_hash, key.prefix, key.scopes, key.created_at, key.revoked_at)


async def _copy_records(
    source: Endpoint, target: Endpoint, from_id: int, to_id: int, progress: Progress
) -> int:
    copied = 0
    after: tuple[str, str] | None = None
    while records := await source.store.scan_records(from_id, after, RECORD_BATCH):
        await target.put_records(to_id, records)
        after = (records[-1].resource, records[-1].id)
        copied += len(records)
        progress.advance(len(records))
    return copied


async def _verify(
    source: Endpoint, target: Endpoint, team: TeamState, to_id: int, report: CopyReport
) -> None:
    counts = (
        (
            "activities",
            await source.count_activities(team.id),
            await target.count_activities(to_id),
        ),
        ("records", await source.count_records(team.id), await target.count_records(to_id)),
    )
    for what, expected, found in counts:
        if expected != found:
            report.mismatches.append(
                f"team {team.name!r}: {found} {what} in the target, {expected} in the source"
            )


def endpoint_for(store: Storage) -> Endpoint:
    """The :class:`Endpoint` of an open store."""
    from activityfeed.storage.sqlite import SQLiteStorage

    if isinstance(store, SQLiteStorage):
        from activityfeed.storage.copying_sqlite import SQLiteEndpoint

        return SQLiteEndpoint(store)
    from activityfeed.storage.postgres import PostgresStorage

    if isinstance(store, PostgresStorage):
        from activityfeed.storage.copying_postgres import PostgresEndpoint

        return PostgresEndpoint(store)
    raise ValueError(f"cannot copy a store of type {type(store).__name__}")
