"""What a typo or a bad setting gets from the command line: one line on stderr, exit non-zero."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from activityfeed.cli.main import main

KEY = re.compile(r"ak_[0-9a-f]{64}")
BAD_SETTINGS = [
    ("ACTIVITYFEED_RATE_LIMIT_PER_MINUTE", "abc", "ACTIVITYFEED_RATE_LIMIT_PER_MINUTE"),
    ("ACTIVITYFEED_MAX_BODY_BYTES", "10MB", "ACTIVITYFEED_MAX_BODY_BYTES"),
    ("ACTIVITYFEED_REDIS_URL", "http://user:sekrit@cache:6379/0", "redis://"),
    ("ACTIVITYFEED_RATE_LIMIT_FAIL_CLOSED", "ture", "ACTIVITYFEED_RATE_LIMIT_FAIL_CLOSED"),
]
COMMANDS = [
    ["keys", "list"],
    ["keys", "create", "--team", "acme"],
    ["teams", "list"],
    ["teams", "set-limit", "acme", "5"],
    ["migrate"],
    ["serve", "--wait-for-db", "0"],  # a free port is added
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    runner = CliRunner(env={"ACTIVITYFEED_DATABASE_URL": None, **(env or {})})
    return runner.invoke(main, list(args))


def one_error_line(result: Result) -> str:
    """The single ``Error: ...`` line of a failed command; fails on a crash or a traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().split("\n")
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def create_key(url: str, team: str = "acme") -> str:
    result = invoke("keys", "create", "--team", team, "--database-url", url)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().split("\n")[-1]


@pytest.mark.parametrize(("variable", "value", "named"), BAD_SETTINGS)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_bad_setting_is_one_line_and_a_non_zero_exit_for_every_command(
    url: str, variable: str, value: str, named: str, command: list[str]
) -> None:
    if command[0] == "serve":
        command = [*command, "--port", str(free_port())]
    result = invoke(*command, "--database-url", url, env={variable: value})
    line = one_error_line(result)
    assert named in line
    assert "sekrit" not in result.output


def test_a_sqlite_url_in_a_missing_directory_is_refused_without_making_it(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    for command in (["keys", "list"], ["migrate"], ["keys", "create", "--team", "acme"]):
        result = invoke(*command, "--database-url", f"sqlite:///{missing / 'x.db'}")
        line = one_error_line(result)
        assert str(missing) in line
        assert "does not exist" in line
    assert not (tmp_path / "nonexistent").exists()


def test_the_default_store_in_the_working_directory_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("keys", "create", "--team", "acme").exit_code == 0
    assert (tmp_path / "activityfeed.db").is_file()


def test_keys_list_of_an_unknown_team_is_an_error(url: str) -> None:
    create_key(url)
    line = one_error_line(invoke("keys", "list", "--team", "nope", "--database-url", url))
    assert "no team named 'nope'" in line
    listed = invoke("keys", "list", "--team", "acme", "--database-url", url)
    assert listed.exit_code == 0 and "team=acme" in listed.stdout


def test_teams_set_limit_of_an_unknown_team_is_an_error(url: str) -> None:
    create_key(url)
    result = invoke("teams", "set-limit", "nope", "5", "--database-url", url)
    assert "no team named 'nope'" in one_error_line(result)


def test_keys_create_says_when_it_created_the_team(url: str) -> None:
    first = invoke("keys", "create", "--team", "acmee", "--database-url", url)
    assert first.exit_code == 0
    assert "created team 'acmee' (it did not exist)" in first.stderr
    assert KEY.fullmatch(first.stdout.strip().split("\n")[-1])
    again = invoke("keys", "create", "--team", "acmee", "--database-url", url)
    assert again.exit_code == 0
    assert "created team" not in again.stderr


def test_keys_revoke_takes_any_prefix_of_at_least_8_hex_digits(url: str) -> None:
    key = create_key(url)
    result = invoke("keys", "revoke", key[:20], "--database-url", url)
    assert result.exit_code == 0, result.output
    assert "revoked the key" in result.stdout
    assert "revoked" in invoke("keys", "list", "--database-url", url).stdout


def test_keys_revoke_of_a_short_prefix_says_what_it_takes(url: str) -> None:
    key = create_key(url)
    result = invoke("keys", "revoke", key[:8], "--database-url", url)
    assert result.exit_code == 2
    assert "at least 8 hex digits" in result.stderr
    assert "active" in invoke("keys", "list", "--database-url", url).stdout


def test_keys_revoke_of_an_unknown_whole_key_never_shows_it(url: str) -> None:
    key = create_key(url)
    other = key[:11] + ("0" if key[11] != "0" else "1") + key[12:]
    line = one_error_line(invoke("keys", "revoke", other, "--database-url", url))
    assert other not in line
    assert "active" in invoke("keys", "list", "--database-url", url).stdout


def test_the_top_level_help_does_not_cut_descriptions() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.partition("Commands:")[2].split())
    assert "..." not in text
    assert "Copy a whole store (teams, keys, activities, records) to another." in text


def test_help_names_the_environment_variable_of_the_database_option() -> None:
    for command in (["keys", "list"], ["teams", "list"], ["migrate"]):
        assert "ACTIVITYFEED_DATABASE_URL" in invoke(*command, "--help").stdout


def test_a_refused_database_connection_names_the_url_without_its_password() -> None:
    url = "postgresql://someone:sekrit@127.0.0.1:1/test"
    line = one_error_line(invoke("keys", "list", "--database-url", url))
    assert "postgresql://someone@127.0.0.1:1/test" in line
    assert "sekrit" not in line
