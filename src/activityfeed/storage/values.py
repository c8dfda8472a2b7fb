"""The values and errors of the storage interface, shared by the stores and their callers.

What a store hands over (rows of a page, bulk results, associated records,
keys), the errors it raises, and the whole-table rows of a copy between
stores. The stores import these from here; the protocols they implement are
in :mod:`activityfeed.storage.base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from activityfeed.model import ApiKey


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


# Whole-table rows of a copy between stores (activityfeed.storage.copying).


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


# The target's table of the teams of unfinished copies: team_id, seq_offset.
PROGRESS_TABLE = "copy_progress"


@dataclass(frozen=True, slots=True)
class TargetTeam:
    """A team the target holds already."""

    id: int
    name: str
    created_at: int
    seq_offset: int | None  # an unfinished copy's team: its shift of ``seq``; else None


@dataclass(frozen=True, slots=True)
class TargetState:
    """What a target holds, as far as deciding whether to copy into it goes."""

    holding: tuple[str, ...] = ()  # the tables with rows (the migration history aside)
    teams: tuple[TargetTeam, ...] = ()
    key_teams: dict[str, int] = field(default_factory=dict)  # key hash -> team id
    top_seq: int = 0  # the largest ``seq`` of its activities

    @property
    def empty(self) -> bool:
        """Whether the target holds nothing at all."""
        return not self.holding
