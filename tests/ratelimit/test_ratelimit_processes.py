"""The budget holds across processes: real ``activityfeed serve`` servers, real time.

Two servers on different ports, each on its own SQLite file (as two hosts would
be, sharing nothing but Redis) and one team's key: exactly the budget is
granted across both within a minute. Then one server of two workers without
Redis, counting in the machine-local file. A burst takes well under a second;
it starts early in a minute, and is run again for another team in the rare
case that a minute boundary fell inside it anyway.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from activityfeed.auth import generate_key, hash_key, key_prefix
from activityfeed.model import SCOPES
from activityfeed.storage import open_storage
from support.redis_service import redis_test_url
from support.serve_process import Server

pytestmark = pytest.mark.slow

BUDGET = 30
EXTRA = 10
TEAMS = ("first", "second")  # a second try, should a minute end inside the first


async def add_key(database_url: str, team: str, key: str) -> None:
    """Store ``key`` for ``team``: the same key works on every server given it."""
    store = open_storage(database_url)
    await store.open()
    try:
        found = await store.ensure_team(team)
        await store.add_key(found.id, hash_key(key), key_prefix(key), SCOPES)
    finally:
        await store.close()


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITYFEED_")}
    env.update(ACTIVITYFEED_RATE_LIMIT_PER_MINUTE=str(BUDGET), **extra)
    return env


def burst(urls: list[str], key: str) -> list[int] | None:
    """``BUDGET + EXTRA`` requests at once, spread over ``urls``, each on its own connection.

    ``None`` when a minute ended during the burst, so that its counts are split.
    """
    if time.time() % 60 > 50:
        time.sleep(60.2 - time.time() % 60)
    minute = time.time() // 60

    def one(index: int) -> int:
        url = urls[index % len(urls)]
        return httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(BUDGET + EXTRA)))
        statuses += list(pool.map(one, range(len(urls))))  # once more on every server
    return statuses if time.time() // 60 == minute else None


def granted_exactly_the_budget(urls: list[str], keys: dict[str, str]) -> str:
    """Run a burst per team until one fits in a minute; the team it used."""
    for team in TEAMS:
        statuses = burst(urls, keys[team])
        if statuses is not None:
            assert statuses.count(200) == BUDGET
            assert statuses.count(429) == EXTRA + len(urls)
            return team
    raise AssertionError("every burst crossed a minute boundary")


@pytest.fixture
def keys() -> dict[str, str]:
    """A new key per team."""
    return {team: generate_key() for team in TEAMS}


def test_two_servers_sharing_redis_grant_one_budget(tmp_path: Path, keys: dict[str, str]) -> None:
    redis_url = redis_test_url()
    prefix = f"activityfeed-test-{uuid.uuid4().hex}:"
    env = server_env(ACTIVITYFEED_REDIS_URL=redis_url, ACTIVITYFEED_REDIS_KEY_PREFIX=prefix)
    hosts = [f"sqlite:///{tmp_path / name}.db" for name in ("host-a", "host-b")]
    for database_url in hosts:
        for team, key in keys.items():
            asyncio.run(add_key(database_url, team, key))
    servers = [Server(database_url, env) for database_url in hosts]
    try:
        granted_exactly_the_budget([server.url for server in servers], keys)
    finally:
        for server in servers:
            server.stop()
        with redis.Redis.from_url(redis_url) as conn:
            counts = [int(conn.get(key) or 0) for key in conn.scan_iter(match=prefix + "*")]
            for key in conn.scan_iter(match=prefix + "*"):
                conn.delete(key)
    assert BUDGET in counts


def test_one_server_of_two_workers_without_redis_grants_one_budget(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'one-host.db'}"
    for team, key in keys.items():
        asyncio.run(add_key(database_url, team, key))
    server = Server(database_url, server_env(), workers=2)
    try:
        granted_exactly_the_budget([server.url], keys)
    finally:
        server.stop()
    assert (tmp_path / "one-host.db.ratelimit").exists()


def test_serve_in_a_shared_directory_counts_in_a_private_file_despite_a_planted_one(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: anyone may make a file here first
    database = shared / "feed.db"
    planted = shared / "feed.db.ratelimit"
    planted.symlink_to(tmp_path / "theirs")
    for team, key in keys.items():
        asyncio.run(add_key(f"sqlite:///{database}", team, key))
    env = server_env(TMPDIR=str(tmp_path / "tmp"))
    env.pop("XDG_RUNTIME_DIR", None)
    (tmp_path / "tmp").mkdir()
    server = Server(f"sqlite:///{database}", env, workers=2)
    try:
        granted_exactly_the_budget([server.url], keys)  # both workers count in one file
    finally:
        server.stop()
    [said] = [line for line in server.lines if line.startswith("rate limiting:")]
    counted_in = Path(said.split(" counted in ")[1].split(" (shared")[0])
    assert counted_in.parent.parent == tmp_path / "tmp"
    assert counted_in.stat().st_mode & 0o777 == 0o600
    assert counted_in.parent.stat().st_mode & 0o777 == 0o700
    assert not (tmp_path / "theirs").exists()
