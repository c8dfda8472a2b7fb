"""``Client.sync``: the lossless incremental reader, while another thread writes."""

from __future__ import annotations

import threading
from collections import Counter

from activityfeed.client import Client
from support.sdk_support import LiveServer

WRITES = 60


def writer(server: LiveServer, key: str, with_updates: bool, done: threading.Event) -> None:
    """Creates one by one and in bulk batches; updates some activities when asked."""
    try:
        with Client(server.url, key) as client:
            for n in range(WRITES):
                if n % 3 == 0:
                    batch = [
                        {
                            "id": f"note-{n}-{i}",
                            "type": "note",
                            "resource_type": "account",
                            "resource_id": n,
                        }
                        for i in range(4)
                    ]
                    client.bulk_upsert(batch)
                else:
                    client.create_activity("call", "person", n, id=f"call-{n}")
                if with_updates and n % 4 == 1 and n % 3 != 0:
                    client.update_activity(f"call-{n}", tags=[f"seen-{n}"])
                if with_updates and n % 6 == 3:
                    client.update_activity(f"note-{n - 3}-1", tags=["again"])
    finally:
        done.set()


def read_until_done(client: Client, done: threading.Event) -> list[tuple[str, str]]:
    """Poll with the persisted cursor until the writer is done, then once more."""
    seen: list[tuple[str, str]] = []
    cursor: str | None = None
    while True:
        finished = done.is_set()
        for item in client.sync(since=cursor, per_page=7):
            seen.append((item.activity.id, item.cursor))
            cursor = item.cursor  # what an integrator persists
        if finished:
            return seen


def run(live: LiveServer, with_updates: bool) -> tuple[list[tuple[str, str]], dict[str, str]]:
    key = live.key("acme")
    done = threading.Event()
    thread = threading.Thread(target=writer, args=(live, key, with_updates, done))
    with Client(live.url, key) as reader:
        thread.start()
        seen = read_until_done(reader, done)
        thread.join()
        stored = {a.id: a.cursor for a in reader.iter_activities(per_page=100)}
    return seen, stored


def test_sync_ends_with_every_activity_exactly_once_while_another_thread_writes(
    live: LiveServer,
) -> None:
    seen, stored = run(live, with_updates=False)
    counts = Counter(activity_id for activity_id, _ in seen)
    assert len(stored) == WRITES // 3 * 4 + WRITES - WRITES // 3
    assert set(counts) == set(stored)
    assert max(counts.values()) == 1
    cursors = [cursor for _, cursor in seen]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == len(cursors)


def test_sync_under_updates_sees_each_change_once_and_ends_on_the_latest(
    live: LiveServer,
) -> None:
    seen, stored = run(live, with_updates=True)
    assert len(set(seen)) == len(seen)  # no (id, updated_at) twice
    latest = dict(seen)  # the last version read of each id
    assert latest == stored
    cursors = [cursor for _, cursor in seen]
    assert cursors == sorted(cursors)
