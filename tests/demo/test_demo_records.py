"""The demo's associated records: deterministic, complete, believable, idempotent to load."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import orjson

from activityfeed.demo.records import MAKERS, load_team_records, team_records
from activityfeed.storage.sqlite.store import SQLiteStorage


@dataclass(frozen=True)
class Cadence:
    id: int
    first_step: int
    steps: int


COUNTS = {name: 30 for name in MAKERS}
CADENCES = [Cadence(1, 1, 5), Cadence(2, 6, 4)]
OPPORTUNITIES = ["0065e00000AbCdE", "0065e00000XyZ12"]


def records(seed: int = 42) -> dict[str, dict[str, dict[str, object]]]:
    found: dict[str, dict[str, dict[str, object]]] = {}
    for name, items in team_records(seed, 0, COUNTS, CADENCES, OPPORTUNITIES):
        for rid, attributes in items:
            found.setdefault(name, {})[rid] = orjson.loads(attributes)
    return found


def test_every_referenced_id_gets_a_record() -> None:
    found = records()
    for name in MAKERS:
        assert set(found[name]) == {str(n) for n in range(1, 31)}
    assert set(found["cadence"]) == {"1", "2"}
    assert set(found["step"]) == {str(n) for n in range(1, 10)}
    assert set(found["opportunity"]) == set(OPPORTUNITIES)


def test_records_are_deterministic_per_seed() -> None:
    assert records(42) == records(42)
    assert records(42) != records(7)


def test_records_carry_believable_attributes() -> None:
    found = records()
    email = found["email"]["1"]
    assert set(email) == {"subject", "status", "counts"}
    assert set(email["counts"]) == {"views", "clicks", "replies"}  # type: ignore[arg-type]
    assert set(found["call"]["1"]) == {"duration", "disposition", "sentiment", "recording"}
    assert {"title", "start_time", "status"} <= set(found["meeting"]["1"])
    assert {"subject", "due_date", "state"} <= set(found["task"]["1"])
    assert set(found["note"]["1"]) == {"content"}
    assert {"stage", "amount", "close_date"} <= set(found["opportunity"][OPPORTUNITIES[0]])


def test_names_referenced_together_do_not_clash() -> None:
    found = records()
    # A sent email refers to an email, a cadence and a step at once.
    keys = [set(found[name]["1"]) for name in ("email", "cadence", "step")]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])


def test_loading_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    async def run() -> tuple[int, int]:
        store = SQLiteStorage(str(tmp_path / "demo.db"))
        await store.open()
        try:
            team = await store.ensure_team("acme")
            batches = list(team_records(42, 0, COUNTS, CADENCES, OPPORTUNITIES))
            first = await load_team_records(store, team.id, iter(batches))
            second = await load_team_records(store, team.id, iter(batches))
        finally:
            await store.close()
        return first, second

    first, second = asyncio.run(run())
    assert first == 30 * len(MAKERS) + 2 + 9 + 2
    assert second == 0
