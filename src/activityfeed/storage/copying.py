"""Copying a whole store to another: ``activityfeed copy --from URL --to URL``.

Teams, API keys (by hash), activities and associated records move between
any two stores (SQLite to PostgreSQL and back), keeping what the contract
depends on: team ids where the target has them free, each activity's ``seq``
(the order of first storage, the sort tie-break; shifted only beside another
store's activities, below), ``created_at`` and
``updated_at``, and each team's clock, so that ``updated_at`` stays unique
and growing after the move.

Into a target without any activity (a new store, or a copy that failed
before its activities were in), the target's fresh load, when it has one,
takes every team's activities in one transaction (PostgreSQL's: ``COPY``
without the secondary indexes, built at the end;
:mod:`activityfeed.storage.postgres.bulk`); a
failure rolls it back whole and running the copy again starts over. Otherwise
the copy is resumable: a team's activities are split into ``JOBS`` ranges of
``seq`` fixed by the source, copied side by side (two ``COPY`` streams keep
both of PostgreSQL's cores busy while Python reads the next batch); each
range goes in ``seq`` order, in batches, each batch one transaction, so an
interrupted copy restarts each range after the largest ``seq`` the target
holds in it. Keys and records are upserts. At the end it
verifies that the target holds as many activities and records per team as
the source, and every key.

What the target may hold is decided before anything is written
(:func:`plan_copy`, from a :class:`~activityfeed.storage.values.TargetState`;
the command reads it with :meth:`~activityfeed.storage.base.Endpoint.peek`,
before the target is opened: no migration, no write, on SQLite not even a
``-wal`` file). An empty target is filled. Each team the copy creates is listed, in the same
transaction, in the target's ``copy_progress`` table, with the shift of its
``seq`` (below); a verified copy removes its teams from that table (and the
table once it is empty). So a target that holds only teams listed there, of
the same name and creation time as the source's, with the source's keys, is
an interrupted copy of this source: it is resumed. Anything else in the
target is refused (:class:`CopyRefused`) unless the caller says
``into_existing``; and even then a team is never merged into another of the
same name: a source team whose name is taken in the target must be the
target's unfinished copy of it, and a source key already in the target must
belong to that team, or the copy is refused, still before writing.

``seq`` is unique across teams on both stores (the rowid on SQLite), so into
a target whose activities already use the source's numbers, the teams it
creates get their ``seq`` shifted above the target's largest: the order
within each team, all that ``seq`` means to a client, is kept.

Each kind of store provides its :class:`~activityfeed.storage.base.Endpoint`
(:mod:`activityfeed.storage.sqlite.copy`, :mod:`activityfeed.storage.postgres.copy`),
which :func:`endpoint_for` asks the store for; this module knows none of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from activityfeed.storage.base import Endpoint, Storage
from activityfeed.storage.values import PROGRESS_TABLE, KeyRow, TargetState, TargetTeam, TeamState

BATCH = 5_000
JOBS = 2  # concurrent COPY streams per team
RECORD_BATCH = 2_000

# The tables whose rows all belong to a team: what an interrupted copy leaves.
TEAM_TABLES = frozenset(
    {
        "teams",
        "api_keys",
        "team_clocks",
        "activities",
        "activity_counts",
        "associated_records",
        PROGRESS_TABLE,
    }
)


class CopyRefused(Exception):
    """The target holds something the copy must not write into; nothing was written."""


@dataclass(frozen=True, slots=True)
class TeamPlan:
    """One source team in a copy: where it goes and how its ``seq`` moves."""

    team: TeamState
    target_id: int | None  # the target's unfinished copy of it; None: to create
    seq_offset: int


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """What a copy will write, decided before it writes anything."""

    teams: tuple[TeamPlan, ...]
    keys: tuple[KeyRow, ...]


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


async def copy_store(
    source: Endpoint, target: Endpoint, progress: Progress, *, into_existing: bool = False
) -> CopyReport:
    """Copy everything from ``source`` to ``target``; see the module.

    Raises :class:`CopyRefused`, before writing, for a target that holds
    what :func:`plan_copy` refuses.
    """
    plan = await plan_copy(source, await target.state(), into_existing=into_existing)
    report = CopyReport()
    mapping: dict[int, int] = {}
    offsets: dict[int, int] = {}
    for item in plan.teams:
        found = item.target_id
        mapping[item.team.id] = (
            found if found is not None else await target.create_team(item.team, item.seq_offset)
        )
        offsets[item.team.id] = item.seq_offset
    teams = [item.team for item in plan.teams]
    report.teams = len(teams)

    keys = plan.keys
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
    fresh = await _copy_fresh(source, target, mapping, offsets, progress)
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
                    _copy_range(
                        source, target, (team.id, to_id, offsets[team.id]), low, high, progress
                    )
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
    if report.verified:
        await target.forget_copy(sorted(set(mapping.values())))
    return report


async def plan_copy(source: Endpoint, target: TargetState, *, into_existing: bool) -> CopyPlan:
    """What copying ``source`` into a target holding ``target`` writes; see the module.

    Raises :class:`CopyRefused` for a target that is neither empty nor an
    interrupted copy of ``source`` unless ``into_existing``, and, even then,
    for a team or key the copy would merge into one of the target's own.
    """
    teams = await source.teams()
    keys = tuple(await source.keys())
    if target.empty:
        return CopyPlan(tuple(TeamPlan(team, None, 0) for team in teams), keys)

    by_name = {team.name: team for team in target.teams}
    resumed: dict[int, TargetTeam] = {}  # source team id -> the target's unfinished copy of it
    for team in teams:
        found = by_name.get(team.name)
        if found is None:
            continue
        if found.seq_offset is None or found.created_at != team.created_at:
            if not into_existing:
                raise CopyRefused(_not_empty(target))
            raise CopyRefused(
                f"team {team.name!r} is in both stores and the target's is not an unfinished "
                "copy of this one: copy never merges teams, nothing was written "
                "(rename or remove one of them, or copy into an empty store)"
            )
        resumed[team.id] = found
    names = {team.id: team.name for team in teams}
    for key in keys:
        owner = target.key_teams.get(key.key_hash)
        copied = resumed.get(key.team_id)
        if owner is not None and (copied is None or copied.id != owner):
            if not into_existing:
                raise CopyRefused(_not_empty(target))
            raise CopyRefused(
                f"an API key of team {names.get(key.team_id)!r} ({key.prefix}) is in the target "
                "already, for another team: copy never moves a key, nothing was written"
            )
    if not into_existing:
        ours = {team.id for team in resumed.values()}
        hashes = {key.key_hash for key in keys}
        only_this_copy = (
            bool(ours)
            and all(team.id in ours for team in target.teams)
            and all(key_hash in hashes for key_hash in target.key_teams)
            and TEAM_TABLES.issuperset(target.holding)
        )
        if not only_this_copy:
            raise CopyRefused(_not_empty(target))

    offset = 0
    if len(resumed) < len(teams) and target.top_seq:
        spans = [await source.seq_range(team.id, 0, 2**63 - 1) for team in teams]
        lowest = min((span[0] for span in spans if span is not None), default=None)
        if lowest is not None:
            offset = max(0, target.top_seq - lowest + 1)
    return CopyPlan(
        tuple(
            TeamPlan(team, resumed[team.id].id, resumed[team.id].seq_offset or 0)
            if team.id in resumed
            else TeamPlan(team, None, offset)
            for team in teams
        ),
        keys,
    )


def _not_empty(target: TargetState) -> str:
    return (
        f"the target store is not empty (rows in {', '.join(target.holding)}) and is not an "
        "unfinished copy of this store, so nothing was written; pass --into-existing to add "
        "this store's teams beside what it holds"
    )


def split_range(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    """``[low, high]`` cut into at most ``parts`` contiguous ranges, the same on every run."""
    size = max(1, -(-(high - low + 1) // parts))
    return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


async def _copy_range(
    source: Endpoint,
    target: Endpoint,
    team: tuple[int, int, int],
    low: int,
    high: int,
    progress: Progress,
) -> int:
    """Copy one ``seq`` range of a team (source id, target id, shift of ``seq``) in order,
    after what the target holds of it already."""
    from_id, to_id, offset = team
    done = await target.seq_range(to_id, low + offset, high + offset)
    after = low - 1 if done is None else done[1] - offset
    copied = 0
    while rows := await source.activity_rows(from_id, after, high, BATCH):
        await target.put_activity_rows([(to_id, row[1] + offset, *row[2:]) for row in rows])
        after = rows[-1][1]
        copied += len(rows)
        progress.advance(len(rows))
    return copied


async def _copy_fresh(
    source: Endpoint,
    target: Endpoint,
    mapping: dict[int, int],
    offsets: dict[int, int],
    progress: Progress,
) -> int | None:
    """Every activity through the target's fresh load, in one ``COPY``: how many; else ``None``."""
    async with target.fresh_load() as load:
        if load is None:
            return None
        copied = [0]
        await load.copy(_remapped(source, mapping, offsets, progress, copied))
        return copied[0]


async def _remapped(
    source: Endpoint,
    mapping: dict[int, int],
    offsets: dict[int, int],
    progress: Progress,
    copied: list[int],
) -> AsyncIterator[tuple[Any, ...]]:
    """Every source activity with its team id (and ``seq``) in the target, a batch at a time."""
    same = all(
        source_id == target_id and not offsets[source_id]
        for source_id, target_id in mapping.items()
    )
    async for rows in source.all_activity_rows(BATCH):
        if same:
            for row in rows:
                yield row
        else:
            for row in rows:
                yield (mapping[row[0]], row[1] + offsets[row[0]], *row[2:])
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
    """The :class:`~activityfeed.storage.base.Endpoint` of an open store: its own."""
    return store.copy_endpoint()
