"""Every endpoint of the contract as a :class:`Call`: the request and how to read its answer.

Building requests and reading responses involves no I/O, so :class:`Client`
and :class:`AsyncClient` share all of it and differ only in how they send.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from activityfeed.client.models import (
    Activity,
    BulkResult,
    Page,
    Record,
    RecordsResult,
    format_time,
)
from activityfeed.client.params import encode_filters

T = TypeVar("T")
ACTIVITIES = "/v2/activity_histories"
RECORDS = "/v2/associated_records"


class _Unset:
    """The default of an update field that is not to be changed (``None`` means null)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request and the reader of its successful response.

    ``idempotent`` says whether sending it twice is the same as sending it once:
    it decides retries after 503s and dropped connections.
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None
    content_type: str | None = None
    idempotent: bool = True

    def headers(self) -> dict[str, str]:
        """The request's own headers (the client adds the key)."""
        return {"Content-Type": self.content_type} if self.content_type else {}


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot send a {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """JSON for a request body; datetimes in the contract's form."""
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False).encode()


def _data(response: httpx.Response) -> Any:
    return response.json()["data"]


def _activity(response: httpx.Response) -> Activity:
    return Activity.from_json(_data(response))


def _nothing(response: httpx.Response) -> None:
    return None


def _path(*parts: str) -> str:
    return "/".join(quote(str(part), safe="") for part in parts)


def list_activities(filters: Mapping[str, object]) -> Call[Page]:
    """``GET /v2/activity_histories`` with the given filters."""
    return Call(
        "GET",
        ACTIVITIES,
        lambda response: Page.from_json(response.json()),
        params=tuple(encode_filters(filters)),
    )


def get_activity(activity_id: str) -> Call[Activity]:
    """``GET /v2/activity_histories/{id}``."""
    return Call("GET", f"{ACTIVITIES}/{_path(activity_id)}", _activity)


def create_activity(body: Mapping[str, Any]) -> Call[Activity]:
    """``POST /v2/activity_histories``: not idempotent (it may store a second activity)."""
    return Call(
        "POST",
        ACTIVITIES,
        _activity,
        content=dumps(body),
        content_type="application/json",
        idempotent=False,
    )


def update_activity(activity_id: str, changes: Mapping[str, Any]) -> Call[Activity]:
    """``PUT /v2/activity_histories/{id}`` with the fields to change."""
    return Call(
        "PUT",
        f"{ACTIVITIES}/{_path(activity_id)}",
        _activity,
        content=dumps(changes),
        content_type="application/json",
    )


def delete_activity(activity_id: str) -> Call[None]:
    """``DELETE /v2/activity_histories/{id}``."""
    return Call("DELETE", f"{ACTIVITIES}/{_path(activity_id)}", _nothing)


def bulk_body(item: Mapping[str, Any] | Activity) -> Mapping[str, Any]:
    """A bulk item: an :class:`Activity` as its create body, a mapping as it is."""
    return item.to_input() if isinstance(item, Activity) else item


def bulk_upsert(
    items: Iterable[Mapping[str, Any] | Activity], ndjson: bool = False
) -> Call[BulkResult]:
    """``POST /v2/activity_histories/bulk``, as a JSON array or as NDJSON.

    Idempotent by contract (an upsert by id; a resent batch changes nothing),
    so it is retried like a PUT.
    """
    bodies = [bulk_body(item) for item in items]
    if ndjson:
        content = b"".join(dumps(body) + b"\n" for body in bodies)
        content_type = "application/x-ndjson"
    else:
        content, content_type = dumps(bodies), "application/json"
    return Call(
        "POST",
        f"{ACTIVITIES}/bulk",
        lambda response: BulkResult.from_json(_data(response)),
        content=content,
        content_type=content_type,
    )


def put_record(resource: str, record_id: str, attributes: Mapping[str, Any]) -> Call[Record]:
    """``PUT /v2/associated_records/{resource}/{id}``: create or replace one record."""
    return Call(
        "PUT",
        f"{RECORDS}/{_path(resource, record_id)}",
        lambda response: Record.from_response(resource, record_id, response, attributes),
        content=dumps(attributes),
        content_type="application/json",
    )


def get_record(resource: str, record_id: str) -> Call[Record]:
    """``GET /v2/associated_records/{resource}/{id}``."""
    return Call(
        "GET",
        f"{RECORDS}/{_path(resource, record_id)}",
        lambda response: Record.from_response(resource, record_id, response),
    )


def delete_record(resource: str, record_id: str) -> Call[None]:
    """``DELETE /v2/associated_records/{resource}/{id}``."""
    return Call("DELETE", f"{RECORDS}/{_path(resource, record_id)}", _nothing)


def put_records(
    resource: str, records: Mapping[str, Mapping[str, Any]] | Iterable[Record]
) -> Call[RecordsResult]:
    """``PUT /v2/associated_records/{resource}``: many records at once, all or nothing."""
    if isinstance(records, Mapping):
        items = [{"id": str(key), "attributes": value} for key, value in records.items()]
    else:
        items = [{"id": record.id, "attributes": record.attributes} for record in records]
    return Call(
        "PUT",
        f"{RECORDS}/{_path(resource)}",
        lambda response: RecordsResult.from_response(response, len(items)),
        content=dumps(items),
        content_type="application/json",
    )


def create_body(
    type: str, resource_type: str, resource_id: int | str, **optional: Any
) -> dict[str, Any]:
    """A create body; optional fields given as ``None`` are left out (the service's defaults)."""
    body: dict[str, Any] = {"type": type, "resource_type": resource_type}
    body["resource_id"] = resource_id
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def update_body(**fields: Any) -> dict[str, Any]:
    """An update body: the fields not left :data:`UNSET` (``None`` sends null)."""
    return {name: value for name, value in fields.items() if value is not UNSET}


_SYNC_OWNS = ("sort_by", "sort_direction", "page", "updated_at_gt", "updated_at_gte")


def sync_filters(cursor: str | None, filters: Mapping[str, object]) -> dict[str, object]:
    """The list filters of one step of the incremental reader, after ``cursor``."""
    taken = [name for name in _SYNC_OWNS if name in filters]
    if taken:
        raise TypeError(f"sync() sets {', '.join(taken)} itself; use since= to start later")
    query: dict[str, object] = {
        **filters,
        "sort_by": "updated_at",
        "sort_direction": "ASC",
        "per_page": filters.get("per_page") or 100,
    }
    if cursor is not None:
        query["updated_at_gt"] = cursor
    return query


def cursor_text(since: datetime | str | None) -> str | None:
    """A starting cursor as the contract's timestamp text."""
    if isinstance(since, datetime):
        return format_time(since)
    return since
