"""503s while the store is unavailable: their headers, and how the outage is logged.

A fake store answers as the real one until it is told to fail; then its
calls raise ``StorageUnavailable``, as the stores do when their database
cannot be reached (``test_postgres_outage.py`` does it with a real server).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from activityfeed.errors import RETRY_AFTER_UNAVAILABLE
from activityfeed.http.app import create_app
from activityfeed.http.errors import OutageLog
from activityfeed.ratelimit.policy import BackendUnavailable, RateLimiter
from activityfeed.settings import Settings
from activityfeed.storage import StorageUnavailable, open_storage
from conftest import Keys
from support.clock import FakeClock

LIST = "/v2/activity_histories"


class Outage:
    """A store that fails while ``failing`` names its calls (``"*"``: every call)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.failing: set[str] = set()
        self.calls = 0

    def fails(self, name: str) -> bool:
        return "*" in self.failing or name in self.failing

    def generation(self) -> int | None:
        # A store that cannot be read cannot tell its generation (as SQLite's).
        return None if self.fails("generation") else self.store.generation()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if name in ("open", "close") or not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.fails(name):
                self.calls += 1
                raise StorageUnavailable("connection refused (a test outage)")
            return await attr(*args, **kwargs)

        return call


@pytest.fixture
def outage(store_url: str) -> Outage:
    return Outage(open_storage(store_url))


@pytest.fixture
def down_client(store_url: str, outage: Outage) -> Iterator[TestClient]:
    """An app with a rate limit of 600 on the fake store."""
    settings = Settings(database_url=store_url, rate_limit_per_minute=600)
    with TestClient(create_app(settings, storage=outage)) as client:  # type: ignore[arg-type]
        yield client


def assert_503(response: Any) -> None:
    assert response.status_code == 503
    assert set(response.json()) == {"error"}
    assert response.headers["retry-after"] == str(RETRY_AFTER_UNAVAILABLE)
    assert response.headers["x-content-type-options"] == "nosniff"


def test_retry_after_is_a_few_seconds() -> None:
    assert 1 <= RETRY_AFTER_UNAVAILABLE <= 5


def test_a_failed_key_lookup_is_503_with_retry_after_and_no_rate_limit_headers(
    down_client: TestClient, outage: Outage
) -> None:
    headers = Keys(down_client).headers("acme")
    outage.failing = {"*"}
    response = down_client.get(LIST, headers=headers)
    assert_503(response)
    assert response.headers["cache-control"] == "no-store"
    # No key could be looked up, so there is no team and no budget to show.
    assert "x-ratelimit-remaining-minute" not in response.headers
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "failing"),
    [
        ("GET", LIST + "?per_page=3", "list_activities"),  # not the cached page
        ("GET", f"{LIST}/call-1", "get_activity"),
        ("POST", LIST, "create_activity"),
        ("DELETE", f"{LIST}/call-1", "delete_activity"),
        ("GET", "/v2/associated_records/email/1", "get_record"),
    ],
)
def test_a_503_after_authentication_has_retry_after_and_rate_limit_headers(
    down_client: TestClient, outage: Outage, method: str, path: str, failing: str
) -> None:
    headers = Keys(down_client).headers("acme")
    before = down_client.get(LIST, headers=headers)
    outage.failing = {failing}
    body = {"type": "call", "resource_type": "person", "resource_id": 1}
    response = down_client.request(
        method, path, headers=headers, json=body if method == "POST" else None
    )
    assert outage.calls == 1
    assert_503(response)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-ratelimit-endpoint-cost"] == "1"
    remaining = int(before.headers["x-ratelimit-remaining-minute"])
    assert int(response.headers["x-ratelimit-remaining-minute"]) == remaining - 1


def test_readyz_while_unavailable_is_503_with_retry_after(
    down_client: TestClient, outage: Outage
) -> None:
    outage.failing = {"*"}
    assert_503_ready = down_client.get("/readyz")
    assert assert_503_ready.status_code == 503
    assert assert_503_ready.headers["retry-after"] == str(RETRY_AFTER_UNAVAILABLE)
    outage.failing = set()
    assert down_client.get("/readyz").status_code == 200


class DownBackend:
    """A rate-limit backend that cannot be reached."""

    name = "down"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def spend(
        self, team_id: int, minute: int, cost: int, limit: int, known: int = 0, extra: int = 0
    ) -> tuple[bool, int]:
        raise BackendUnavailable("connection refused")


def test_fail_closed_rate_limiting_503_has_retry_after_and_rate_limit_headers(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=store_url, rate_limit_per_minute=600)
    limiter = RateLimiter(600, DownBackend(), fail_closed=True)
    caplog.set_level(logging.ERROR, logger="activityfeed.ratelimit")
    with TestClient(create_app(settings, limiter=limiter)) as client:
        response = client.get(LIST, headers=Keys(client).headers("acme"))
    assert_503(response)
    assert response.headers["x-ratelimit-remaining-minute"] == "0"


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "activityfeed"]


def test_an_outage_logs_its_changes_not_every_request(
    down_client: TestClient, outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    headers = Keys(down_client).headers("acme")
    clock = FakeClock(1000.0)
    down_client.app.state.outages.clock = clock  # type: ignore[attr-defined]
    caplog.set_level(logging.WARNING, logger="activityfeed")
    outage.failing = {"*"}
    for _ in range(300):  # 30 s of outage, 10 requests a second
        assert down_client.get(LIST, headers=headers).status_code == 503
        clock.advance(0.1)
    outage.failing = set()
    for _ in range(5):
        assert down_client.get(LIST, headers=headers).status_code == 200
    lines = outage_lines(caplog)
    assert lines[0].startswith("store unavailable")
    assert "connection refused" in lines[0]
    summaries = lines[1:-1]
    assert 2 <= len(summaries) <= 3, lines
    assert all("requests refused in the last 10 s" in line for line in summaries)
    assert lines[-1].startswith("store is back after 30.0 s: 300 requests refused"), lines


def test_a_flapping_store_is_announced_at_most_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(0.0)
    log = OutageLog(every=10.0, clock=clock)
    caplog.set_level(logging.WARNING, logger="activityfeed")
    for _ in range(1000):  # fails and recovers every 0.01 s for 10 s
        log.refused(StorageUnavailable("read-only"))
        log.served()
        clock.advance(0.01)
    clock.advance(1.0)
    log.refused(StorageUnavailable("read-only"))
    lines = outage_lines(caplog)
    assert len(lines) == 3, lines
    assert lines[0].startswith("store unavailable")
    assert lines[1].startswith("store is back after 0.0 s: 1 requests refused")
    assert lines[2].startswith("store unavailable") and "999 more refused" in lines[2]


def test_no_line_while_the_store_answers(caplog: pytest.LogCaptureFixture) -> None:
    log = OutageLog(clock=FakeClock())
    caplog.set_level(logging.WARNING, logger="activityfeed")
    for _ in range(100):
        log.served()
    assert not log.down
    assert outage_lines(caplog) == []
