"""The SQLite store's files: private modes, and a store that cannot be written."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from activityfeed.storage.sqlite import SQLiteStorage


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
