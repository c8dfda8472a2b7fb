"""What the rate limiter costs per request, against no limiter, in one run.

    .venv/bin/python bench/ratelimit.py [--redis-url URL] [--rounds R] [--batch N]

Two measurements, each over interleaved rounds (every variant once per round,
so that a noisy neighbour slows all of them alike), reporting the median of
the per-round means:

* ``check``: ``RateLimiter.check`` alone, per call, on each counter backend:
  the shared file (the default without Redis), Redis, and, for comparison,
  a SQLite table (the alternative the shared file was chosen over).
* ``list``: a whole ``GET /v2/activity_histories`` (default page: 25 of 2,000
  activities) through the ASGI app in process, with no limiter, with rate
  limiting off (headers only), on the shared file, and on Redis.

The budget is too large to refuse anything: this is the cost of counting.
The figures are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from activityfeed.auth import new_key
from activityfeed.http.app import create_app
from activityfeed.model import SCOPES, ActivityInput, ApiKey
from activityfeed.ratelimit.backends import RedisBackend, SharedFileBackend
from activityfeed.ratelimit.policy import Backend, RateLimiter
from activityfeed.settings import Settings
from activityfeed.storage import open_storage

BUDGET = 10**12
ACTIVITIES = 2_000
KEY = ApiKey(id=1, team_id=1, team_name="bench", prefix="ak_", scopes=SCOPES, created_at=0)


class SQLiteCounter:
    """The alternative to the shared file: one row per team and minute in SQLite."""

    name = "sqlite"

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS counts "
            "(team INTEGER, minute INTEGER, used INTEGER, PRIMARY KEY (team, minute))"
        )

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.conn.close()

    async def spend(
        self, team_id: int, minute: int, cost: int, limit: int, known: int = 0, extra: int = 0
    ) -> tuple[bool, int]:
        # Measured as the only counter (no fallback): known and extra stay 0.
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT used FROM counts WHERE team = ? AND minute = ?", (team_id, minute)
            ).fetchone()
            used = row[0] if row else 0
            if used + cost > limit:
                return False, used
            conn.execute(
                "INSERT INTO counts VALUES (?, ?, ?) ON CONFLICT (team, minute) "
                "DO UPDATE SET used = used + excluded.used",
                (team_id, minute, cost),
            )
            return True, used + cost
        finally:
            conn.execute("COMMIT")


async def timed(work: Callable[[], Awaitable[Any]], batch: int) -> float:
    """Mean microseconds per call of ``batch`` calls."""
    start = time.perf_counter()
    for _ in range(batch):
        await work()
    return (time.perf_counter() - start) / batch * 1e6


async def rounds_of(
    variants: dict[str, Callable[[], Awaitable[Any]]], rounds: int, batch: int
) -> dict[str, list[float]]:
    """Each variant's mean per round, variants interleaved in a new order each round."""
    for work in variants.values():  # warm up: connections, caches, code paths
        await timed(work, max(batch // 10, 10))
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    shuffler = random.Random(5)
    for _ in range(rounds):
        shuffler.shuffle(order)
        for name in order:
            samples[name].append(await timed(variants[name], batch))
    return samples


async def bench_check(
    tmp: Path, redis_url: str | None, prefix: str, rounds: int, batch: int
) -> dict[str, list[float]]:
    backends: dict[str, Backend] = {
        "shared file": SharedFileBackend(str(tmp / "check.ratelimit")),
        "sqlite table": SQLiteCounter(str(tmp / "check-counter.db")),
    }
    if redis_url:
        backends["redis"] = RedisBackend(redis_url, prefix)
    limiters = {name: RateLimiter(BUDGET, backend) for name, backend in backends.items()}
    for limiter in limiters.values():
        await limiter.start()
    path, query = "/v2/activity_histories", b""

    def check(limiter: RateLimiter) -> Callable[[], Awaitable[Any]]:
        return lambda: limiter.check(KEY, "GET", path, query)

    variants = {name: check(limiter) for name, limiter in limiters.items()}
    ping = None
    if redis_url:  # the floor: one round trip, no script
        ping = aioredis.Redis.from_url(redis_url)
        variants["redis PING alone"] = ping.ping
    try:
        return await rounds_of(variants, rounds, batch)
    finally:
        for limiter in limiters.values():
            await limiter.close()
        if ping is not None:
            await ping.aclose()


class App:
    """One app in process, driven through ASGI without a socket."""

    def __init__(self, settings: Settings, limiter: RateLimiter | None, key: str) -> None:
        self.app = create_app(settings, limiter=limiter)
        if limiter is None:  # no rate limiting code at all: the baseline
            for middleware in self.app.user_middleware:
                if "limiter" in middleware.kwargs:
                    middleware.kwargs["limiter"] = None
        self.headers = [(b"authorization", f"Bearer {key}".encode())]

    async def request(self) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v2/activity_histories",
            "raw_path": b"/v2/activity_histories",
            "root_path": "",
            "query_string": b"",
            "headers": self.headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        assert status == 200, status


async def bench_list(
    tmp: Path, redis_url: str | None, prefix: str, rounds: int, batch: int
) -> dict[str, list[float]]:
    database_url = f"sqlite:///{tmp / 'list.db'}"
    settings = Settings(database_url=database_url, rate_limit_per_minute=BUDGET)
    store = open_storage(database_url)
    await store.open()
    team = await store.ensure_team("bench")
    items = [
        ActivityInput(
            type="call",
            resource_type="person",
            resource_id=str(n % 97),
            id=f"call-{n}",
            occurred_at=1_600_000_000_000_000 + n * 1_000_000,
        )
        for n in range(ACTIVITIES)
    ]
    await store.upsert_activities(team.id, items)
    key = await new_key(store, "bench", SCOPES)
    await store.close()

    limiters: dict[str, RateLimiter | None] = {
        "no limiter": None,
        "rate limiting off": RateLimiter(0, SharedFileBackend(str(tmp / "off.ratelimit"))),
        "shared file": RateLimiter(BUDGET, SharedFileBackend(str(tmp / "list.ratelimit"))),
    }
    if redis_url:
        limiters["redis"] = RateLimiter(BUDGET, RedisBackend(redis_url, prefix))
    apps = {name: App(settings, limiter, key) for name, limiter in limiters.items()}
    async with RunningApps(apps) as running:
        return await rounds_of({n: app.request for n, app in running.items()}, rounds, batch)


class RunningApps:
    """Runs every app's lifespan for the duration of the block."""

    def __init__(self, apps: dict[str, App]) -> None:
        self.apps = apps
        self.contexts: list[Any] = []

    async def __aenter__(self) -> dict[str, App]:
        for app in self.apps.values():
            context = app.app.router.lifespan_context(app.app)
            await context.__aenter__()
            self.contexts.append(context)
        return self.apps

    async def __aexit__(self, *exc: object) -> None:
        for context in reversed(self.contexts):
            await context.__aexit__(None, None, None)


def table(title: str, samples: dict[str, list[float]], baseline: str) -> str:
    """Medians per variant, and the median of its per-round difference with ``baseline``."""
    lines = [title, f"  {'variant':<20} {'median µs':>10} {'+µs vs ' + baseline:>22}"]
    for name, values in samples.items():
        delta = statistics.median(v - b for v, b in zip(values, samples[baseline], strict=True))
        lines.append(f"  {name:<20} {statistics.median(values):>10.1f} {delta:>+22.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="'' to skip Redis")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    redis_url: str | None = args.redis_url or None
    if redis_url:
        try:
            redis.Redis.from_url(redis_url, socket_timeout=1).ping()
        except redis.RedisError as exc:
            print(f"Redis at {redis_url} does not answer ({exc}): skipping it")
            redis_url = None
    prefix = f"activityfeed-bench-{uuid.uuid4().hex}:"
    try:
        with tempfile.TemporaryDirectory() as directory:
            tmp = Path(directory)
            check = asyncio.run(bench_check(tmp, redis_url, prefix, args.rounds, args.batch))
            listing = asyncio.run(bench_list(tmp, redis_url, prefix, args.rounds, args.batch // 4))
    finally:
        if redis_url:
            with redis.Redis.from_url(redis_url) as conn:
                for key in conn.scan_iter(match=prefix + "*"):
                    conn.delete(key)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.rounds} rounds, medians of per-round means; load average {load}")
    print(table("RateLimiter.check, per call", check, "shared file"))
    print(table("GET /v2/activity_histories (25 of 2,000), per request", listing, "no limiter"))


if __name__ == "__main__":
    main()
