"""List filters as Python keyword arguments, encoded the way the contract reads them.

``ListFilters`` names every parameter of ``GET /v2/activity_histories``
(contract, section 2). Arrays are sent in the Rails bracket form
(``type[]=call&type[]=note``), the object form of ``type`` as
``type[person][]=call``, timestamps as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``,
booleans as ``true``/``false``: the forms both this service and Salesloft read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TypedDict

from activityfeed.client.models import format_time

Moment = datetime | date | str
ResourceId = int | str


class ListFilters(TypedDict, total=False):
    """The keyword arguments of the list methods, one per contract parameter.

    The timestamp operators are spelled ``occurred_at_gte`` for
    ``occurred_at[gte]``. ``type`` is one type, a sequence of types, or the
    object form as a mapping (``{"person": ["call"], "account": ["note"]}``).
    """

    page: int
    per_page: int
    include_paging_counts: bool
    limit_paging_counts: bool
    sort_by: str
    sort_direction: str
    type: str | Sequence[str] | Mapping[str, Sequence[str]]
    occurred_at_gt: Moment
    occurred_at_gte: Moment
    occurred_at_lt: Moment
    occurred_at_lte: Moment
    updated_at_gt: Moment
    updated_at_gte: Moment
    updated_at_lt: Moment
    updated_at_lte: Moment
    pinned: bool
    resource_type: str | Sequence[str]
    resource_id: ResourceId | Sequence[ResourceId]
    ids: str | Sequence[str]
    user_guid: str | Sequence[str]


_SCALARS = ("page", "per_page", "sort_by", "sort_direction")
_BOOLEANS = ("include_paging_counts", "limit_paging_counts", "pinned")
_ARRAYS = ("resource_type", "resource_id", "ids", "user_guid")
_TIME_COLUMNS = ("occurred_at", "updated_at")
_OPERATORS = ("gt", "gte", "lt", "lte")
KNOWN = frozenset(
    (
        *_SCALARS,
        *_BOOLEANS,
        *_ARRAYS,
        "type",
        *(f"{column}_{op}" for column in _TIME_COLUMNS for op in _OPERATORS),
    )
)


def encode_moment(value: Moment) -> str:
    """A timestamp filter value: datetimes in the contract's form, dates as dates."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _array(name: str, value: object) -> list[tuple[str, str]]:
    if isinstance(value, (str, int)):
        return [(name, _scalar(value))]
    if isinstance(value, Sequence):
        return [(f"{name}[]", _scalar(item)) for item in value]
    raise TypeError(f"{name} must be a value or a sequence of values, not {type(value).__name__}")


def encode_filters(filters: Mapping[str, object]) -> list[tuple[str, str]]:
    """The query string pairs of a list request's keyword arguments.

    ``None`` values are left out; an unknown name is a :class:`TypeError`
    (a typo would otherwise silently widen the query: the service ignores
    unknown parameters).
    """
    unknown = sorted(set(filters) - KNOWN)
    if unknown:
        raise TypeError(f"unknown list filter(s): {', '.join(unknown)}")
    pairs: list[tuple[str, str]] = []
    for name in _SCALARS + _BOOLEANS:
        value = filters.get(name)
        if value is not None:
            pairs.append((name, _scalar(value)))
    kind = filters.get("type")
    if isinstance(kind, Mapping):
        for resource_type, types in kind.items():
            pairs.extend(_array(f"type[{resource_type}]", types))
            if isinstance(types, str):  # one type under a resource type is still an array
                pairs[-1] = (f"type[{resource_type}][]", types)
    elif kind is not None:
        pairs.extend(_array("type", kind))
    for column in _TIME_COLUMNS:
        for op in _OPERATORS:
            moment = filters.get(f"{column}_{op}")
            if moment is not None:
                if not isinstance(moment, (datetime, date, str)):
                    raise TypeError(f"{column}_{op} must be a datetime, a date or a string")
                pairs.append((f"{column}[{op}]", encode_moment(moment)))
    for name in _ARRAYS:
        value = filters.get(name)
        if value is not None:
            pairs.extend(_array(name, value))
    return pairs
