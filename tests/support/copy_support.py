"""Stores to copy for the ``activityfeed copy`` tests: filled, read back, fingerprinted."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import orjson
import psycopg
from click.testing import CliRunner, Result

from activityfeed.auth import new_key
from activityfeed.cli.main import main
from activityfeed.model import ActivityChanges, ActivityInput
from activityfeed.query import parse_list_query
from activityfeed.storage import Storage, open_storage
from activityfeed.storage.copying import copy_store, endpoint_for
from activityfeed.storage.postgres.store import split_url


async def _with(url: str, work: Any) -> Any:
    store = open_storage(url)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def with_store(url: str, work: Any) -> Any:
    """``await work(store)`` on the opened store of ``url``."""
    return asyncio.run(_with(url, work))


async def fill(
    store: Storage, teams: tuple[tuple[str, int], ...] = (("acme", 260), ("globex", 40))
) -> list[str]:
    """Teams with activities (created, updated, deleted), records and keys; the keys."""
    keys = []
    for name, size in teams:
        team = await store.ensure_team(name)
        keys.append(await new_key(store, name, ("activities:read",)))
        await store.upsert_activities(
            team.id,
            [
                ActivityInput(
                    type="call" if n % 3 else "note",
                    resource_type="person" if n % 5 else "crm_opportunity",
                    resource_id=str(n % 17) if n % 5 else f"006x{n}",
                    id=f"{'call' if n % 3 else 'note'}-{n}",
                    occurred_at=1_700_000_000_000_000 + (n % 50) * 1_000_000,  # many ties
                    tags=("copied",),
                    static_data_json=orjson.dumps({"email_id": n, "team": name}),
                )
                for n in range(size)
            ],
        )
        await store.create_activity(
            team.id, ActivityInput(type="task", resource_type="account", resource_id="9")
        )
        await store.update_activity(
            team.id, "call-1", ActivityChanges(tags=("changed",), present=frozenset({"tags"}))
        )
        await store.delete_activity(team.id, "call-2")
        await store.put_records(
            team.id,
            "email",
            [(str(n), orjson.dumps({"subject": f"{name} s{n}"})) for n in range(30)],
        )
    return keys


async def snapshot(store: Storage, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Everything a client sees of the store's teams (or of ``names``), in the contract's orders."""
    seen: dict[str, Any] = {}
    for team in await store.list_teams():
        if names is not None and team.name not in names:
            continue
        for sort in ("occurred_at", "updated_at"):
            docs: list[bytes] = []
            page = 1
            while True:
                query = parse_list_query(
                    [("sort_by", sort), ("per_page", "100"), ("page", str(page))]
                )
                result = await store.list_activities(team.id, query)
                docs.extend(row.doc for row in result.rows)
                if not result.has_more:
                    break
                page += 1
            seen[f"{team.name} by {sort}"] = docs
        counted = parse_list_query([("include_paging_counts", "true"), ("type", "call")])
        seen[f"{team.name} calls"] = (await store.list_activities(team.id, counted)).total_count
        records = await store.scan_records(team.id, None, 1000)
        seen[f"{team.name} records"] = [(r.resource, r.id, r.attributes) for r in records]
    return seen


def run_copy(source: str, target: str, *options: str) -> Result:
    """``activityfeed copy --from source --to target [options]``, as the CLI runs it."""
    return CliRunner().invoke(main, ["copy", "--from", source, "--to", target, *options])


def copy(source: str, target: str, *options: str) -> str:
    """A copy that must succeed; its output."""
    result = run_copy(source, target, *options)
    assert result.exit_code == 0, result.output
    return result.output


def fingerprint(url: str) -> dict[str, Any]:
    """What must not change in a store a copy refused.

    SQLite: the bytes of the file and of its ``-wal`` (which files exist,
    too). PostgreSQL: every table of the schema (partitions included) with
    all its rows, and every sequence's state.
    """
    if url.startswith("sqlite:"):
        path = Path(url[len("sqlite:///") :])
        return {
            suffix: hashlib.sha256(file.read_bytes()).hexdigest() if file.exists() else None
            for suffix, file in (("", path), ("-wal", Path(f"{path}-wal")))
        }
    dsn, _ = split_url(url)
    seen: dict[str, Any] = {}
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c "
            "WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        ).fetchall()
        for (name,) in tables:
            rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
            seen[name] = sorted(repr(row) for row in rows)
        sequences = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences "
            "WHERE schemaname = current_schema() ORDER BY 1"
        ).fetchall()
        seen["sequences"] = sequences
    assert seen, "the fingerprint saw no tables"
    return seen


class Interrupted(Exception):
    """What stops a copy midway in these tests (a kill, a lost connection)."""


class StopAfter:
    """A copy progress that stops the copy once ``limit`` items are in."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.done = 0

    def start(self, total: int) -> None:
        """Nothing."""

    def advance(self, done: int) -> None:
        """Count, and stop past the limit."""
        self.done += done
        if self.done >= self.limit:
            raise Interrupted


def interrupt_copy(
    source_url: str, target_url: str, after: int, *, into_existing: bool = False
) -> None:
    """A copy stopped once ``after`` activities or records are in (what a kill leaves)."""

    async def run() -> None:
        source, target = open_storage(source_url), open_storage(target_url)
        await source.open()
        await target.open()
        try:
            await copy_store(
                endpoint_for(source),
                endpoint_for(target),
                StopAfter(after),
                into_existing=into_existing,
            )
        except Interrupted:
            return
        finally:
            await source.close()
            await target.close()
        raise AssertionError("the copy was not interrupted")

    asyncio.run(run())
