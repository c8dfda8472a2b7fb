"""The SDK against the service's real rate limiter, on a fake clock the client's sleep moves."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from activityfeed.client import Client
from activityfeed.http.app import create_app
from activityfeed.ratelimit.factory import build_rate_limiter
from activityfeed.settings import Settings
from conftest import Keys
from support.clock import FakeClock
from support.sdk_support import AppBridge

BUDGET = 10


class Recording(AppBridge):
    """The bridge, noting each answer's status and the fake minute it came in."""

    def __init__(self, client: TestClient, clock: FakeClock) -> None:
        super().__init__(client)
        self.clock = clock
        self.answers: list[tuple[int, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.answers.append((int(self.clock.now // 60), response.status_code))
        return response


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_040.0 + 5)


@pytest.fixture
def limited(settings: Settings, clock: FakeClock, tmp_path: Path) -> Iterator[TestClient]:
    """The app with a budget of 10 a minute per team, on the fake clock."""
    limited_settings = settings.with_(rate_limit_per_minute=BUDGET)
    limiter = build_rate_limiter(limited_settings, clock, str(tmp_path / "ratelimit"))
    with TestClient(create_app(limited_settings, limiter=limiter)) as client:
        yield client


def sdk_for(limited: TestClient, clock: FakeClock, pace: float | None) -> tuple[Client, Recording]:
    transport = Recording(limited, clock)
    client = Client(
        "http://testserver",
        Keys(limited)("acme"),
        transport=transport,
        pace=pace,
        sleep=clock.advance,
        clock=clock,
    )
    return client, transport


def load(client: Client, count: int) -> None:
    client.bulk_upsert(
        [
            {"id": f"call-{n}", "type": "call", "resource_type": "person", "resource_id": n}
            for n in range(count)
        ]
    )


def test_the_client_waits_out_429s_and_reads_everything(
    limited: TestClient, clock: FakeClock
) -> None:
    client, transport = sdk_for(limited, clock, pace=None)
    load(client, 25)
    seen = [activity.id for activity in client.iter_activities(per_page=1)]
    assert sorted(seen) == sorted(f"call-{n}" for n in range(25))
    statuses = Counter(status for _, status in transport.answers)
    assert statuses[429] >= 2  # the budget ran out in at least two minutes
    assert statuses[200] == 26


def test_a_paced_client_stays_within_its_share_and_never_meets_a_429(
    limited: TestClient, clock: FakeClock
) -> None:
    client, transport = sdk_for(limited, clock, pace=0.5)
    load(client, 20)
    seen = [item.activity.id for item in client.sync(per_page=1)]
    assert len(seen) == 20
    assert all(status == 200 for _, status in transport.answers)
    per_minute = Counter(minute for minute, _ in transport.answers)
    # Half of 10 a minute, and all of it used: 21 requests in five minutes.
    assert max(per_minute.values()) == BUDGET // 2
    assert len(per_minute) == 5
