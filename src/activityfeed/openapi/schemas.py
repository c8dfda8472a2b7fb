"""The component schemas of the OpenAPI document.

Enumerations, limits and patterns come from the modules that enforce them
(``model``, ``query``, ``bodies``, ``record_service``, and ``patterns`` for
the rules a pattern spells), so the document cannot drift from the behaviour.
The request schemas say exactly what the service accepts: ``null`` where it
counts as "not given", ``additionalProperties: false`` where an unknown field
is a 422, integers within 64 bits at any depth (``JsonValue``), and the rules
that tie one field to another: ``resource_id`` to ``resource_type`` as an
``if``/``then``, ``id`` to ``type`` as an ``anyOf`` of one branch per type.
``tests/openapi/test_openapi_requests.py`` checks each against the service's own
validation.
"""

from __future__ import annotations

from activityfeed.model import ACTIVITY_TYPES, RESOURCE_TYPES
from activityfeed.openapi import patterns
from activityfeed.openapi.building import (
    INT64_MIN,
    UINT64_MAX,
    Schema,
    nullable,
    object_schema,
    ref,
)
from activityfeed.openapi.examples import EXAMPLE_ACTIVITY, EXAMPLE_CREATED, TIMESTAMP_EXAMPLE
from activityfeed.openapi.request_bodies import input_schemas, record_schemas, resource_id_schemas
from activityfeed.query import COUNT_LIMIT, SORT_KEYS, TIME_OPERATORS
from activityfeed.settings import Limits

__all__ = ["Schema", "nullable", "ref", "schemas"]


def _activity_properties() -> dict[str, Schema]:
    return {
        "id": {
            "type": "string",
            "pattern": patterns.activity_id(),
            "description": "`{type}-{id}`, unique within a team.",
        },
        "type": ref("ActivityType"),
        "user_guid": {
            "type": ["string", "null"],
            "description": "The user the activity is for (a UUID).",
        },
        "resource_type": ref("ResourceType"),
        "resource_id": {
            "type": ["integer", "string"],
            "description": "An integer, or a string for `crm_opportunity`.",
        },
        "occurred_at": ref("Timestamp"),
        "created_at": {**ref("Timestamp"), "description": "When this service first stored it."},
        "updated_at": {
            **ref("Timestamp"),
            "description": "When this service last changed it; unique within a team and "
            "growing in commit order.",
        },
        "pinned_at": nullable(ref("Timestamp")),
        "tags": {"type": "array", "items": {"type": "string"}},
        "static_data": {
            "type": "object",
            "description": "Data fixed at creation; `<resource>_id` keys reference "
            "associated records.",
        },
        "dynamic_data": {
            "type": "object",
            "description": "Attributes of the associated records, loaded at read time.",
        },
        "failed_dynamic_resources": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Associated resources that could not be loaded, e.g. `email`.",
        },
    }


def _activity_schemas() -> dict[str, Schema]:
    properties = _activity_properties()
    created = {k: v for k, v in properties.items() if k != "dynamic_data"}
    return {
        "Activity": object_schema(
            properties,
            tuple(properties),
            additionalProperties=False,
            description="An activity: exactly these 13 keys.",
            examples=[EXAMPLE_ACTIVITY],
        ),
        "CreatedActivity": object_schema(
            created,
            tuple(created),
            additionalProperties=False,
            description="An activity as a create answers it: `dynamic_data` is absent.",
            examples=[EXAMPLE_CREATED],
        ),
        "ActivityEnvelope": object_schema({"data": ref("Activity")}, ("data",)),
        "CreatedActivityEnvelope": object_schema({"data": ref("CreatedActivity")}, ("data",)),
    }


def _list_schemas() -> dict[str, Schema]:
    time_bounds = object_schema(
        {op: ref("Timestamp") for op in TIME_OPERATORS},
        additionalProperties=False,
    )
    strings: Schema = {"type": "array", "items": {"type": "string"}}
    filtering = object_schema(
        {
            "type": {
                "oneOf": [
                    {"type": "array", "items": ref("ActivityType")},
                    {
                        "type": "object",
                        "propertyNames": ref("ResourceType"),
                        "additionalProperties": {"type": "array", "items": ref("ActivityType")},
                    },
                ]
            },
            "occurred_at": ref("TimeBounds"),
            "updated_at": ref("TimeBounds"),
            "pinned": {"type": "boolean"},
            "resource_type": {"type": "array", "items": ref("ResourceType")},
            "resource_id": strings,
            "ids": strings,
            "user_guid": strings,
        },
        additionalProperties=False,
        description="The filters applied, normalised: arrays in the order given, "
        "timestamps in UTC with six digits, booleans as booleans; `{}` when none.",
    )
    paging = object_schema(
        {
            "per_page": {"type": "integer", "minimum": 1},
            "current_page": {"type": "integer", "minimum": 1},
            "next_page": {"type": ["integer", "null"], "minimum": 2},
            "prev_page": {"type": ["integer", "null"], "minimum": 1},
            "total_pages": {"type": "integer", "minimum": 0},
            "total_count": {
                "type": "integer",
                "minimum": 0,
                "description": f"At most {COUNT_LIMIT} with `limit_paging_counts=true`.",
            },
        },
        ("per_page", "current_page", "next_page", "prev_page"),
        additionalProperties=False,
        description="`total_pages` and `total_count` only with `include_paging_counts=true`.",
    )
    sorting = object_schema(
        {
            "sort_by": {"type": "string", "enum": list(SORT_KEYS)},
            "sort_direction": {"type": "string", "enum": ["DESC NULLS LAST", "ASC NULLS FIRST"]},
        },
        ("sort_by", "sort_direction"),
        additionalProperties=False,
    )
    metadata = object_schema(
        {"filtering": ref("Filtering"), "paging": ref("Paging"), "sorting": ref("Sorting")},
        ("filtering", "paging", "sorting"),
        additionalProperties=False,
    )
    page_example = {
        "metadata": {
            "filtering": {"type": ["sent_email"], "occurred_at": {"gte": TIMESTAMP_EXAMPLE}},
            "paging": {
                "per_page": 25,
                "current_page": 1,
                "next_page": 2,
                "prev_page": None,
                "total_pages": 4,
                "total_count": 90,
            },
            "sorting": {"sort_by": "occurred_at", "sort_direction": "DESC NULLS LAST"},
        },
        "data": [EXAMPLE_ACTIVITY],
    }
    return {
        "TimeBounds": time_bounds,
        "Filtering": filtering,
        "Paging": paging,
        "Sorting": sorting,
        "ListMetadata": metadata,
        "ActivityList": object_schema(
            {"metadata": ref("ListMetadata"), "data": {"type": "array", "items": ref("Activity")}},
            ("metadata", "data"),
            additionalProperties=False,
            examples=[page_example],
        ),
    }


def schemas(limits: Limits) -> dict[str, Schema]:
    """Every component schema."""
    return {
        "ActivityType": {"type": "string", "enum": list(ACTIVITY_TYPES)},
        "ResourceType": {"type": "string", "enum": list(RESOURCE_TYPES)},
        "Timestamp": {
            "type": "string",
            "format": "date-time",
            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$",
            "description": "UTC, always six fractional digits and `Z`.",
            "examples": [TIMESTAMP_EXAMPLE],
        },
        "JsonValue": {
            "if": {"type": "integer"},
            "then": {"minimum": INT64_MIN, "maximum": UINT64_MAX},
            "items": ref("JsonValue"),
            "additionalProperties": ref("JsonValue"),
            "description": "Any JSON value whose integers, at any depth, fit in 64 bits (from "
            "-2^63 to 2^64 - 1): a larger integer is a 422 (`send it as a string`), never "
            "silently rounded.",
        },
        "TimestampInput": {
            "type": "string",
            "pattern": patterns.timestamp_input(),
            "description": "ISO 8601 / RFC 3339: a date (`2019-01-01`, midnight UTC), or a "
            "date, `T` (or a space), `hh:mm`, optionally `:ss` and `.` or `,` with 0 to 9 "
            "fractional digits (past the sixth truncated), then `Z`, `+hh:mm`, `-hh:mm`, "
            "`+hhmm`, `+hh` or nothing (UTC). A space may stand for the `+` of an offset. "
            "The instant must fall within the years 0001 to 9999 UTC once the offset is "
            "applied; on 0001-01-01 the pattern admits only `-` offsets and on 9999-12-31 "
            "only `+` offsets.",
            "examples": ["2019-01-01T00:00:00Z", "2019-01-01T02:00:00.5+02:00", "2019-01-01"],
        },
        **_activity_schemas(),
        **resource_id_schemas(),
        **input_schemas(limits),
        **_list_schemas(),
        **record_schemas(limits),
        "Error": object_schema(
            {"error": {"type": "string"}},
            ("error",),
            additionalProperties=False,
            examples=[{"error": "Not Found"}],
        ),
        "ValidationErrors": object_schema(
            {
                "errors": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {
                        "type": "array",
                        "items": {"type": "string"},
                        "minItems": 1,
                    },
                }
            },
            ("errors",),
            additionalProperties=False,
            description="Every invalid parameter or field under its name: the plain name "
            "for arrays and the object form (`type`), the full key for operators "
            "(`occurred_at[gt]`), the item's index in a batch (`[3].type`).",
            examples=[
                {
                    "errors": {
                        "per_page": ["must be an integer in the range [1, 100]"],
                        "occurred_at[gt]": ["is not a valid timestamp"],
                    }
                }
            ],
        ),
        "Health": object_schema({"status": {"type": "string"}}, ("status",)),
    }
