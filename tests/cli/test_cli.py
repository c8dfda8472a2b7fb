"""``activityfeed keys create|list|revoke`` and ``teams list`` (contract, section 6)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from activityfeed.cli.main import main
from activityfeed.http.app import create_app
from activityfeed.settings import Settings

KEY = re.compile(r"ak_[0-9a-f]{64}")
LIST = "/v2/activity_histories"
ACTIVITY = {"type": "call", "resource_type": "person", "resource_id": 1}


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A SQLite store of its own, in the test's directory."""
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(url: str, *args: str) -> Result:
    """Run the command against ``url``; fails the test on a crash."""
    runner = CliRunner(env={"ACTIVITYFEED_DATABASE_URL": None})
    result = runner.invoke(main, [*args, "--database-url", url])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def create_key(url: str, *args: str) -> str:
    """``keys create``; the key, read from the last line of standard output."""
    result = run(url, "keys", "create", *args)
    assert result.exit_code == 0, result.output
    last = result.stdout.rstrip("\n").split("\n")[-1]
    assert KEY.fullmatch(last), result.stdout
    return last


def status(url: str, key: str, method: str = "GET", path: str = LIST) -> int:
    """The status of one request with ``key`` to an app on ``url``."""
    app = create_app(Settings(database_url=url, rate_limit_per_minute=0))
    with TestClient(app) as client:
        kwargs = {"json": ACTIVITY} if method == "POST" else {}
        response = client.request(
            method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs
        )
    return response.status_code


def test_keys_create_prints_the_key_as_the_last_line(url: str) -> None:
    result = run(url, "keys", "create", "--team", "acme")
    assert result.exit_code == 0
    lines = result.stdout.strip().split("\n")
    assert KEY.fullmatch(lines[-1])
    # Standard output is the key alone, so that `KEY=$(activityfeed keys create ...)` works.
    assert lines == [lines[-1]]
    assert "not shown again" in result.stderr


def test_keys_are_unique(url: str) -> None:
    assert create_key(url, "--team", "acme") != create_key(url, "--team", "acme")


def test_key_is_stored_only_as_a_hash(url: str, tmp_path: Path) -> None:
    key = create_key(url, "--team", "acme")
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("cli.db*"))
    assert key.encode() not in stored
    assert key[11:].encode() not in stored  # not even the secret part
    assert hashlib.sha256(key.encode()).hexdigest().encode() in stored


def test_key_is_shown_once_and_listed_by_prefix(url: str) -> None:
    key = create_key(url, "--team", "acme")
    listing = run(url, "keys", "list")
    assert listing.exit_code == 0
    assert key not in listing.output
    assert key[:11] in listing.output
    assert "team=acme" in listing.output and "active" in listing.output


def test_keys_create_makes_the_team_and_teams_list_shows_it(url: str) -> None:
    assert "acme" not in run(url, "teams", "list").stdout
    create_key(url, "--team", "acme")
    create_key(url, "--team", "beta")
    create_key(url, "--team", "acme")
    teams = run(url, "teams", "list")
    assert teams.exit_code == 0
    names = [line.split()[0] for line in teams.stdout.strip().split("\n")]
    assert names == ["acme", "beta"]


def test_default_scopes_are_read_and_write(url: str) -> None:
    key = create_key(url, "--team", "acme")
    listing = run(url, "keys", "list").output
    assert "activities:read" in listing and "activities:write" in listing
    assert status(url, key, "POST") == 201
    assert status(url, key, "GET") == 200


def test_scope_option_restricts_the_key(url: str) -> None:
    reader = create_key(url, "--team", "acme", "--scope", "activities:read")
    writer = create_key(url, "--team", "acme", "--scope", "activities:write")
    assert status(url, reader, "GET") == 200
    assert status(url, reader, "POST") == 403
    assert status(url, writer, "POST") == 201
    assert status(url, writer, "GET") == 403
    both = create_key(
        url, "--team", "acme", "--scope", "activities:read", "--scope", "activities:write"
    )
    assert status(url, both, "POST") == 201 and status(url, both, "GET") == 200


def test_unknown_scope_is_a_usage_error(url: str) -> None:
    result = run(url, "keys", "create", "--team", "acme", "--scope", "activities:admin")
    assert result.exit_code == 2
    assert "activities:admin" in result.output
    assert not KEY.search(result.output)


def test_revoke_by_the_listed_prefix_makes_the_key_401(url: str) -> None:
    key = create_key(url, "--team", "acme")
    other = create_key(url, "--team", "acme")
    assert status(url, key) == 200
    listed = next(line for line in run(url, "keys", "list").stdout.split("\n") if key[:11] in line)
    prefix = listed.split()[0]  # as shown, with its ellipsis
    result = run(url, "keys", "revoke", prefix)
    assert result.exit_code == 0, result.output
    assert status(url, key) == 401
    assert status(url, other) == 200
    assert "revoked" in run(url, "keys", "list", "--team", "acme").stdout


def test_revoke_by_the_whole_key(url: str) -> None:
    key = create_key(url, "--team", "acme")
    assert run(url, "keys", "revoke", key).exit_code == 0
    assert status(url, key) == 401


def test_revoking_an_unknown_or_revoked_key_fails_cleanly(url: str) -> None:
    key = create_key(url, "--team", "acme")
    assert run(url, "keys", "revoke", key[:11]).exit_code == 0
    again = run(url, "keys", "revoke", key[:11])
    assert again.exit_code == 1
    assert "no active key" in again.output
    assert run(url, "keys", "revoke", "ak_ffffffff").exit_code == 1


def test_keys_list_filters_by_team(url: str) -> None:
    acme = create_key(url, "--team", "acme")
    beta = create_key(url, "--team", "beta")
    listing = run(url, "keys", "list", "--team", "beta").stdout
    assert beta[:11] in listing and acme[:11] not in listing


def test_database_url_from_the_environment(url: str) -> None:
    runner = CliRunner(env={"ACTIVITYFEED_DATABASE_URL": url})
    result = runner.invoke(main, ["keys", "create", "--team", "envteam"])
    assert result.exit_code == 0, result.output
    assert "envteam" in run(url, "teams", "list").stdout


def test_unsupported_database_url_is_a_clean_error() -> None:
    result = CliRunner().invoke(main, ["keys", "list", "--database-url", "mysql://x/y"])
    assert result.exit_code == 1
    assert "unsupported database URL" in result.output
    assert "Traceback" not in result.output
