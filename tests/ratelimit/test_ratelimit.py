"""Rate limiting through the HTTP layer (contract, section 5), with a fake clock.

Every test runs on the machine-local counter file; ``test_ratelimit_redis.py``
runs the Redis backend, ``test_ratelimit_processes.py`` real server processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from activityfeed.http.app import create_app
from activityfeed.model import SCOPE_READ
from activityfeed.ratelimit.factory import build_rate_limiter
from activityfeed.ratelimit.policy import UNLIMITED_REMAINING, page_of, request_cost
from activityfeed.settings import Limits, Settings
from conftest import Keys
from support.clock import FakeClock

LIST = "/v2/activity_histories"
COST = "x-ratelimit-endpoint-cost"
REMAINING = "x-ratelimit-remaining-minute"


@pytest.fixture
def clock() -> FakeClock:
    """A clock standing at the first second of a minute."""
    return FakeClock(1_700_000_040.0)


@pytest.fixture
def limited(settings: Settings, clock: FakeClock, tmp_path: Path) -> Iterator[TestClient]:
    """A client of an app whose teams have 10 per minute, on the fake clock."""
    limited_settings = settings.with_(rate_limit_per_minute=10, limits=Limits(max_body_bytes=64))
    limiter = build_rate_limiter(limited_settings, clock, str(tmp_path / "ratelimit"))
    app = create_app(limited_settings, limiter=limiter)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def lkeys(limited: TestClient) -> Keys:
    """Keys for the limited app."""
    return Keys(limited)


def set_limit(client: TestClient, team: str, limit: int | None) -> None:
    storage = client.app.state.service.storage  # type: ignore[attr-defined]
    assert client.portal is not None
    assert client.portal.call(storage.set_team_rate_limit, team, limit)


def spent(response: object) -> tuple[int, int]:
    headers = response.headers  # type: ignore[attr-defined]
    return int(headers[COST]), int(headers[REMAINING])


@pytest.mark.parametrize(
    ("page", "cost"),
    [
        (1, 1),
        (100, 1),
        (101, 3),
        (150, 3),
        (151, 8),
        (250, 8),
        (251, 10),
        (500, 10),
        (501, 30),
        (10**12, 30),
    ],
)
def test_list_cost_tiers_by_page(page: int, cost: int) -> None:
    assert request_cost("GET", LIST, f"per_page=100&page={page}".encode()) == cost
    assert request_cost("GET", LIST + ".json", f"page={page}".encode()) == cost


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"page=",
        b"page=abc",
        b"page=0",
        b"page=-200",
        b"page=1e3",
        b"page=%EF%BC%92%EF%BC%90%EF%BC%90",
    ],
)
def test_missing_or_invalid_page_costs_one(query: bytes) -> None:
    assert request_cost("GET", LIST, query) == 1


def test_page_is_read_as_the_list_endpoint_reads_it() -> None:
    assert page_of(b"page=200&page=1") == 1  # the last value wins
    assert page_of(b"page=1&page=200&page=") == 200  # a blank value is not given
    assert page_of(b"page[]=300") == 300  # brackets after a scalar's name are ignored
    assert page_of(b"p%61ge=160") == 160  # percent-encoded names are decoded
    assert page_of(b"per_page=100") == 1


def test_only_list_requests_cost_more() -> None:
    assert request_cost("POST", LIST, b"page=600") == 1
    assert request_cost("GET", LIST + "/call-1", b"page=600") == 1
    assert request_cost("GET", "/v2/activity_histories/bulk", b"page=600") == 1


def test_headers_on_success_count_down(limited: TestClient, lkeys: Keys) -> None:
    auth = lkeys.headers("acme")
    assert spent(limited.get(LIST, headers=auth)) == (1, 9)
    assert spent(limited.get(LIST, headers=auth)) == (1, 8)
    assert spent(limited.get(LIST, params={"page": 101}, headers=auth)) == (3, 5)


def test_headers_on_error_responses_which_spend_too(limited: TestClient, lkeys: Keys) -> None:
    auth = lkeys.headers("acme")
    read_only = lkeys.headers("acme", (SCOPE_READ,))
    responses = [
        limited.post(LIST, json={"type": "call"}, headers=read_only),  # 403
        limited.get(LIST + "/call-404", headers=auth),  # 404
        limited.get("/v2/unknown", headers=auth),  # 404 route
        limited.patch(LIST, headers=auth),  # 405
        limited.post(LIST, content=b"x" * 100, headers=auth),  # 413
        limited.get(LIST, params={"per_page": 0}, headers=auth),  # 422
    ]
    assert [r.status_code for r in responses] == [403, 404, 404, 405, 413, 422]
    assert [spent(r) for r in responses] == [(1, 9 - i) for i in range(6)]


def test_no_headers_on_401(limited: TestClient, lkeys: Keys) -> None:
    lkeys("acme")
    for headers in ({}, {"Authorization": "Bearer ak_" + "0" * 64}, {"Authorization": "Basic x"}):
        response = limited.get(LIST, headers=headers)
        assert response.status_code == 401
        assert COST not in response.headers
        assert REMAINING not in response.headers


def test_no_headers_outside_v2(limited: TestClient) -> None:
    assert COST not in limited.get("/healthz").headers


def test_over_budget_is_429_with_retry_after(
    limited: TestClient, lkeys: Keys, clock: FakeClock
) -> None:
    auth = lkeys.headers("acme")
    clock.advance(15.25)
    for _ in range(10):
        assert limited.get(LIST, headers=auth).status_code == 200
    response = limited.get(LIST, headers=auth)
    assert response.status_code == 429
    assert response.json() == {"error": "API rate limit exceeded"}
    assert response.headers["retry-after"] == "45"
    assert spent(response) == (1, 0)


def test_a_cost_over_what_is_left_is_refused_and_spends_nothing(
    limited: TestClient, lkeys: Keys
) -> None:
    auth = lkeys.headers("acme")
    for _ in range(8):
        limited.get(LIST, headers=auth)
    refused = limited.get(LIST, params={"page": 101}, headers=auth)
    assert refused.status_code == 429
    assert spent(refused) == (3, 2)
    assert spent(limited.get(LIST, headers=auth)) == (1, 1)
    assert spent(limited.get(LIST, headers=auth)) == (1, 0)
    assert limited.get(LIST, headers=auth).status_code == 429


def test_budget_comes_back_at_the_next_minute(
    limited: TestClient, lkeys: Keys, clock: FakeClock
) -> None:
    auth = lkeys.headers("acme")
    clock.advance(59.5)
    for _ in range(10):
        limited.get(LIST, headers=auth)
    refused = limited.get(LIST, headers=auth)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    clock.advance(0.5)  # exactly the next minute
    assert spent(limited.get(LIST, headers=auth)) == (1, 9)


def test_teams_have_separate_budgets_shared_by_their_keys(limited: TestClient, lkeys: Keys) -> None:
    first, second = lkeys.headers("acme"), lkeys.headers("acme")
    other = lkeys.headers("globex")
    for _ in range(5):
        limited.get(LIST, headers=first)
        limited.get(LIST, headers=second)
    assert limited.get(LIST, headers=first).status_code == 429
    assert limited.get(LIST, headers=second).status_code == 429
    assert spent(limited.get(LIST, headers=other)) == (1, 9)


def test_team_limit_overrides_the_default(limited: TestClient, lkeys: Keys) -> None:
    auth = lkeys.headers("acme")
    set_limit(limited, "acme", 2)
    assert spent(limited.get(LIST, headers=auth)) == (1, 1)
    assert spent(limited.get(LIST, headers=auth)) == (1, 0)
    assert limited.get(LIST, headers=auth).status_code == 429
    set_limit(limited, "acme", None)  # back to the default
    assert spent(limited.get(LIST, headers=auth)) == (1, 7)


def test_team_limit_zero_is_unlimited(limited: TestClient, lkeys: Keys) -> None:
    auth = lkeys.headers("acme")
    set_limit(limited, "acme", 0)
    for _ in range(12):
        response = limited.get(LIST, params={"page": 600}, headers=auth)
        assert response.status_code == 200
        assert spent(response) == (30, UNLIMITED_REMAINING)


def test_global_zero_turns_rate_limiting_off(client: TestClient, keys: Keys) -> None:
    # The conftest settings have rate_limit_per_minute=0; team limits do not apply then.
    auth = keys.headers("acme")
    set_limit(client, "acme", 1)
    for _ in range(3):
        response = client.get(LIST, params={"page": 151}, headers=auth)
        assert response.status_code == 200
        assert spent(response) == (8, UNLIMITED_REMAINING)


def test_a_page_costs_what_the_list_endpoint_reads_it_as() -> None:
    # The list endpoint reads leading zeros as harmless: so does the cost.
    from activityfeed.ratelimit.policy import request_cost

    padded = b"page=" + b"0" * 20 + b"401"
    assert request_cost("GET", "/v2/activity_histories", padded) == 10
