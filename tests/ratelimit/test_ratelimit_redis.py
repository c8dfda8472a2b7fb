"""The Redis counter: atomic across clients, and what happens when Redis goes away.

Needs the Redis of ``ACTIVITYFEED_TEST_REDIS_URL``; every test uses its own key
prefix, so parallel runs never share a counter. The outage tests cut Redis off
through a proxy of their own (``tcp_proxy.py``), leaving the real server up.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from starlette.testclient import TestClient

from activityfeed.http.app import create_app
from activityfeed.model import ApiKey
from activityfeed.ratelimit.backends import RedisBackend, SharedFileBackend
from activityfeed.ratelimit.factory import build_rate_limiter
from activityfeed.ratelimit.policy import BackendBusy, RateLimiter
from activityfeed.settings import Settings
from conftest import Keys, need_service
from support.clock import FakeClock
from support.redis_service import redis_test_url
from support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.redis

LIST = "/v2/activity_histories"


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The test Redis, or a skip (a failure in CI) when it is not there."""
    return redis_test_url()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    value = f"activityfeed-test-{uuid.uuid4().hex}:"
    yield value
    with redis.Redis.from_url(redis_url) as conn:
        for key in conn.scan_iter(match=value + "*"):
            conn.delete(key)


def counters(redis_url: str, prefix: str) -> dict[str, int]:
    with redis.Redis.from_url(redis_url) as conn:
        return {
            key.decode()[len(prefix) :]: int(conn.get(key) or 0)
            for key in conn.scan_iter(match=prefix + "*")
        }


def test_spending_is_atomic_across_clients(redis_url: str, prefix: str) -> None:
    async def run() -> list[bool]:
        hosts = [RedisBackend(redis_url, prefix), RedisBackend(redis_url, prefix)]
        for host in hosts:
            await host.start()
        try:
            results = await asyncio.gather(*(hosts[i % 2].spend(7, 100, 1, 25) for i in range(60)))
        finally:
            for host in hosts:
                await host.close()
        return [granted for granted, _ in results]

    granted = asyncio.run(run())
    assert granted.count(True) == 25
    assert counters(redis_url, prefix) == {"ratelimit:7:100": 25}
    with redis.Redis.from_url(redis_url) as conn:
        assert 0 < conn.ttl(prefix + "ratelimit:7:100") <= 120


def test_a_refused_cost_spends_nothing(redis_url: str, prefix: str) -> None:
    async def run() -> list[tuple[bool, int]]:
        backend = RedisBackend(redis_url, prefix)
        await backend.start()
        try:
            return [await backend.spend(1, 5, cost, 5) for cost in (4, 3, 1, 1)]
        finally:
            await backend.close()

    assert asyncio.run(run()) == [(True, 4), (False, 4), (True, 5), (False, 5)]


def test_a_script_unknown_to_redis_is_loaded_again(redis_url: str, prefix: str) -> None:
    async def run() -> tuple[bool, int]:
        backend = RedisBackend(redis_url, prefix)
        await backend.start()
        backend._sha = "0" * 40  # as after a restart of Redis, which forgets scripts
        try:
            return await backend.spend(1, 5, 1, 5)
        finally:
            await backend.close()

    assert asyncio.run(run()) == (True, 1)


@pytest.fixture
def proxy(redis_url: str) -> Iterator[TcpProxy]:
    """A proxy to the test Redis that the test can cut."""
    parts = urlsplit(redis_url)
    tcp = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    tcp.start()
    yield tcp
    tcp.stop()


def app_through(
    proxy: TcpProxy,
    redis_url: str,
    settings: Settings,
    prefix: str,
    fail_closed: bool,
    tmp_path: Path,
) -> tuple[TestClient, FakeClock]:
    local = str(tmp_path / "ratelimit")
    db = urlsplit(redis_url).path or "/0"
    limited = settings.with_(
        rate_limit_per_minute=10,
        redis_url=f"redis://127.0.0.1:{proxy.port}{db}",
        redis_key_prefix=prefix,
        rate_limit_fail_closed=fail_closed,
    )
    clock = FakeClock()
    limiter = build_rate_limiter(limited, clock, local)
    return TestClient(create_app(limited, limiter=limiter)), clock


def remaining(response: object) -> int:
    return int(response.headers["x-ratelimit-remaining-minute"])  # type: ignore[attr-defined]


def test_requests_are_counted_in_redis(
    proxy: TcpProxy, redis_url: str, settings: Settings, prefix: str, tmp_path: Path
) -> None:
    client, _ = app_through(proxy, redis_url, settings, prefix, False, tmp_path)
    with client:
        auth = Keys(client).headers("acme")
        assert [remaining(client.get(LIST, headers=auth)) for _ in range(3)] == [9, 8, 7]
    assert list(counters(redis_url, prefix).values()) == [3]


def test_outage_fails_open_then_goes_back_to_redis(
    proxy: TcpProxy, redis_url: str, settings: Settings, prefix: str, tmp_path: Path
) -> None:
    client, clock = app_through(proxy, redis_url, settings, prefix, False, tmp_path)
    with client:
        auth = Keys(client).headers("acme")
        assert remaining(client.get(LIST, headers=auth)) == 9
        proxy.stop()
        # Served meanwhile, and counted on this machine from what Redis had counted.
        down = [client.get(LIST, headers=auth) for _ in range(3)]
        assert [r.status_code for r in down] == [200, 200, 200]
        assert [remaining(r) for r in down] == [8, 7, 6]
        proxy.start()
        clock.advance(2)  # past the retry interval: the next request asks Redis again
        assert remaining(client.get(LIST, headers=auth)) == 5  # told of the outage's 3
    assert list(counters(redis_url, prefix).values()) == [5]


def test_outage_fails_closed_with_503_then_recovers(
    proxy: TcpProxy, redis_url: str, settings: Settings, prefix: str, tmp_path: Path
) -> None:
    client, clock = app_through(proxy, redis_url, settings, prefix, True, tmp_path)
    with client:
        auth = Keys(client).headers("acme")
        assert client.get(LIST, headers=auth).status_code == 200
        proxy.stop()
        for _ in range(2):
            refused = client.get(LIST, headers=auth)
            assert refused.status_code == 503
            assert set(refused.json()) == {"error"}
            assert refused.headers["x-ratelimit-endpoint-cost"] == "1"
            assert remaining(refused) == 0
        proxy.start()
        clock.advance(2)
        back = client.get(LIST, headers=auth)
        assert back.status_code == 200
        assert remaining(back) == 8


KEY = ApiKey(id=1, team_id=1, team_name="acme", prefix="ak_", scopes=(), created_at=0)


async def granted(limiter: RateLimiter, attempts: int) -> int:
    """How many of ``attempts`` list requests of team 1 the limiter grants."""
    decisions = [await limiter.check(KEY, "GET", LIST, b"") for _ in range(attempts)]
    return sum(d.error is None for d in decisions)


def test_a_minute_grants_at_most_the_budget_across_an_outage(
    proxy: TcpProxy, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    db = urlsplit(redis_url).path or "/0"
    backend = RedisBackend(f"redis://127.0.0.1:{proxy.port}{db}", prefix)
    limiter = RateLimiter(
        10, backend, fallback=SharedFileBackend(str(tmp_path / "rl")), clock=clock
    )

    async def run() -> int:
        await limiter.start()
        try:
            total = await granted(limiter, 4)
            proxy.stop()
            total += await granted(limiter, 10)  # on this machine, from the 4 Redis counted
            proxy.start()
            clock.advance(2)
            return total + await granted(limiter, 10)
        finally:
            await limiter.close()

    assert asyncio.run(run()) == 10
    assert list(counters(redis_url, prefix).values()) == [10]  # Redis counted the outage's 6


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """A Redis of this test alone on a free port; calling the result restarts it empty."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    command += ["--dir", str(tmp_path)]
    if shutil.which("redis-server") is None:
        need_service("redis-server", "not on PATH")
    servers: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        servers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(port=port, socket_timeout=1) as conn:
                    conn.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def restart() -> None:
        servers[-1].terminate()
        servers[-1].wait(timeout=10)
        start()

    start()
    restart.port = port  # type: ignore[attr-defined]
    yield restart
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


def test_a_minute_grants_at_most_the_budget_across_a_redis_restart(
    throwaway_redis: Callable[[], None], tmp_path: Path
) -> None:
    clock = FakeClock()
    port = throwaway_redis.port  # type: ignore[attr-defined]
    backend = RedisBackend(f"redis://127.0.0.1:{port}/0", "restart:")
    limiter = RateLimiter(
        10, backend, fallback=SharedFileBackend(str(tmp_path / "rl")), clock=clock
    )

    async def run() -> tuple[int, int]:
        await limiter.start()
        try:
            total = await granted(limiter, 4)
            throwaway_redis()  # restarted between two requests: it has no count
            total += await granted(limiter, 10)
            clock.advance(2)
            total += await granted(limiter, 10)
            with redis.Redis(port=port) as conn:
                counted = int(conn.get(backend.key(1, int(clock() // 60))) or 0)
            return total, counted
        finally:
            await limiter.close()

    assert asyncio.run(run()) == (10, 10)


def test_busy_connections_after_a_recovery_do_not_refuse_what_follows(
    proxy: TcpProxy, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    db = urlsplit(redis_url).path or "/0"
    # One connection and a short wait for it: a burst finds it busy.
    backend = RedisBackend(
        f"redis://127.0.0.1:{proxy.port}{db}", prefix, connect_timeout=0.02, max_connections=1
    )
    limiter = RateLimiter(
        10**6,
        backend,
        fallback=SharedFileBackend(str(tmp_path / "rl")),
        fail_closed=True,
        clock=clock,
    )

    async def run() -> tuple[set[type], int, list[bool]]:
        await limiter.start()
        try:
            assert await granted(limiter, 1) == 1
            proxy.stop()
            assert await granted(limiter, 1) == 0  # fail closed
            proxy.start()
            clock.advance(2)
            assert await granted(limiter, 1) == 1  # the probe: back on Redis
            direct = await asyncio.gather(
                *(backend.spend(2, 5, 1, 10**6) for _ in range(2000)), return_exceptions=True
            )
            failures = {type(outcome) for outcome in direct if isinstance(outcome, Exception)}
            burst = await asyncio.gather(
                *(limiter.check(KEY, "GET", LIST, b"") for _ in range(2000))
            )
            refused = sum(d.error is not None for d in burst)
            after = [await granted(limiter, 1) == 1 for _ in range(5)]  # the same instant
            return failures, refused, after
        finally:
            await limiter.close()

    failures, refused, after = asyncio.run(run())
    assert failures == {BackendBusy}  # waiting for the connection: busy, not unreachable
    assert refused > 0  # the burst's late ones, each on its own...
    assert after == [True] * 5  # ...and no outage: Redis still answers for all that follow
