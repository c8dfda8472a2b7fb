"""The PostgreSQL store itself: migrations, plans, partition pruning, concurrent writers.

The API behaviour on PostgreSQL is covered by the whole suite (``store_url``
runs every API test on both stores); these tests are about what only
PostgreSQL has.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from activityfeed.model import ActivityInput
from activityfeed.query import parse_list_query
from activityfeed.storage.postgres.schema import MIGRATIONS, PARTITIONS
from activityfeed.storage.postgres.store import PostgresStorage
from activityfeed.storage.sqlbuild import list_sql
from support import pg_support
from support.pg_cluster import free_port as pg_cluster_free_port

pytestmark = pytest.mark.postgres

TYPES = ("call", "sent_email", "note", "meeting", "task")
GUIDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(20)]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def opened(url: str) -> PostgresStorage:
    store = PostgresStorage.from_url(url)
    await store.open()
    return store


@pytest.fixture
def fresh_url() -> Iterator[str]:
    """A brand-new schema, never migrated (the pooled ones may have been)."""
    url = pg_support.base_url()
    if url is None or pg_support.unreachable_reason(url) is not None:
        pytest.skip("needs PostgreSQL")  # pg_url below fails first in CI
    with pg_support.fresh_schema(url) as schema_url:
        yield schema_url


def test_migrations_apply_once_and_concurrent_opens_agree(pg_url: str, fresh_url: str) -> None:
    async def scenario() -> list[int]:
        stores = [PostgresStorage.from_url(fresh_url) for _ in range(4)]
        await asyncio.gather(*(store.open() for store in stores))
        try:
            rows = await stores[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
            return [row[0] for row in rows]
        finally:
            for store in stores:
                await store.close()

    assert run(scenario()) == [version for version, _ in MIGRATIONS]


def test_activities_are_hash_partitioned_by_team(pg_url: str) -> None:
    async def scenario() -> tuple[str, int]:
        store = await opened(pg_url)
        try:
            rows = await store.fetch(
                "SELECT pg_get_partkeydef('activities'::regclass), "
                "(SELECT count(*) FROM pg_inherits WHERE inhparent = 'activities'::regclass)"
            )
            return rows[0][0], rows[0][1]
        finally:
            await store.close()

    key, partitions = run(scenario())
    assert key == "HASH (team_id)"
    assert partitions == PARTITIONS


def test_every_key_of_a_team_table_leads_with_team_id(pg_url: str) -> None:
    async def scenario() -> list[tuple[str, str]]:
        store = await opened(pg_url)
        try:
            rows = await store.fetch(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indrelid "
                "WHERE (i.indisunique OR i.indisprimary) AND c.relnamespace = "
                "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
                "AND c.relname IN ('activities', 'activity_counts', 'associated_records', "
                "'team_clocks')"
            )
            return [(row[0], row[1]) for row in rows]
        finally:
            await store.close()

    keys = run(scenario())
    assert len(keys) >= 6
    for table, definition in keys:
        assert re.search(r"\(team_id[,)]", definition), (table, definition)


async def _loaded(url: str) -> tuple[PostgresStorage, int]:
    """A store with 6,000 activities in one team and a few in others, analysed."""
    store = await opened(url)
    teams = [await store.ensure_team(name) for name in ("big", "small-1", "small-2")]
    for start in range(0, 6000, 1000):
        await store.upsert_activities(
            teams[0].id,
            [
                ActivityInput(
                    type=TYPES[n % len(TYPES)],
                    resource_type="person" if n % 4 else "account",
                    resource_id=str(n % 300),
                    id=f"{TYPES[n % len(TYPES)]}-{n}",
                    occurred_at=1_600_000_000_000_000 + n * 7_919_000 % 10**12,
                    user_guid=GUIDS[n % len(GUIDS)],
                    pinned_at=1_600_000_000_000_000 if n % 97 == 0 else None,
                )
                for n in range(start, start + 1000)
            ],
        )
    for team in teams[1:]:
        await store.upsert_activities(
            team.id,
            [ActivityInput(type="call", resource_type="person", resource_id="1", id="call-1")],
        )
    async with store.connection() as conn:
        await conn.execute("ANALYZE activities")
    return store, teams[0].id


LIST_SHAPES = {
    "default order": [],
    "oldest first": [("sort_direction", "ASC")],
    "polling by updated_at": [
        ("sort_by", "updated_at"),
        ("sort_direction", "ASC"),
        ("updated_at[gt]", "2020-09-13T12:26:40Z"),
    ],
    "one type": [("type", "call")],
    "several types": [("type[]", "call"), ("type[]", "note")],
    "type by resource type": [("type[person][]", "call")],
    "one resource": [("resource_type", "person"), ("resource_id", "17")],
    "a user": [("user_guid", GUIDS[3])],
    "ids": [("ids[]", "call-0"), ("ids[]", "note-2")],
    "pinned": [("pinned", "true")],
    "occurred range": [
        ("occurred_at[gte]", "2020-09-13T12:26:40Z"),
        ("occurred_at[lt]", "2020-09-20T00:00:00Z"),
    ],
    # Deep, but a small part of the team: past about half of it, reading the
    # whole partition and sorting is the planner's right call.
    "deep page": [("page", "10"), ("per_page", "50")],
}


def _plans(url: str) -> dict[str, str]:
    """The plan of every list shape on a loaded, analysed store."""

    async def explain_all() -> dict[str, str]:
        store, team_id = await _loaded(url)
        try:
            plans = {}
            for name, pairs in LIST_SHAPES.items():
                sql, params = list_sql(team_id, parse_list_query(pairs))
                plans[name] = await store.explain(sql, *params)
            return plans
        finally:
            await store.close()

    return run(explain_all())


def test_every_list_shape_is_served_by_an_index(pg_url: str) -> None:
    for name, plan in _plans(pg_url).items():
        assert "Seq Scan" not in plan, f"{name}:\n{plan}"
        assert "Index" in plan, f"{name}:\n{plan}"


def test_list_queries_touch_only_the_team_partition(pg_url: str) -> None:
    for name, plan in _plans(pg_url).items():
        partitions = set(re.findall(r"activities_p\d\d", plan))
        assert len(partitions) == 1, f"{name}: {sorted(partitions)}\n{plan}"


async def _poll(store: PostgresStorage, team_id: int, after: str | None) -> list[tuple[str, str]]:
    pairs = [("sort_by", "updated_at"), ("sort_direction", "ASC"), ("per_page", "100")]
    if after is not None:
        pairs.append(("updated_at[gt]", after))
    result = await store.list_activities(team_id, parse_list_query(pairs))
    docs = [orjson.loads(row.doc) for row in result.rows]
    return [(doc["id"], doc["updated_at"]) for doc in docs]


def test_polling_reader_sees_every_write_of_concurrent_processes_exactly_once(
    pg_url: str,
) -> None:
    writers, operations = 4, 90
    script = Path(__file__).resolve().parents[1] / "support" / "pg_writer.py"

    async def scenario() -> tuple[list[tuple[str, str]], set[str], dict[str, str]]:
        store = await opened(pg_url)
        try:
            team_id = (await store.ensure_team("busy")).id
            procs = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(script),
                    pg_url,
                    str(team_id),
                    str(w),
                    str(operations),
                    stdout=subprocess.PIPE,
                )
                for w in range(writers)
            ]
            outputs = [asyncio.ensure_future(proc.communicate()) for proc in procs]
            seen: list[tuple[str, str]] = []
            last: str | None = None
            while True:
                done = all(proc.returncode is not None for proc in procs)
                page = await _poll(store, team_id, last)
                seen.extend(page)
                if page:
                    last = page[-1][1]
                elif done:
                    break
                else:
                    await asyncio.sleep(0.005)
            created: set[str] = set()
            for proc, output in zip(procs, outputs, strict=True):
                stdout, _ = await output
                assert proc.returncode == 0
                created.update(stdout.decode().split())
            final = {}
            after = None
            while page := await _poll(store, team_id, after):
                final.update(page)
                after = page[-1][1]
            return seen, created, final
        finally:
            await store.close()

    seen, created, final = run(scenario())
    stamps = [stamp for _, stamp in seen]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # no repeats
    assert len(created) == writers * (operations // 3) * 5
    assert {activity_id for activity_id, _ in seen} == created  # no misses
    # The reader's last view of each activity is its stored, final version.
    assert dict(seen) == final


def test_nul_characters_find_nothing_instead_of_failing(pg_url: str) -> None:
    async def scenario() -> None:
        store = await opened(pg_url)
        try:
            team_id = (await store.ensure_team("t")).id
            assert await store.get_activity(team_id, "call-\x00") is None
            assert not await store.delete_activity(team_id, "call-\x00")
            result = await store.list_activities(
                team_id, parse_list_query([("ids", "a\x00"), ("include_paging_counts", "1")])
            )
            assert result.rows == [] and result.total_count == 0
            assert await store.get_records(team_id, {"email": ["1\x00"]}) == {"email": {}}
        finally:
            await store.close()

    run(scenario())


def test_url_parameters_of_the_store_are_validated() -> None:
    with pytest.raises(ValueError, match="connect_timeout"):
        PostgresStorage.from_url("postgresql://localhost/db?connect_timeout=soon")
    store = PostgresStorage.from_url("postgresql://localhost/db?connect_timeout=1.5&pool_size=3")
    assert (store.connect_timeout, store.pool_size) == (1.5, 3)
    assert "pool_size" not in store.dsn


def test_migrate_command_creates_the_schema(pg_url: str, fresh_url: str) -> None:
    from click.testing import CliRunner

    from activityfeed.cli.main import main

    result = CliRunner().invoke(main, ["migrate", "--database-url", fresh_url])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output

    async def versions() -> list[int]:
        store = await opened(fresh_url)
        try:
            return [r[0] for r in await store.fetch("SELECT version FROM schema_migrations")]
        finally:
            await store.close()

    assert sorted(run(versions())) == [version for version, _ in MIGRATIONS]


def test_unreachable_database_is_a_clear_cli_error() -> None:
    from click.testing import CliRunner

    from activityfeed.cli.main import main

    port = pg_cluster_free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/none?connect_timeout=1"
    result = CliRunner().invoke(main, ["migrate", "--database-url", url])
    assert result.exit_code != 0
    assert "cannot connect to PostgreSQL" in result.output
