"""``activityfeed copy``: SQLite to PostgreSQL and back, resumable, verified."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from activityfeed.auth import hash_key
from activityfeed.cli import main, new_key
from activityfeed.model import ActivityChanges, ActivityInput
from activityfeed.query import parse_list_query
from activityfeed.storage import Storage, open_storage
from activityfeed.storage.copying import split_range

pytestmark = pytest.mark.postgres


async def _with(url: str, work: Any) -> Any:
    store = open_storage(url)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def with_store(url: str, work: Any) -> Any:
    return asyncio.run(_with(url, work))


async def fill(store: Storage) -> list[str]:
    """Two teams with activities (created, updated, deleted), records and keys."""
    keys = []
    for name, size in (("acme", 260), ("globex", 40)):
        team = await store.ensure_team(name)
        keys.append(await new_key(store, name, ("activities:read",)))
        await store.upsert_activities(
            team.id,
            [
                ActivityInput(
                    type="call" if n % 3 else "note",
                    resource_type="person" if n % 5 else "crm_opportunity",
                    resource_id=str(n % 17) if n % 5 else f"006x{n}",
                    id=f"{'call' if n % 3 else 'note'}-{n}",
                    occurred_at=1_700_000_000_000_000 + (n % 50) * 1_000_000,  # many ties
                    tags=("copied",),
                    static_data_json=orjson.dumps({"email_id": n}),
                )
                for n in range(size)
            ],
        )
        await store.create_activity(
            team.id, ActivityInput(type="task", resource_type="account", resource_id="9")
        )
        await store.update_activity(
            team.id, "call-1", ActivityChanges(tags=("changed",), present=frozenset({"tags"}))
        )
        await store.delete_activity(team.id, "call-2")
        await store.put_records(
            team.id, "email", [(str(n), orjson.dumps({"subject": f"s{n}"})) for n in range(30)]
        )
    return keys


async def snapshot(store: Storage) -> dict[str, Any]:
    """Everything a client can see of a store, in the contract's orders."""
    seen: dict[str, Any] = {}
    for team in await store.list_teams():
        for sort in ("occurred_at", "updated_at"):
            docs: list[bytes] = []
            page = 1
            while True:
                query = parse_list_query(
                    [("sort_by", sort), ("per_page", "100"), ("page", str(page))]
                )
                result = await store.list_activities(team.id, query)
                docs.extend(row.doc for row in result.rows)
                if not result.has_more:
                    break
                page += 1
            seen[f"{team.name} by {sort}"] = docs
        counted = parse_list_query([("include_paging_counts", "true"), ("type", "call")])
        seen[f"{team.name} calls"] = (await store.list_activities(team.id, counted)).total_count
        records = await store.scan_records(team.id, None, 1000)
        seen[f"{team.name} records"] = [(r.resource, r.id, r.attributes) for r in records]
    return seen


def copy(source: str, target: str) -> str:
    result = CliRunner().invoke(main, ["copy", "--from", source, "--to", target])
    assert result.exit_code == 0, result.output
    return result.output


def test_copy_round_trip_keeps_everything_a_client_sees(pg_url: str, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    back = f"sqlite:///{tmp_path / 'back.db'}"
    keys = with_store(source, fill)
    expected = with_store(source, snapshot)

    assert "verified" in copy(source, pg_url)
    assert with_store(pg_url, snapshot) == expected
    assert "verified" in copy(pg_url, back)
    assert with_store(back, snapshot) == expected

    async def keys_and_clock(store: Storage) -> tuple[list[str], bool]:
        found = [await store.find_key(hash_key(key)) for key in keys]
        team = await store.get_team("acme")
        assert team is not None
        row = await store.create_activity(
            team.id, ActivityInput(type="call", resource_type="person", resource_id="1")
        )
        newest = orjson.loads(row.doc)["updated_at"]
        latest = max(orjson.loads(doc)["updated_at"] for doc in expected["acme by updated_at"])
        return [k.team_name for k in found if k is not None], newest > latest

    for url in (pg_url, back):
        teams, clock_moved_on = with_store(url, keys_and_clock)
        assert teams == ["acme", "globex"]
        assert clock_moved_on  # the team clock came along: updated_at stays unique


def test_an_interrupted_copy_resumes_where_it_stopped(pg_url: str, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    with_store(source, fill)
    expected = with_store(source, snapshot)
    copy(source, pg_url)

    async def lose_the_tail(store: Any) -> None:
        # What a copy killed midway leaves: the last batches of a team missing.
        async with store.transaction() as conn:
            await conn.execute(
                "DELETE FROM activities WHERE seq > (SELECT max(seq) - 100 FROM activities)"
            )

    with_store(pg_url, lose_the_tail)
    output = copy(source, pg_url)
    assert "verified" in output
    assert with_store(pg_url, snapshot) == expected


def test_copy_reports_a_target_that_differs(pg_url: str, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    with_store(source, fill)
    copy(source, pg_url)

    async def add_extra(store: Storage) -> None:
        team = await store.ensure_team("globex")
        await store.create_activity(
            team.id, ActivityInput(type="call", resource_type="person", resource_id="1")
        )

    with_store(pg_url, add_extra)
    result = CliRunner().invoke(main, ["copy", "--from", source, "--to", pg_url])
    assert result.exit_code != 0
    assert "globex" in result.output and "verification failed" in result.output


def test_seq_ranges_cover_the_span_without_overlap() -> None:
    assert split_range(1, 10, 2) == [(1, 5), (6, 10)]
    assert split_range(5, 5, 2) == [(5, 5)]
    assert split_range(1, 7, 3) == [(1, 3), (4, 6), (7, 7)]
