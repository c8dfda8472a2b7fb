"""The request bodies of the OpenAPI document: creates, updates, bulk batches, records.

They say exactly what the service accepts (``bodies``, ``records.service``):
``null`` where it counts as "not given", ``additionalProperties: false`` where
an unknown field is a 422, and the rules that tie one field to another.
"""

from __future__ import annotations

from activityfeed.bodies import READ_ONLY
from activityfeed.model import ACTIVITY_TYPES
from activityfeed.openapi import patterns
from activityfeed.openapi.building import (
    BULK_COUNTS,
    INT64_MIN,
    MAX_TEXT_LENGTH,
    UINT64_MAX,
    Schema,
    nullable,
    object_schema,
    ref,
)
from activityfeed.openapi.examples import EXAMPLE_CREATE_BODY, EXAMPLE_RECORD
from activityfeed.records.service import MAX_ID_LENGTH
from activityfeed.settings import Limits


def _ignored() -> dict[str, Schema]:
    """The read-only keys of the activity object: a body may carry them, they are ignored."""
    return {
        name: {
            "description": "Read-only: accepted with any value so that a client can send "
            "back what it read, and ignored."
        }
        for name in sorted(READ_ONLY)
    }


def resource_id_schemas() -> dict[str, Schema]:
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


def input_schemas(limits: Limits) -> dict[str, Schema]:
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
    create = object_schema(
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
        "ActivityUpdate": object_schema(
            update_properties,
            additionalProperties=False,
            description="The fields to change; a field left out keeps its value. `id`, "
            "`type`, `resource_type` and `resource_id` may also be sent back as they are "
            "stored (a client that sends what it read), never changed: another value is a "
            "422 `cannot be changed`. Any other field is a 422.",
            examples=[{"tags": ["q1-campaign", "won"], "pinned_at": "2019-01-02T10:00:00Z"}],
        ),
        "BulkResult": object_schema(
            {
                "data": object_schema(
                    {name: {"type": "integer", "minimum": 0} for name in BULK_COUNTS},
                    BULK_COUNTS,
                    additionalProperties=False,
                )
            },
            ("data",),
            examples=[{"data": {"created": 2, "updated": 1, "unchanged": 0}}],
        ),
    }


def record_schemas(limits: Limits) -> dict[str, Schema]:
    record = object_schema(
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
    batch_item = object_schema(
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
        "AssociatedRecordEnvelope": object_schema({"data": ref("AssociatedRecord")}, ("data",)),
        "AssociatedRecordBatch": {
            "type": "array",
            "items": batch_item,
            "maxItems": limits.max_bulk_items,
            "description": "The items' ids are unique within the batch (else 422 naming "
            'the repeat; `7` and `"7"` are the same id).',
            "examples": [[{"id": 2, "attributes": EXAMPLE_RECORD["attributes"]}]],
        },
    }
