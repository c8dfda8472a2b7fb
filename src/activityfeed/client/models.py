"""Typed, immutable values of the API: activities, pages, bulk results, records.

Each is built from the service's JSON with ``from_json`` and turns back into
it with ``to_json``. Timestamps are aware UTC :class:`~datetime.datetime`
values (microsecond precision, like the service); JSON objects are read-only
mappings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

import httpx

from activityfeed.fields import INPUT_FIELDS
from activityfeed.timestamps import format_timestamp, from_datetime, parse_timestamp, to_datetime


def parse_time(text: str) -> datetime:
    """A contract timestamp as an aware UTC datetime."""
    return to_datetime(parse_timestamp(text))


def format_time(moment: datetime) -> str:
    """A datetime in the contract's form, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (naive is UTC)."""
    return format_timestamp(from_datetime(moment))


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else parse_time(value)


def _frozen(value: Any) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class Activity:
    """One activity, as the service renders it (contract, section 2).

    ``dynamic_data`` is ``None`` when the response did not carry it: a create
    response omits it.
    """

    id: str
    type: str
    resource_type: str
    resource_id: int | str
    user_guid: str | None
    occurred_at: datetime
    created_at: datetime
    updated_at: datetime
    pinned_at: datetime | None
    tags: tuple[str, ...]
    static_data: Mapping[str, Any] = field(hash=False)
    dynamic_data: Mapping[str, Any] | None = field(hash=False)
    failed_dynamic_resources: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Activity:
        """An activity from its JSON object."""
        dynamic = data.get("dynamic_data")
        return cls(
            id=data["id"],
            type=data["type"],
            resource_type=data["resource_type"],
            resource_id=data["resource_id"],
            user_guid=data.get("user_guid"),
            occurred_at=parse_time(data["occurred_at"]),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
            pinned_at=_optional_time(data.get("pinned_at")),
            tags=tuple(data.get("tags") or ()),
            static_data=_frozen(data.get("static_data")),
            dynamic_data=None if dynamic is None else _frozen(dynamic),
            failed_dynamic_resources=tuple(data.get("failed_dynamic_resources") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        """The activity's JSON object, keys in the contract's order."""
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "user_guid": self.user_guid,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "occurred_at": format_time(self.occurred_at),
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "pinned_at": None if self.pinned_at is None else format_time(self.pinned_at),
            "tags": list(self.tags),
            "static_data": _thaw(self.static_data),
        }
        if self.dynamic_data is not None:
            out["dynamic_data"] = _thaw(self.dynamic_data)
        out["failed_dynamic_resources"] = list(self.failed_dynamic_resources)
        return out

    def to_input(self) -> dict[str, Any]:
        """The create (or bulk) body that stores this activity as it is.

        What the service owns (``created_at``, ``updated_at``, ``dynamic_data``)
        is left out: storing the body elsewhere gives the same id and fields.
        """
        full = self.to_json()
        return {name: full[name] for name in INPUT_FIELDS}

    @property
    def cursor(self) -> str:
        """``updated_at`` in the contract's form: the sync cursor after this activity."""
        return format_time(self.updated_at)


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_thaw(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class Paging:
    """A list response's ``metadata.paging``; the counts only when asked for."""

    per_page: int
    current_page: int
    next_page: int | None
    prev_page: int | None
    total_pages: int | None = None
    total_count: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Paging:
        """Paging from its JSON object."""
        return cls(
            per_page=data["per_page"],
            current_page=data["current_page"],
            next_page=data.get("next_page"),
            prev_page=data.get("prev_page"),
            total_pages=data.get("total_pages"),
            total_count=data.get("total_count"),
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One page of activities with its metadata. Iterating a page yields its activities."""

    data: tuple[Activity, ...]
    paging: Paging
    filtering: Mapping[str, Any] = field(hash=False)
    sort_by: str
    sort_direction: str

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Page:
        """A page from a whole list response."""
        metadata = body.get("metadata") or {}
        sorting = metadata.get("sorting") or {}
        return cls(
            data=tuple(Activity.from_json(item) for item in body.get("data") or ()),
            paging=Paging.from_json(metadata.get("paging") or {}),
            filtering=_frozen(metadata.get("filtering")),
            sort_by=sorting.get("sort_by", ""),
            sort_direction=sorting.get("sort_direction", ""),
        )

    def to_json(self) -> dict[str, Any]:
        """The whole list response, as the service sent it."""
        paging: dict[str, Any] = {
            "per_page": self.paging.per_page,
            "current_page": self.paging.current_page,
            "next_page": self.paging.next_page,
            "prev_page": self.paging.prev_page,
        }
        if self.paging.total_count is not None:
            paging["total_pages"] = self.paging.total_pages
            paging["total_count"] = self.paging.total_count
        return {
            "metadata": {
                "filtering": _thaw(self.filtering),
                "paging": paging,
                "sorting": {"sort_by": self.sort_by, "sort_direction": self.sort_direction},
            },
            "data": [activity.to_json() for activity in self.data],
        }

    def __iter__(self) -> Iterator[Activity]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk upsert did: how many items were created, replaced or left as they were."""

    created: int
    updated: int
    unchanged: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BulkResult:
        """A result from the response's ``data`` object."""
        return cls(int(data["created"]), int(data["updated"]), int(data["unchanged"]))

    def __add__(self, other: BulkResult) -> BulkResult:
        return BulkResult(
            self.created + other.created,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


class Synced(NamedTuple):
    """One item of :meth:`Client.sync`: the activity and the cursor to persist after it."""

    activity: Activity
    cursor: str


@dataclass(frozen=True, slots=True)
class Record:
    """An associated record (contract, section 4): a resource name, an id, its attributes.

    The timestamps are the service's, ``None`` when the response does not carry them.
    """

    resource: str
    id: str
    attributes: Mapping[str, Any] = field(hash=False)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """A record from its JSON object."""
        return cls(
            resource=str(data["resource"]),
            id=str(data["id"]),
            attributes=_frozen(data.get("attributes")),
            created_at=_optional_time(data.get("created_at")),
            updated_at=_optional_time(data.get("updated_at")),
        )

    @classmethod
    def from_response(
        cls,
        resource: str,
        record_id: str,
        response: httpx.Response,
        sent: Mapping[str, Any] | None = None,
    ) -> Record:
        """The record of a response; what was sent when the response has no body."""
        body = response.json() if response.content else None
        data = body.get("data") if isinstance(body, Mapping) else None
        if isinstance(data, Mapping):
            return cls.from_json({"resource": resource, "id": record_id, **data})
        return cls(resource, str(record_id), _frozen(sent))


@dataclass(frozen=True, slots=True)
class RecordsResult:
    """What a batch of records did: the counts the service reports."""

    created: int
    updated: int
    unchanged: int
    total: int

    @classmethod
    def from_response(cls, response: httpx.Response, sent: int) -> RecordsResult:
        """The counts of a batch response (``sent`` is how many records the batch held)."""
        body = response.json() if response.content else None
        data = body.get("data") if isinstance(body, Mapping) else None
        counts = data if isinstance(data, Mapping) else {}

        def count(name: str) -> int:
            value = counts.get(name, 0)
            return value if isinstance(value, int) else 0

        return cls(count("created"), count("updated"), count("unchanged"), sent)
