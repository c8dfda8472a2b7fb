"""``activityfeed teams set-limit`` and ``teams list``, and what ``serve`` hands its workers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from activityfeed.cli import main
from activityfeed.ratelimit_backends import describe, rate_limit_env, shared_file_path
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
    assert Settings.from_env(env) == settings.with_(database_url=Settings().database_url)
    assert "secret" not in describe(settings)
    assert "redis.internal:6379/2" in describe(settings)


def test_the_shared_file_is_derived_from_the_database_url(tmp_path: Path) -> None:
    assert shared_file_path(f"sqlite:///{tmp_path}/a.db") == f"{tmp_path}/a.db.ratelimit"
    assert shared_file_path("sqlite:///:memory:") is None
    first = shared_file_path("postgresql://postgres@127.0.0.1:5432/test")
    second = shared_file_path("postgresql://postgres@127.0.0.1:5432/other")
    assert first is not None and second is not None and first != second
