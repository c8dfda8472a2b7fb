"""Rendering responses: the one place where activities and pages become JSON."""

from __future__ import annotations

from math import ceil
from typing import Any

import orjson

from activityfeed.query import ListQuery
from activityfeed.storage.base import BulkResult, ListResult

# The dynamic part of an activity that references no record, as JSON:
# ``dynamic_data`` and ``failed_dynamic_resources``. The hydrator gives it to
# such a row of a page, and an activity rendered without hydration gets it.
EMPTY_DYNAMIC = (b"{}", b"[]")


def activity_json(doc: bytes, dynamic: tuple[bytes, bytes] = EMPTY_DYNAMIC) -> bytes:
    """The 13-key activity object from a stored document and its dynamic part."""
    return (
        doc[:-1]
        + b',"dynamic_data":'
        + dynamic[0]
        + b',"failed_dynamic_resources":'
        + dynamic[1]
        + b"}"
    )


def created_json(doc: bytes) -> bytes:
    """A create response's activity: ``dynamic_data`` is absent (the seed)."""
    return doc[:-1] + b',"failed_dynamic_resources":[]}'


def data_envelope(activity: bytes) -> bytes:
    """``{"data": activity}``."""
    return b'{"data":' + activity + b"}"


def metadata(query: ListQuery, result: ListResult) -> dict[str, Any]:
    """The ``metadata`` object of a list response."""
    paging: dict[str, Any] = {
        "per_page": query.per_page,
        "current_page": query.page,
        "next_page": query.page + 1 if result.has_more else None,
        "prev_page": query.page - 1 if query.page > 1 else None,
    }
    if result.total_count is not None:
        paging["total_pages"] = ceil(result.total_count / query.per_page)
        paging["total_count"] = result.total_count
    return {
        "filtering": query.filtering,
        "paging": paging,
        "sorting": {"sort_by": query.sort_by, "sort_direction": query.sort_direction},
    }


def page_json(
    query: ListQuery, result: ListResult, dynamic: list[tuple[bytes, bytes]] | None = None
) -> bytes:
    """A whole list response."""
    if dynamic is None:
        items = [activity_json(row.doc) for row in result.rows]
    else:
        items = [activity_json(row.doc, d) for row, d in zip(result.rows, dynamic, strict=True)]
    return (
        b'{"metadata":'
        + orjson.dumps(metadata(query, result))
        + b',"data":['
        + b",".join(items)
        + b"]}"
    )


def bulk_result_json(result: BulkResult) -> bytes:
    """What a bulk write did (activities or records): ``{"data": {"created": ..}}``."""
    data = {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
    return orjson.dumps({"data": data})


def json_bytes(value: Any) -> bytes:
    """Any other JSON body."""
    return orjson.dumps(value)
