"""The SQLite store's files: private modes, and a store that cannot be written."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from activityfeed.http.app import create_app
from activityfeed.settings import Settings
from activityfeed.storage import StorageUnavailable
from activityfeed.storage.sqlite.store import SQLiteStorage
from support.sdk_support import make_key
from support.serve_process import Server

LIST = "/v2/activity_histories"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (0022), under which files are world-readable unless made private."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_store_and_its_wal_and_shm_files_are_private(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "new" / "feed.db"
    path.parent.mkdir()  # the store makes its file, never its directory
    store = SQLiteStorage(str(path))
    store.open_sync()
    try:
        asyncio.run(store.ensure_team("acme"))
        assert {p.name for p in path.parent.iterdir()} >= {"feed.db", "feed.db-wal", "feed.db-shm"}
        assert [mode(p) for p in sorted(path.parent.iterdir())] == [0o600, 0o600, 0o600]
    finally:
        store.close_sync()


def test_an_existing_store_keeps_its_mode_and_a_world_readable_one_is_reported(
    tmp_path: Path, open_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "feed.db"
    first = SQLiteStorage(str(path))
    first.open_sync()
    first.close_sync()
    path.chmod(0o644)
    store = SQLiteStorage(str(path))
    with caplog.at_level(logging.WARNING, logger="activityfeed"):
        store.open_sync()
    try:
        asyncio.run(store.ensure_team("acme"))
        assert mode(path) == 0o644  # the operator's choice is not changed behind their back
        assert [r.getMessage() for r in caplog.records if "readable" in r.getMessage()] == [
            f"the SQLite store {path} is readable by other users (mode 644): "
            f"chmod 600 {path} unless that is intended"
        ]
    finally:
        store.close_sync()
    caplog.clear()
    path.chmod(0o640)
    quiet = SQLiteStorage(str(path))
    with caplog.at_level(logging.WARNING, logger="activityfeed"):
        quiet.open_sync()
    quiet.close_sync()
    assert not [r for r in caplog.records if "readable" in r.getMessage()]


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Makes a file unwritable for this process: mode 0444, or as root the immutable flag."""
    made: list[Path] = []

    def make(path: Path) -> None:
        if os.geteuid() == 0:  # root writes a 0444 file: only the immutable flag stops it
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
            if done.returncode != 0:
                pytest.skip("as root, a read-only file needs chattr +i on this filesystem")
        else:
            path.chmod(0o444)
        made.append(path)

    yield make
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o600)


CREATE = {"type": "call", "resource_type": "person", "resource_id": 7, "id": "call-1"}


def filled_store(path: Path) -> str:
    """A store with one team, one key and one activity, closed again; the key."""
    url = f"sqlite:///{path}"
    key = make_key(url)
    with TestClient(create_app(Settings(database_url=url, rate_limit_per_minute=0))) as client:
        auth = {"Authorization": f"Bearer {key}"}
        assert client.post(LIST, headers=auth, json=CREATE).status_code == 201
    return key


def test_a_read_only_store_serves_reads_and_refuses_writes_with_a_clear_503(
    tmp_path: Path, read_only: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "feed.db"
    key = filled_store(path)
    read_only(path)
    auth = {"Authorization": f"Bearer {key}"}
    settings = Settings(database_url=f"sqlite:///{path}", rate_limit_per_minute=0)
    with caplog.at_level(logging.INFO), TestClient(create_app(settings)) as client:
        before = client.get(LIST, headers=auth)
        assert before.status_code == 200
        assert [a["id"] for a in before.json()["data"]] == ["call-1"]
        writes = [
            client.post(LIST, headers=auth, json={**CREATE, "id": "call-2"}),
            client.put(f"{LIST}/call-1", headers=auth, json={"tags": ["x"]}),
            client.delete(f"{LIST}/call-1", headers=auth),
            client.post(f"{LIST}/bulk", headers=auth, json=[{**CREATE, "id": "call-3"}]),
            client.put("/v2/associated_records/email/1", headers=auth, json={"a": 1}),
        ]
        for response in writes:
            assert response.status_code == 503
            assert response.json() == {
                "error": "The database is read-only: it serves reads, and refuses every write "
                "until it is made writable and the service restarted"
            }
            assert "retry-after" not in response.headers
        after = client.get(LIST, headers=auth)
        assert after.json() == before.json()
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert said == [
        f"the SQLite store {path} is read-only: serving reads, refusing writes with 503"
    ]
    assert not [r for r in caplog.records if r.exc_info]


def test_a_read_only_store_that_needs_migrations_says_so_at_open(
    tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE unrelated (x)")
    conn.close()
    read_only(path)
    store = SQLiteStorage(str(path))
    with pytest.raises(StorageUnavailable) as raised:
        store.open_sync()
    assert str(raised.value) == (
        f"the SQLite store {path} is read-only and its schema is not up to date: "
        "make it writable for one start, so that its migrations are applied"
    )


@pytest.mark.slow
def test_serve_warns_once_that_the_store_is_read_only_and_writes_log_no_traceback(
    tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    path = tmp_path / "feed.db"
    key = filled_store(path)
    read_only(path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITYFEED_")}
    server = Server(f"sqlite:///{path}", env)
    try:
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", headers=auth) as http:
            assert http.get(LIST).status_code == 200
            for n in range(3):
                refused = http.post(LIST, json={**CREATE, "id": f"call-{n + 2}"})
                assert refused.status_code == 503
            assert http.get(LIST).status_code == 200  # the same connection still serves
    finally:
        server.stop()
    output = "".join(server.lines)
    assert [line for line in server.lines if "read-only" in line] == [
        f"the SQLite store {path} is read-only: serving reads, refusing writes with 503\n"
    ]
    assert "Traceback" not in output


def test_a_write_to_a_store_locked_by_another_process_is_a_503_within_the_deadline(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    settings = Settings(database_url=url, rate_limit_per_minute=0, store_timeout_s=0.5)
    key = make_key(url)
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        body = {"type": "note", "resource_type": "person", "resource_id": 1}
        holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's long write holds the lock
        try:
            started = time.monotonic()
            answer = client.post(LIST, json=body, headers=headers)
            waited = time.monotonic() - started
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert answer.status_code == 503
        assert "error" in answer.json()
        assert waited < 3.0  # the deadline (0.5 s) and slack for a busy machine, far below 30 s
        # The lock released, the next write goes through at once.
        assert client.post(LIST, json=body, headers=headers).status_code == 201


def test_a_write_queued_past_its_deadline_behind_another_is_not_started(tmp_path: Path) -> None:
    store = SQLiteStorage(str(tmp_path / "queued.db"), timeout=0.2)
    asyncio.run(store.open())
    try:
        done: list[str] = []
        with pytest.raises(StorageUnavailable, match="waited too long"):
            store.write_sync(lambda conn: done.append("ran"), time.monotonic() - 0.01)
        assert done == []
        # Without a deadline (the command-line tools) it waits as it always did.
        assert store.write_sync(lambda conn: 7) == 7
        assert store._busy_ms == 30_000
    finally:
        asyncio.run(store.close())
