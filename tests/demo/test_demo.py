"""The demo generator: deterministic, realistic, idempotent, one world per team."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from activityfeed.cli.main import main
from activityfeed.demo.load import load_demo
from activityfeed.demo.stream import RESOURCES, References, activity_stream
from activityfeed.demo.world import TEAM_NAMES, build_world, salesforce_id, team_shares
from activityfeed.model import ACTIVITY_TYPES, ActivityInput
from activityfeed.query import parse_list_query
from activityfeed.storage.sqlite.store import SQLiteStorage


def generate(activities: int, seed: int = 42, index: int = 0) -> list[ActivityInput]:
    refs = References()
    world = build_world(seed, index, activities)
    return [item for batch in activity_stream(world, seed, refs, 1_000) for item in batch]


@pytest.fixture(scope="module")
def sample() -> list[ActivityInput]:
    """A moderate main-team stream, shared by the proportion tests."""
    return generate(30_000)


def test_same_seed_gives_the_same_activities() -> None:
    assert generate(2_000, seed=7) == generate(2_000, seed=7)


def test_another_seed_gives_other_activities() -> None:
    assert generate(2_000, seed=7) != generate(2_000, seed=8)


def test_batches_hold_the_requested_number_of_activities() -> None:
    world = build_world(1, 0, 2_345)
    sizes = [len(batch) for batch in activity_stream(world, 1, References(), 1_000)]
    assert sizes == [1_000, 1_000, 345]


def test_every_activity_type_and_resource_type_is_present(sample: list[ActivityInput]) -> None:
    assert {item.type for item in sample} == set(ACTIVITY_TYPES)
    assert {item.resource_type for item in sample} == {"person", "account", "crm_opportunity"}


def test_ids_are_unique_and_of_the_form_type_dash_number(sample: list[ActivityInput]) -> None:
    ids = [item.id for item in sample]
    assert len(set(ids)) == len(ids)
    for item in sample[:2_000]:
        assert item.id is not None
        kind, number = item.id.rsplit("-", 1)
        assert kind == item.type
        assert number.isdigit() and len(number) == 9


def test_proportions_are_believable(sample: list[ActivityInput]) -> None:
    types = Counter(item.type for item in sample)
    assert types.most_common(1)[0][0] == "sent_email"
    assert types["sent_email"] > types["call"] > types["note"] > types["dnc_event"]
    resources = Counter(item.resource_type for item in sample)
    assert 0.75 < resources["person"] / len(sample) < 0.92
    for item in sample:
        if item.type.startswith("opportunity_"):
            assert item.resource_type == "crm_opportunity"
        if item.type == "account_added_to_cadence":
            assert item.resource_type == "account"
        if item.type in ("sent_email", "call", "completed_action", "dnc_event"):
            assert item.resource_type == "person"
    tagged = sum(1 for item in sample if item.tags) / len(sample)
    pinned = sum(1 for item in sample if item.pinned_at is not None) / len(sample)
    assert 0.1 < tagged < 0.3
    assert 0.001 < pinned < 0.05


def test_daily_and_weekly_rhythms_and_growth(sample: list[ActivityInput]) -> None:
    moments = [
        datetime.fromtimestamp(item.occurred_at / 1e6, UTC)
        for item in sample
        if item.occurred_at is not None
    ]
    weekend = sum(1 for m in moments if m.weekday() >= 5) / len(moments)
    assert weekend < 0.06
    # The main team works from UTC-5: business hours are 13:00-23:00 UTC.
    office = sum(1 for m in moments if 13 <= m.hour < 23) / len(moments)
    assert office > 0.85
    assert moments == sorted(moments) or _mostly_sorted(moments)
    years = Counter(m.year for m in moments)
    assert years[2022] < years[2024] < years[2025]
    assert min(moments).year == 2022 and max(moments).year == 2026


def _mostly_sorted(moments: list[datetime]) -> bool:
    # Days are generated in order; only the evening tail of one local day can
    # pass the next day's first minutes in UTC.
    backwards = sum(1 for a, b in pairwise(moments) if b < a)
    return backwards < len(moments) / 100


def test_static_data_references_are_dense_per_resource() -> None:
    world = build_world(3, 0, 5_000)
    refs = References()
    items = [item for batch in activity_stream(world, 3, refs) for item in batch]
    seen: dict[str, set[int]] = {name: set() for name in RESOURCES}
    steps = set()
    opportunities = set()
    for item in items:
        data = orjson.loads(item.static_data_json)
        for key, value in data.items():
            name = key[: -len("_id")]
            if name in seen:
                seen[name].add(value)
            elif name == "step":
                steps.add(value)
            elif name == "opportunity":
                opportunities.add(value)
                assert value == item.resource_id
    for name in RESOURCES:
        assert seen[name] == set(refs.ids(name)), name
    assert steps <= set(range(1, world.steps + 1))
    assert opportunities <= set(world.opportunities)
    assert refs.counts["email"] > refs.counts["call"] > 0


def test_opportunity_ids_look_like_salesforce_ids() -> None:
    ids = {salesforce_id("0065e00000", n) for n in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"0065e00000[0-9A-Za-z]{5}", i) for i in ids)


def test_the_main_team_gets_most_activities_and_shares_add_up() -> None:
    shares = team_shares(1_000_000, 4)
    assert sum(shares) == 1_000_000
    assert shares[0] == 700_000
    assert shares == sorted(shares, reverse=True)
    assert team_shares(10, 1) == [10]
    with pytest.raises(ValueError, match="teams"):
        team_shares(10, len(TEAM_NAMES) + 1)


def test_teams_have_worlds_of_their_own() -> None:
    first, second = build_world(42, 0, 3_000), build_world(42, 1, 3_000)
    assert not set(first.users) & set(second.users)
    assert not set(first.people) & set(second.people)
    assert not set(first.opportunities) & set(second.opportunities)


def _team_feed(store: SQLiteStorage, team_id: int) -> list[bytes]:
    rows = store.reader.execute(
        "SELECT doc FROM activities WHERE team_id = ? ORDER BY seq", (team_id,)
    ).fetchall()
    return [row[0] for row in rows]


def test_loading_twice_changes_nothing_and_teams_stay_apart(tmp_path: Path) -> None:
    async def run() -> None:
        store = SQLiteStorage(str(tmp_path / "demo.db"))
        await store.open()
        try:
            first = await load_demo(store, activities=2_000, seed=5, teams=3)
            assert (first.created, first.updated, first.unchanged) == (2_000, 0, 0)
            assert first.main_team == "acme"
            assert [t.name for t in first.teams] == ["acme", "globex", "initech"]
            feeds = {}
            for report in first.teams:
                team = await store.get_team(report.name)
                assert team is not None
                feeds[report.name] = _team_feed(store, team.id)
                assert len(feeds[report.name]) == report.activities == report.created
                users = {orjson.loads(doc)["user_guid"] for doc in feeds[report.name]}
                assert users - {None} <= set(report.world.users)
            second = await load_demo(store, activities=2_000, seed=5, teams=3)
            assert (second.created, second.updated, second.unchanged) == (0, 0, 2_000)
            for report in second.teams:
                team = await store.get_team(report.name)
                assert team is not None
                assert _team_feed(store, team.id) == feeds[report.name]
            acme = await store.get_team("acme")
            assert acme is not None
            page = await store.list_activities(acme.id, parse_list_query([("per_page", "5")]))
            assert len(page.rows) == 5 and page.has_more
        finally:
            await store.close()

    asyncio.run(run())


def test_cli_demo_prints_a_key_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    args = ["demo", "--database-url", url, "--activities", "1500", "--teams", "2"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert re.fullmatch(r"ak_[0-9a-f]{64}", first.output.strip().splitlines()[-1])
    assert "1,500 created" in first.output
    # Without the record of what it loaded, the demo loads again and changes nothing.
    (tmp_path / "cli.db.demo-state").unlink()
    second = runner.invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "0 created, 0 updated, 1,500 unchanged" in second.output
