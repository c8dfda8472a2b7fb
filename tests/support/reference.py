"""A small, obviously-correct in-memory reference of the list endpoint (contract, section 2).

It shares no code with the service's query parser or SQL: a :class:`Query` is
the request as the contract describes it, before any encoding into a query
string, and :func:`list_response` answers it over a team's activities (their
JSON objects, in the order they were first stored) by filtering, sorting and
slicing plain Python lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import ceil
from typing import Any

OPERATORS = ("gt", "gte", "lt", "lte")
DEFAULT_PER_PAGE = 25
COUNT_LIMIT = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_us(text: str) -> int:
    """A timestamp as the service renders it, in microseconds since the epoch."""
    moment = datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def to_text(us: int) -> str:
    """Microseconds since the epoch as the contract renders timestamps."""
    return (_EPOCH + timedelta(microseconds=us)).strftime(_FORMAT)


@dataclass(frozen=True)
class Query:
    """A list request in the contract's terms; ``None`` (or empty) means not given.

    ``type`` is a list (the array form) or a dict of lists (the object form).
    ``sort_direction`` is kept as sent, in any case. ``ids`` holds the values
    of both ``ids`` and its alias ``id``.
    """

    per_page: int | None = None
    page: int | None = None
    include_paging_counts: bool | None = None
    limit_paging_counts: bool | None = None
    sort_by: str | None = None
    sort_direction: str | None = None
    type: list[str] | dict[str, list[str]] | None = None
    occurred_at: dict[str, int] = field(default_factory=dict)
    updated_at: dict[str, int] = field(default_factory=dict)
    pinned: bool | None = None
    resource_type: list[str] | None = None
    resource_id: list[str] | None = None
    ids: list[str] | None = None
    user_guid: list[str] | None = None


def matches(activity: dict[str, Any], query: Query) -> bool:
    """Whether ``activity`` passes every filter of ``query`` (they combine with AND)."""
    if isinstance(query.type, list) and activity["type"] not in query.type:
        return False
    if isinstance(query.type, dict) and activity["type"] not in query.type.get(
        activity["resource_type"], []
    ):
        return False
    for column in ("occurred_at", "updated_at"):
        value = to_us(activity[column])
        bounds: dict[str, int] = getattr(query, column)
        if "gt" in bounds and not value > bounds["gt"]:
            return False
        if "gte" in bounds and not value >= bounds["gte"]:
            return False
        if "lt" in bounds and not value < bounds["lt"]:
            return False
        if "lte" in bounds and not value <= bounds["lte"]:
            return False
    if query.pinned is not None and (activity["pinned_at"] is not None) != query.pinned:
        return False
    if query.resource_type is not None and activity["resource_type"] not in query.resource_type:
        return False
    # Resource ids compare as strings: an integer id 7 matches resource_id=7.
    if query.resource_id is not None and str(activity["resource_id"]) not in query.resource_id:
        return False
    if query.ids is not None and activity["id"] not in query.ids:
        return False
    return query.user_guid is None or activity["user_guid"] in query.user_guid


def ordered(activities: list[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    """The matching activities in the total order: the sort key, then first storage."""
    sort_by = query.sort_by or "occurred_at"
    descending = (query.sort_direction or "DESC").upper() == "DESC"
    chosen = [(to_us(a[sort_by]), stored, a) for stored, a in enumerate(activities)]
    chosen = [entry for entry in chosen if matches(entry[2], query)]
    # Reversing the whole (key, storage position) order puts later-stored first on
    # ties under DESC, as the contract says.
    chosen.sort(key=lambda entry: (entry[0], entry[1]), reverse=descending)
    return [a for _, _, a in chosen]


def filtering(query: Query) -> dict[str, Any]:
    """The ``filtering`` echo: every filter given, normalised."""
    echo: dict[str, Any] = {}
    if isinstance(query.type, list):
        echo["type"] = list(query.type)
    elif isinstance(query.type, dict):
        echo["type"] = {key: list(values) for key, values in query.type.items()}
    for column in ("occurred_at", "updated_at"):
        bounds: dict[str, int] = getattr(query, column)
        if bounds:
            echo[column] = {op: to_text(value) for op, value in bounds.items()}
    if query.pinned is not None:
        echo["pinned"] = query.pinned
    for name in ("resource_type", "resource_id", "ids", "user_guid"):
        values = getattr(query, name)
        if values is not None:
            echo[name] = list(values)
    return echo


def list_response(activities: list[dict[str, Any]], query: Query) -> dict[str, Any]:
    """The whole body of ``GET /v2/activity_histories`` for one team's activities.

    ``activities`` are the team's activity objects in the order they were first
    stored.
    """
    rows = ordered(activities, query)
    per_page = query.per_page or DEFAULT_PER_PAGE
    page = query.page or 1
    start = (page - 1) * per_page
    paging: dict[str, Any] = {
        "per_page": per_page,
        "current_page": page,
        "next_page": page + 1 if len(rows) > start + per_page else None,
        "prev_page": page - 1 if page > 1 else None,
    }
    if query.include_paging_counts:
        total = min(len(rows), COUNT_LIMIT) if query.limit_paging_counts else len(rows)
        paging["total_pages"] = ceil(total / per_page)
        paging["total_count"] = total
    descending = (query.sort_direction or "DESC").upper() == "DESC"
    return {
        "metadata": {
            "filtering": filtering(query),
            "paging": paging,
            "sorting": {
                "sort_by": query.sort_by or "occurred_at",
                "sort_direction": "DESC NULLS LAST" if descending else "ASC NULLS FIRST",
            },
        },
        "data": rows[start : start + per_page],
    }
