"""The demo's fast load into a fresh SQLite store stores what the bulk endpoint would.

The fast path (``activityfeed.demo.fast`` writing through
``SQLiteStorage.fresh_load``) is compared, table by table and byte for byte,
with the same demo sent batch by batch to ``POST /v2/activity_histories/bulk``,
with the wall clock frozen so that both runs stamp the same ``updated_at``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from activityfeed.auth import new_key
from activityfeed.demo.fast import ProducerFailed, TeamPlan, load_fresh
from activityfeed.demo.load import load_demo
from activityfeed.demo.stream import References, activity_stream
from activityfeed.demo.world import build_world, team_shares
from activityfeed.http.app import create_app
from activityfeed.model import SCOPES, ActivityInput, resource_id_value
from activityfeed.settings import Settings
from activityfeed.storage import writes
from activityfeed.storage.sqlite.store import SQLiteStorage
from activityfeed.timestamps import format_timestamp

FROZEN_US = 1_790_000_000_123_456
SEED, ACTIVITIES, TEAMS, BATCH = 11, 3_500, 3, 1_000


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every store stamps ``FROZEN_US`` as "now" (the clock then counts on by 1 µs)."""
    for module in ("store", "teams", "writes", "bulk"):
        monkeypatch.setattr(f"activityfeed.storage.sqlite.{module}.now_us", lambda: FROZEN_US)


def fast_store(path: Path, activities: int = ACTIVITIES, teams: int = TEAMS) -> Any:
    """Load the demo into a new store at ``path``: the report."""

    async def run() -> Any:
        store = SQLiteStorage(str(path))
        await store.open()
        try:
            return await load_demo(store, activities, SEED, teams=teams, batch_size=BATCH)
        finally:
            await store.close()

    return asyncio.run(run())


def bulk_body(batch: list[ActivityInput]) -> bytes:
    """A batch as a client sends it to the bulk endpoint."""
    return orjson.dumps(
        [
            {
                "id": item.id,
                "type": item.type,
                "resource_type": item.resource_type,
                "resource_id": resource_id_value(item.resource_type, item.resource_id),
                "occurred_at": None
                if item.occurred_at is None
                else format_timestamp(item.occurred_at),
                "user_guid": item.user_guid,
                "tags": list(item.tags),
                "static_data": orjson.loads(item.static_data_json),
                "pinned_at": _timestamp(item.pinned_at),
            }
            for item in batch
        ]
    )


def _timestamp(us: int | None) -> str | None:
    return None if us is None else format_timestamp(us)


def endpoint_store(path: Path) -> None:
    """The same demo, posted batch by batch to the bulk endpoint of an app on ``path``."""
    settings = Settings(database_url=f"sqlite:///{path}", rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as client:
        for index, share in enumerate(team_shares(ACTIVITIES, TEAMS)):
            world = build_world(SEED, index, share)
            key = _key(path, world.name)
            for batch in activity_stream(world, SEED, References(), BATCH):
                response = client.post(
                    "/v2/activity_histories/bulk",
                    content=bulk_body(batch),
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                )
                assert response.status_code == 200, response.text


def _key(path: Path, team: str) -> str:
    async def run() -> str:
        store = SQLiteStorage(str(path))
        await store.open()
        try:
            return await new_key(store, team, SCOPES)
        finally:
            await store.close()

    return asyncio.run(run())


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored fact of the activities, and the shape of their table."""
    conn = sqlite3.connect(path)
    try:
        return {
            "activities": conn.execute("SELECT * FROM activities ORDER BY seq").fetchall(),
            "counts": conn.execute("SELECT * FROM activity_counts ORDER BY 1, 2, 3").fetchall(),
            "teams": conn.execute("SELECT id, name, clock, created_at FROM teams").fetchall(),
            "sequence": conn.execute("SELECT * FROM sqlite_sequence ORDER BY name").fetchall(),
            "schema": conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'activities' "
                "ORDER BY name"
            ).fetchall(),
            "journal": conn.execute("PRAGMA journal_mode").fetchall(),
            "integrity": conn.execute("PRAGMA integrity_check").fetchall(),
        }
    finally:
        conn.close()


def test_fast_load_stores_what_the_bulk_endpoint_stores(
    tmp_path: Path, frozen_clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def spy(*args: Any) -> Any:
        calls.append(args)
        return load_fresh(*args)

    monkeypatch.setattr("activityfeed.demo.load.load_fresh", spy)
    report = fast_store(tmp_path / "fast.db")
    assert len(calls) == 1  # the fast path, not the bulk upsert
    assert (report.created, report.updated, report.unchanged) == (ACTIVITIES, 0, 0)
    endpoint_store(tmp_path / "endpoint.db")
    fast, endpoint = dump(tmp_path / "fast.db"), dump(tmp_path / "endpoint.db")
    assert len(fast["activities"]) == ACTIVITIES
    assert fast["journal"] == [("wal",)]
    assert fast["integrity"] == [("ok",)]
    for table in fast:
        assert fast[table] == endpoint[table], table


def test_fast_load_reports_the_references_the_stream_made(tmp_path: Path) -> None:
    report = fast_store(tmp_path / "fast.db")
    for team in report.teams:
        expected = References()
        for _ in activity_stream(team.world, SEED, expected, BATCH):
            pass
        assert team.references.counts == expected.counts
        assert sum(team.references.counts.values()) > 0


def test_a_store_with_activities_takes_the_bulk_path_and_reruns_change_nothing(
    tmp_path: Path, frozen_clock: None
) -> None:
    path = tmp_path / "demo.db"
    fast_store(path, activities=500, teams=1)
    store = SQLiteStorage(str(path))
    store.open_sync()
    try:
        with store.fresh_load() as load:
            assert load is None
    finally:
        store.close_sync()
    before = dump(path)
    report = fast_store(path, activities=500, teams=1)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 500)
    assert dump(path) == before
    assert dump(path)["integrity"] == [("ok",)]


def _fresh(path: Path) -> SQLiteStorage:
    store = SQLiteStorage(str(path))
    store.open_sync()
    return store


def test_a_duplicate_id_fails_the_load_and_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "dup.db"
    store = _fresh(path)
    team = asyncio.run(store.ensure_team("acme"))
    before = dump(path)
    item = ActivityInput("call", "person", "12", id="call-1", occurred_at=FROZEN_US)
    with pytest.raises(sqlite3.IntegrityError), store.fresh_load() as load:
        assert load is not None
        clock = load.clock(team.id)
        rows, _ = writes.new_rows(team.id, load.next_seq, clock, [item, item])
        load.insert([value for row in rows for value in row])
    store.close_sync()
    assert dump(path) == before


def test_another_connection_keeps_the_store_in_wal(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    store = _fresh(path)
    other = sqlite3.connect(path)
    try:
        other.execute("SELECT count(*) FROM teams").fetchall()
        team = asyncio.run(store.ensure_team("acme"))
        with store.fresh_load() as load:
            assert load is not None
            item = ActivityInput("call", "person", "12", id="call-1", occurred_at=FROZEN_US)
            rows, deltas = writes.new_rows(team.id, load.next_seq, load.clock(team.id), [item])
            load.insert([value for row in rows for value in row])
            load.finish_team(team.id, rows[-1][9], deltas)
        assert other.execute("SELECT id FROM activities").fetchall() == [("call-1",)]
        assert other.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
    finally:
        other.close()
        store.close_sync()


def test_a_failing_row_process_fails_the_load_with_its_error(tmp_path: Path) -> None:
    store = _fresh(tmp_path / "fail.db")
    team = asyncio.run(store.ensure_team("acme"))
    bad = TeamPlan(index=99, team_id=team.id, activities=10, seq=1, clock=0, now=FROZEN_US)
    try:
        with pytest.raises(ProducerFailed, match="IndexError"), store.fresh_load() as load:
            assert load is not None
            load_fresh(load, SEED, [bad], BATCH, lambda n, index: None)
        page = asyncio.run(store.upsert_activities(team.id, []))
        assert page.created == 0
    finally:
        store.close_sync()
    assert dump(tmp_path / "fail.db")["activities"] == []
