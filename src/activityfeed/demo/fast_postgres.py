"""The demo's fast load into a PostgreSQL store without activities, on two cores.

The same split as SQLite's (:mod:`activityfeed.demo.fast`): a child process
makes each team's rows with the bulk upsert's own row building, from the
``seq`` and clock the store gives it, while this process streams the batches
already made into the store's fresh load
(:class:`~activityfeed.storage.postgres.bulk.FreshLoad`: one ``COPY`` per
team into the table without its secondary indexes, built at the end). The
child's next batch is made while the server stores the previous one, and
batches arrive in order, so the store ends as a load through the bulk upsert
would leave it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from subprocess import Popen
from typing import Any

from activityfeed.demo.fast import TeamLoaded, TeamPlan, producer, read_frame
from activityfeed.demo.stream import References
from activityfeed.storage import writes
from activityfeed.storage.postgres.bulk import FreshLoad

_COLUMNS = writes.INSERT_COLUMNS.count(",") + 1


async def plan_teams(
    load: FreshLoad, seed_shares: Sequence[tuple[int, int, int]]
) -> list[TeamPlan]:
    """Plans for ``(team index, team id, activities)``: consecutive ``seq`` ranges, team clocks."""
    plans = []
    seq = await load.next_seq()
    for index, team_id, activities in seed_shares:
        clock = await load.clock(team_id)
        plans.append(TeamPlan(index, team_id, activities, seq, clock.value, clock.now))
        seq += activities
    return plans


class _TeamStream:
    """One team's rows as the child sends them, for ``COPY``; what they add up to."""

    def __init__(self, child: Popen[bytes], plan: TeamPlan, advance: Callable[[int, int], None]):
        self.child = child
        self.plan = plan
        self.advance = advance
        self.created = 0
        self.deltas: dict[tuple[str, str], int] = {}
        self.end: tuple[Any, ...] = ()

    async def rows(self) -> AsyncIterator[tuple[Any, ...]]:
        """The team's rows; the child's closing message is kept in :attr:`end`."""
        while (message := await asyncio.to_thread(read_frame, self.child))[0] == "rows":
            _, count, flat, deltas = message
            # The child sends rows flattened (SQLite's multi-row INSERT takes
            # them so): cut them back into rows.
            for row in zip(*[iter(flat)] * _COLUMNS, strict=True):
                yield row
            self.created += count
            for key, n in deltas.items():
                self.deltas[key] = self.deltas.get(key, 0) + n
            self.advance(count, self.plan.index)
        self.end = message


async def load_fresh(
    load: FreshLoad,
    seed: int,
    plans: Sequence[TeamPlan],
    batch_size: int,
    advance: Callable[[int, int], None],
) -> list[TeamLoaded]:
    """Write every team's rows, made by a child process; ``advance(count, team index)``."""
    loaded: list[TeamLoaded] = []
    with producer(seed, batch_size, plans) as child:
        for plan in plans:
            stream = _TeamStream(child, plan, advance)
            await load.copy(stream.rows())
            _, counts, clock = stream.end
            await load.finish_team(
                plan.team_id, clock, stream.deltas, plan.seq + stream.created - 1
            )
            loaded.append(TeamLoaded(References(counts), stream.created))
    return loaded
