"""The small pieces every part of the OpenAPI document is built from."""

from __future__ import annotations

from typing import Any

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


def object_schema(
    properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any
) -> Schema:
    """An object schema with ``properties``, the ``required`` ones and any other keywords."""
    return {"type": "object", "properties": properties, "required": list(required), **extra}


BULK_COUNTS = ("created", "updated", "unchanged")
