"""``activityfeed teams set-limit`` and ``teams list``, and what ``serve`` hands its workers."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from activityfeed.cli.main import main
from activityfeed.model import ApiKey
from activityfeed.ratelimit.factory import (
    build_rate_limiter,
    describe,
    rate_limit_env,
    shared_file_path,
)
from activityfeed.settings import Settings


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """A runner on a fresh store with team ``acme``, the default budget 600."""
    runner = CliRunner(
        env={
            "ACTIVITYFEED_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "ACTIVITYFEED_RATE_LIMIT_PER_MINUTE": "600",
        }
    )
    assert runner.invoke(main, ["keys", "create", "--team", "acme"]).exit_code == 0
    return runner


def limits(cli: CliRunner) -> str:
    result = cli.invoke(main, ["teams", "list"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_set_limit_shows_in_teams_list(cli: CliRunner) -> None:
    assert "acme  rate_limit=default (600)" in limits(cli)
    result = cli.invoke(main, ["teams", "set-limit", "acme", "120"])
    assert result.exit_code == 0, result.output
    assert "acme  rate_limit=120" in limits(cli)


def test_zero_is_unlimited_and_default_resets(cli: CliRunner) -> None:
    assert cli.invoke(main, ["teams", "set-limit", "acme", "0"]).exit_code == 0
    assert "acme  rate_limit=unlimited" in limits(cli)
    assert cli.invoke(main, ["teams", "set-limit", "acme", "--default"]).exit_code == 0
    assert "acme  rate_limit=default (600)" in limits(cli)


def test_set_limit_refuses_unknown_teams_and_bad_arguments(cli: CliRunner) -> None:
    unknown = cli.invoke(main, ["teams", "set-limit", "nobody", "5"])
    assert unknown.exit_code == 1
    assert "no team named 'nobody'" in unknown.output
    for args in (["acme"], ["acme", "5", "--default"], ["acme", "-1"], ["acme", "x"]):
        assert cli.invoke(main, ["teams", "set-limit", *args]).exit_code == 2


def test_teams_list_says_when_rate_limiting_is_off(cli: CliRunner) -> None:
    result = cli.invoke(main, ["teams", "list"], env={"ACTIVITYFEED_RATE_LIMIT_PER_MINUTE": "0"})
    assert "acme  rate_limit=default (off)" in result.stdout
    assert "rate limiting is off" in result.stderr


def test_workers_get_the_rate_limit_settings() -> None:
    settings = Settings(
        rate_limit_per_minute=50,
        redis_url="redis://:secret@redis.internal:6379/2",
        redis_key_prefix="prod:",
        rate_limit_fail_closed=True,
    )
    env = rate_limit_env(settings)
    assert Settings.from_env(env) == settings.with_(
        database_url=Settings().database_url, rate_limit_file=env["ACTIVITYFEED_RATE_LIMIT_FILE"]
    )
    assert "secret" not in describe(settings)
    assert "redis.internal:6379/2" in describe(settings)


def test_the_shared_file_is_derived_from_the_database_url(tmp_path: Path) -> None:
    assert shared_file_path(f"sqlite:///{tmp_path}/a.db") == f"{tmp_path}/a.db.ratelimit"
    assert shared_file_path("sqlite:///:memory:") is None
    first = shared_file_path("postgresql://postgres@127.0.0.1:5432/test")
    second = shared_file_path("postgresql://postgres@127.0.0.1:5432/other")
    assert first is not None and second is not None and first != second


@pytest.fixture
def shared_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory like /tmp (everyone writes, sticky), and no runtime directory."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return shared


def private(path: Path) -> bool:
    """A regular file of ours, mode 0600, in a directory of ours that only we can enter."""
    info, parent = os.lstat(path), os.lstat(path.parent)
    return (
        stat.S_ISREG(info.st_mode)
        and stat.S_IMODE(info.st_mode) == 0o600
        and stat.S_ISDIR(parent.st_mode)
        and stat.S_IMODE(parent.st_mode) == 0o700
        and info.st_uid == parent.st_uid == os.geteuid()
    )


def limiter_of_a_worker(settings: Settings) -> tuple[str, bool]:
    """What ``serve`` does: the master hands its workers the environment, a worker
    starts the limiter from it and spends; the file it counted in, and whether it granted."""
    env = rate_limit_env(settings)
    worker = Settings.from_env({**env, "ACTIVITYFEED_DATABASE_URL": settings.database_url})
    limiter = build_rate_limiter(worker)
    key = ApiKey(1, 1, "acme", "ak_00000000", ("read", "write"), 0, None, None)

    async def run() -> bool:
        await limiter.start()
        try:
            decision = await limiter.check(key, "GET", "/v2/activity_histories", b"")
        finally:
            await limiter.close()
        return decision.error is None

    granted = asyncio.run(run())
    return env["ACTIVITYFEED_RATE_LIMIT_FILE"], granted


def test_files_planted_at_predictable_paths_neither_block_the_limiter_nor_are_used(
    shared_tmp: Path, tmp_path: Path
) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/test"
    old_name = "activityfeed-ratelimit-" + hashlib.sha256(url.encode()).hexdigest()[:16]
    theirs = tmp_path / "theirs"
    theirs.write_bytes(b"")
    # What another local user could do first: the old file name, and the names of
    # the per-user directory, as a link to their own file and as an open directory.
    (shared_tmp / old_name).symlink_to(theirs)
    (shared_tmp / f"activityfeed-{os.geteuid()}").symlink_to(tmp_path)
    path, granted = limiter_of_a_worker(Settings(database_url=url, rate_limit_per_minute=5))
    assert granted
    assert private(Path(path))
    assert Path(path).parent.parent == shared_tmp
    assert theirs.read_bytes() == b""  # never written through the link


def test_a_per_user_directory_left_open_is_not_used(shared_tmp: Path) -> None:
    planted = shared_tmp / f"activityfeed-{os.geteuid()}"
    planted.mkdir()
    planted.chmod(0o777)
    url = "postgresql://postgres@127.0.0.1:5432/test"
    path, granted = limiter_of_a_worker(Settings(database_url=url, rate_limit_per_minute=5))
    assert granted
    assert private(Path(path))
    assert Path(path).parent != planted


def test_the_runtime_directory_holds_the_file_when_it_is_private(
    shared_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    url = "postgresql://postgres@127.0.0.1:5432/test"
    path, granted = limiter_of_a_worker(Settings(database_url=url, rate_limit_per_minute=5))
    assert granted
    assert Path(path).parent == runtime
    assert private(Path(path))


def test_a_sqlite_store_in_a_shared_directory_counts_in_a_private_one(shared_tmp: Path) -> None:
    url = f"sqlite:///{shared_tmp / 'feed.db'}"
    (shared_tmp / "feed.db.ratelimit").symlink_to(shared_tmp / "elsewhere")
    path, granted = limiter_of_a_worker(Settings(database_url=url, rate_limit_per_minute=5))
    assert granted
    assert private(Path(path))
    assert not (shared_tmp / "elsewhere").exists()
