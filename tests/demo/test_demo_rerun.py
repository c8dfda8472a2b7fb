"""A rerun of the demo on an unchanged store: nothing written, no activity read, the same key."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from activityfeed.cli.demo_files import demo_file
from activityfeed.cli.main import main
from activityfeed.model import ActivityInput
from activityfeed.storage.sqlite.store import SQLiteStorage

KEY = re.compile(r"ak_[0-9a-f]{64}")


class _Counted(sqlite3.Connection):
    """A connection that reports its statements and, when closed, the rows it changed."""

    log: list[str]
    changes: list[int]

    def close(self) -> None:
        self.changes.append(self.total_changes)
        super().close()


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[str], list[int]]]:
    """Every statement and every closed connection's changed rows, of the stores opened."""
    statements: list[str] = []
    changes: list[int] = []
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real(*args, **kwargs, factory=_Counted)
        conn.log, conn.changes = statements, changes
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    yield statements, changes


def _demo(url: str) -> Result:
    args = ["demo", "--database-url", url, "--activities", "1200", "--teams", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result


def _key(result: Result) -> str:
    key = result.stdout.strip().splitlines()[-1]
    assert KEY.fullmatch(key)
    return key


def test_a_second_demo_run_writes_nothing_reads_no_activity_and_prints_the_same_key(
    tmp_path: Path, traced: tuple[list[str], list[int]]
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = _key(_demo(url))
    statements, changes = traced
    statements.clear()
    changes.clear()
    second = _demo(url)
    assert _key(second) == first
    assert "already loaded" in second.stderr
    assert changes and sum(changes) == 0
    reads = [s for s in statements if re.search(r"\bactivities\b", s)]
    assert reads and all("count(*)" in s for s in reads)


def test_the_demo_key_file_is_private_and_holds_the_printed_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    key = _key(_demo(url))
    key_file = tmp_path / "demo.db.demo-key"
    assert demo_file(url, "demo-key") == key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE((tmp_path / "demo.db.demo-state").stat().st_mode) == 0o600


def test_a_missing_key_file_or_a_revoked_key_gets_a_new_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = _key(_demo(url))
    (tmp_path / "demo.db.demo-key").unlink()
    second = _key(_demo(url))
    assert second != first
    revoked = CliRunner().invoke(main, ["keys", "revoke", "--database-url", url, second])
    assert revoked.exit_code == 0, revoked.output
    third = _key(_demo(url))
    assert third != second
    assert (tmp_path / "demo.db.demo-key").read_text().strip() == third


def test_a_demo_run_after_a_change_to_the_store_loads_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    key = _key(_demo(url))

    async def add_note() -> None:
        store = SQLiteStorage.from_url(url)
        await store.open()
        try:
            team = await store.ensure_team("acme")
            item = ActivityInput(type="note", resource_type="person", resource_id="1")
            await store.create_activity(team.id, item)
        finally:
            await store.close()

    asyncio.run(add_note())
    again = _demo(url)
    assert "already loaded" not in again.stderr
    assert "1,200 unchanged" in again.stderr
    assert _key(again) == key
    assert "already loaded" in _demo(url).stderr


def test_other_demo_options_load_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    _demo(url)
    other = CliRunner().invoke(
        main, ["demo", "--database-url", url, "--activities", "1300", "--teams", "2"]
    )
    assert other.exit_code == 0, other.output
    assert "already loaded" not in other.stderr
    assert "loaded 1,300 activities" in other.stderr


def test_a_postgres_store_keeps_its_demo_files_in_the_state_directory_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    with_password = demo_file("postgresql://u:secret@db:5432/app", "demo-key")
    assert with_password.parent == tmp_path / "activityfeed"
    assert "secret" not in str(with_password)
    assert with_password == demo_file("postgresql://u:other@db:5432/app", "demo-key")
    assert with_password != demo_file("postgresql://u@db:5432/other", "demo-key")


def test_a_second_demo_run_on_postgres_reuses_its_key_from_the_state_directory(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    first = _key(_demo(pg_url))
    second = _demo(pg_url)
    assert "already loaded" in second.stderr
    assert _key(second) == first
    key_file = demo_file(pg_url, "demo-key")
    assert key_file.parent == tmp_path / "activityfeed"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
