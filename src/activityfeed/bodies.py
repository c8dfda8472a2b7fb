"""Validating write bodies (contract, section 3) into domain values.

Like the query parser, every problem is collected so that one 422 names them
all; in a bulk body each name is prefixed by the item's index (``[3].type``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from activityfeed.decoding import big_integer_in, shown
from activityfeed.errors import ErrorCollector, Invalid
from activityfeed.fields import INPUT_FIELDS
from activityfeed.model import (
    ACTIVITY_TYPE_SET,
    RESOURCE_TYPE_SET,
    ActivityChanges,
    ActivityInput,
    storable,
)
from activityfeed.settings import Limits
from activityfeed.timestamps import TimestampError, parse_timestamp

# Fields of the activity object that a client may send back but never sets.
READ_ONLY = frozenset({"created_at", "updated_at", "dynamic_data", "failed_dynamic_resources"})
CREATE_FIELDS = frozenset(INPUT_FIELDS)
UPDATE_FIELDS = frozenset({"occurred_at", "user_guid", "tags", "static_data", "pinned_at"})
# An id's part after "{type}-": characters that need no escaping in a URL path.
_ID_SUFFIX = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_INT64 = 2**63 - 1
_WHOLE_FLOAT_MAX = 2**53


def parse_create(
    data: Any, limits: Limits, errors: ErrorCollector, prefix: str = "", require_id: bool = False
) -> ActivityInput | None:
    """A create body, or ``None`` with its problems added to ``errors``."""
    if not isinstance(data, Mapping):
        errors.add(prefix.rstrip(".") or "body", "must be a JSON object")
        return None
    before = len(errors.errors)
    for name in data:
        if name not in CREATE_FIELDS and name not in READ_ONLY:
            errors.add(f"{prefix}{name}", "is not a known field")

    activity_type = data.get("type")
    if activity_type is None:
        errors.add(f"{prefix}type", "is required")
    elif not isinstance(activity_type, str) or activity_type not in ACTIVITY_TYPE_SET:
        errors.add(f"{prefix}type", "is not a valid activity type")
        activity_type = None

    resource_type = data.get("resource_type")
    if resource_type is None:
        errors.add(f"{prefix}resource_type", "is required")
    elif not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPE_SET:
        errors.add(f"{prefix}resource_type", "must be one of: person, account, crm_opportunity")
        resource_type = None
    resource_id = _resource_id(data.get("resource_id"), resource_type, prefix, errors)

    activity_id = data.get("id")
    if activity_id is None:
        if require_id:
            errors.add(f"{prefix}id", "is required")
    elif not isinstance(activity_id, str):
        errors.add(f"{prefix}id", "must be a string")
    elif activity_type is not None and not (
        activity_id.startswith(f"{activity_type}-")
        and _ID_SUFFIX.fullmatch(activity_id[len(activity_type) + 1 :])
    ):
        errors.add(
            f"{prefix}id",
            f"must be {activity_type}-<id>, the id made of letters, digits, '.', '_', '~', '-'",
        )

    occurred_at = _timestamp(data, "occurred_at", prefix, errors)
    pinned_at = _timestamp(data, "pinned_at", prefix, errors)
    user_guid = _user_guid(data, prefix, errors)
    tags = _tags(data, limits, prefix, errors)
    static_data = _static_data(data, limits, prefix, errors)
    if len(errors.errors) > before:
        return None
    assert activity_type is not None and resource_type is not None and resource_id is not None
    return ActivityInput(
        type=activity_type,
        resource_type=resource_type,
        resource_id=resource_id,
        id=activity_id,
        occurred_at=occurred_at,
        user_guid=user_guid,
        tags=tags or (),
        static_data_json=static_data or b"{}",
        pinned_at=pinned_at,
    )


def parse_one(data: Any, limits: Limits) -> ActivityInput:
    """A create body, or a 422."""
    errors = ErrorCollector()
    item = parse_create(data, limits, errors)
    errors.raise_if_any()
    assert item is not None
    return item


def parse_bulk(data: Any, limits: Limits) -> list[ActivityInput]:
    """A bulk body: every item valid, ids unique in the batch, or one 422 for all."""
    if not isinstance(data, list):
        raise Invalid({"body": ["must be a JSON array of activities"]})
    if len(data) > limits.max_bulk_items:
        raise Invalid({"body": [f"must hold at most {limits.max_bulk_items} activities"]})
    errors = ErrorCollector()
    items: list[ActivityInput] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(data):
        item = parse_create(raw, limits, errors, prefix=f"[{index}].", require_id=True)
        if item is None:
            continue
        assert item.id is not None
        if item.id in first_index:
            errors.add(f"[{index}].id", f"repeats the id of item [{first_index[item.id]}]")
            continue
        first_index[item.id] = index
        items.append(item)
    errors.raise_if_any()
    return items


def parse_update(data: Any, limits: Limits) -> ActivityChanges:
    """An update body: the fields present, validated, or a 422.

    The fields an update cannot change (``id``, ``type``, ``resource_type``,
    ``resource_id``) are accepted when a client sends back what it read; the
    store rejects them when they differ from the stored values.
    """
    if not isinstance(data, Mapping):
        raise Invalid({"body": ["must be a JSON object"]})
    errors = ErrorCollector()
    for name in data:
        if name not in CREATE_FIELDS and name not in READ_ONLY:
            errors.add(name, "is not a known field")
    occurred_at = _timestamp(data, "occurred_at", "", errors)
    pinned_at = _timestamp(data, "pinned_at", "", errors)
    user_guid = _user_guid(data, "", errors)
    tags = _tags(data, limits, "", errors)
    static_data = _static_data(data, limits, "", errors)
    fixed = {
        name: data[name] for name in ("type", "resource_type", "resource_id", "id") if name in data
    }
    errors.raise_if_any()
    return ActivityChanges(
        occurred_at=occurred_at,
        user_guid=user_guid,
        tags=tags if tags is not None or "tags" not in data else (),
        static_data_json=static_data
        if static_data is not None or "static_data" not in data
        else b"{}",
        pinned_at=pinned_at,
        # occurred_at is never null: a null one is left as it is (as in a bulk replace).
        present=frozenset(
            name
            for name in UPDATE_FIELDS
            if name in data and not (name == "occurred_at" and data[name] is None)
        ),
        fixed=tuple(fixed.items()),
    )


def _resource_id(
    value: Any, resource_type: str | None, prefix: str, errors: ErrorCollector
) -> str | None:
    name = f"{prefix}resource_id"
    if value is None:
        errors.add(name, "is required")
        return None
    if isinstance(value, bool):
        errors.add(name, "must be an integer or a string")
        return None
    value = whole_number(value)
    if resource_type == "crm_opportunity":
        # No NUL characters: PostgreSQL's text cannot hold them, and every
        # store must accept the same bodies.
        if (isinstance(value, int) and -(2**63) <= value < 2**64) or (
            isinstance(value, str) and 0 < len(value) <= 255 and storable(value)
        ):
            return str(value)
        errors.add(name, "must be a non-empty string of at most 255 characters, without NUL")
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, int) and 0 <= value <= _INT64:
        return str(value)
    errors.add(name, "must be a non-negative integer")
    return None


def whole_number(value: Any) -> Any:
    """``value``, or the integer a float with no fractional part spells (``7.0`` is ``7``).

    JSON has one kind of number, and JSON Schema calls ``7.0`` an integer. Only
    up to 2**53, where every integer has a float of its own: past it, a float
    may be another number than the text that was sent.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) <= _WHOLE_FLOAT_MAX:
        return int(value)
    return value


def _timestamp(
    data: Mapping[str, Any], name: str, prefix: str, errors: ErrorCollector
) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(f"{prefix}{name}", "must be an ISO 8601 timestamp string")
        return None
    try:
        return parse_timestamp(value)
    except TimestampError as exc:
        errors.add(f"{prefix}{name}", str(exc))
        return None


def _user_guid(data: Mapping[str, Any], prefix: str, errors: ErrorCollector) -> str | None:
    value = data.get("user_guid")
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 255 or not storable(value):
        errors.add(
            f"{prefix}user_guid", "must be a string of 1 to 255 characters without NUL, or null"
        )
        return None
    return value


def _tags(
    data: Mapping[str, Any], limits: Limits, prefix: str, errors: ErrorCollector
) -> tuple[str, ...] | None:
    value = data.get("tags")
    if value is None:
        return None
    name = f"{prefix}tags"
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        errors.add(name, "must be an array of strings")
        return None
    if len(value) > limits.max_tags:
        errors.add(name, f"must hold at most {limits.max_tags} tags")
    if any(len(tag) > limits.max_tag_length for tag in value):
        errors.add(name, f"must each be at most {limits.max_tag_length} characters")
    return tuple(value)


def _static_data(
    data: Mapping[str, Any], limits: Limits, prefix: str, errors: ErrorCollector
) -> bytes | None:
    value = data.get("static_data")
    if value is None:
        return None
    return object_json(value, limits, f"{prefix}static_data", errors)


def object_json(value: Any, limits: Limits, name: str, errors: ErrorCollector) -> bytes | None:
    """A JSON object within the size limit of ``static_data`` (and of record attributes).

    ``None`` with the problem in ``errors`` when it is not an object, cannot be
    encoded or is too large.
    """
    if not isinstance(value, Mapping):
        errors.add(name, "must be a JSON object")
        return None
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError:
        big = big_integer_in(value)
        if big is not None:
            errors.add(name, f"integer {shown(big)} is beyond 64 bits; send it as a string")
        else:
            errors.add(name, "must be encodable as JSON")
        return None
    if len(encoded) > limits.max_static_data_bytes:
        errors.add(name, f"must be at most {limits.max_static_data_bytes} bytes of JSON")
        return None
    return encoded
