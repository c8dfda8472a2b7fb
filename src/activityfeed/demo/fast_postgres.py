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
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import partial
from typing import Any

from activityfeed.demo.fast import TeamLoaded, TeamPlan, TeamRows, producer, read_frame
from activityfeed.storage import writes
from activityfeed.storage.postgres.bulk import FreshLoad

_COLUMNS = writes.INSERT_COLUMNS.count(",") + 1


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
            team = TeamRows(plan, advance)
            await load.copy(_rows(team.batches(partial(read_frame, child))))
            await load.finish_team(
                plan.team_id, team.clock, team.deltas, plan.seq + team.created - 1
            )
            loaded.append(team.loaded())
    return loaded


async def _rows(batches: Iterator[list[Any]]) -> AsyncIterator[tuple[Any, ...]]:
    """The rows of ``batches``, each batch read in a thread while the server takes rows."""
    while (flat := await asyncio.to_thread(next, batches, None)) is not None:
        # The child sends rows flattened (SQLite's multi-row INSERT takes
        # them so): cut them back into rows.
        for row in zip(*[iter(flat)] * _COLUMNS, strict=True):
            yield row
