"""The component schemas of the OpenAPI document.

Enumerations, limits and patterns come from the modules that enforce them
(``model``, ``query``, ``bodies``, ``record_service``, and ``patterns`` for
the rules a pattern spells), so the document cannot drift from the behaviour.
The request schemas say exactly what the service accepts: ``null`` where it
counts as "not given", ``additionalProperties: false`` where an unknown field
is a 422, integers within 64 bits at any depth (``JsonValue``), and the rules
that tie one field to another: ``resource_id`` to ``resource_type`` as an
``if``/``then``, ``id`` to ``type`` as an ``anyOf`` of one branch per type.
``tests/test_openapi_requests.py`` checks each against the service's own
validation.
"""

from __future__ import annotations

from typing import Any

from activityfeed.bodies import READ_ONLY
from activityfeed.model import ACTIVITY_TYPES, RESOURCE_TYPES
from activityfeed.openapi import patterns
from activityfeed.openapi.examples import (
    EXAMPLE_ACTIVITY,
    EXAMPLE_CREATE_BODY,
    EXAMPLE_CREATED,
    EXAMPLE_RECORD,
    TIMESTAMP_EXAMPLE,
)
from activityfeed.query import COUNT_LIMIT, SORT_KEYS, TIME_OPERATORS
from activityfeed.records.service import MAX_ID_LENGTH
from activityfeed.settings import Limits

Schema = dict[str, Any]

INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1
# The strings the store keeps as text (user_guid, a crm_opportunity's id): no NUL.
MAX_TEXT_LENGTH = 255


def ref(name: str) -> Schema:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or ``null``."""
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    return {"type": "object", "properties": properties, "required": list(required), **extra}


def _ignored() -> dict[str, Schema]:
    """The read-only keys of the activity object: a body may carry them, they are ignored."""
    return {
        name: {
            "description": "Read-only: accepted with any value so that a client can send "
            "back what it read, and ignored."
        }
        for name in sorted(READ_ONLY)
    }


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


def _resource_id_schemas() -> dict[str, Schema]:
    return {
        "ResourceId": {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": patterns.INT64_MAX},
                {
                    "type": "string",
                    "pattern": patterns.digits_at_most(patterns.INT64_MAX, 19),
                    "description": "The integer's ASCII digits (leading zeros allowed).",
                },
            ],
            "description": "The id of a `person` or an `account`: an integer from 0 to "
            f"{patterns.INT64_MAX}, or its digits as a string.",
        },
        "OpportunityId": {
            "anyOf": [
                {"type": "integer", "minimum": INT64_MIN, "maximum": UINT64_MAX},
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TEXT_LENGTH,
                    "pattern": patterns.no_nul(1, MAX_TEXT_LENGTH),
                },
            ],
            "description": f"The id of a `crm_opportunity`: a string of 1 to {MAX_TEXT_LENGTH} "
            "characters without NUL (an integer is taken as its decimal string).",
        },
    }


def _create_rules() -> list[Schema]:
    """What ties fields of a create body together: ``resource_id`` to ``resource_type``, and
    ``id`` to ``type`` (one branch per type, an ``anyOf``: tools expand a chain of ``if``s
    combinatorially)."""
    resource_rule = {
        "if": {
            "properties": {"resource_type": {"const": "crm_opportunity"}},
            "required": ["resource_type"],
        },
        "then": {"properties": {"resource_id": ref("OpportunityId")}},
        "else": {"properties": {"resource_id": ref("ResourceId")}},
    }
    id_rule = {
        "anyOf": [
            {
                "properties": {
                    "type": {"const": activity_type},
                    "id": {"pattern": patterns.activity_id([activity_type])},
                }
            }
            for activity_type in ACTIVITY_TYPES
        ],
        "description": "`id`, when given, starts with the body's `type` and `-`.",
    }
    return [resource_rule, id_rule]


def _input_schemas(limits: Limits) -> dict[str, Schema]:
    tags: Schema = {
        "type": ["array", "null"],
        "maxItems": limits.max_tags,
        "items": {"type": "string", "maxLength": limits.max_tag_length},
        "description": "Kept in the order given; `null` is `[]`.",
    }
    static_data: Schema = {
        "type": ["object", "null"],
        "additionalProperties": ref("JsonValue"),
        "description": f"At most {limits.max_static_data_bytes} bytes as JSON; `null` is `{{}}`.",
    }
    user_guid: Schema = {
        "type": ["string", "null"],
        "minLength": 1,
        "maxLength": MAX_TEXT_LENGTH,
        "pattern": patterns.no_nul(1, MAX_TEXT_LENGTH),
        "description": f"1 to {MAX_TEXT_LENGTH} characters without NUL, or `null` (none).",
    }
    writable: dict[str, Schema] = {
        "occurred_at": {
            **nullable(ref("TimestampInput")),
            "description": "Default (also for `null`): now.",
        },
        "user_guid": user_guid,
        "tags": tags,
        "static_data": static_data,
        "pinned_at": {**nullable(ref("TimestampInput")), "description": "`null`: not pinned."},
    }
    create = _object(
        {
            "type": ref("ActivityType"),
            "resource_type": ref("ResourceType"),
            "resource_id": {
                "type": ["integer", "string"],
                "description": "A `ResourceId` for a `person` or an `account`, an "
                "`OpportunityId` for a `crm_opportunity`.",
            },
            "id": {
                "type": ["string", "null"],
                "pattern": patterns.activity_id(),
                "description": "`{type}-{suffix}` for the body's `type`, the suffix 1 to 200 "
                "letters, digits, `.`, `_`, `~` or `-`; assigned by the service when absent "
                "or `null`.",
            },
            **writable,
            **_ignored(),
        },
        ("type", "resource_type", "resource_id"),
        additionalProperties=False,
        allOf=_create_rules(),
        description="A new activity. `null` in an optional field is the same as leaving it "
        "out. Any other field is a 422, except the read-only keys of the activity object, "
        "which are ignored.",
        examples=[EXAMPLE_CREATE_BODY],
    )
    update_properties = {
        **writable,
        "occurred_at": {
            **nullable(ref("TimestampInput")),
            "description": "The new time; `null` leaves it as it is.",
        },
        "tags": {**tags, "description": "The new tags; `null` is `[]`."},
        "static_data": {**static_data, "description": "The new data; `null` is `{}`."},
        "user_guid": {**user_guid, "description": "The new user; `null` removes it."},
        **_ignored(),
    }
    return {
        "ActivityCreate": create,
        "BulkActivity": {
            "allOf": [
                ref("ActivityCreate"),
                {"required": ["id"], "properties": {"id": {"type": "string"}}},
            ],
            "description": "A bulk item: a create body whose `id` is required (and not "
            "`null`). It replaces the stored activity of that id (omitted optional fields "
            "take their defaults; an omitted `occurred_at` keeps the stored one).",
        },
        "BulkActivities": {
            "type": "array",
            "items": ref("BulkActivity"),
            "maxItems": limits.max_bulk_items,
            "description": "The items' ids are unique within the batch (else 422 naming "
            "the repeat).",
        },
        "ActivityUpdate": _object(
            update_properties,
            additionalProperties=False,
            description="The fields to change; a field left out keeps its value. `id`, "
            "`type`, `resource_type` and `resource_id` may also be sent back as they are "
            "stored (a client that sends what it read), never changed: another value is a "
            "422 `cannot be changed`. Any other field is a 422.",
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
    record = _object(
        {
            "resource": {"type": "string"},
            "id": {"type": "string", "description": "Integer ids come back as strings."},
            "attributes": {"type": "object", "description": "The record's attributes."},
            "created_at": ref("Timestamp"),
            "updated_at": ref("Timestamp"),
        },
        ("resource", "id", "attributes", "created_at", "updated_at"),
        additionalProperties=False,
        examples=[EXAMPLE_RECORD],
    )
    batch_item = _object(
        {"id": ref("RecordId"), "attributes": ref("RecordAttributes")},
        ("id", "attributes"),
        additionalProperties=False,
    )
    return {
        "RecordId": {
            "anyOf": [
                {"type": "integer", "minimum": -patterns.INT64_MAX, "maximum": patterns.INT64_MAX},
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_ID_LENGTH,
                    "pattern": patterns.RECORD_ID,
                },
            ],
            "description": f"An integer (kept as its decimal string), or a string of 1 to "
            f"{MAX_ID_LENGTH} characters without `/` or control characters.",
        },
        "RecordAttributes": {
            "type": "object",
            "additionalProperties": ref("JsonValue"),
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
            "description": "The items' ids are unique within the batch (else 422 naming "
            'the repeat; `7` and `"7"` are the same id).',
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
        **_resource_id_schemas(),
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
