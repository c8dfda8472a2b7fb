"""The list endpoint's query parameters, as named parameters a generated client can send.

Arrays are documented in the Rails bracket form (``type[]``), the object form
of ``type`` as one parameter per resource type (``type[person][]``) and the
timestamp operators as their full keys (``occurred_at[gt]``). The other forms
the service reads (one value, a repeated key, a comma list, the ``id`` alias)
are told in the descriptions rather than declared: declaring ``type`` beside
``type[]`` gives two parameters that generators name alike (``type_``), and
some then drop the whole operation.
"""

from __future__ import annotations

from typing import Any

from activityfeed.model import RESOURCE_TYPES
from activityfeed.openapi.schemas import Schema, ref
from activityfeed.query import DEFAULT_PER_PAGE, MAX_PER_PAGE, SORT_KEYS, TIME_OPERATORS

_OPERATOR_WORDS = {"gt": "after", "gte": "at or after", "lt": "before", "lte": "at or before"}

# Array parameters of the list endpoint: name, item schema, meaning.
_ARRAY_PARAMETERS: tuple[tuple[str, Schema, str], ...] = (
    ("type", ref("ActivityType"), "Activity types."),
    ("resource_type", ref("ResourceType"), "Resource types."),
    (
        "resource_id",
        {"type": ["integer", "string"]},
        "Resource ids, compared as strings; requires `resource_type` (else 422).",
    ),
    ("ids", {"type": "string"}, "Activity ids (`{type}-{id}`); `id` is an alias."),
    ("user_guid", {"type": "string"}, "User GUIDs."),
)


def _query(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": "query", "description": description, "schema": schema, **extra}


def _array(name: str, item: Schema, meaning: str) -> Schema:
    return _query(
        f"{name}[]",
        {"type": "array", "items": item},
        f"{meaning} Sent as `{name}[]=a&{name}[]=b`; the service also reads one value "
        f"(`{name}=a`), a repeated key (`{name}=a&{name}=b`) and a comma list (`{name}=a,b`).",
        style="form",
        explode=True,
    )


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
            "Activities per page.",
        ),
        "page": _query(
            "page",
            {"type": "integer", "minimum": 1, "default": 1},
            "Page number; a page past the end has `data: []`.",
        ),
        "include_paging_counts": _query(
            "include_paging_counts",
            {"type": "boolean", "default": False},
            "Add `total_pages` and `total_count` to `paging` (also `1`/`0`, any case).",
        ),
        "limit_paging_counts": _query(
            "limit_paging_counts",
            {"type": "boolean", "default": False},
            "Stop counting at 10,000: `total_count` is at most 10000.",
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
        "pinned": _query(
            "pinned",
            {"type": "boolean"},
            "`true`: only pinned activities (`pinned_at` set); `false`: only unpinned.",
        ),
    }
    for name, item, meaning in _ARRAY_PARAMETERS:
        params[name] = _array(name, item, meaning)
    for resource_type in RESOURCE_TYPES:
        params[f"type_{resource_type}"] = _query(
            f"type[{resource_type}][]",
            {"type": "array", "items": ref("ActivityType")},
            f"The object form of `type`: these types on a `{resource_type}`. The object "
            "form's entries combine with OR (`type[person][]=call&type[account][]=note`: "
            "calls on people or notes on accounts); it cannot be mixed with the array form.",
            style="form",
            explode=True,
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
