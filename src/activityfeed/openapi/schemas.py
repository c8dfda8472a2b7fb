"""The component schemas of the OpenAPI document.

Enumerations and limits come from the modules that enforce them (``model``,
``query``, ``bodies``), so the document cannot drift from the behaviour.
"""

from __future__ import annotations

from typing import Any

from activityfeed.model import ACTIVITY_TYPES, RESOURCE_TYPES
from activityfeed.openapi.examples import (
    EXAMPLE_ACTIVITY,
    EXAMPLE_CREATE_BODY,
    EXAMPLE_CREATED,
    EXAMPLE_RECORD,
    TIMESTAMP_EXAMPLE,
)
from activityfeed.query import COUNT_LIMIT, SORT_KEYS, TIME_OPERATORS
from activityfeed.settings import Limits

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or ``null``."""
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    return {"type": "object", "properties": properties, "required": list(required), **extra}


def _activity_properties() -> dict[str, Schema]:
    return {
        "id": {"type": "string", "description": "`{type}-{id}`, unique within a team."},
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
        "Activity": _object(
            properties,
            tuple(properties),
            additionalProperties=False,
            description="An activity: exactly these 13 keys.",
            examples=[EXAMPLE_ACTIVITY],
        ),
        "CreatedActivity": _object(
            created,
            tuple(created),
            additionalProperties=False,
            description="An activity as a create answers it: `dynamic_data` is absent.",
            examples=[EXAMPLE_CREATED],
        ),
        "ActivityEnvelope": _object({"data": ref("Activity")}, ("data",)),
        "CreatedActivityEnvelope": _object({"data": ref("CreatedActivity")}, ("data",)),
    }


def _input_schemas(limits: Limits) -> dict[str, Schema]:
    tags: Schema = {
        "type": "array",
        "maxItems": limits.max_tags,
        "items": {"type": "string", "maxLength": limits.max_tag_length},
        "description": "Kept in the order given.",
    }
    static_data: Schema = {
        "type": "object",
        "description": f"At most {limits.max_static_data_bytes} bytes as JSON.",
    }
    writable: dict[str, Schema] = {
        "occurred_at": {**ref("TimestampInput"), "description": "Default: now."},
        "user_guid": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
        "tags": tags,
        "static_data": static_data,
        "pinned_at": nullable(ref("TimestampInput")),
    }
    create = _object(
        {
            "type": ref("ActivityType"),
            "resource_type": ref("ResourceType"),
            "resource_id": {
                "type": ["integer", "string"],
                "description": "A non-negative integer (or its digits as a string); "
                "for `crm_opportunity` any string of 1 to 255 characters.",
            },
            "id": {
                "type": "string",
                "pattern": r"^[a-z_]+-[A-Za-z0-9._~-]{1,200}$",
                "description": "`{type}-{something}` for the body's `type`; "
                "assigned by the service when absent.",
            },
            **writable,
        },
        ("type", "resource_type", "resource_id"),
        description="A new activity. Other fields are a 422, except the read-only keys "
        "of the activity object (`created_at`, `updated_at`, `dynamic_data`, "
        "`failed_dynamic_resources`), which are ignored.",
        examples=[EXAMPLE_CREATE_BODY],
    )
    return {
        "ActivityCreate": create,
        "BulkActivity": {
            "allOf": [ref("ActivityCreate"), {"required": ["id"]}],
            "description": "A bulk item: a create body whose `id` is required. It replaces "
            "the stored activity of that id (omitted optional fields take their defaults).",
        },
        "BulkActivities": {
            "type": "array",
            "items": ref("BulkActivity"),
            "maxItems": limits.max_bulk_items,
        },
        "ActivityUpdate": _object(
            {**writable, "occurred_at": ref("TimestampInput")},
            description="The fields to change; `pinned_at: null` unpins. `id`, `type`, "
            "`resource_type` and `resource_id` may be sent back unchanged, never changed.",
            examples=[{"tags": ["q1-campaign", "won"], "pinned_at": "2019-01-02T10:00:00Z"}],
        ),
        "BulkResult": _object(
            {
                "data": _object(
                    {name: {"type": "integer", "minimum": 0} for name in _BULK_COUNTS},
                    _BULK_COUNTS,
                    additionalProperties=False,
                )
            },
            ("data",),
            examples=[{"data": {"created": 2, "updated": 1, "unchanged": 0}}],
        ),
    }


_BULK_COUNTS = ("created", "updated", "unchanged")


def _list_schemas() -> dict[str, Schema]:
    time_bounds = _object(
        {op: ref("Timestamp") for op in TIME_OPERATORS},
        additionalProperties=False,
    )
    strings: Schema = {"type": "array", "items": {"type": "string"}}
    filtering = _object(
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
    paging = _object(
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
    sorting = _object(
        {
            "sort_by": {"type": "string", "enum": list(SORT_KEYS)},
            "sort_direction": {"type": "string", "enum": ["DESC NULLS LAST", "ASC NULLS FIRST"]},
        },
        ("sort_by", "sort_direction"),
        additionalProperties=False,
    )
    metadata = _object(
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
        "ActivityList": _object(
            {"metadata": ref("ListMetadata"), "data": {"type": "array", "items": ref("Activity")}},
            ("metadata", "data"),
            additionalProperties=False,
            examples=[page_example],
        ),
    }


def _record_schemas(limits: Limits) -> dict[str, Schema]:
    record_id: Schema = {
        "type": ["string", "integer"],
        "description": "An integer, or a string of 1 to 255 printable characters without `/`.",
    }
    record = _object(
        {
            "resource": {"type": "string"},
            "id": {"type": "string", "description": "Integer ids come back as strings."},
            "attributes": ref("RecordAttributes"),
            "created_at": ref("Timestamp"),
            "updated_at": ref("Timestamp"),
        },
        ("resource", "id", "attributes", "created_at", "updated_at"),
        additionalProperties=False,
        examples=[EXAMPLE_RECORD],
    )
    batch_item = _object(
        {"id": record_id, "attributes": ref("RecordAttributes")},
        ("id", "attributes"),
        additionalProperties=False,
    )
    return {
        "RecordAttributes": {
            "type": "object",
            "description": "The record's attributes, merged into `dynamic_data` of the "
            f"activities that reference it; at most {limits.max_static_data_bytes} bytes "
            "as JSON.",
            "examples": [EXAMPLE_RECORD["attributes"]],
        },
        "AssociatedRecord": record,
        "AssociatedRecordEnvelope": _object({"data": ref("AssociatedRecord")}, ("data",)),
        "AssociatedRecordBatch": {
            "type": "array",
            "items": batch_item,
            "maxItems": limits.max_bulk_items,
            "examples": [[{"id": 2, "attributes": EXAMPLE_RECORD["attributes"]}]],
        },
    }


def schemas(limits: Limits) -> dict[str, Schema]:
    """Every component schema."""
    return {
        "ActivityType": {"type": "string", "enum": list(ACTIVITY_TYPES)},
        "ResourceType": {"type": "string", "enum": list(RESOURCE_TYPES)},
        "Timestamp": {
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$",
            "description": "UTC, always six fractional digits and `Z`.",
            "examples": [TIMESTAMP_EXAMPLE],
        },
        "TimestampInput": {
            "type": "string",
            "description": "ISO 8601 / RFC 3339: `Z`, `+hh:mm`, `-hh:mm` or `+hhmm` "
            "(no offset: UTC); 0 to 9 fractional digits (past the sixth truncated); "
            "a date alone is midnight UTC.",
            "examples": ["2019-01-01T00:00:00Z", "2019-01-01T02:00:00.5+02:00", "2019-01-01"],
        },
        **_activity_schemas(),
        **_input_schemas(limits),
        **_list_schemas(),
        **_record_schemas(limits),
        "Error": _object(
            {"error": {"type": "string"}},
            ("error",),
            additionalProperties=False,
            examples=[{"error": "Not Found"}],
        ),
        "ValidationErrors": _object(
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
        "Health": _object({"status": {"type": "string"}}, ("status",)),
    }
