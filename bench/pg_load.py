"""PostgreSQL beside SQLite on the million-activity demo store: load rates and page latency.

    .venv/bin/python bench/pg_load.py [--activities 1000000]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]
        [--rounds 11] [--per-round 20]

1. Loads the demo (``activityfeed.demo.load.load_demo``, as ``activityfeed demo``
   does: into a store without activities, its fast load) into a fresh SQLite
   file and into a fresh PostgreSQL schema, and reports activities per second
   of each (the activity phase, generation included); with ``--bulk-upsert``
   also into a PostgreSQL schema through the bulk upsert, batch by batch.
2. Copies the SQLite store into a second fresh schema with the copy command's
   code (into an empty store: one ``COPY``, the indexes built at the end) and
   reports rows per second. The seconds spent building PostgreSQL's indexes
   at the end of each fresh load are reported beside.
3. Times a list page (parsing, the store's query, rendering the body; no
   HTTP, no dynamic data, and not the service's page cache, which would
   answer a repeated request without the store) on both stores for the
   main team: the default page, a
   person's timeline (the busiest person), a poll by ``updated_at`` and a deep
   page, in interleaved rounds; p50, p99 and the median of round medians.

The schemas are dropped at the end. The figures are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from typing import Any
from urllib.parse import quote

import psycopg

from activityfeed.demo.load import load_demo
from activityfeed.query import parse_list_query
from activityfeed.render import page_json
from activityfeed.storage import Storage
from activityfeed.storage.copying import copy_store, endpoint_for
from activityfeed.storage.postgres.bulk import FreshLoad
from activityfeed.storage.postgres.store import PostgresStorage
from activityfeed.storage.sqlite.store import SQLiteStorage

INDEX_BUILDS: list[float] = []  # seconds of each fresh load's index builds, in order


def time_index_builds() -> None:
    """Record how long each PostgreSQL fresh load spends building its indexes."""
    rebuild = FreshLoad.rebuild

    async def timed(self: FreshLoad) -> None:
        start = time.perf_counter()
        await rebuild(self)
        INDEX_BUILDS.append(time.perf_counter() - start)

    FreshLoad.rebuild = timed  # type: ignore[method-assign]


def index_builds() -> str:
    """The last fresh load's index build time, for a report line."""
    return f", of which {INDEX_BUILDS[-1]:.1f} s building indexes" if INDEX_BUILDS else ""


class Quiet:
    """A copy progress that reports nothing."""

    def start(self, total: int) -> None:
        pass

    def advance(self, done: int) -> None:
        pass


def schema_url(url: str, schema: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{url}?options={quote(f'-csearch_path={schema}', safe='')}"


def drop(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def shapes(store: SQLiteStorage, team_id: int) -> dict[str, list[tuple[str, str]]]:
    """The list requests measured, with the demo's busiest person."""
    (person,) = store.reader.execute(
        "SELECT resource_id FROM activities WHERE team_id = ? AND resource_type = 'person' "
        "GROUP BY resource_id ORDER BY count(*) DESC LIMIT 1",
        (team_id,),
    ).fetchone()
    (middle,) = store.reader.execute(
        "SELECT updated_at FROM activities WHERE team_id = ? ORDER BY updated_at "
        "LIMIT 1 OFFSET 1000",
        (team_id,),
    ).fetchone()
    from activityfeed.timestamps import format_timestamp

    return {
        "default page (25)": [],
        "person timeline (25)": [("resource_type", "person"), ("resource_id", person)],
        "updated_at poll (100)": [
            ("sort_by", "updated_at"),
            ("sort_direction", "ASC"),
            ("updated_at[gt]", format_timestamp(middle)),
            ("per_page", "100"),
        ],
        "page 40 (25)": [("page", "40")],
    }


async def list_page(store: Storage, team_id: int, pairs: list[tuple[str, str]]) -> bytes:
    """A list response body straight from the store (what a page cache miss costs)."""
    query = parse_list_query(pairs)
    return page_json(query, await store.list_activities(team_id, query))


async def latency(
    services: dict[str, tuple[Storage, int]],
    requests: dict[str, list[tuple[str, str]]],
    rounds: int,
    per_round: int,
) -> dict[tuple[str, str], dict[str, float]]:
    """p50, p99 and median of round medians per (store, request), in ms."""
    samples: dict[tuple[str, str], list[float]] = {}
    medians: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for store_name, (store, team_id) in services.items():
            for name, pairs in requests.items():
                times = []
                for _ in range(per_round):
                    start = time.perf_counter()
                    await list_page(store, team_id, pairs)
                    times.append((time.perf_counter() - start) * 1000)
                samples.setdefault((store_name, name), []).extend(times)
                medians.setdefault((store_name, name), []).append(statistics.median(times))
    out = {}
    for key, values in samples.items():
        values.sort()
        out[key] = {
            "p50": values[len(values) // 2],
            "p99": values[int(len(values) * 0.99)],
            "round_median": statistics.median(medians[key]),
        }
    return out


async def measure(args: argparse.Namespace) -> None:
    workdir = tempfile.mkdtemp(prefix="pg-load-")
    sqlite = SQLiteStorage(os.path.join(workdir, "demo.db"))
    schemas = [f"af_bench_{uuid.uuid4().hex[:8]}" for _ in range(3 if args.bulk_upsert else 2)]
    pg, copied, *upserted = (
        PostgresStorage.from_url(schema_url(args.database_url, schema)) for schema in schemas
    )
    time_index_builds()
    try:
        await sqlite.open()
        loads: list[tuple[str, Storage, bool]] = [
            ("SQLite", sqlite, True),
            ("PostgreSQL", pg, True),
        ]
        loads += [("PostgreSQL (bulk upsert)", store, False) for store in upserted]
        for name, store, fast in loads:
            await store.open()
            builds = len(INDEX_BUILDS)
            report = await load_demo(store, activities=args.activities, seed=42, fast=fast)
            print(
                f"demo load {name:10} {report.activities:,} activities in {report.seconds:.1f} s"
                f" = {report.activities / report.seconds:,.0f} activities/s"
                f"{index_builds() if len(INDEX_BUILDS) > builds else ''}"
                f" (+ {report.records:,} records in {report.records_seconds:.1f} s)"
            )
        await copied.open()
        async with pg.connection() as conn:
            await conn.execute("ANALYZE")
        start = time.perf_counter()
        result = await copy_store(endpoint_for(sqlite), endpoint_for(copied), Quiet())
        seconds = time.perf_counter() - start
        rows = result.activities + result.records
        print(
            f"copy SQLite -> PostgreSQL: {result.activities:,} activities + {result.records:,} "
            f"records in {seconds:.1f} s = {rows / seconds:,.0f} rows/s, verified={result.verified}"
        )
        print(
            f"  of which activities (COPY): {result.activity_seconds:.1f} s = "
            f"{result.activities / result.activity_seconds:,.0f} activities/s{index_builds()}"
        )
        team = await sqlite.get_team("acme")
        pg_team = await pg.get_team("acme")
        assert team is not None and pg_team is not None
        requests = await shapes(sqlite, team.id)
        services = {
            "SQLite": (sqlite, team.id),
            "PostgreSQL": (pg, pg_team.id),
        }
        figures = await latency(services, requests, args.rounds, args.per_round)
        print(f"\n{'request':24} {'store':11} {'p50 ms':>8} {'p99 ms':>8} {'round med':>10}")
        for (store_name, name), f in sorted(figures.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            print(
                f"{name:24} {store_name:11} {f['p50']:8.2f} {f['p99']:8.2f} "
                f"{f['round_median']:10.2f}"
            )
    finally:
        await sqlite.close()
        for store in (pg, copied, *upserted):
            await store.close()
        if not args.keep:
            for schema in schemas:
                drop(args.database_url, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schemas")
    parser.add_argument(
        "--bulk-upsert",
        action="store_true",
        help="also load the demo into PostgreSQL batch by batch through the bulk upsert",
    )
    args: Any = parser.parse_args()
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
