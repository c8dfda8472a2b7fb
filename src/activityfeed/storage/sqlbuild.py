"""SQL for the list query: the filters, order, window and count every store
shares, and each store's page statement (:func:`page_sql` for SQLite,
:func:`list_sql` for PostgreSQL).

Only column names from the allow-lists below and placeholders ever reach the
SQL text; every value the client sent is a bound parameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from activityfeed.model import RESOURCE_TYPES, storable
from activityfeed.query import COUNT_LIMIT, ListQuery, TimeRange

_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_SORT_COLUMNS = {"occurred_at": "occurred_at", "updated_at": "updated_at"}
_MAX_OFFSET = 2**63 - 1
# Values per IN list on SQLite: well under its limit of bound parameters.
IN_LIST_SIZE = 500
# From this many skipped rows on, PostgreSQL finds a page by its keys first (see list_sql).
DEEP_OFFSET = 1000
T = TypeVar("T")


class Where:
    """A conjunction of conditions with its parameters.

    ``placeholder`` is the driver's mark for a parameter: ``?`` (sqlite3) is
    repeated as it is; ``$`` (asyncpg, PostgreSQL's own style) is numbered
    ``$1, $2, ...``, from ``start + 1``, and a list of values becomes one
    array parameter (``= ANY($n)``), so that the statement text does not
    depend on the list's length and stays in the prepared statement cache.
    """

    def __init__(self, placeholder: str, start: int = 0) -> None:
        self.placeholder = placeholder
        self.start = start
        self.parts: list[str] = []
        self.params: list[Any] = []

    @property
    def numbered(self) -> bool:
        """Whether placeholders are PostgreSQL's ``$n``."""
        return self.placeholder == "$"

    def mark(self, offset: int = 0) -> str:
        """The placeholder of the next parameter (plus ``offset``)."""
        if self.numbered:
            return f"${self.start + len(self.params) + offset + 1}"
        return self.placeholder

    def add(self, condition: str, *params: Any) -> None:
        """Add ``condition``, whose ``{}`` are replaced by placeholders."""
        self.parts.append(condition.format(*(self.mark(i) for i in range(len(params)))))
        self.params.extend(params)

    def add_in(self, column: str, values: tuple[str, ...]) -> None:
        """``column IN (...)``; one value becomes ``=``, so that indexes see an equality."""
        distinct = list(dict.fromkeys(values))
        if len(distinct) == 1:
            self.add(f"{column} = {{}}", distinct[0])
        elif self.numbered:
            self.add(f"{column} = ANY({{}})", distinct)
        else:
            marks = ", ".join([self.placeholder] * len(distinct))
            self.parts.append(f"{column} IN ({marks})")
            self.params.extend(distinct)

    def add_range(self, column: str, bounds: TimeRange) -> None:
        """The bounds of one timestamp column."""
        for op, value in bounds.bounds():
            self.add(f"{column} {_OPERATORS[op]} {{}}", value)

    def add_type_map(self, type_map: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        """The object form of ``type``: any of (resource type, one of its types)."""
        alternatives = []
        for resource_type, types in type_map:
            inner = Where(self.placeholder, self.start + len(self.params))
            inner.add("resource_type = {}", resource_type)
            inner.add_in("type", types)
            alternatives.append(f"({inner.sql})")
            self.params.extend(inner.params)
        self.parts.append(
            alternatives[0] if len(alternatives) == 1 else f"({' OR '.join(alternatives)})"
        )

    @property
    def sql(self) -> str:
        """The conditions joined by AND."""
        return " AND ".join(self.parts)


def where_for(team_id: int, query: ListQuery, placeholder: str = "?") -> Where:
    """Every filter of ``query`` for one team."""
    where = Where(placeholder)
    where.add("team_id = {}", team_id)
    if query.types is not None:
        where.add_in("type", query.types)
    if query.type_map is not None:
        where.add_type_map(query.type_map)
    if query.resource_types is not None:
        where.add_in("resource_type", query.resource_types)
    if query.resource_ids is not None:
        where.add_in("resource_id", query.resource_ids)
    if query.ids is not None:
        where.add_in("id", query.ids)
    if query.user_guids is not None:
        where.add_in("user_guid", query.user_guids)
    if query.pinned is not None:
        where.parts.append("pinned_at IS NOT NULL" if query.pinned else "pinned_at IS NULL")
    where.add_range("occurred_at", query.occurred_at)
    where.add_range("updated_at", query.updated_at)
    return where


def order_by(query: ListQuery, sort_matches: bool = False) -> str:
    """The total order: the sort key, then the order of first storage.

    With ``sort_matches`` the sort key is written ``+column``: the same order,
    but no index can deliver it, which steers SQLite's planner (see
    :func:`sorting_matches_is_cheaper`).
    """
    column = _SORT_COLUMNS[query.sort_by]
    direction = "DESC" if query.descending else "ASC"
    key = f"+{column}" if sort_matches else column
    return f"{key} {direction}, seq {direction}"


def sorting_matches_is_cheaper(query: ListQuery) -> bool:
    """Whether the page is best found by a selective index and then sorted.

    Without ``ANALYZE`` statistics SQLite prefers an index that yields the
    order, and would walk the team's whole feed by ``occurred_at`` to find two
    ids or one person's calls sorted by ``updated_at``. A few ids, a few
    resources or the pinned activities are few rows: fetching them by their
    own index and sorting them is far cheaper. Where the filter's index also
    gives the order (one resource by ``occurred_at``) nothing is forced.
    """
    if query.ids is not None:
        return True
    if query.resource_ids is not None and query.resource_types is not None:
        one_resource = len(set(query.resource_ids)) == 1 and len(set(query.resource_types)) == 1
        return not one_resource or query.sort_by != "occurred_at"
    return query.pinned is True and query.sort_by != "occurred_at"


def window(query: ListQuery) -> tuple[int, int]:
    """``LIMIT`` and ``OFFSET`` of a page: one row of look-ahead, the offset 64-bit.

    A page far past the end has an offset beyond a 64-bit integer, which no
    store can bind; clamped, it still selects nothing.
    """
    return query.per_page + 1, min(query.offset, _MAX_OFFSET)


def page_sql(team_id: int, query: ListQuery, steer_planner: bool = False) -> tuple[str, list[Any]]:
    """SQLite's statement of one page (with its look-ahead row) and its parameters.

    The store runs exactly this, and the query-plan tests explain exactly this.
    ``steer_planner`` applies :func:`sorting_matches_is_cheaper` and
    :func:`type_branches` (for SQLite, whose planner has no statistics until
    ``ANALYZE``). PostgreSQL's statement is :func:`list_sql`.
    """
    branches = type_branches(query) if steer_planner else None
    if branches is not None:
        return _union_page_sql(team_id, query, branches)
    where = where_for(team_id, query)
    order = order_by(query, steer_planner and sorting_matches_is_cheaper(query))
    sql = (
        f"SELECT doc, refs FROM activities WHERE {where.sql} "  # noqa: S608
        f"ORDER BY {order} LIMIT ? OFFSET ?"
    )
    return sql, [*where.params, *window(query)]


def without_unstorable(query: ListQuery) -> ListQuery | None:
    """``query`` without filter values that cannot be stored; ``None`` if it matches nothing.

    Such a value must not reach the server, which would answer with an error
    (:func:`~activityfeed.model.storable`).
    """
    changes: dict[str, tuple[str, ...]] = {}
    for name in ("resource_ids", "ids", "user_guids"):
        values: tuple[str, ...] | None = getattr(query, name)
        if values is not None and not all(storable(value) for value in values):
            kept = tuple(value for value in values if storable(value))
            if not kept:
                return None
            changes[name] = kept
    return dataclasses.replace(query, **changes) if changes else query  # type: ignore[arg-type]


def list_sql(team_id: int, query: ListQuery) -> tuple[str, list[Any]]:
    """PostgreSQL's statement of one page (one row of look-ahead) and its parameters.

    PostgreSQL fetches every row that ``OFFSET`` skips from the heap: page 400
    read 10,000 wide rows to return 26. A deep page therefore finds its keys
    in the index first (an index-only scan once the visibility map is set)
    and reads just its own rows.
    """
    where = where_for(team_id, query, "$")
    n = len(where.params)
    order = order_by(query)
    if query.offset < DEEP_OFFSET:
        sql = (
            f"SELECT doc, refs FROM activities WHERE {where.sql} "  # noqa: S608
            f"ORDER BY {order} LIMIT ${n + 1} OFFSET ${n + 2}"
        )
    else:
        sort = "occurred_at" if query.sort_by == "occurred_at" else "updated_at"
        direction = "DESC" if query.descending else "ASC"
        sql = (
            "SELECT a.doc, a.refs FROM ("  # noqa: S608
            f"SELECT seq, {sort} FROM activities WHERE {where.sql} "
            f"ORDER BY {order} LIMIT ${n + 1} OFFSET ${n + 2}) AS page "
            f"JOIN activities AS a ON a.team_id = ${n + 3} AND a.seq = page.seq "
            f"ORDER BY page.{sort} {direction}, page.seq {direction}"
        )
        return sql, [*where.params, *window(query), team_id]
    return sql, [*where.params, *window(query)]


def type_branches(query: ListQuery) -> list[tuple[str, str]] | None:
    """The (resource type, type) pairs of a type filter, when a union of ranges serves it.

    A type filter by ``occurred_at`` is a set of ordered ranges of the type
    index (``team_id, type, resource_type, occurred_at``), one per pair.
    SQLite cannot merge them: it either walks the team's whole feed and
    filters, which crawls when the asked types are rare among recent
    activities, or collects every match and sorts. A union of one ordered,
    limited range per pair reads at most a page's worth of each. Filters with
    a more selective index of their own keep the plain statement.
    """
    if (
        query.sort_by != "occurred_at"
        or query.ids is not None
        or query.resource_ids is not None
        or query.user_guids is not None
        or query.pinned is True
    ):
        return None
    if query.type_map is not None:
        pairs = [(rt, t) for rt, types in query.type_map for t in dict.fromkeys(types)]
    elif query.types is not None:
        resource_types = dict.fromkeys(query.resource_types or RESOURCE_TYPES)
        pairs = [(rt, t) for t in dict.fromkeys(query.types) for rt in resource_types]
    else:
        return None
    if query.resource_types is not None:
        pairs = [(rt, t) for rt, t in pairs if rt in query.resource_types]
    if len(pairs) == 1 and (query.type_map is not None or query.resource_types is not None):
        return None  # one exact range: the plain statement reads it in order
    return pairs or None


def _union_page_sql(
    team_id: int, query: ListQuery, branches: list[tuple[str, str]]
) -> tuple[str, list[Any]]:
    """The page as a union of one ordered, limited index range per (resource type, type)."""
    # The branches carry the type and resource type filters.
    rest = dataclasses.replace(query, types=None, type_map=None, resource_types=None)
    limit, offset = window(query)
    direction = "DESC" if query.descending else "ASC"
    order = f"occurred_at {direction}, seq {direction}"
    parts: list[str] = []
    params: list[Any] = []
    for resource_type, activity_type in branches:
        where = where_for(team_id, rest)
        where.add("type = {}", activity_type)
        where.add("resource_type = {}", resource_type)
        parts.append(
            "SELECT * FROM (SELECT doc, refs, occurred_at, seq FROM activities "  # noqa: S608
            f"WHERE {where.sql} ORDER BY {order} LIMIT ?)"
        )
        params.extend([*where.params, min(limit + offset, _MAX_OFFSET)])
    sql = (
        f"SELECT doc, refs FROM ({' UNION ALL '.join(parts)}) "  # noqa: S608
        f"ORDER BY {order} LIMIT ? OFFSET ?"
    )
    return sql, [*params, limit, offset]


def counts_table_applies(query: ListQuery) -> bool:
    """Whether the per-(type, resource type) counters answer this query's count."""
    return (
        query.resource_ids is None
        and query.ids is None
        and query.user_guids is None
        and query.pinned is None
        and not query.occurred_at
        and not query.updated_at
    )


def counted_pairs(query: ListQuery, placeholder: str = "?") -> Where:
    """Conditions on the counters table equivalent to the query's type filters."""
    where = Where(placeholder)
    if query.types is not None:
        where.add_in("type", query.types)
    if query.resource_types is not None:
        where.add_in("resource_type", query.resource_types)
    if query.type_map is not None:
        where.add_type_map(query.type_map)
    return where


def count_sql(team_id: int, query: ListQuery, placeholder: str = "?") -> tuple[str, list[Any]]:
    """The statement that counts the team's activities matching ``query``, and its parameters.

    The per-(type, resource type) counters answer it when they can
    (:func:`counts_table_applies`); otherwise the rows are counted, up to
    :data:`~activityfeed.query.COUNT_LIMIT` when the query limits counts
    (then read the result through :func:`counted`).
    """
    if counts_table_applies(query):
        pairs = counted_pairs(query, placeholder)
        pairs.add("team_id = {}", team_id)
        return f"SELECT coalesce(sum(n), 0) FROM activity_counts WHERE {pairs.sql}", pairs.params  # noqa: S608
    where = where_for(team_id, query, placeholder)
    inner = f"SELECT 1 FROM activities WHERE {where.sql}"  # noqa: S608
    if query.limit_counts:
        inner += f" LIMIT {COUNT_LIMIT}"
    return f"SELECT count(*) FROM ({inner}) AS page", where.params  # noqa: S608


def counted(total: int, query: ListQuery) -> int:
    """The count :func:`count_sql` found, as the page reports it (capped when the query says so)."""
    return min(int(total), COUNT_LIMIT) if query.limit_counts else int(total)


def chunks(values: Sequence[T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[T]]:
    """``values`` in runs of at most ``size``: one ``IN`` list of bound parameters each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
