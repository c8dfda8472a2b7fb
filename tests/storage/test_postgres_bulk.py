"""The fresh load of PostgreSQL (``storage/postgres/bulk.py``) leaves what the normal path does.

Compared on two schemas of the shared server, one loaded the fast way and one
through the normal path (the demo's bulk upserts, the copy's batches): every
row of every table, every index and constraint (as the catalog defines them),
and the plan of every list shape. A load that fails midway, or whose rebuilt
indexes would differ, leaves the store as it was.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_postgres import LIST_SHAPES

from activityfeed.cli.main import main
from activityfeed.demo import fast_postgres as demo_fast_postgres
from activityfeed.demo.fast import ProducerFailed, read_frame
from activityfeed.demo.load import load_demo
from activityfeed.query import parse_list_query
from activityfeed.storage import open_storage
from activityfeed.storage.copying import copy_store, endpoint_for
from activityfeed.storage.postgres.bulk import FreshLoad, IndexesChanged, schema_state
from activityfeed.storage.postgres.copy import PostgresEndpoint
from activityfeed.storage.postgres.store import PostgresStorage
from activityfeed.storage.sqlbuild import list_sql
from activityfeed.storage.sqlite.store import SQLiteStorage
from support import pg_support

pytestmark = pytest.mark.postgres

FROZEN_US = 1_790_000_000_123_456
SEED, ACTIVITIES, TEAMS, BATCH = 5, 3_000, 3, 1_000
TABLES = {
    "teams": "id",
    "team_clocks": "team_id",
    "activities": "team_id, seq",
    "activity_counts": "team_id, type, resource_type",
    "associated_records": "team_id, resource, id",
}


@pytest.fixture
def other_pg_url(pg_url: str) -> Iterator[str]:
    """A second empty PostgreSQL schema, beside ``pg_url``'s."""
    url = pg_support.base_url()
    assert url is not None  # pg_url skipped (or failed in CI) otherwise
    with pg_support.pooled_schema(url) as schema_url:
        yield schema_url


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every PostgreSQL write stamps ``FROZEN_US`` as "now"."""
    for module in ("store", "teams", "writes", "bulk", "records"):
        monkeypatch.setattr(f"activityfeed.storage.postgres.{module}.now_us", lambda: FROZEN_US)


@pytest.fixture
def rebuilds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the fresh loads that reached their index builds (one item each)."""
    seen: list[int] = []
    rebuild = FreshLoad.rebuild

    async def counted(self: FreshLoad) -> None:
        seen.append(1)
        await rebuild(self)

    monkeypatch.setattr(FreshLoad, "rebuild", counted)
    return seen


async def _opened(url: str) -> PostgresStorage:
    store = PostgresStorage.from_url(url)
    await store.open()
    return store


async def dump(store: PostgresStorage) -> dict[str, Any]:
    """Rows of every table, the indexes and constraints, the plans, the ``seq`` sequence."""
    async with store.connection() as conn:
        await conn.execute("ANALYZE")
        schema = await conn.fetchval("SELECT current_schema()")
        seen: dict[str, Any] = {
            name: [tuple(row) for row in await conn.fetch(f"SELECT * FROM {name} ORDER BY {key}")]
            for name, key in TABLES.items()
        }
        seen["seq"] = tuple(await conn.fetchrow("SELECT last_value, is_called FROM activities_seq"))
        # Definitions name the schema: each store has its own.
        seen["schema"] = [
            re.sub(rf"\b{schema}\.", "", repr(state)) for state in await schema_state(conn)
        ]
        team_id = await conn.fetchval("SELECT id FROM teams ORDER BY id LIMIT 1")
        plans = {}
        for name, pairs in LIST_SHAPES.items():
            sql, params = list_sql(team_id, parse_list_query(pairs))
            rows = await conn.fetch("EXPLAIN (COSTS OFF) " + sql, *params)
            plans[name] = [row[0] for row in rows]
        seen["plans"] = plans
    return seen


def test_demo_fresh_load_stores_what_the_bulk_upserts_store(
    pg_url: str,
    other_pg_url: str,
    frozen_clock: None,
    rebuilds: list[int],
) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        fast, slow = await _opened(pg_url), await _opened(other_pg_url)
        try:
            before = await dump(slow)
            fast_report = await load_demo(fast, ACTIVITIES, SEED, teams=TEAMS, batch_size=BATCH)
            slow_report = await load_demo(
                slow, ACTIVITIES, SEED, teams=TEAMS, batch_size=BATCH, fast=False
            )
            assert fast_report.created == slow_report.created == ACTIVITIES
            assert [t.references.counts for t in fast_report.teams] == [
                t.references.counts for t in slow_report.teams
            ]
            return await dump(fast), await dump(slow), before["schema"]
        finally:
            await fast.close()
            await slow.close()

    fast, slow, empty_schema = asyncio.run(scenario())
    assert rebuilds == [1]  # the fast store, and only it, took the fresh load
    assert len(fast["activities"]) == ACTIVITIES
    assert fast == slow
    assert fast["schema"] == empty_schema  # every index and constraint as migrated


def _demo_source(path: Path) -> str:
    async def run() -> None:
        store = SQLiteStorage(str(path))
        await store.open()
        try:
            await load_demo(store, ACTIVITIES, SEED, teams=TEAMS, batch_size=BATCH)
        finally:
            await store.close()

    asyncio.run(run())
    return f"sqlite:///{path}"


class Quiet:
    """A copy progress that reports nothing."""

    def start(self, total: int) -> None:
        """Nothing."""

    def advance(self, done: int) -> None:
        """Nothing."""


async def _copy(source_url: str, target_url: str, source_endpoint: Any = None) -> Any:
    source, target = open_storage(source_url), await _opened(target_url)
    await source.open()
    try:
        return await copy_store(
            source_endpoint or endpoint_for(source), endpoint_for(target), Quiet()
        )
    finally:
        await source.close()
        await target.close()


async def _dump_url(url: str) -> dict[str, Any]:
    store = await _opened(url)
    try:
        return await dump(store)
    finally:
        await store.close()


def test_copy_into_an_empty_store_matches_the_batched_copy(
    pg_url: str,
    other_pg_url: str,
    tmp_path: Path,
    rebuilds: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = _demo_source(tmp_path / "source.db")
    fast_report = asyncio.run(_copy(source, pg_url))
    assert rebuilds == [1]
    with monkeypatch.context() as patch:
        patch.setattr(PostgresEndpoint, "fresh_load", lambda self: nullcontext(None))
        slow_report = asyncio.run(_copy(source, other_pg_url))
    assert fast_report.verified and slow_report.verified
    assert fast_report.activities == slow_report.activities == ACTIVITIES
    fast, slow = asyncio.run(_dump_url(pg_url)), asyncio.run(_dump_url(other_pg_url))
    # created_at of the teams is the source's; nothing is stamped by the copy.
    assert fast == slow


class Failing:
    """A source endpoint whose activity stream breaks after its first batch."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def all_activity_rows(self, batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        async for rows in self.inner.all_activity_rows(batch):
            yield rows
            raise RuntimeError("the source broke")


def test_a_copy_failing_midway_leaves_the_target_empty_and_runs_again(
    pg_url: str, tmp_path: Path
) -> None:
    source = _demo_source(tmp_path / "source.db")
    empty = asyncio.run(_dump_url(pg_url))

    async def failing_copy() -> None:
        store = open_storage(source)
        await store.open()
        try:
            with pytest.raises(RuntimeError, match="the source broke"):
                await _copy(source, pg_url, Failing(endpoint_for(store)))
        finally:
            await store.close()

    asyncio.run(failing_copy())
    after = asyncio.run(_dump_url(pg_url))
    assert after["activities"] == []
    assert after["schema"] == empty["schema"]  # the indexes and the foreign key are back
    result = CliRunner().invoke(main, ["copy", "--from", source, "--to", pg_url])
    assert result.exit_code == 0, result.output
    assert "verified" in result.output


def test_a_rebuild_that_differs_is_rolled_back(pg_url: str) -> None:
    async def scenario() -> tuple[list[Any], list[Any]]:
        store = await _opened(pg_url)
        try:
            async with store.connection() as conn:
                before = await schema_state(conn)
            with pytest.raises(IndexesChanged, match="activities_team_resource"):
                async with store.fresh_load() as load:
                    assert load is not None
                    # As if the catalog had not given back one of the indexes.
                    load._dropped = [i for i in load._dropped if "resource" not in i.name]
            async with store.connection() as conn:
                return before, await schema_state(conn)
        finally:
            await store.close()

    before, after = asyncio.run(scenario())
    assert after == before


def test_a_store_with_activities_gets_no_fresh_load_and_stays_writable(pg_url: str) -> None:
    async def scenario() -> tuple[int, int]:
        store = await _opened(pg_url)
        try:
            await load_demo(store, 50, SEED, teams=1)
            async with store.fresh_load() as load:
                assert load is None
            # Nothing is left locked: the bulk upsert finds every activity stored.
            again = await load_demo(store, 50, SEED, teams=1)
            rows = await store.fetch("SELECT count(*) FROM activities")
            return again.unchanged, int(rows[0][0])
        finally:
            await store.close()

    assert asyncio.run(scenario()) == (50, 50)


def test_a_demo_whose_row_process_fails_leaves_the_store_empty(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = [0]

    def failing(child: Any) -> tuple[Any, ...]:
        frames[0] += 1
        if frames[0] > 1:
            raise ProducerFailed("the demo's row process ended with code 1: boom")
        return read_frame(child)

    monkeypatch.setattr(demo_fast_postgres, "read_frame", failing)

    async def scenario() -> tuple[list[Any], list[Any], int]:
        store = await _opened(pg_url)
        try:
            async with store.connection() as conn:
                before = await schema_state(conn)
            with pytest.raises(ProducerFailed, match="boom"):
                await load_demo(store, ACTIVITIES, SEED, teams=TEAMS, batch_size=BATCH)
            async with store.connection() as conn:
                count = await conn.fetchval("SELECT count(*) FROM activities")
                return before, await schema_state(conn), int(count)
        finally:
            await store.close()

    before, after, count = asyncio.run(scenario())
    assert count == 0
    assert after == before
