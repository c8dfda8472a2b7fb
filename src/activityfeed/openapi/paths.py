"""The ``/v2`` paths of the OpenAPI document: activities and associated records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from activityfeed.model import SCOPE_READ, SCOPE_WRITE
from activityfeed.openapi import patterns
from activityfeed.openapi.examples import EXAMPLE_CREATE_BODY, EXAMPLE_RECORD
from activityfeed.openapi.parameters import list_parameters
from activityfeed.openapi.responses import RATE_LIMIT_HEADERS, protocol_errors, response_ref
from activityfeed.openapi.schemas import Schema, ref
from activityfeed.records.service import MAX_ID_LENGTH

JSON = "application/json"
NDJSON = "application/x-ndjson"


def _ok(description: str, schema: Schema, example: Any = None) -> Schema:
    content: Schema = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "headers": RATE_LIMIT_HEADERS, "content": {JSON: content}}


def _errors(*statuses: int) -> dict[str, Schema]:
    """The error responses of a ``/v2`` operation: 401, 403, 429 and 503 always, and those
    of every operation (400, 405, 414, 431)."""
    names = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        413: "PayloadTooLarge",
        422: "ValidationFailed",
        429: "RateLimited",
        503: "Unavailable",
    }
    wanted = {str(s): response_ref(names[s]) for s in {401, 403, 429, 503, *statuses}}
    merged = {**wanted, **protocol_errors(api=True)}
    return {status: merged[status] for status in sorted(merged)}


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


def _links(operations: dict[str, str], parameters: dict[str, str]) -> Schema:
    """OpenAPI links from a response to ``operations`` (link name -> operationId)."""
    return {
        name: {"operationId": operation_id, "parameters": parameters}
        for name, operation_id in operations.items()
    }


# What a created activity leads to: its id is the path of the one-activity operations.
_ACTIVITY_LINKS = {
    "GetActivity": "getActivityHistory",
    "UpdateActivity": "updateActivityHistory",
    "DeleteActivity": "deleteActivityHistory",
}


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
        "blank one counts as not given; a 422 names every invalid one. The array form of "
        "`type` (`type[]`) and its object form (`type[person][]`, ...) cannot be mixed, and "
        "`resource_id[]` needs `resource_type[]` (the parameters' `x-conflicts-with` and "
        "`x-requires`).",
        SCOPE_READ,
        parameters=[{"$ref": f"#/components/parameters/{name}"} for name in list_parameters()],
        responses={"200": _ok("A page of activities.", ref("ActivityList")), **_errors(422)},
    )


def _create_operation(operation_id: str, suffix: str) -> Schema:
    created = _ok("The created activity, without `dynamic_data`.", ref("CreatedActivityEnvelope"))
    created["links"] = _links(_ACTIVITY_LINKS, {"activity_id": "$response.body#/data/id"})
    return _operation(
        operation_id,
        f"Create an activity{suffix}",
        "Stores one activity. Omitted optional fields (or `null` ones) default to null "
        "(`user_guid`, `pinned_at`), `[]` (`tags`) and `{}` (`static_data`); `occurred_at` "
        "defaults to now. An `id` already stored for the team is a 422 `has already been "
        "taken`.",
        SCOPE_WRITE,
        requestBody=_json_body(ref("ActivityCreate"), EXAMPLE_CREATE_BODY),
        responses={"201": created, **_errors(413, 422)},
    )


def activity_paths() -> dict[str, Schema]:
    """The activity endpoints of contract sections 2 and 3."""
    activity_id = {
        "name": "activity_id",
        "in": "path",
        "required": True,
        "description": "The activity's id, `{type}-{id}`; any other string is a 404 like an "
        "unknown id.",
        "schema": {"type": "string", "pattern": patterns.activity_id()},
        "example": "sent_email-722488662",
    }
    bulk_example = [EXAMPLE_CREATE_BODY, {**EXAMPLE_CREATE_BODY, "id": "sent_email-722488663"}]
    # An NDJSON body's example is its items, as for JSON: /docs shows them one per line.
    ndjson_example = [
        {"id": f"call-{n}", "type": "call", "resource_type": "person", "resource_id": 7}
        for n in (1, 2)
    ]
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
                                **ref("BulkActivities"),
                                "description": "The same array as NDJSON: each item one "
                                "JSON object on a line of its own; blank lines are skipped.",
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


def _resource_schema(local_names: Iterable[str]) -> Schema:
    names = sorted(local_names)
    if not names:
        return {"not": {}, "description": "No resource is stored here: every one is remote."}
    return {"type": "string", "enum": names}


def record_paths(local_names: Iterable[str]) -> dict[str, Schema]:
    """The associated-record endpoints of contract section 4, for the resource names whose
    records the service stores itself (``local_names``)."""
    resource = {
        "name": "resource",
        "in": "path",
        "required": True,
        "description": "A resource name whose records this service stores: the `<resource>` "
        "of a `<resource>_id` key of `static_data`. A name that is not in the registry, or "
        "whose records come from a remote source, is a 422.",
        "schema": _resource_schema(local_names),
        "example": "email",
    }
    record_id = {
        "name": "record_id",
        "in": "path",
        "required": True,
        "description": "The record's id, the value of the `<resource>_id` key: 1 to "
        f"{MAX_ID_LENGTH} characters without `/` or control characters (an integer id as its "
        "digits).",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_ID_LENGTH,
            "pattern": patterns.RECORD_ID,
        },
        "example": "2",
    }
    tags = ["Associated records"]
    attributes = EXAMPLE_RECORD["attributes"]
    envelope = {"data": EXAMPLE_RECORD}
    record_links = _links(
        {"GetRecord": "getAssociatedRecord", "DeleteRecord": "deleteAssociatedRecord"},
        {"resource": "$request.path.resource", "record_id": "$request.path.record_id"},
    )
    stored = _ok("The record, created.", ref("AssociatedRecordEnvelope"), envelope)
    replaced = _ok("The record, replaced.", ref("AssociatedRecordEnvelope"), envelope)
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
                    "200": {**replaced, "links": record_links},
                    "201": {**stored, "links": record_links},
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
