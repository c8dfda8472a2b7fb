"""Parsing the list endpoint's query string into a :class:`ListQuery`.

A pure function of the raw (key, value) pairs: it knows nothing of SQL or HTTP,
and it reports every invalid parameter at once (contract, section 2).

Rules that the contract leaves to us, written down in ``docs/api.md``:

* a blank value (``per_page=``, ``type=``) counts as not given, and blank items
  of a comma list are skipped;
* a scalar parameter given twice takes the last value (as Rack does);
* ``name[0]=a&name[1]=b`` (indexed brackets) is an array too, in the order given;
* the object form of ``type`` cannot be mixed with its array form;
* integers are ASCII digits, leading zeros allowed, ``page`` at most
  :data:`MAX_INTEGER`; booleans and ``sort_direction`` ignore ASCII case only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from activityfeed.errors import ErrorCollector
from activityfeed.model import ACTIVITY_TYPE_SET, RESOURCE_TYPE_SET
from activityfeed.timestamps import TimestampError, format_timestamp, parse_timestamp

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25
COUNT_LIMIT = 10_000
# The largest integer parameter (so the largest page): it and the row offset of
# its page stay 64-bit integers once the store clamps the offset (sqlbuild.window).
MAX_INTEGER = 10**18 - 1
SORT_KEYS = ("occurred_at", "updated_at")
TIME_OPERATORS = ("gt", "gte", "lt", "lte")
ARRAY_PARAMS = ("resource_type", "resource_id", "ids", "user_guid")
SCALAR_PARAMS = (
    "per_page",
    "page",
    "include_paging_counts",
    "limit_paging_counts",
    "sort_by",
    "sort_direction",
    "pinned",
)

_KEY = re.compile(r"([A-Za-z0-9_]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_DIGITS = re.compile(r"[0-9]+")
_BOOLS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Bounds on one timestamp column, in microseconds; ``None`` when not given."""

    gt: int | None = None
    gte: int | None = None
    lt: int | None = None
    lte: int | None = None

    def __bool__(self) -> bool:
        return not (self.gt is None and self.gte is None and self.lt is None and self.lte is None)

    def bounds(self) -> list[tuple[str, int]]:
        """The given bounds as ``(operator, value)`` pairs, in a fixed order."""
        return [(op, v) for op in TIME_OPERATORS if (v := getattr(self, op)) is not None]


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A validated list request: filters, order and page."""

    per_page: int = DEFAULT_PER_PAGE
    page: int = 1
    include_counts: bool = False
    limit_counts: bool = False
    sort_by: str = "occurred_at"
    descending: bool = True
    types: tuple[str, ...] | None = None
    type_map: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    occurred_at: TimeRange = TimeRange()
    updated_at: TimeRange = TimeRange()
    pinned: bool | None = None
    resource_types: tuple[str, ...] | None = None
    resource_ids: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    user_guids: tuple[str, ...] | None = None
    filtering: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.per_page

    @property
    def sort_direction(self) -> str:
        """The direction as the ``sorting`` echo spells it."""
        return "DESC NULLS LAST" if self.descending else "ASC NULLS FIRST"


def _split(values: Iterable[str]) -> list[str]:
    """Array items: every value, comma lists split, blank items skipped."""
    return [item for value in values for item in value.split(",") if item != ""]


def parse_list_query(pairs: Iterable[tuple[str, str]]) -> ListQuery:
    """Turn the query string's (key, value) pairs into a :class:`ListQuery`.

    Raises :class:`activityfeed.errors.Invalid` naming every invalid parameter.
    """
    errors = ErrorCollector()
    raw = _gather(pairs, errors)
    # The echo of the filters, in the order the response gives them.
    filtering: dict[str, Any] = {}
    per_page, page, include_counts, limit_counts = _paging(raw.scalars, errors)
    sort_by, descending = _sorting(raw.scalars, errors)
    types, type_map = _type_filter(raw, errors, filtering)
    ranges = _time_ranges(raw.times, errors, filtering)
    pinned = _pinned(raw.scalars, errors, filtering)
    values = _array_filters(raw.arrays, errors, filtering)
    errors.raise_if_any()
    return ListQuery(
        per_page=per_page,
        page=page,
        include_counts=include_counts,
        limit_counts=limit_counts,
        sort_by=sort_by,
        descending=descending,
        types=types,
        type_map=type_map,
        occurred_at=ranges["occurred_at"],
        updated_at=ranges["updated_at"],
        pinned=pinned,
        resource_types=values.get("resource_type"),
        resource_ids=values.get("resource_id"),
        ids=values.get("ids"),
        user_guids=values.get("user_guid"),
        filtering=filtering,
    )


@dataclass(slots=True)
class _Raw:
    """The query string's parameters of ours, sorted by family, not yet validated."""

    scalars: dict[str, str] = field(default_factory=dict)
    arrays: dict[str, list[str]] = field(default_factory=dict)
    type_list: list[str] | None = None
    type_object: dict[str, list[str]] | None = None
    times: dict[str, dict[str, str]] = field(default_factory=dict)


def _gather(pairs: Iterable[tuple[str, str]], errors: ErrorCollector) -> _Raw:
    """Sort the pairs by parameter family; a key of the wrong shape is an error."""
    raw = _Raw()
    for raw_key, value in pairs:
        match = _KEY.fullmatch(raw_key)
        if match is None:
            continue  # not a parameter of ours
        name, segments = match.group(1), _SEGMENT.findall(match.group(2))
        if name == "id":
            name = "ids"
        if name in SCALAR_PARAMS:
            if value != "":
                raw.scalars[name] = value
        elif name == "type":
            _gather_type(raw, segments, value, errors)
        elif name in ARRAY_PARAMS:
            if len(segments) > 1 or (segments and not _is_index(segments[0])):
                errors.add(name, "must be a value or an array of values")
            else:
                raw.arrays.setdefault(name, []).extend(_split([value]))
        elif name in SORT_KEYS:
            _gather_time(raw, raw_key, name, segments, value, errors)
    return raw


def _gather_type(raw: _Raw, segments: list[str], value: str, errors: ErrorCollector) -> None:
    """``type``, ``type[]``, ``type[0]`` (array form) or ``type[person][]`` (object form)."""
    items = _split([value])
    if not segments or (len(segments) == 1 and _is_index(segments[0])):
        if items:  # a blank value counts as not given, also for the mixing rule
            raw.type_list = (raw.type_list or []) + items
    elif len(segments) <= 2 and (len(segments) == 1 or _is_index(segments[1])):
        if items:
            raw.type_object = raw.type_object or {}
            raw.type_object.setdefault(segments[0], []).extend(items)
    else:
        errors.add("type", "is not a valid type filter")


def _gather_time(
    raw: _Raw, raw_key: str, column: str, segments: list[str], value: str, errors: ErrorCollector
) -> None:
    """``occurred_at[gte]`` and the like: one bound on one timestamp column."""
    if len(segments) == 1 and segments[0] in TIME_OPERATORS:
        if value != "":
            raw.times.setdefault(column, {})[segments[0]] = value
    elif len(segments) == 1:
        errors.add(raw_key, "is not a known operator: use gt, gte, lt or lte")
    else:
        errors.add(column, "must be given with an operator: gt, gte, lt or lte")


def _paging(scalars: dict[str, str], errors: ErrorCollector) -> tuple[int, int, bool, bool]:
    """``per_page``, ``page``, ``include_paging_counts`` and ``limit_paging_counts``."""
    per_page = _parse_int(scalars.get("per_page"), "per_page", 1, MAX_PER_PAGE, errors)
    page = _parse_int(scalars.get("page"), "page", 1, None, errors)
    include_counts = _parse_bool(
        scalars.get("include_paging_counts"), "include_paging_counts", errors
    )
    limit_counts = _parse_bool(scalars.get("limit_paging_counts"), "limit_paging_counts", errors)
    return per_page, page, bool(include_counts), bool(limit_counts)


def _sorting(scalars: dict[str, str], errors: ErrorCollector) -> tuple[str, bool]:
    """``sort_by`` and ``sort_direction``: the column, and whether it runs descending."""
    sort_by = scalars.get("sort_by", "occurred_at")
    if sort_by not in SORT_KEYS:
        errors.add("sort_by", "must be one of: occurred_at, updated_at")
    direction = scalars.get("sort_direction", "DESC")
    # ASCII only: str.upper() would also turn "a\u017fc" (a long s) into "ASC".
    direction = direction.upper() if direction.isascii() else direction
    if direction not in ("ASC", "DESC"):
        errors.add("sort_direction", "must be one of: ASC, DESC")
    return sort_by, direction == "DESC"


def _type_filter(
    raw: _Raw, errors: ErrorCollector, filtering: dict[str, Any]
) -> tuple[tuple[str, ...] | None, tuple[tuple[str, tuple[str, ...]], ...] | None]:
    """``type`` in its array form (``types``) or its object form (``type_map``), never both."""
    if raw.type_list is not None and raw.type_object is not None:
        errors.add("type", "cannot mix the array form with the object form")
        return None, None
    if raw.type_list:
        for t in raw.type_list:
            if t not in ACTIVITY_TYPE_SET:
                errors.add("type", f"{t!r} is not a valid activity type")
        filtering["type"] = list(raw.type_list)
        return tuple(raw.type_list), None
    if raw.type_object:
        return None, _type_map(raw.type_object, errors, filtering)
    return None, None


def _type_map(
    type_object: dict[str, list[str]], errors: ErrorCollector, filtering: dict[str, Any]
) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    """The object form of ``type``: activity types per resource type."""
    entries = []
    for resource_type, resource_types in type_object.items():
        if resource_type not in RESOURCE_TYPE_SET:
            errors.add("type", f"{resource_type!r} is not a valid resource type")
        for t in resource_types:
            if t not in ACTIVITY_TYPE_SET:
                errors.add("type", f"{t!r} is not a valid activity type")
        if resource_types:
            entries.append((resource_type, tuple(resource_types)))
    if not entries:
        return None
    filtering["type"] = {rt: list(ts) for rt, ts in entries}
    return tuple(entries)


def _time_ranges(
    times: dict[str, dict[str, str]], errors: ErrorCollector, filtering: dict[str, Any]
) -> dict[str, TimeRange]:
    """The bounds on ``occurred_at`` and ``updated_at``, each timestamp parsed."""
    ranges: dict[str, TimeRange] = {}
    for column in SORT_KEYS:
        given = times.get(column, {})
        parsed: dict[str, int] = {}
        for op in TIME_OPERATORS:
            if op in given:
                try:
                    parsed[op] = parse_timestamp(given[op])
                except TimestampError as exc:
                    errors.add(f"{column}[{op}]", str(exc))
        ranges[column] = TimeRange(**parsed)
        if parsed:
            filtering[column] = {op: format_timestamp(v) for op, v in parsed.items()}
    return ranges


def _pinned(
    scalars: dict[str, str], errors: ErrorCollector, filtering: dict[str, Any]
) -> bool | None:
    """``pinned``: ``None`` when not given."""
    pinned = _parse_bool(scalars.get("pinned"), "pinned", errors, None)
    if pinned is not None:
        filtering["pinned"] = pinned
    return pinned


def _array_filters(
    arrays: dict[str, list[str]], errors: ErrorCollector, filtering: dict[str, Any]
) -> dict[str, tuple[str, ...]]:
    """The resource filters and the id lists (:data:`ARRAY_PARAMS`), by name.

    ``resource_id`` needs ``resource_type``; an array without items counts as
    not given.
    """
    values = {name: tuple(items) for name, items in arrays.items() if items}
    for t in values.get("resource_type", ()):
        if t not in RESOURCE_TYPE_SET:
            errors.add("resource_type", f"{t!r} is not a valid resource type")
    if "resource_id" in values and "resource_type" not in values:
        errors.add("resource_id", "requires resource_type")
    for name in ARRAY_PARAMS:
        if name in values:
            filtering[name] = list(values[name])
    return values


def _is_index(segment: str) -> bool:
    return segment == "" or _DIGITS.fullmatch(segment) is not None


def integer_value(text: str) -> int | None:
    """The value of a parameter of ASCII digits, or ``None`` when it is not one.

    Leading zeros are harmless ("007"); only the significant digits count, and
    int() never sees more of them than fit: anything longer reads as
    ``MAX_INTEGER + 1``. The rate limiter reads ``page`` with this too, so a
    page costs what the list endpoint serves.
    """
    if _DIGITS.fullmatch(text) is None:
        return None
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= len(str(MAX_INTEGER)) else MAX_INTEGER + 1


def _parse_int(
    text: str | None, name: str, low: int, high: int | None, errors: ErrorCollector
) -> int:
    default = {"per_page": DEFAULT_PER_PAGE, "page": 1}[name]
    if text is None:
        return default
    number = integer_value(text)
    if number is None:
        errors.add(name, _range_message(low, high))
        return default
    if number < low or (high is not None and number > high):
        errors.add(name, _range_message(low, high))
        return default
    if number > MAX_INTEGER:
        errors.add(name, f"must be at most {MAX_INTEGER}")
        return default
    return number


def _range_message(low: int, high: int | None) -> str:
    if high is None:
        return f"must be an integer greater than or equal to {low}"
    return f"must be an integer in the range [{low}, {high}]"


def _parse_bool(
    text: str | None, name: str, errors: ErrorCollector, default: bool | None = False
) -> bool | None:
    if text is None:
        return default
    value = _BOOLS.get(text.lower())
    if value is None:
        errors.add(name, "must be true or false")
        return default
    return value
