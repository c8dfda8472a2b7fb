"""``activityfeed demo``: load realistic, deterministic demo data as the bulk path stores it.

The world of each team (:mod:`activityfeed.demo.world`) and what happens in it
(:mod:`activityfeed.demo.stream`) are pure functions of the seed, the number
of activities and the number of teams, and every activity has a fixed id: a
second run with the same arguments upserts the same activities and reports
them all unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from activityfeed.demo.fast import TeamLoaded, TeamPlan, load_fresh, plan_teams
from activityfeed.demo.records import load_team_records, team_records
from activityfeed.demo.stream import References, activity_stream
from activityfeed.demo.world import World, build_world, team_shares
from activityfeed.storage import BulkResult, Storage
from activityfeed.storage.writes import Clock

if TYPE_CHECKING:
    from activityfeed.storage.postgres.bulk import PostgresFreshLoader
    from activityfeed.storage.sqlite.bulk import SQLiteFreshLoader

BATCH_SIZE = 10_000  # the bulk endpoint's limit, and the store's sweet spot


@dataclass(frozen=True)
class TeamReport:
    """What the demo loaded into one team, and the records its activities refer to."""

    world: World
    references: References
    created: int
    updated: int
    unchanged: int

    @property
    def name(self) -> str:
        """The team's name."""
        return self.world.name

    @property
    def activities(self) -> int:
        """How many activities the team has in the demo."""
        return self.world.activities


@dataclass(frozen=True)
class DemoReport:
    """What the demo loaded, team by team, and how fast."""

    main_team: str
    activities: int
    teams: tuple[TeamReport, ...] = ()
    seconds: float = 0.0
    # Associated records written after the activities (activityfeed.demo.records).
    records: int = 0
    records_seconds: float = 0.0

    @property
    def created(self) -> int:
        """Activities created by this run."""
        return sum(team.created for team in self.teams)

    @property
    def updated(self) -> int:
        """Activities this run changed."""
        return sum(team.updated for team in self.teams)

    @property
    def unchanged(self) -> int:
        """Activities already stored exactly as the demo has them."""
        return sum(team.unchanged for team in self.teams)

    @property
    def rate(self) -> float:
        """Activities per second, over the whole load."""
        return self.activities / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"loaded {self.activities:,} activities into {len(self.teams)} teams "
            f"in {self.seconds:.1f} s ({self.rate:,.0f} activities/s): "
            f"{self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged; {self.records:,} associated records written "
            f"in {self.records_seconds:.1f} s"
        )


class _Progress:
    """A Rich progress bar on stderr, with the load rate; nothing when hidden."""

    def __init__(self, total: int, show: bool) -> None:
        self.started = time.perf_counter()
        self.done = 0
        self._bar: Any = None
        if show:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]demo[/] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._task = self._bar.add_task("activities", total=total, rate="")

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    @property
    def elapsed(self) -> float:
        """Seconds since the load started."""
        return time.perf_counter() - self.started

    def advance(self, count: int, team: str) -> None:
        """Count ``count`` more activities as stored."""
        self.done += count
        if self._bar is not None:
            rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
            self._bar.update(
                self._task, completed=self.done, description=team, rate=f"{rate:>9,.0f}/s"
            )


async def load_demo(
    store: Storage,
    activities: int,
    seed: int,
    teams: int = 4,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
    fast: bool = True,
) -> DemoReport:
    """Load the demo: ``activities`` spread over ``teams`` teams, seeded by ``seed``.

    Batches go through the store's bulk upsert, as a client's would; into a
    store without activities, the same rows are made by a child process and
    written by one fast load (:mod:`activityfeed.demo.fast` for SQLite,
    :mod:`activityfeed.demo.fast_postgres` for PostgreSQL), unless ``fast``
    is false. ``progress`` shows a Rich progress bar on stderr.
    """
    shares = team_shares(activities, teams)
    with _Progress(activities, progress) as bar:
        worlds = [build_world(seed, index, share) for index, share in enumerate(shares)]
        team_ids = [(await store.ensure_team(world.name)).id for world in worlds]
        reports = (
            await _load_fresh(store, seed, worlds, team_ids, batch_size, bar) if fast else None
        )
        if reports is None:
            reports = [
                await _load_team(store, seed, world, team_id, batch_size, bar)
                for world, team_id in zip(worlds, team_ids, strict=True)
            ]
        seconds = bar.elapsed
    records, records_seconds = await _load_records(store, seed, reports)
    return DemoReport(
        reports[0].name if reports else "acme",
        activities,
        tuple(reports),
        seconds,
        records,
        records_seconds,
    )


async def _load_team(
    store: Storage, seed: int, world: World, team_id: int, batch_size: int, bar: _Progress
) -> TeamReport:
    """One team's activities, batch by batch through the store's bulk upsert."""
    references = References()
    totals = [0, 0, 0]
    for batch in activity_stream(world, seed, references, batch_size):
        # One batch at a time: overlapping generation with the write
        # thread was measured slower (the writer waits for the GIL
        # after every row of executemany).
        _add(totals, await store.upsert_activities(team_id, batch))
        bar.advance(len(batch), world.name)
    return TeamReport(world, references, *totals)


async def _load_fresh(
    store: Storage,
    seed: int,
    worlds: list[World],
    team_ids: list[int],
    batch_size: int,
    bar: _Progress,
) -> list[TeamReport] | None:
    """Every team by the store's fast load when it has no activities, everything created.

    ``None`` when there is no fast load: the batches then go through the bulk upsert.
    """
    if not worlds:
        return None
    job = _FreshJob(seed, worlds, team_ids, batch_size, bar)
    loader = store.fresh_loader()
    if loader.kind == "sqlite":
        loaded = _load_fresh_sqlite(loader, job)
    else:
        loaded = await _load_fresh_postgres(loader, job)
    if loaded is None:
        return None
    return [
        TeamReport(world, team.references, team.created, 0, 0)
        for world, team in zip(worlds, loaded, strict=True)
    ]


@dataclass(frozen=True)
class _FreshJob:
    """What a fast load is asked to make, and the progress bar it moves."""

    seed: int
    worlds: list[World]
    team_ids: list[int]
    batch_size: int
    bar: _Progress

    def plans(self, next_seq: int, clocks: list[Clock]) -> list[TeamPlan]:
        """The teams' plans from the store's next ``seq`` and the teams' clocks."""
        return plan_teams(self.worlds, self.team_ids, next_seq, clocks)

    def advance(self, count: int, index: int) -> None:
        """Count ``count`` more activities of the team at ``index`` as stored."""
        self.bar.advance(count, self.worlds[index].name)


def _load_fresh_sqlite(loader: SQLiteFreshLoader, job: _FreshJob) -> list[TeamLoaded] | None:
    """The fast load of :mod:`activityfeed.demo.fast`, when the SQLite store is empty."""
    with loader.open() as load:
        if load is None:
            return None
        plans = job.plans(load.next_seq, [load.clock(team_id) for team_id in job.team_ids])
        return load_fresh(load, job.seed, plans, job.batch_size, job.advance)


async def _load_fresh_postgres(
    loader: PostgresFreshLoader, job: _FreshJob
) -> list[TeamLoaded] | None:
    """The fast load of :mod:`activityfeed.demo.fast_postgres`, when PostgreSQL's store is empty."""
    # Imported here, as open_storage does: the driver only for a PostgreSQL store.
    from activityfeed.demo import fast_postgres
    from activityfeed.storage.postgres.bulk import IN_TIME_ORDER, KEPT

    # The demo's rows come in time order: those indexes are kept up as they go.
    async with loader.open(KEPT | IN_TIME_ORDER) as load:
        if load is None:
            return None
        next_seq = await load.next_seq()
        plans = job.plans(next_seq, [await load.clock(team_id) for team_id in job.team_ids])
        loaded = await fast_postgres.load_fresh(load, job.seed, plans, job.batch_size, job.advance)
    # Without statistics the planner takes a team for a few thousand rows.
    await loader.analyze()
    return loaded


async def _load_records(store: Storage, seed: int, reports: list[TeamReport]) -> tuple[int, float]:
    """One associated record per reference the teams' activities made: (written, seconds)."""
    started = time.perf_counter()
    written = 0
    for report in reports:
        team = await store.ensure_team(report.name)
        batches = team_records(
            seed,
            report.world.index,
            report.references.counts,
            report.world.cadences,
            report.world.opportunities,
        )
        written += await load_team_records(store, team.id, batches)
    return written, time.perf_counter() - started


def _add(totals: list[int], result: BulkResult) -> None:
    totals[0] += result.created
    totals[1] += result.updated
    totals[2] += result.unchanged


async def loaded_state(store: Storage, names: list[str]) -> list[list[Any]]:
    """What a rerun compares: per team, its name, id, clock and counts of activities and records.

    Every write of an activity ticks its team's clock and a delete lowers the
    count, so an unchanged state means the demo's activities are as it left
    them; an associated record rewritten in place is not seen. Read from the
    teams table and two counts per team: no activity row is read. A team that
    does not exist reads as ``None``.
    """
    endpoint = store.copy_endpoint()
    found = {team.name: team for team in await endpoint.teams()}
    state: list[list[Any]] = []
    for name in names:
        team = found.get(name)
        if team is None:
            state.append([name, None])
            continue
        activities = await endpoint.count_activities(team.id)
        records = await endpoint.count_records(team.id)
        state.append([name, team.id, team.clock, activities, records])
    return state
