"""Copying a whole store to another: ``activityfeed copy --from URL --to URL``.

Teams, API keys (by hash), activities and associated records move between
any two stores (SQLite to PostgreSQL and back), keeping what the contract
depends on: team ids where the target has them free, each activity's ``seq``
(the order of first storage, the sort tie-break), ``created_at`` and
``updated_at``, and each team's clock, so that ``updated_at`` stays unique
and growing after the move.

The copy is resumable: activities go in ``seq`` order, in batches, each batch
one transaction, so an interrupted copy restarts from the largest ``seq`` the
target holds for the team; keys and records are upserts. At the end it
verifies that the target holds as many activities and records per team as
the source, and every key. The target should be empty or a previous,
interrupted copy of the same source.

Each store kind provides a :class:`Endpoint` (``copying_sqlite.py``,
``copying_postgres.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from activityfeed.storage.base import Storage, StoredRecord

BATCH = 5_000
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
        self, team_id: int, after_seq: int, limit: int
    ) -> list[tuple[Any, ...]]:
        """Up to ``limit`` activities of a team with ``seq > after_seq``, in ``seq`` order.

        Each row holds the columns of :data:`~activityfeed.storage.writes.INSERT_COLUMNS`.
        """

    async def max_seq(self, team_id: int) -> int:
        """The largest ``seq`` of the team's activities, 0 when it has none."""

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

    async def put_records(self, team_id: int, records: Sequence[StoredRecord]) -> None:
        """Upsert records, keeping their timestamps."""

    async def finish_team(self, team_id: int, clock: int) -> None:
        """Raise the team's clock to ``clock``, rebuild its counters, advance ``seq``."""


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

    plan: list[tuple[TeamState, int, int]] = []
    total = 0
    for team in teams:
        after = await target.max_seq(mapping[team.id])
        remaining = await source.count_activities(team.id) - await target.count_activities(
            mapping[team.id]
        )
        plan.append((team, after, remaining))
        total += max(remaining, 0) + await source.count_records(team.id)
    progress.start(total)

    for team, after, _ in plan:
        to_id = mapping[team.id]
        while rows := await source.activity_rows(team.id, after, BATCH):
            await target.put_activity_rows([(to_id, *row[1:]) for row in rows])
            after = rows[-1][1]
            report.activities += len(rows)
            progress.advance(len(rows))
        report.records += await _copy_records(source, target, team.id, to_id, progress)
        await target.finish_team(to_id, team.clock)

    for team in teams:
        await _verify(source, target, team, mapping[team.id], report)
    have = {key.key_hash for key in await target.keys()}
    missing = [key.prefix for key in keys if key.key_hash not in have]
    if missing:
        report.mismatches.append(f"keys missing in the target: {', '.join(missing)}")
    return report


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
