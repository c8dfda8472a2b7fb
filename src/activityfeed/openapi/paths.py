"""The ``/v2`` paths of the OpenAPI document: activities and associated records."""

from __future__ import annotations

from typing import Any

from activityfeed.model import SCOPE_READ, SCOPE_WRITE
from activityfeed.openapi.examples import EXAMPLE_CREATE_BODY, EXAMPLE_RECORD
from activityfeed.openapi.parameters import list_parameters
from activityfeed.openapi.responses import RATE_LIMIT_HEADERS
from activityfeed.openapi.schemas import Schema, ref

JSON = "application/json"
NDJSON = "application/x-ndjson"


def _ok(description: str, schema: Schema, example: Any = None) -> Schema:
    content: Schema = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "headers": RATE_LIMIT_HEADERS, "content": {JSON: content}}


def _errors(*statuses: int) -> dict[str, Schema]:
    """The error responses of a ``/v2`` operation: 401, 403, 429 and 503 always."""
    names = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        413: "PayloadTooLarge",
        422: "ValidationFailed",
        429: "RateLimited",
        503: "Unavailable",
    }
    wanted = sorted({401, 403, 429, 503, *statuses})
    return {str(s): {"$ref": f"#/components/responses/{names[s]}"} for s in wanted}


def _operation(
    operation_id: str, summary: str, description: str, scope: str, **parts: Any
) -> Schema:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": f"{description}\n\nNeeds the `{scope}` scope.",
        "tags": parts.pop("tags", ["Activities"]),
        "security": [{"bearerAuth": []}],
        **parts,
    }


def _json_body(schema: Schema, example: Any) -> Schema:
    return {"required": True, "content": {JSON: {"schema": schema, "example": example}}}


def _list_operation(operation_id: str, suffix: str) -> Schema:
    return _operation(
        operation_id,
        f"List past activities{suffix}",
        "One page of the team's activities, filtered and in a total order. All filters "
        "combine with AND. Ties on the sort key go by the order the activities were first "
        "stored, so paging never repeats or skips a record. `next_page` is set when a "
        "record lies beyond this page. `updated_at` is unique within a team and grows in "
        "commit order: polling `sort_by=updated_at&sort_direction=ASC&updated_at[gt]=<last "
        "seen>` neither misses nor repeats an activity. Unknown parameters are ignored; a "
        "422 names every invalid one.",
        SCOPE_READ,
        parameters=[{"$ref": f"#/components/parameters/{name}"} for name in list_parameters()],
        responses={"200": _ok("A page of activities.", ref("ActivityList")), **_errors(422)},
    )


def _create_operation(operation_id: str, suffix: str) -> Schema:
    return _operation(
        operation_id,
        f"Create an activity{suffix}",
        "Stores one activity. Omitted optional fields default to null (`user_guid`, "
        "`pinned_at`), `[]` (`tags`) and `{}` (`static_data`); `occurred_at` defaults to "
        "now. An `id` already stored for the team is a 422 `has already been taken`.",
        SCOPE_WRITE,
        requestBody=_json_body(ref("ActivityCreate"), EXAMPLE_CREATE_BODY),
        responses={
            "201": _ok(
                "The created activity, without `dynamic_data`.", ref("CreatedActivityEnvelope")
            ),
            **_errors(413, 422),
        },
    )


def activity_paths() -> dict[str, Schema]:
    """The activity endpoints of contract sections 2 and 3."""
    activity_id = {
        "name": "activity_id",
        "in": "path",
        "required": True,
        "description": "The activity's id, `{type}-{id}`.",
        "schema": {"type": "string"},
        "example": "sent_email-722488662",
    }
    bulk_example = [EXAMPLE_CREATE_BODY, {**EXAMPLE_CREATE_BODY, "id": "sent_email-722488663"}]
    ndjson_example = "\n".join(
        f'{{"id": "call-{n}", "type": "call", "resource_type": "person", "resource_id": 7}}'
        for n in (1, 2)
    )
    return {
        "/v2/activity_histories": {
            "get": _list_operation("listActivityHistories", ""),
            "post": _create_operation("createActivityHistory", ""),
        },
        "/v2/activity_histories.json": {
            "get": _list_operation("listActivityHistoriesJson", " (`.json` alias)"),
            "post": _create_operation("createActivityHistoryJson", " (`.json` alias)"),
        },
        "/v2/activity_histories/bulk": {
            "post": _operation(
                "bulkUpsertActivityHistories",
                "Upsert many activities",
                "Up to 10,000 activities, upserted by `id`, all or nothing, stored in array "
                "order (which breaks sort ties and orders their `updated_at`). An item equal "
                "to what is stored changes nothing, so a resend is harmless. One invalid "
                "item rejects the batch with a 422 naming its index (`[3].type`).",
                SCOPE_WRITE,
                requestBody={
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("BulkActivities"), "example": bulk_example},
                        NDJSON: {
                            "schema": {
                                "type": "string",
                                "description": "One `BulkActivity` JSON object per line.",
                            },
                            "example": ndjson_example,
                        },
                    },
                },
                responses={
                    "200": _ok(
                        "What the batch did.",
                        ref("BulkResult"),
                        {"data": {"created": 1, "updated": 0, "unchanged": 1}},
                    ),
                    **_errors(413, 422),
                },
            )
        },
        "/v2/activity_histories/{activity_id}": {
            "parameters": [activity_id],
            "get": _operation(
                "getActivityHistory",
                "Get one activity",
                "One activity of the team; another team's activity is a 404 like a missing one.",
                SCOPE_READ,
                responses={"200": _ok("The activity.", ref("ActivityEnvelope")), **_errors(404)},
            ),
            "put": _operation(
                "updateActivityHistory",
                "Change an activity",
                "Changes the fields given and bumps `updated_at`.",
                SCOPE_WRITE,
                requestBody=_json_body(ref("ActivityUpdate"), {"tags": ["won"], "pinned_at": None}),
                responses={
                    "200": _ok("The changed activity.", ref("ActivityEnvelope")),
                    **_errors(404, 413, 422),
                },
            ),
            "delete": _operation(
                "deleteActivityHistory",
                "Delete an activity",
                "Deletes one activity of the team.",
                SCOPE_WRITE,
                responses={
                    "204": {"description": "Deleted.", "headers": RATE_LIMIT_HEADERS},
                    **_errors(404),
                },
            ),
        },
    }


def record_paths() -> dict[str, Schema]:
    """The associated-record endpoints of contract section 4."""
    resource = {
        "name": "resource",
        "in": "path",
        "required": True,
        "description": "A resource name of the registry (`email`, `call`, `meeting`, ...): "
        "the `<resource>` of a `<resource>_id` key of `static_data`. A name that is not "
        "in the registry, or whose records come from a remote source, is a 422.",
        "schema": {"type": "string"},
        "example": "email",
    }
    record_id = {
        "name": "record_id",
        "in": "path",
        "required": True,
        "description": "The record's id: the value of the `<resource>_id` key.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "example": "2",
    }
    tags = ["Associated records"]
    attributes = EXAMPLE_RECORD["attributes"]
    envelope = {"data": EXAMPLE_RECORD}
    return {
        "/v2/associated_records/{resource}": {
            "parameters": [resource],
            "put": _operation(
                "putAssociatedRecords",
                "Store many associated records",
                "Creates or replaces records of one resource by id, all or nothing; one "
                "invalid item rejects the batch with a 422 naming its index (`[3].id`). "
                "An item equal to what is stored changes nothing.",
                SCOPE_WRITE,
                tags=tags,
                requestBody=_json_body(
                    ref("AssociatedRecordBatch"), [{"id": 2, "attributes": attributes}]
                ),
                responses={
                    "200": _ok(
                        "What the batch did.",
                        ref("BulkResult"),
                        {"data": {"created": 1, "updated": 0, "unchanged": 0}},
                    ),
                    **_errors(413, 422),
                },
            ),
        },
        "/v2/associated_records/{resource}/{record_id}": {
            "parameters": [resource, record_id],
            "put": _operation(
                "putAssociatedRecord",
                "Store an associated record",
                "Creates or replaces one record (the body is its attributes); activities "
                "referencing it show them in `dynamic_data` from the next read on.",
                SCOPE_WRITE,
                tags=tags,
                requestBody=_json_body(ref("RecordAttributes"), attributes),
                responses={
                    "200": _ok("The record, replaced.", ref("AssociatedRecordEnvelope"), envelope),
                    "201": _ok("The record, created.", ref("AssociatedRecordEnvelope"), envelope),
                    **_errors(413, 422),
                },
            ),
            "get": _operation(
                "getAssociatedRecord",
                "Get an associated record",
                "One record of the team.",
                SCOPE_READ,
                tags=tags,
                responses={
                    "200": _ok("The record.", ref("AssociatedRecordEnvelope"), envelope),
                    **_errors(404, 422),
                },
            ),
            "delete": _operation(
                "deleteAssociatedRecord",
                "Delete an associated record",
                "Deletes one record; activities referencing it then list the resource in "
                "`failed_dynamic_resources`.",
                SCOPE_WRITE,
                tags=tags,
                responses={
                    "204": {"description": "Deleted.", "headers": RATE_LIMIT_HEADERS},
                    **_errors(404, 422),
                },
            ),
        },
    }
