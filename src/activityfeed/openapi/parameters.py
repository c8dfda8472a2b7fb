"""The list endpoint's query parameters, as named parameters a generated client can send.

Arrays are documented in the Rails bracket form (``type[]``), the object form
of ``type`` as one parameter per resource type (``type[person][]``) and the
timestamp operators as their full keys (``occurred_at[gt]``). The other forms
the service reads (one value, a repeated key, a comma list, the ``id`` alias)
are told in the descriptions rather than declared: declaring ``type`` beside
``type[]`` gives two parameters that generators name alike (``type_``), and
some then drop the whole operation.

A blank value counts as not given: single-valued parameters have
``allowEmptyValue``, and array items may be blank (they are skipped).
Two rules between parameters have no keyword in OpenAPI; each is in the
descriptions and in an extension a tool can read: ``x-conflicts-with`` (the
array and object forms of ``type`` do not mix) and ``x-requires``
(``resource_id`` needs ``resource_type``).
"""

from __future__ import annotations

from typing import Any

from activityfeed.model import RESOURCE_TYPES
from activityfeed.openapi.schemas import Schema, ref
from activityfeed.query import (
    DEFAULT_PER_PAGE,
    MAX_INTEGER,
    MAX_PER_PAGE,
    SORT_KEYS,
    TIME_OPERATORS,
)

_OPERATOR_WORDS = {"gt": "after", "gte": "at or after", "lt": "before", "lte": "at or before"}
_OBJECT_FORM = tuple(f"type[{resource_type}][]" for resource_type in RESOURCE_TYPES)

# Array parameters of the list endpoint: name, item schema, meaning, extensions.
_ARRAY_PARAMETERS: tuple[tuple[str, Schema, str, dict[str, Any]], ...] = (
    (
        "type",
        ref("ActivityType"),
        "Activity types; cannot be mixed with the object form (`type[person][]`, ...): "
        "a 422 under `type`.",
        {"x-conflicts-with": list(_OBJECT_FORM)},
    ),
    ("resource_type", ref("ResourceType"), "Resource types.", {}),
    (
        "resource_id",
        {"type": "string"},
        "Resource ids, compared as strings (`0007` is not `7`); requires `resource_type`, "
        "else a 422.",
        {"x-requires": ["resource_type[]"]},
    ),
    ("ids", {"type": "string"}, "Activity ids (`{type}-{id}`); `id` is an alias.", {}),
    ("user_guid", {"type": "string"}, "User GUIDs.", {}),
)


def _query(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    """A single-valued parameter: a blank value (``name=``) counts as not given."""
    return {
        "name": name,
        "in": "query",
        "description": f"{description} Blank (`{name}=`): not given.",
        "schema": schema,
        "allowEmptyValue": True,
        **extra,
    }


def _or_blank(item: Schema) -> Schema:
    """An array item that may also be blank: the service skips blank items."""
    if item.get("type") == "string" and "enum" not in item:
        return item  # a blank string is one already
    return {"anyOf": [item, {"const": "", "description": "Blank: skipped."}]}


def _array(name: str, item: Schema, meaning: str, **extra: Any) -> Schema:
    """An array parameter in the bracket form; blank items are skipped, so ``name[]=`` is
    an array of one blank item, not given."""
    return {
        "name": name,
        "in": "query",
        "description": f"{meaning} Sent as `{name}=a&{name}=b`; blank items are skipped.",
        "schema": {"type": "array", "items": _or_blank(item)},
        "style": "form",
        "explode": True,
        **extra,
    }


def _boolean(name: str, description: str, default: bool | None) -> Schema:
    schema: Schema = {"type": "boolean"}
    if default is not None:
        schema["default"] = default
    return _query(name, schema, description + " Also `1`/`0`, in any case.")


def list_parameters() -> dict[str, Schema]:
    """The list endpoint's query parameters, keyed by component name."""
    params: dict[str, Schema] = {
        "per_page": _query(
            "per_page",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PER_PAGE,
                "default": DEFAULT_PER_PAGE,
            },
            "Activities per page (ASCII digits, leading zeros allowed).",
        ),
        "page": _query(
            "page",
            {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER, "default": 1},
            "Page number; a page past the end has `data: []`.",
        ),
        "include_paging_counts": _boolean(
            "include_paging_counts", "Add `total_pages` and `total_count` to `paging`.", False
        ),
        "limit_paging_counts": _boolean(
            "limit_paging_counts", "Stop counting at 10,000: `total_count` is at most 10000.", False
        ),
        "sort_by": _query(
            "sort_by",
            {"type": "string", "enum": list(SORT_KEYS), "default": "occurred_at"},
            "Sort key; ties are broken by the order the activities were first stored.",
        ),
        "sort_direction": _query(
            "sort_direction",
            {"type": "string", "enum": ["DESC", "ASC"], "default": "DESC"},
            "Sort direction, in any case.",
        ),
        "pinned": _boolean(
            "pinned",
            "`true`: only pinned activities (`pinned_at` set); `false`: only unpinned.",
            None,
        ),
    }
    for name, item, meaning, extensions in _ARRAY_PARAMETERS:
        params[name] = _array(
            f"{name}[]",
            item,
            f"{meaning} The service also reads one value (`{name}=a`), a repeated key "
            f"(`{name}=a&{name}=b`) and a comma list (`{name}=a,b`).",
            **extensions,
        )
    for resource_type in RESOURCE_TYPES:
        params[f"type_{resource_type}"] = _array(
            f"type[{resource_type}][]",
            ref("ActivityType"),
            f"The object form of `type`: these types on a `{resource_type}`. The object "
            "form's entries combine with OR (`type[person][]=call&type[account][]=note`: "
            "calls on people or notes on accounts); it cannot be mixed with the array form "
            "(`type[]`): a 422 under `type`.",
            **{"x-conflicts-with": ["type[]"]},
        )
    for column in SORT_KEYS:
        for op in TIME_OPERATORS:
            params[f"{column}_{op}"] = _query(
                f"{column}[{op}]",
                ref("TimestampInput"),
                f"Only activities whose `{column}` is {_OPERATOR_WORDS[op]} this time; "
                "operators combine into a range.",
            )
    return params
