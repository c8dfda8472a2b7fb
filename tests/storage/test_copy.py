"""``activityfeed copy``: SQLite to PostgreSQL and back, resumable, verified."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import orjson
import pytest

from activityfeed.auth import hash_key
from activityfeed.model import ActivityInput
from activityfeed.storage import Storage
from activityfeed.storage.copying import endpoint_for, split_range
from activityfeed.storage.postgres.copy import PostgresEndpoint
from support.copy_support import copy, fill, interrupt_copy, run_copy, snapshot, with_store

pytestmark = pytest.mark.postgres


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


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_an_interrupted_copy_resumes_where_it_stopped(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = (
        f"sqlite:///{tmp_path / 'target.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    with_store(source, fill)
    expected = with_store(source, snapshot)
    with monkeypatch.context() as patch:
        # In batches (PostgreSQL's fresh load is all or nothing): stopped after the first.
        patch.setattr(PostgresEndpoint, "fresh_load", lambda self: nullcontext(None))
        interrupt_copy(source, target, after=100)

    async def count(store: Storage) -> int:
        endpoint = endpoint_for(store)
        return sum([await endpoint.count_activities(team.id) for team in await store.list_teams()])

    assert 0 < with_store(target, count) < 300  # some in, some not

    output = copy(source, target)  # no option: the target is this copy, interrupted
    assert "verified" in output
    assert with_store(target, snapshot) == expected


def test_a_copy_stopped_in_its_fresh_load_runs_again(pg_url: str, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    with_store(source, fill)
    expected = with_store(source, snapshot)
    interrupt_copy(source, pg_url, after=1)  # teams and keys in, the activities rolled back
    assert "verified" in copy(source, pg_url)
    assert with_store(pg_url, snapshot) == expected


def test_copy_reports_a_target_that_differs(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    with_store(source, fill)
    interrupt_copy(source, target, after=100)

    async def add_extra(store: Storage) -> None:
        team = await store.get_team("globex")
        assert team is not None
        for n in range(50):
            await store.create_activity(
                team.id, ActivityInput(type="call", resource_type="person", resource_id=str(n))
            )

    with_store(target, add_extra)
    result = run_copy(source, target)
    assert result.exit_code != 0
    assert "globex" in result.output and "verification failed" in result.output


def test_seq_ranges_cover_the_span_without_overlap() -> None:
    assert split_range(1, 10, 2) == [(1, 5), (6, 10)]
    assert split_range(5, 5, 2) == [(5, 5)]
    assert split_range(1, 7, 3) == [(1, 3), (4, 6), (7, 7)]


def test_source_keys_find_their_own_teams_after_a_copy(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    keys = with_store(source, fill)
    copy(source, target)

    async def teams_of(store: Storage) -> list[str | None]:
        found = [await store.find_key(hash_key(key)) for key in keys]
        return [None if key is None else key.team_name for key in found]

    assert with_store(target, teams_of) == ["acme", "globex"]
