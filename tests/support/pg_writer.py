"""A writer process for the concurrency test of the PostgreSQL store.

    python tests/support/pg_writer.py URL TEAM_ID WRITER OPERATIONS

Creates activities one by one and in small bulk batches, and updates some of
its own, as fast as it can; prints the ids it created, one per line.
"""

from __future__ import annotations

import asyncio
import sys

from activityfeed.model import ActivityChanges, ActivityInput
from activityfeed.storage.postgres.store import PostgresStorage


async def write(url: str, team_id: int, writer: int, operations: int) -> list[str]:
    store = PostgresStorage.from_url(url)
    await store.open()
    created: list[str] = []
    try:
        for op in range(operations):
            if op % 3 == 0:
                batch = [
                    ActivityInput(
                        type="call",
                        resource_type="person",
                        resource_id=str(op),
                        id=f"call-w{writer}-{op}-{n}",
                    )
                    for n in range(4)
                ]
                await store.upsert_activities(team_id, batch)
                created.extend(item.id for item in batch if item.id)
            elif op % 3 == 1:
                row_id = f"note-w{writer}-{op}"
                await store.create_activity(
                    team_id,
                    ActivityInput(type="note", resource_type="account", resource_id="7", id=row_id),
                )
                created.append(row_id)
            else:
                await store.update_activity(
                    team_id,
                    created[-1],
                    ActivityChanges(tags=(f"t{op}",), present=frozenset({"tags"})),
                )
    finally:
        await store.close()
    return created


if __name__ == "__main__":
    url, team, writer, operations = sys.argv[1:5]
    for activity_id in asyncio.run(write(url, int(team), int(writer), int(operations))):
        print(activity_id)
