"""The storage interface that every store (SQLite, PostgreSQL) implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from activityfeed.model import ActivityChanges, ActivityInput, ApiKey, Team
from activityfeed.query import ListQuery


@dataclass(frozen=True, slots=True)
class Row:
    """One stored activity as the read path needs it.

    ``doc`` is the activity's JSON without its dynamic part; ``refs`` the JSON
    array of its candidate references (``[["email", "2"], ...]``) or ``None``.
    """

    doc: bytes
    refs: bytes | None


@dataclass(frozen=True, slots=True)
class ListResult:
    """A page of rows, whether more lie beyond it, and the count when asked for."""

    rows: list[Row]
    has_more: bool
    total_count: int | None = None


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk upsert did."""

    created: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """An associated record in the service's own store (contract, section 4).

    ``attributes`` is the JSON object of its attributes, as bytes.
    """

    resource: str
    id: str
    attributes: bytes
    created_at: int
    updated_at: int


# The columns every store reads a key with (keys ``k`` joined to their team ``t``).
KEY_COLUMNS = (
    "k.id, k.team_id, t.name, k.prefix, k.scopes, k.created_at, k.revoked_at, t.rate_limit"
)


def api_key(row: Sequence[Any]) -> ApiKey:
    """An :class:`ApiKey` from a row of :data:`KEY_COLUMNS`."""
    return ApiKey(
        id=row[0],
        team_id=row[1],
        team_name=row[2],
        prefix=row[3],
        scopes=tuple(row[4].split(",")) if row[4] else (),
        created_at=row[5],
        revoked_at=row[6],
        rate_limit=row[7],
    )


class StorageUnavailable(Exception):
    """The store cannot be reached, or did not answer in time; the HTTP layer answers 503."""


class StorageRefused(StorageUnavailable):
    """The store's server answered and refused: wrong credentials, no such database.

    Waiting does not help, unlike a server that is down or starting up.
    """


class StoreReadOnly(StorageUnavailable):
    """The store can be read but not written (a read-only SQLite file).

    Not an outage: it lasts until the operator makes the store writable and
    restarts. The HTTP layer answers each write with a 503 that says so,
    without ``Retry-After``, and does not log it per request (the store says
    it once when it opens).
    """


class DuplicateId(Exception):
    """An activity with this id already exists in the team."""


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
