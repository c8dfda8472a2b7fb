"""``activityfeed copy`` and what the target already holds: refused unless told, never merged."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from activityfeed.auth import hash_key
from activityfeed.cli.main import main
from activityfeed.storage import Storage
from support import pg_support
from support.copy_support import (
    copy,
    fill,
    fingerprint,
    interrupt_copy,
    run_copy,
    snapshot,
    with_store,
)

DIRECTIONS = [
    pytest.param(("sqlite", "sqlite"), id="sqlite-sqlite"),
    pytest.param(("sqlite", "postgres"), id="sqlite-postgres", marks=pytest.mark.postgres),
    pytest.param(("postgres", "sqlite"), id="postgres-sqlite", marks=pytest.mark.postgres),
    pytest.param(("postgres", "postgres"), id="postgres-postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=DIRECTIONS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A source URL and a target URL, of each kind of store."""
    kinds: tuple[str, str] = request.param
    with ExitStack() as stack:
        urls: list[str] = []
        for role, kind in zip(("source", "target"), kinds, strict=True):
            if kind == "sqlite":
                urls.append(f"sqlite:///{tmp_path / role}.db")
            elif "postgres" not in kinds[: len(urls)]:
                urls.append(request.getfixturevalue("pg_url"))  # skips without PostgreSQL
            else:
                base = pg_support.base_url()
                assert base is not None
                urls.append(stack.enter_context(pg_support.pooled_schema(base)))
        yield urls[0], urls[1]


def unrelated_target(url: str) -> list[str]:
    """A store of its own: a team named like the source's ("acme"), and another; its keys."""
    return with_store(url, lambda store: fill(store, (("acme", 15), ("initech", 12))))


def assert_refused(result: Result) -> str:
    """A refusal: a non-zero exit, one line on stderr, no traceback; the line."""
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return lines[0]


def test_copy_into_a_non_empty_target_is_refused_and_changes_nothing(
    stores: tuple[str, str],
) -> None:
    source, target = stores
    with_store(source, fill)
    unrelated_target(target)
    live = None
    if target.startswith("sqlite:"):
        # A server still running on the target: its last commit only in the -wal.
        live = sqlite3.connect(target[len("sqlite:///") :], isolation_level=None)
        live.execute("PRAGMA wal_autocheckpoint = 0")
        live.execute(
            "INSERT INTO teams (name, rate_limit, clock, created_at) VALUES ('umbrella', 5, 0, 1)"
        )
    try:
        before = fingerprint(target)
        if live is not None:
            assert before["-wal"] is not None
        line = assert_refused(run_copy(source, target))
        assert "not empty" in line and "--into-existing" in line
        assert fingerprint(target) == before
    finally:
        if live is not None:
            live.close()


def test_a_refused_sqlite_target_gets_no_wal_or_shm_file(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "target.db"
    with_store(source, fill)
    unrelated_target(f"sqlite:///{target}")
    files = sorted(path.name for path in tmp_path.iterdir())
    before = target.read_bytes()
    assert_refused(run_copy(source, f"sqlite:///{target}"))
    assert sorted(path.name for path in tmp_path.iterdir()) == files
    assert target.read_bytes() == before


def test_into_existing_never_merges_a_team_of_the_same_name(stores: tuple[str, str]) -> None:
    source, target = stores
    with_store(source, fill)
    unrelated_target(target)
    before = fingerprint(target)
    line = assert_refused(run_copy(source, target, "--into-existing"))
    assert "'acme'" in line and "merge" in line
    assert fingerprint(target) == before


def test_into_existing_adds_the_source_teams_beside_the_targets_own(
    stores: tuple[str, str], tmp_path: Path
) -> None:
    source, target = stores
    keys = with_store(source, fill)
    with_store(target, lambda store: fill(store, (("initech", 25), ("hooli", 7))))
    expected = with_store(source, snapshot)
    own = with_store(target, snapshot)

    assert "verified" in copy(source, target, "--into-existing")

    assert with_store(target, lambda store: snapshot(store, ("acme", "globex"))) == expected
    assert with_store(target, lambda store: snapshot(store, ("initech", "hooli"))) == own

    async def teams_of(store: Storage) -> list[str | None]:
        found = [await store.find_key(hash_key(key)) for key in keys]
        return [None if key is None else key.team_name for key in found]

    assert with_store(target, teams_of) == ["acme", "globex"]
    # seq stayed unique across teams (the target's own used the source's numbers): the
    # merged store copies on, into SQLite where seq is the rowid.
    assert "verified" in copy(target, f"sqlite:///{Path(tmp_path) / 'onward.db'}")


def test_into_existing_never_moves_a_key_to_another_team(tmp_path: Path) -> None:
    source, target = (f"sqlite:///{tmp_path / name}.db" for name in ("source", "target"))
    keys = with_store(source, fill)
    with_store(target, lambda store: fill(store, (("initech", 5),)))
    with sqlite3.connect(target[len("sqlite:///") :]) as conn:  # the same key, another team
        conn.execute("UPDATE api_keys SET key_hash = ?", (hash_key(keys[0]),))
    conn.close()
    before = fingerprint(target)
    line = assert_refused(run_copy(source, target, "--into-existing"))
    assert "key" in line and "'acme'" in line
    assert fingerprint(target) == before


def test_an_interrupted_copy_into_an_existing_store_resumes(stores: tuple[str, str]) -> None:
    source, target = stores
    with_store(source, fill)
    with_store(target, lambda store: fill(store, (("initech", 25),)))
    expected = with_store(source, snapshot)
    own = with_store(target, snapshot)
    interrupt_copy(source, target, after=100, into_existing=True)

    # Not an empty store nor only this copy: still refused without the option.
    before = fingerprint(target)
    assert_refused(run_copy(source, target))
    assert fingerprint(target) == before

    assert "verified" in copy(source, target, "--into-existing")
    assert with_store(target, lambda store: snapshot(store, ("acme", "globex"))) == expected
    assert with_store(target, lambda store: snapshot(store, ("initech",))) == own


def test_an_interrupted_copy_of_another_store_is_not_resumed_from_this_one(
    tmp_path: Path,
) -> None:
    first, second = (f"sqlite:///{tmp_path / name}.db" for name in ("first", "second"))
    target = f"sqlite:///{tmp_path / 'target.db'}"
    with_store(first, fill)
    with_store(second, fill)  # the same team names, other teams
    interrupt_copy(first, target, after=100)
    before = fingerprint(target)
    assert "not empty" in assert_refused(run_copy(second, target))
    assert "'acme'" in assert_refused(run_copy(second, target, "--into-existing"))
    assert fingerprint(target) == before
    assert "verified" in copy(first, target)  # its own copy still resumes


def test_a_finished_copy_is_not_copied_over_again(tmp_path: Path) -> None:
    source, target = (f"sqlite:///{tmp_path / name}.db" for name in ("source", "target"))
    with_store(source, fill)
    copy(source, target)
    with sqlite3.connect(target[len("sqlite:///") :]) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "copy_progress" not in tables  # a finished copy leaves no trace
    before = fingerprint(target)
    assert_refused(run_copy(source, target))
    assert_refused(run_copy(source, target, "--into-existing"))
    assert fingerprint(target) == before


def test_copy_help_tells_what_a_non_empty_target_needs() -> None:
    result = CliRunner().invoke(main, ["copy", "--help"])
    assert result.exit_code == 0
    assert "--into-existing" in result.output
    assert "empty" in result.output and "merge" in result.output


def test_an_interrupted_copy_beside_other_data_is_not_resumed_without_the_option(
    tmp_path: Path,
) -> None:
    source, target = (f"sqlite:///{tmp_path / name}.db" for name in ("source", "target"))
    with_store(source, fill)
    interrupt_copy(source, target, after=100)
    with sqlite3.connect(target[len("sqlite:///") :]) as conn:  # something not of a team
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    before = fingerprint(target)
    assert "notes" in assert_refused(run_copy(source, target))
    assert fingerprint(target) == before
    assert "verified" in copy(source, target, "--into-existing")
