"""``updated_at`` is unique within a team and grows in commit order (contract, section 2).

Several writers (threads and processes, through the store and through HTTP)
create, update and bulk-upsert activities in one SQLite file while a reader
polls ``sort_by=updated_at&sort_direction=ASC&updated_at[gt]=<last seen>``.
The reader must end with every activity, in its latest version, having seen
no (id, updated_at) twice and none out of order.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from activityfeed.auth import new_key
from activityfeed.http.app import create_app
from activityfeed.model import SCOPES, ActivityChanges, ActivityInput
from activityfeed.settings import Settings
from activityfeed.storage.sqlite.store import SQLiteStorage
from activityfeed.timestamps import format_timestamp, now_us, parse_timestamp

LIST = "/v2/activity_histories"
TEAM, OTHER = "acme", "other"


def item(activity_id: str, tag: str) -> ActivityInput:
    """A bulk item; a new ``tag`` makes it an update of a stored activity."""
    return ActivityInput(
        type="call",
        resource_type="person",
        resource_id=str(len(activity_id)),
        id=activity_id,
        occurred_at=1_546_300_800_000_000,
        tags=(tag,),
    )


async def store_writer(path: str, name: str, ops: int, seed: int) -> None:
    """Creates, updates and bulk upserts through the storage interface."""
    store = SQLiteStorage(path)
    await store.open()
    try:
        team = await store.ensure_team(TEAM)
        other = await store.ensure_team(OTHER)
        rnd = random.Random(seed)
        mine: list[str] = []
        for n in range(ops):
            roll = rnd.random()
            if roll < 0.35 or not mine:
                row = await store.create_activity(team.id, item(f"call-{name}-{n}", "new"))
                assert row.doc
                mine.append(f"call-{name}-{n}")
            elif roll < 0.7:
                changes = ActivityChanges(tags=(f"t{n}",), present=frozenset({"tags"}))
                assert await store.update_activity(team.id, rnd.choice(mine), changes)
            elif roll < 0.95:
                fresh = [f"call-{name}-{n}-{i}" for i in range(rnd.randrange(1, 6))]
                old = rnd.sample(mine, min(len(mine), rnd.randrange(0, 6)))
                batch = [item(i, f"b{n}") for i in old + fresh]
                rnd.shuffle(batch)
                await store.upsert_activities(team.id, batch)
                mine.extend(fresh)
            else:
                await store.upsert_activities(other.id, [item(f"call-{name}-{n}", "x")])
    finally:
        await store.close()


def process_writer(path: str, name: str, ops: int, seed: int) -> None:
    """A writer process's body."""
    asyncio.run(store_writer(path, name, ops, seed))


def http_writer(settings: Settings, key: str, name: str, ops: int, seed: int) -> None:
    """Creates, updates and bulk upserts through HTTP, with its own app and connection."""
    headers = {"Authorization": f"Bearer {key}"}
    rnd = random.Random(seed)
    mine: list[str] = []
    with TestClient(create_app(settings)) as client:
        for n in range(ops):
            roll = rnd.random()
            if roll < 0.35 or not mine:
                body = {"id": f"note-{name}-{n}", "type": "note", "resource_type": "account"}
                response = client.post(LIST, json={**body, "resource_id": n}, headers=headers)
                assert response.status_code == 201, response.text
                mine.append(body["id"])
            elif roll < 0.7:
                path = f"{LIST}/{rnd.choice(mine)}"
                response = client.put(path, json={"tags": [f"t{n}"]}, headers=headers)
                assert response.status_code == 200, response.text
            else:
                fresh = [f"note-{name}-{n}-{i}" for i in range(rnd.randrange(1, 6))]
                old = rnd.sample(mine, min(len(mine), rnd.randrange(0, 6)))
                batch = [
                    {"id": i, "type": "note", "resource_type": "account", "resource_id": 1}
                    | {"tags": [f"b{n}"]}
                    for i in old + fresh
                ]
                response = client.post(f"{LIST}/bulk", json=batch, headers=headers)
                assert response.status_code == 200, response.text
                mine.extend(fresh)


class Poller:
    """The client the contract promises: polls ``updated_at[gt]`` with the last value seen."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}
        self.cursor = "1970-01-01T00:00:00.000000Z"
        self.seen: list[tuple[str, str]] = []
        self.latest: dict[str, str] = {}

    def poll(self) -> int:
        """One page after the cursor; how many activities it held."""
        params = {
            "sort_by": "updated_at",
            "sort_direction": "ASC",
            "updated_at[gt]": self.cursor,
            "per_page": "37",
        }
        response = self.client.get(LIST, params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        for activity in data:
            self.seen.append((activity["id"], activity["updated_at"]))
            self.latest[activity["id"]] = activity["updated_at"]
            self.cursor = activity["updated_at"]
        return len(data)

    def until(self, done: Callable[[], bool]) -> None:
        """Poll while writers run, then until a poll after they are done finds nothing."""
        while not done():
            self.poll()
        while self.poll():
            pass


def stored(path: str, team: str) -> dict[str, str]:
    """Every activity of ``team`` as the file holds it: id to ``updated_at``."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT a.id, a.updated_at FROM activities a JOIN teams t ON t.id = a.team_id "
            "WHERE t.name = ?",
            (team,),
        ).fetchall()
    finally:
        conn.close()
    return {activity_id: format_timestamp(us) for activity_id, us in rows}


def check(poller: Poller, path: str) -> None:
    """Nothing missed, nothing repeated, nothing out of order."""
    assert len(set(poller.seen)) == len(poller.seen), "an (id, updated_at) was seen twice"
    stamps = [parse_timestamp(updated_at) for _, updated_at in poller.seen]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    truth = stored(path, TEAM)
    assert len(truth) > 100
    assert poller.latest == truth
    values = list(truth.values())
    assert len(set(values)) == len(values), "two activities of one team share an updated_at"


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, Settings, str]:
    """A migrated SQLite file with both teams, its settings and a key of team acme."""
    path = str(tmp_path / "concurrent.db")
    settings = Settings(database_url=f"sqlite:///{path}", rate_limit_per_minute=0)

    async def setup() -> str:
        store = SQLiteStorage(path)
        await store.open()
        try:
            await store.ensure_team(OTHER)
            return await new_key(store, TEAM, SCOPES)
        finally:
            await store.close()

    return path, settings, asyncio.run(setup())


def run_threads(
    targets: list[tuple[Callable[..., Any], tuple[Any, ...]]],
) -> tuple[list[threading.Thread], list[BaseException]]:
    """Start a thread per target; its errors are collected in the list returned."""
    errors: list[BaseException] = []

    def guarded(target: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            target(*args)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=t, daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    return threads, errors


def test_reader_sees_every_write_of_concurrent_threads_once(
    db: tuple[str, Settings, str],
) -> None:
    path, settings, key = db
    targets: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (lambda *a: asyncio.run(store_writer(*a)), (path, f"s{i}", 120, i)) for i in range(3)
    ]
    targets += [(http_writer, (settings, key, f"h{i}", 80, 10 + i)) for i in range(2)]
    threads, errors = run_threads(targets)
    with TestClient(create_app(settings)) as client:
        poller = Poller(client, key)
        poller.until(lambda: not any(t.is_alive() for t in threads))
    for thread in threads:
        thread.join()
    assert not errors, errors
    check(poller, path)


def test_reader_sees_every_write_of_concurrent_processes_once(
    db: tuple[str, Settings, str],
) -> None:
    path, settings, key = db
    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(target=process_writer, args=(path, f"p{i}", 150, 100 + i)) for i in range(3)
    ]
    for process in processes:
        process.start()
    # A writer thread in this process too, through HTTP, alongside the processes.
    threads, errors = run_threads([(http_writer, (settings, key, "h", 60, 7))])
    try:
        with TestClient(create_app(settings)) as client:
            poller = Poller(client, key)
            poller.until(
                lambda: (
                    not any(p.is_alive() for p in processes)
                    and not any(t.is_alive() for t in threads)
                )
            )
    finally:
        for process in processes:
            process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert not errors, errors
    check(poller, path)


def test_bulk_updated_at_grows_in_array_order_close_to_the_clock(
    client: TestClient, auth: dict[str, str]
) -> None:
    ids = [f"call-{n}" for n in random.Random(3).sample(range(100_000), 1000)]
    base = {"type": "call", "resource_type": "person", "resource_id": 1}
    for tag in ("a", "b"):  # every item created, then every item updated
        batch = [{**base, "id": i, "tags": [tag]} for i in ids]
        before = now_us()
        assert client.post(f"{LIST}/bulk", json=batch, headers=auth).status_code == 200
        after = now_us()
        order: list[tuple[str, int]] = []
        for page in range(1, 11):
            params = {"sort_by": "updated_at", "sort_direction": "asc", "per_page": 100}
            response = client.get(LIST, params={**params, "page": page}, headers=auth)
            order += [(a["id"], parse_timestamp(a["updated_at"])) for a in response.json()["data"]]
        assert [activity_id for activity_id, _ in order] == ids
        stamps = [stamp for _, stamp in order]
        assert len(set(stamps)) == len(stamps)
        assert before <= stamps[0]
        # Ahead of the wall clock by at most a microsecond per item of the batch.
        assert stamps[-1] <= after + len(batch)
