"""The machine-local counter file, and the limiter's behaviour when a backend fails."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from activityfeed.errors import RateLimited, Unavailable
from activityfeed.model import ApiKey
from activityfeed.ratelimit.backends import SharedFileBackend
from activityfeed.ratelimit.policy import (
    BackendBusy,
    BackendUnavailable,
    Decision,
    RateLimiter,
)
from support.clock import FakeClock


def opened(path: Path | None, slots: int = 64) -> SharedFileBackend:
    backend = SharedFileBackend(None if path is None else str(path), slots)
    backend.open_sync()
    return backend


def test_two_openers_of_one_file_share_the_counters(tmp_path: Path) -> None:
    first, second = opened(tmp_path / "rl"), opened(tmp_path / "rl")
    assert first.spend_sync(1, 10, 3, 5) == (True, 3)
    assert second.spend_sync(1, 10, 3, 5) == (False, 3)
    assert second.spend_sync(1, 10, 2, 5) == (True, 5)
    assert first.spend_sync(1, 10, 1, 5) == (False, 5)
    assert first.spend_sync(2, 10, 1, 5) == (True, 1)  # another team
    asyncio.run(first.close())
    asyncio.run(second.close())


def test_a_new_minute_starts_from_zero_and_reuses_old_slots(tmp_path: Path) -> None:
    backend = opened(tmp_path / "rl", slots=4)
    for team in range(4):
        assert backend.spend_sync(team, 10, 5, 5) == (True, 5)
    with pytest.raises(BackendUnavailable, match="full"):
        backend.spend_sync(99, 10, 1, 5)  # four teams already hold this minute
    for team in range(4, 8):
        assert backend.spend_sync(team, 11, 1, 5) == (True, 1)
    assert backend.spend_sync(4, 11, 1, 5) == (True, 2)


def test_probe_chains_stay_valid_when_slots_are_taken_over(tmp_path: Path) -> None:
    backend = opened(tmp_path / "rl", slots=8)
    for minute in range(1, 40):
        for team in range(minute % 5, minute % 5 + 6):
            assert backend.spend_sync(team, minute, 1, 2) == (True, 1)
            assert backend.spend_sync(team, minute, 1, 2) == (True, 2)
            assert backend.spend_sync(team, minute, 1, 2) == (False, 2)


def test_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rl"
    asyncio.run(opened(path, slots=64).close())
    with pytest.raises(OSError, match="another format"):
        opened(path, slots=128)


def test_in_memory_table_for_an_in_memory_store() -> None:
    backend = opened(None)
    assert backend.spend_sync(1, 1, 1, 1) == (True, 1)
    assert backend.spend_sync(1, 1, 1, 1) == (False, 1)


WORKER = textwrap.dedent(
    """
    import os, sys, time
    from activityfeed.ratelimit.backends import SharedFileBackend
    backend = SharedFileBackend(sys.argv[1])
    backend.open_sync()
    print("ready", flush=True)
    while not os.path.exists(sys.argv[1] + ".go"):
        time.sleep(0.001)
    print(sum(backend.spend_sync(42, 7, 1, 50_000)[0] for _ in range(20_000)))
    """
)


def test_processes_hammering_one_file_grant_exactly_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "rl"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for worker in workers:  # all started, then all at once
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    (tmp_path / "rl.go").touch()
    granted = [int(worker.communicate(timeout=120)[0]) for worker in workers]
    assert sum(granted) == 50_000


class Flaky:
    """A backend that fails while ``down``, counts its calls, and counts as Redis does.

    ``used`` is ``None`` while it has no count for the minute (as a restarted
    Redis): then it starts from the ``known`` count it is given.
    """

    name = "flaky"

    def __init__(self) -> None:
        self.down = False
        self.calls = 0
        self.used: int | None = None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def spend(
        self, team_id: int, minute: int, cost: int, limit: int, known: int = 0, extra: int = 0
    ) -> tuple[bool, int]:
        self.calls += 1
        if self.down:
            raise BackendUnavailable("connection refused")
        used = max(known, extra) if self.used is None else self.used + extra
        self.used = used
        if used + cost > limit:
            return False, used
        self.used = used + cost
        return True, self.used


KEY = ApiKey(id=1, team_id=1, team_name="acme", prefix="ak_", scopes=(), created_at=0)


def check(limiter: RateLimiter) -> tuple[int, int, type | None]:
    decision = asyncio.run(limiter.check(KEY, "GET", "/v2/activity_histories", b""))
    error = None if decision.error is None else type(decision.error)
    return decision.cost, decision.remaining, error


def test_fail_open_counts_on_the_fallback_and_probes_again() -> None:
    clock, primary, fallback = FakeClock(), Flaky(), Flaky()
    limiter = RateLimiter(3, primary, fallback=fallback, clock=clock)
    assert check(limiter) == (1, 2, None)
    primary.down = True
    assert check(limiter) == (1, 1, None)  # the fallback goes on from the backend's count
    assert check(limiter) == (1, 0, None)
    assert primary.calls == 2  # not asked again within the retry interval
    assert check(limiter) == (1, 0, RateLimited)
    primary.down = False
    clock.advance(1.5)
    assert check(limiter) == (1, 0, RateLimited)  # the backend got what the fallback granted
    assert primary.calls == 3
    assert primary.used == 3


def test_fail_closed_answers_503_until_the_backend_is_back() -> None:
    clock, primary = FakeClock(), Flaky()
    limiter = RateLimiter(3, primary, fallback=Flaky(), fail_closed=True, clock=clock)
    primary.down = True
    assert check(limiter) == (1, 0, Unavailable)
    assert check(limiter) == (1, 0, Unavailable)
    assert primary.calls == 1
    primary.down = False
    clock.advance(1.5)
    assert check(limiter) == (1, 2, None)


def grants(limiter: RateLimiter, attempts: int) -> int:
    """How many of ``attempts`` requests the limiter grants."""
    return [check(limiter)[2] for _ in range(attempts)].count(None)


@pytest.mark.parametrize("restarted", [False, True], ids=["kept its count", "restarted"])
def test_a_minute_grants_at_most_the_budget_across_an_outage(restarted: bool) -> None:
    clock, primary = FakeClock(), Flaky()
    limiter = RateLimiter(10, primary, fallback=opened(None), clock=clock)
    granted = grants(limiter, 4)
    primary.down = True
    granted += grants(limiter, 10)  # on the fallback, from the 4 already spent
    assert granted == 10
    if restarted:
        primary.used = None  # a restarted Redis has no count
    primary.down = False
    clock.advance(1.5)
    granted += grants(limiter, 10)
    assert granted == 10
    assert primary.used == 10  # the outage's grants are counted where every host looks


def test_two_outages_in_one_minute_grant_at_most_the_budget() -> None:
    clock, primary = FakeClock(), Flaky()
    limiter = RateLimiter(10, primary, fallback=opened(None), clock=clock)
    granted = grants(limiter, 2)
    primary.down = True
    granted += grants(limiter, 2)
    primary.down = False
    clock.advance(1.5)
    granted += grants(limiter, 3)  # Redis now knows 7, the fallback file only 4
    primary.down = True
    clock.advance(1.5)
    granted += grants(limiter, 10)
    assert granted == 10


def test_the_outage_count_is_for_its_minute_only() -> None:
    clock, primary = FakeClock(), Flaky()
    limiter = RateLimiter(10, primary, fallback=opened(None), clock=clock)
    primary.down = True
    assert grants(limiter, 10) == 10
    primary.down = False
    clock.advance(60)
    primary.used = None  # a new minute: the counter has no count yet
    assert grants(limiter, 12) == 10


class Gated(Flaky):
    """A :class:`Flaky` whose calls can be held until the test lets them finish."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: asyncio.Event | None = None

    async def spend(
        self, team_id: int, minute: int, cost: int, limit: int, known: int = 0, extra: int = 0
    ) -> tuple[bool, int]:
        gate = self.gate
        if gate is not None:
            await gate.wait()
        return await super().spend(team_id, minute, cost, limit, known, extra)


def test_after_recovery_a_late_failure_of_an_older_request_does_not_refuse_again() -> None:
    clock, primary = FakeClock(), Gated()
    limiter = RateLimiter(100, primary, fallback=opened(None), fail_closed=True, clock=clock)

    async def run() -> list[type | None]:
        def one() -> asyncio.Task[Decision]:
            return asyncio.ensure_future(limiter.check(KEY, "GET", "/v2/activity_histories", b""))

        primary.gate = asyncio.Event()
        stuck = one()  # sent while Redis was fine, answered only after its outage
        await asyncio.sleep(0)
        primary.gate, held = None, primary.gate
        primary.down = True
        outcomes = [await one()]  # the outage is noticed
        primary.down = False
        clock.advance(1.5)
        outcomes.append(await one())  # the probe: Redis is back
        primary.down = True
        held.set()
        outcomes.append(await stuck)  # fails, but it is news from before the recovery
        primary.down = False
        outcomes += [await one() for _ in range(3)]  # still on Redis, at the same instant
        return [None if d.error is None else type(d.error) for d in outcomes]

    assert asyncio.run(run()) == [Unavailable, None, Unavailable, None, None, None]


class Busy(Flaky):
    """A :class:`Flaky` whose every connection is taken for the next ``busy`` calls."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = 0

    async def spend(
        self, team_id: int, minute: int, cost: int, limit: int, known: int = 0, extra: int = 0
    ) -> tuple[bool, int]:
        if self.busy:
            self.busy -= 1
            self.calls += 1
            raise BackendBusy("every connection is in use")
        return await super().spend(team_id, minute, cost, limit, known, extra)


def test_a_backend_whose_connections_are_all_busy_is_not_an_outage() -> None:
    clock, primary = FakeClock(), Busy()
    limiter = RateLimiter(100, primary, fallback=opened(None), fail_closed=True, clock=clock)
    primary.busy = 1
    assert check(limiter)[2] is Unavailable  # this request could not be counted
    assert check(limiter) == (1, 99, None)  # the next one asks again, at once
    assert primary.calls == 2
