"""The fields a create or bulk body may carry (contract, section 3).

Shared by the service's body validation and the client SDK, so it imports
nothing: the client must install and import without the server's packages.
"""

from __future__ import annotations

INPUT_FIELDS: tuple[str, ...] = (
    "id",
    "type",
    "resource_type",
    "resource_id",
    "occurred_at",
    "user_guid",
    "tags",
    "static_data",
    "pinned_at",
)
