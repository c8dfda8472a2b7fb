"""The list endpoint's main shapes use an index on SQLite, never a scan of the table.

Each shape is explained with ``EXPLAIN QUERY PLAN`` on the statement the store
really runs (:func:`activityfeed.storage.sqlbuild.page_sql`), on an empty store
and on one with data, both without ``ANALYZE`` statistics (as a fresh install
runs), and once more after ``ANALYZE``. Where an index gives the order, the
plan must not sort (no temporary B-tree).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from activityfeed.model import ACTIVITY_TYPES, RESOURCE_TYPES, ActivityInput
from activityfeed.query import ListQuery, parse_list_query
from activityfeed.storage.sqlbuild import page_sql
from activityfeed.storage.sqlite.store import SQLiteStorage

TEAM = 1
GUIDS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(20)]

# (shape, query string, the index it must use, whether that index gives the order)
SHAPES: list[tuple[str, str, str, bool]] = [
    ("feed by occurred_at", "", "activities_team_occurred", True),
    ("feed by occurred_at ASC", "sort_direction=asc", "activities_team_occurred", True),
    ("feed by updated_at", "sort_by=updated_at", "activities_team_updated", True),
    (
        "feed by updated_at ASC",
        "sort_by=updated_at&sort_direction=ASC",
        "activities_team_updated",
        True,
    ),
    (
        "feed page 40",
        "per_page=100&page=40&include_paging_counts=true",
        "activities_team_occurred",
        True,
    ),
    ("occurred_at range", "occurred_at[gte]=2019-01-01", "activities_team_occurred", True),
    (
        "resource timeline",
        "resource_type=person&resource_id=17",
        "activities_team_resource",
        True,
    ),
    (
        "resource timeline ASC in a range",
        "resource_type=account&resource_id=3&sort_direction=asc&occurred_at[lt]=2020-01-01",
        "activities_team_resource",
        True,
    ),
    (
        "resource timeline by updated_at",
        "resource_type=person&resource_id=17&sort_by=updated_at",
        "activities_team_resource",
        False,
    ),
    (
        "several resources",
        "resource_type[]=person&resource_type[]=account&resource_id=17,18,19",
        "activities_team_resource",
        False,
    ),
    (
        "one type in a range",
        "type=call&occurred_at[gte]=2019-01-01&occurred_at[lt]=2019-02-01",
        "activities_team_type",
        True,
    ),
    (
        "one type in a range ASC",
        "type[]=note&occurred_at[gt]=2019-01-01&sort_direction=asc",
        "activities_team_type",
        True,
    ),
    (
        "types in a range",
        "type=call,note,sent_email&occurred_at[gte]=2019-01-01&occurred_at[lt]=2019-06-01",
        "activities_team_type",
        True,
    ),
    ("types", "type[]=call&type[]=email_reply", "activities_team_type", True),
    (
        "type object",
        "type[person][]=call&type[person][]=note&type[account][]=note",
        "activities_team_type",
        True,
    ),
    ("type of a resource type", "type=call&resource_type=person", "activities_team_type", True),
    ("type object, one pair", "type[person][]=call", "activities_team_type", True),
    (
        "updated_at sync",
        "sort_by=updated_at&sort_direction=ASC&updated_at[gt]=2019-01-01T00:00:00.000001Z",
        "activities_team_updated",
        True,
    ),
    (
        "updated_at sync of one type",
        "sort_by=updated_at&sort_direction=asc&updated_at[gt]=2019-01-01&type=call",
        "activities_team_updated",
        True,
    ),
    ("user_guid", f"user_guid={GUIDS[3]}", "activities_team_user", True),
    ("pinned", "pinned=true", "activities_team_pinned", True),
    ("pinned by updated_at", "pinned=true&sort_by=updated_at", "activities_team_pinned", False),
    ("ids", "ids[]=call-5&ids[]=note-9", "activities_team_id", False),
    ("one id", "id=call-5", "activities_team_id", True),
]


def dataset(team_id: int, count: int, seed: int) -> list[ActivityInput]:
    """Activities spread over types, resources, users and two years, a few pinned."""
    rnd = random.Random(seed)
    start = 1_546_300_800_000_000  # 2019-01-01
    items = []
    for n in range(count):
        activity_type = rnd.choice(ACTIVITY_TYPES)
        items.append(
            ActivityInput(
                type=activity_type,
                resource_type=rnd.choice(RESOURCE_TYPES),
                resource_id=str(rnd.randrange(200)),
                id=f"{activity_type}-{n}",
                occurred_at=start + rnd.randrange(2 * 365 * 86_400_000_000),
                user_guid=rnd.choice([*GUIDS, None]),
                pinned_at=start if rnd.random() < 0.02 else None,
            )
        )
    return items


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SQLiteStorage]]:
    """An empty store and one with 6,000 activities over three teams, neither analysed."""
    root = tmp_path_factory.mktemp("plans")
    empty = SQLiteStorage(str(root / "empty.db"))
    full = SQLiteStorage(str(root / "full.db"))
    for store in (empty, full):
        store.open_sync()
        for name in ("a", "b", "c"):
            asyncio.run(store.ensure_team(name))
    for team_id, count in ((1, 4000), (2, 1500), (3, 500)):
        items = dataset(team_id, count, seed=team_id)
        full.write_sync(lambda conn, t=team_id, i=items: full.upsert_sync(conn, t, i))
    yield {"empty": empty, "full": full}
    for store in (empty, full):
        store.close_sync()


def query_of(text: str) -> ListQuery:
    """A parsed list query from a query string."""
    return parse_list_query(parse_qsl(text, keep_blank_values=True))


def plan(store: SQLiteStorage, query: ListQuery) -> list[str]:
    """The ``EXPLAIN QUERY PLAN`` lines of the page statement the store runs."""
    sql, params = page_sql(TEAM, query, steer_planner=True)
    rows = store.reader.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return [str(row[3]) for row in rows]


def assert_uses_index(lines: list[str], index: str | None, ordered: bool) -> None:
    """One indexed search by team, of ``index`` when given; no sort when ``ordered``.

    A type filter is a union of ranges (sqlbuild.type_branches): every branch
    reads one exact, ordered range of the type index, and only the union's few
    rows (at most a page's worth per branch) are sorted.
    """
    if "COMPOUND QUERY" in lines:
        searches = [line for line in lines if line.startswith("SEARCH activities")]
        assert searches, lines
        for search in searches:
            assert search.startswith(
                "SEARCH activities USING INDEX activities_team_type "
                "(team_id=? AND type=? AND resource_type=?"
            ), lines
        sorts = [line for line in lines if "TEMP B-TREE" in line]
        assert sorts == ["USE TEMP B-TREE FOR ORDER BY"], lines
        assert lines[-1] == "USE TEMP B-TREE FOR ORDER BY", lines  # the outer sort only
        return
    searches = [line for line in lines if "activities" in line]
    assert len(searches) == 1, lines
    assert searches[0].startswith("SEARCH activities USING "), lines
    assert "INDEX" in searches[0] and "(team_id=?" in searches[0], lines
    if index is not None:
        assert f"INDEX {index} (" in searches[0], lines
    if ordered:
        assert not any("TEMP B-TREE" in line for line in lines), lines


@pytest.mark.parametrize("store_name", ["empty", "full"])
@pytest.mark.parametrize(
    ("shape", "text", "index", "ordered"), SHAPES, ids=[shape[0] for shape in SHAPES]
)
def test_main_shapes_use_their_index_without_statistics(
    stores: dict[str, SQLiteStorage],
    store_name: str,
    shape: str,
    text: str,
    index: str,
    ordered: bool,
) -> None:
    store = stores[store_name]
    assert store.reader.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).fetchone() == (0,)
    assert_uses_index(plan(store, query_of(text)), index, ordered)


def test_main_shapes_still_use_an_index_after_analyze(tmp_path: Path) -> None:
    store = SQLiteStorage(str(tmp_path / "analysed.db"))
    store.open_sync()
    try:
        asyncio.run(store.ensure_team("a"))
        items = dataset(TEAM, 3000, seed=7)
        store.write_sync(lambda conn: store.upsert_sync(conn, TEAM, items))
        store.write_sync(lambda conn: conn.execute("ANALYZE"))
        store.reader.execute("ANALYZE sqlite_schema")  # reload the new statistics
        for shape, text, index, ordered in SHAPES:
            lines = plan(store, query_of(text))
            # Statistics may trade an ordered walk for a selective index and a sort
            # (several types); the feeds and the sync keep their ordered index.
            keeps_order = ordered and not shape.startswith("types")
            assert_uses_index(lines, index if keeps_order else None, keeps_order)
    finally:
        store.close_sync()


def test_the_store_runs_the_statement_that_is_explained(
    stores: dict[str, SQLiteStorage],
) -> None:
    store = stores["full"]
    seen: list[str] = []
    store.reader.set_trace_callback(seen.append)
    try:
        for _, text, _, _ in SHAPES:
            query = query_of(text)
            seen.clear()
            result = asyncio.run(store.list_activities(TEAM, query))
            sql, params = page_sql(TEAM, query, steer_planner=True)
            expanded = sql
            for value in params:
                literal = f"'{value}'" if isinstance(value, str) else str(value)
                expanded = expanded.replace("?", literal, 1)
            assert seen[0] == expanded
            assert len(result.rows) <= query.per_page
    finally:
        store.reader.set_trace_callback(None)


def test_steering_keeps_the_order(stores: dict[str, SQLiteStorage]) -> None:
    store = stores["full"]
    for text in (
        "ids=call-5,note-9,sent_email-12,task-40,meeting-77,call-101&sort_direction=asc",
        "resource_type=person,account&resource_id=1,2,3&per_page=100",
        "resource_type=person&resource_id=4&sort_by=updated_at&per_page=100",
        "pinned=true&sort_by=updated_at&per_page=100",
    ):
        query = query_of(text)
        steered, params = page_sql(TEAM, query, steer_planner=True)
        plain, _ = page_sql(TEAM, query)
        assert steered != plain
        assert (
            store.reader.execute(steered, params).fetchall()
            == store.reader.execute(plain, params).fetchall()
        )
