"""psycopg 3 (async, psycopg_pool) versus asyncpg on the list endpoint's query.

    .venv/bin/python bench/pg_driver.py [--database-url URL] [--rows N] [--runs R]

Loads ``--rows`` activities of one team into a throwaway schema, then runs the
list page query (``ORDER BY occurred_at DESC, seq DESC LIMIT 26``, unfiltered
and filtered by type) from 8 concurrent tasks over a pool of 4 connections,
for each driver in turn, ``--runs`` times. Prints the median pages per second
and the median of the per-run p50 and p99 latencies. The figures are in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool

from activityfeed.model import ACTIVITY_TYPES
from activityfeed.storage.postgres.schema import MIGRATIONS

TASKS = 8
POOL = 4
SECONDS = 3.0
UNFILTERED = (
    "SELECT doc, refs FROM activities WHERE team_id = {0} "
    "ORDER BY occurred_at DESC, seq DESC LIMIT 26 OFFSET {1}"
)
FILTERED = (
    "SELECT doc, refs FROM activities WHERE team_id = {0} AND type = ANY({2}) "
    "ORDER BY occurred_at DESC, seq DESC LIMIT 26 OFFSET {1}"
)
TYPES = ["call", "sent_email"]


def load(url: str, schema: str, rows: int) -> None:
    """A schema with one team and ``rows`` activities of ~500 bytes each."""
    rng = random.Random(7)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        for _, script in MIGRATIONS:
            conn.execute(script)
        conn.execute("INSERT INTO teams (id, name, created_at) VALUES (1, 'bench', 0)")
        base = 1_546_300_800_000_000
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY activities (team_id, seq, id, type, resource_type, resource_id, user_guid, "
                "occurred_at, created_at, updated_at, doc) FROM STDIN"
            ) as copy,
        ):
            for seq in range(1, rows + 1):
                kind = rng.choice(ACTIVITY_TYPES)
                occurred = base + rng.randrange(10**13)
                doc = orjson.dumps(
                    {
                        "id": f"{kind}-{seq}",
                        "type": kind,
                        "user_guid": str(uuid.UUID(int=rng.getrandbits(128))),
                        "resource_type": "person",
                        "resource_id": rng.randrange(10**6),
                        "occurred_at": "2019-01-01T00:00:00.000000Z",
                        "tags": ["bench", "driver"],
                        "static_data": {"email_id": seq, "subject": "x" * 200},
                    }
                )
                copy.write_row(
                    (
                        1,
                        seq,
                        f"{kind}-{seq}",
                        kind,
                        "person",
                        str(seq % 1000),
                        None,
                        occurred,
                        occurred,
                        base + seq,
                        doc,
                    )
                )
        conn.execute("ANALYZE activities")


async def drive(query: Callable[[int], Awaitable[Any]]) -> tuple[float, float, float]:
    """Pages per second, p50 and p99 latency in ms, from TASKS tasks for SECONDS."""
    latencies: list[float] = []
    deadline = time.perf_counter() + SECONDS

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await query(rng.randrange(20) * 25)
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(TASKS)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return len(latencies) / elapsed, p50, p99


async def run_psycopg(url: str, schema: str, sql: str) -> tuple[float, float, float]:
    """One run with psycopg's async pool."""
    text = sql.format("%s", "%s", "%s")
    pool = AsyncConnectionPool(
        url, min_size=POOL, max_size=POOL, open=False, kwargs={"options": f"-csearch_path={schema}"}
    )
    await pool.open(wait=True)

    async def query(offset: int) -> Any:
        async with pool.connection() as conn:
            # %s placeholders bind by position: the type list comes before the offset.
            params: tuple[Any, ...] = (1, TYPES, offset) if "ANY" in sql else (1, offset)
            # Binary results and an explicit prepare: psycopg at its fastest.
            cur = conn.cursor(binary=True)
            await cur.execute(text, params, prepare=True)
            return await cur.fetchall()

    try:
        return await drive(query)
    finally:
        await pool.close()


async def run_asyncpg(url: str, schema: str, sql: str) -> tuple[float, float, float]:
    """One run with asyncpg's pool (statements prepared and cached per connection)."""
    text = sql.format("$1", "$2", "$3")
    pool = await asyncpg.create_pool(
        url, min_size=POOL, max_size=POOL, server_settings={"search_path": schema}
    )

    async def query(offset: int) -> Any:
        args: tuple[Any, ...] = (1, offset, TYPES) if "ANY" in sql else (1, offset)
        return await pool.fetch(text, *args)

    try:
        return await drive(query)
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    schema = f"af_bench_{uuid.uuid4().hex[:8]}"
    load(args.database_url, schema, args.rows)
    try:
        for label, sql in (("unfiltered", UNFILTERED), ("type filter", FILTERED)):
            results: dict[str, list[tuple[float, float, float]]] = {"psycopg": [], "asyncpg": []}
            for _ in range(args.runs):  # interleaved, so that noise hits both alike
                results["psycopg"].append(asyncio.run(run_psycopg(args.database_url, schema, sql)))
                results["asyncpg"].append(asyncio.run(run_asyncpg(args.database_url, schema, sql)))
            for driver, runs in results.items():
                rate = statistics.median(r[0] for r in runs)
                p50 = statistics.median(r[1] for r in runs)
                p99 = statistics.median(r[2] for r in runs)
                print(
                    f"{label:12} {driver:8} {rate:8.0f} pages/s  p50 {p50:6.2f} ms  "
                    f"p99 {p99:6.2f} ms  (median of {args.runs})"
                )
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
