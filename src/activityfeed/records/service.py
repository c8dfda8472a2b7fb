"""Associated records of the service's own store: validation and use cases (section 4).

Records are team-scoped like activities. A resource name that is not in the
registry, or whose records come from a remote source, is a 422 naming
``resource``: there is nothing to store or read here under that name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from activityfeed.bodies import object_json, whole_number
from activityfeed.errors import ErrorCollector, Invalid, NotFound
from activityfeed.records.registry import Registry
from activityfeed.settings import Limits
from activityfeed.storage.base import BulkResult, Storage, StoredRecord
from activityfeed.timestamps import format_timestamp

MAX_ID_LENGTH = 255
_INT64 = 2**63 - 1
_FORBIDDEN_IN_ID = re.compile(r"[/\x00-\x1f\x7f-\x9f]")


def record_id(value: Any) -> str | None:
    """A record id as stored (ints as their decimal string), or ``None`` when invalid.

    Ids are what ``static_data`` holds: an integer, or a string of 1 to 255
    characters without ``/`` (it could not be addressed in a path) or control
    characters (C0, DEL and C1: invisible, and unsafe in a log line or a
    terminal). The rule is a character class on purpose, so that the OpenAPI
    document can state it exactly as a pattern.
    """
    if isinstance(value, bool):
        return None
    value = whole_number(value)
    if isinstance(value, int):
        return str(value) if -_INT64 <= value <= _INT64 else None
    if (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and _FORBIDDEN_IN_ID.search(value) is None
    ):
        return value
    return None


ID_RULE = "must be an integer or a string of 1 to 255 characters without '/' or control characters"


def parse_batch(data: Any, limits: Limits) -> list[tuple[str, bytes]]:
    """A batch body ``[{"id": ..., "attributes": {...}}, ...]``, or one 422 naming every item."""
    if not isinstance(data, list):
        raise Invalid({"body": ['must be a JSON array of {"id": ..., "attributes": {...}}']})
    if len(data) > limits.max_bulk_items:
        raise Invalid({"body": [f"must hold at most {limits.max_bulk_items} records"]})
    errors = ErrorCollector()
    items: list[tuple[str, bytes]] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(data):
        prefix = f"[{index}]"
        if not isinstance(raw, Mapping):
            errors.add(prefix, "must be a JSON object")
            continue
        for key in raw:
            if key not in ("id", "attributes"):
                errors.add(f"{prefix}.{key}", "is not a known field")
        rid = record_id(raw.get("id"))
        if "id" not in raw:
            errors.add(f"{prefix}.id", "is required")
        elif rid is None:
            errors.add(f"{prefix}.id", ID_RULE)
        elif rid in first_index:
            errors.add(f"{prefix}.id", f"repeats the id of item [{first_index[rid]}]")
            rid = None
        else:
            first_index[rid] = index
        if "attributes" not in raw:
            errors.add(f"{prefix}.attributes", "is required")
            continue
        attributes = object_json(raw["attributes"], limits, f"{prefix}.attributes", errors)
        if rid is not None and attributes is not None:
            items.append((rid, attributes))
    errors.raise_if_any()
    return items


def record_json(record: StoredRecord) -> bytes:
    """``{"data": {"resource", "id", "attributes", "created_at", "updated_at"}}``."""
    head = orjson.dumps({"resource": record.resource, "id": record.id})
    tail = orjson.dumps(
        {
            "created_at": format_timestamp(record.created_at),
            "updated_at": format_timestamp(record.updated_at),
        }
    )
    attributes = bytes(record.attributes)
    return b'{"data":' + head[:-1] + b',"attributes":' + attributes + b"," + tail[1:] + b"}"


class RecordService:
    """The use cases of ``/v2/associated_records``."""

    def __init__(self, storage: Storage, registry: Registry, limits: Limits) -> None:
        self.storage = storage
        self.registry = registry
        self.limits = limits

    def _check(self, resource: str, rid: str | None = None) -> str | None:
        errors = ErrorCollector()
        if resource not in self.registry.names:
            errors.add("resource", "is not a known resource name")
        elif not self.registry.is_local(resource):
            errors.add("resource", "is loaded from a remote source, not stored here")
        checked = None
        if rid is not None:
            checked = record_id(rid)
            if checked is None:
                errors.add("id", ID_RULE)
        errors.raise_if_any()
        return checked

    async def put_one(self, team_id: int, resource: str, rid: str, body: Any) -> tuple[bytes, bool]:
        """``PUT .../{resource}/{id}``: the stored record and whether it was created."""
        checked = self._check(resource, rid)
        assert checked is not None
        errors = ErrorCollector()
        attributes = object_json(body, self.limits, "body", errors)
        errors.raise_if_any()
        assert attributes is not None
        result = await self.storage.put_records(team_id, resource, [(checked, attributes)])
        return await self.get(team_id, resource, checked), result.created == 1

    async def put_batch(self, team_id: int, resource: str, body: Any) -> BulkResult:
        """``PUT .../{resource}``: many records, all or nothing."""
        self._check(resource)
        items = parse_batch(body, self.limits)
        if not items:
            return BulkResult(0, 0, 0)
        return await self.storage.put_records(team_id, resource, items)

    async def get(self, team_id: int, resource: str, rid: str) -> bytes:
        """``GET .../{resource}/{id}``."""
        checked = self._check(resource, rid)
        assert checked is not None
        record = await self.storage.get_record(team_id, resource, checked)
        if record is None:
            raise NotFound()
        return record_json(record)

    async def delete(self, team_id: int, resource: str, rid: str) -> None:
        """``DELETE .../{resource}/{id}``."""
        checked = self._check(resource, rid)
        assert checked is not None
        if not await self.storage.delete_record(team_id, resource, checked):
            raise NotFound()
