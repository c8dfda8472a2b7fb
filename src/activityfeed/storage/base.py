"""The interfaces every store (SQLite, PostgreSQL) implements: the store and its copy endpoint.

:class:`Storage` is what the service, the CLI and the demo ask of a store;
:class:`Endpoint` is a store's whole-table access for a copy between stores
(:mod:`activityfeed.storage.copying`). The values and errors they speak in
live in :mod:`activityfeed.storage.values` (which the stores import) and are
re-exported here for the callers.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from activityfeed.model import ActivityChanges, ActivityInput, ApiKey, Team
from activityfeed.query import ListQuery
from activityfeed.storage.values import (
    KEY_COLUMNS,
    BulkResult,
    DuplicateId,
    KeyRow,
    ListResult,
    Row,
    StorageRefused,
    StorageUnavailable,
    StoredRecord,
    StoreReadOnly,
    TargetState,
    TeamState,
    api_key,
)

if TYPE_CHECKING:
    # Types only: the PostgreSQL driver is imported only when such a store is opened.
    from activityfeed.storage.postgres.bulk import PostgresFreshLoader
    from activityfeed.storage.sqlite.bulk import SQLiteFreshLoader

    # A store's fast load of a fresh store, one kind per store (see Storage.fresh_loader).
    FreshLoader: TypeAlias = SQLiteFreshLoader | PostgresFreshLoader

__all__ = [
    "KEY_COLUMNS",
    "BulkResult",
    "DuplicateId",
    "Endpoint",
    "FreshSink",
    "ListResult",
    "Row",
    "Storage",
    "StorageRefused",
    "StorageUnavailable",
    "StoreReadOnly",
    "StoredRecord",
    "api_key",
]


class Storage(Protocol):
    """Everything the service asks of a store. Every method is team-scoped."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Release connections."""

    def generation(self) -> int | None:
        """A number that changes whenever the store's data may have changed, cheaply.

        ``None`` when the store cannot tell: then nothing is cached.
        """

    async def ping(self) -> None:
        """Raise :class:`StorageUnavailable` when the store does not answer."""

    # Teams and keys.
    async def ensure_team(self, name: str) -> Team:
        """The team called ``name``, created when missing."""

    async def get_team(self, name: str) -> Team | None:
        """The team called ``name``, if any."""

    async def list_teams(self) -> list[Team]:
        """Every team, by name."""

    async def set_team_rate_limit(self, name: str, limit: int | None) -> bool:
        """Set one team's budget per minute (``None``: the global default)."""

    async def add_key(
        self, team_id: int, key_hash: str, prefix: str, scopes: tuple[str, ...]
    ) -> ApiKey:
        """Store a new key by its hash."""

    async def find_key(self, key_hash: str) -> ApiKey | None:
        """The live or revoked key with this hash, with its team."""

    async def list_keys(self, team: str | None = None) -> list[ApiKey]:
        """Keys, optionally of one team."""

    async def revoke_key(self, prefix: str) -> int:
        """Revoke keys whose id or prefix matches; returns how many."""

    # Activities.
    async def list_activities(self, team_id: int, query: ListQuery) -> ListResult:
        """One page of the team's activities matching ``query``."""

    async def get_activity(self, team_id: int, activity_id: str) -> Row | None:
        """One activity by id."""

    async def create_activity(self, team_id: int, item: ActivityInput) -> Row:
        """Store a new activity; :class:`DuplicateId` when the id is taken."""

    async def update_activity(
        self, team_id: int, activity_id: str, changes: ActivityChanges
    ) -> Row | None:
        """Change an activity and bump its ``updated_at``; ``None`` when unknown."""

    async def delete_activity(self, team_id: int, activity_id: str) -> bool:
        """Delete an activity; ``False`` when unknown."""

    async def upsert_activities(self, team_id: int, items: list[ActivityInput]) -> BulkResult:
        """Create or replace many activities by id, in order, all or nothing."""

    # Associated records (contract, section 4): keyed by (team, resource, id).
    async def put_records(
        self, team_id: int, resource: str, items: Sequence[tuple[str, bytes]]
    ) -> BulkResult:
        """Create or replace records of one resource by id, all or nothing.

        ``items`` are ``(id, attributes JSON)`` with unique ids; an item whose
        attributes equal the stored bytes is counted unchanged and not touched.
        """

    async def get_records(
        self, team_id: int, wanted: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, bytes]]:
        """The attributes JSON of the records found, by resource name and id: one load.

        ``wanted`` maps resource names to ids; what is not found is absent.
        """

    async def get_record(self, team_id: int, resource: str, record_id: str) -> StoredRecord | None:
        """One record, with its timestamps."""

    async def delete_record(self, team_id: int, resource: str, record_id: str) -> bool:
        """Delete one record; ``False`` when unknown."""

    async def scan_records(
        self, team_id: int, after: tuple[str, str] | None, limit: int
    ) -> list[StoredRecord]:
        """Up to ``limit`` records of a team in ``(resource, id)`` order, after ``after``.

        For export and copy between stores: page with the last record's key.
        """

    # What a store offers beyond the service: its fast load and its copy endpoint.
    def fresh_loader(self) -> FreshLoader:
        """The store's fast load of activities into itself while it has none (the demo's).

        Each kind of store has its own (:class:`FreshLoader` tells them apart
        by ``kind``), as each has its own way of writing a table at once.
        """

    def copy_endpoint(self) -> Endpoint:
        """Whole-table access to the store for ``activityfeed copy``."""


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

    async def peek(self) -> TargetState:
        """What the store holds, read without opening it: no migration, no write."""

    async def state(self) -> TargetState:
        """What the open store holds."""

    async def create_team(self, team: TeamState, seq_offset: int) -> int:
        """Create the team (with its id when free), listed in ``copy_progress``; its id."""

    async def forget_copy(self, team_ids: Sequence[int]) -> None:
        """Take the teams of a finished copy out of ``copy_progress`` (dropped once empty)."""

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
