"""Examples shared by the schemas and the operations of the OpenAPI document.

The tests validate each against the schema it illustrates.
"""

from __future__ import annotations

from typing import Any

TIMESTAMP_EXAMPLE = "2019-01-01T00:00:00.000000Z"
EXAMPLE_ACTIVITY: dict[str, Any] = {
    "id": "sent_email-722488662",
    "type": "sent_email",
    "user_guid": "6f2c8a4e-1b3d-4c5e-9f70-8a1b2c3d4e5f",
    "resource_type": "person",
    "resource_id": 1234,
    "occurred_at": "2019-01-01T09:30:00.000000Z",
    "created_at": "2019-01-01T09:30:01.250000Z",
    "updated_at": "2019-01-01T09:30:01.250000Z",
    "pinned_at": None,
    "tags": ["q1-campaign"],
    "static_data": {"email_id": 2},
    "dynamic_data": {"subject": "Following up", "status": "sent"},
    "failed_dynamic_resources": [],
}
EXAMPLE_CREATED = {key: value for key, value in EXAMPLE_ACTIVITY.items() if key != "dynamic_data"}
EXAMPLE_CREATE_BODY: dict[str, Any] = {
    "type": "sent_email",
    "resource_type": "person",
    "resource_id": 1234,
    "id": "sent_email-722488662",
    "occurred_at": "2019-01-01T09:30:00Z",
    "user_guid": "6f2c8a4e-1b3d-4c5e-9f70-8a1b2c3d4e5f",
    "tags": ["q1-campaign"],
    "static_data": {"email_id": 2},
}
EXAMPLE_RECORD: dict[str, Any] = {
    "resource": "email",
    "id": "2",
    "attributes": {"subject": "Following up", "status": "sent", "counts": {"views": 3}},
    "created_at": "2019-01-01T09:29:58.000000Z",
    "updated_at": "2019-01-01T09:29:58.000000Z",
}
