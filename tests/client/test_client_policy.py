"""The SDK's waits against a mock transport: 429s, 503s, dropped connections, pacing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import httpx
import pytest

from activityfeed.client import (
    AsyncClient,
    Client,
    RateLimited,
    RetryPolicy,
    ServerError,
    ServiceUnavailable,
    TransportError,
    ValidationError,
)
from activityfeed.client.policy import Pacer, seconds_to_next_minute

KEY = "ak_" + "1" * 64
MINUTE = 60 * 28_000_000  # some whole minute, in epoch seconds
EMPTY_PAGE = {
    "metadata": {
        "filtering": {},
        "paging": {"per_page": 25, "current_page": 1, "next_page": None, "prev_page": None},
        "sorting": {"sort_by": "occurred_at", "sort_direction": "DESC NULLS LAST"},
    },
    "data": [],
}
ACTIVITY = {
    "id": "call-1",
    "type": "call",
    "user_guid": None,
    "resource_type": "person",
    "resource_id": 1,
    "occurred_at": "2024-01-01T00:00:00.000000Z",
    "created_at": "2024-01-01T00:00:00.000000Z",
    "updated_at": "2024-01-01T00:00:00.000000Z",
    "pinned_at": None,
    "tags": [],
    "static_data": {},
    "failed_dynamic_resources": [],
}
BULK_OK = {"data": {"created": 1, "updated": 0, "unchanged": 0}}
Step = httpx.Response | Exception


class FakeTime:
    """A clock that moves only when the client sleeps."""

    def __init__(self, now: float = MINUTE + 15.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Script:
    """A transport that answers with the given steps in order and records the requests."""

    def __init__(self, steps: Iterable[Step]) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def page(**headers: str) -> httpx.Response:
    return httpx.Response(200, json=EMPTY_PAGE, headers=headers)


def limited(retry_after: str | None = "2") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(429, json={"error": "API rate limit exceeded"}, headers=headers)


def unavailable(**headers: str) -> httpx.Response:
    return httpx.Response(503, json={"error": "database unavailable"}, headers=headers)


def dropped() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError("Server disconnected without sending a response.")


def make_client(
    script: Script, time: FakeTime, retry: RetryPolicy | None = None, pace: float | None = None
) -> Client:
    return Client(
        "http://service",
        KEY,
        transport=httpx.MockTransport(script),
        retry=retry or RetryPolicy(jitter=False),
        pace=pace,
        sleep=time.sleep,
        clock=time.clock,
    )


def test_a_429_sequence_waits_each_retry_after_and_goes_on() -> None:
    script, time = Script([limited("2"), limited("3"), limited("0"), page()]), FakeTime()
    assert len(make_client(script, time).list_activities()) == 0
    assert time.sleeps == [2.0, 3.0, 0.0]
    assert len(script.requests) == 4


def test_a_429_without_retry_after_waits_for_the_next_minute() -> None:
    script, time = Script([limited(None), page()]), FakeTime(MINUTE + 45.5)
    make_client(script, time).list_activities()
    assert time.sleeps == [pytest.approx(14.5)]


def test_a_429_is_waited_out_even_for_a_create_it_refused() -> None:
    created = httpx.Response(201, json={"data": ACTIVITY})
    script, time = Script([limited("1"), created]), FakeTime()
    assert make_client(script, time).create_activity("call", "person", 1).id == "call-1"
    assert len(script.requests) == 2


def test_rate_limited_is_raised_after_the_allowed_waits() -> None:
    script, time = Script([limited("5")] * 3), FakeTime()
    client = make_client(script, time, RetryPolicy(max_rate_limit_waits=2))
    with pytest.raises(RateLimited) as caught:
        client.list_activities()
    assert caught.value.retry_after == 5.0
    assert caught.value.message == "API rate limit exceeded"
    assert time.sleeps == [5.0, 5.0]


def test_a_503_then_success_is_retried_with_backoff() -> None:
    script, time = Script([unavailable(), unavailable(), page()]), FakeTime()
    make_client(script, time, RetryPolicy(backoff=0.5, jitter=False)).list_activities()
    assert time.sleeps == [0.5, 1.0]


def test_a_503_honours_retry_after() -> None:
    script, time = Script([unavailable(**{"Retry-After": "7"}), page()]), FakeTime()
    make_client(script, time).list_activities()
    assert time.sleeps == [7.0]


def test_a_503_that_lasts_is_raised_after_max_retries() -> None:
    script, time = Script([unavailable()] * 4), FakeTime()
    client = make_client(script, time, RetryPolicy(3, backoff=1, max_backoff=3, jitter=False))
    with pytest.raises(ServiceUnavailable) as caught:
        client.get_activity("call-1")
    assert caught.value.message == "database unavailable"
    assert time.sleeps == [1.0, 2.0, 3.0]
    assert len(script.requests) == 4


def test_a_503_on_create_is_not_retried() -> None:
    script, time = Script([unavailable(), page()]), FakeTime()
    with pytest.raises(ServiceUnavailable):
        make_client(script, time).create_activity("call", "person", 1)
    assert len(script.requests) == 1
    assert time.sleeps == []


def test_a_dropped_connection_on_a_get_is_retried() -> None:
    script, time = Script([dropped(), httpx.ReadTimeout("slow"), page()]), FakeTime()
    assert len(make_client(script, time).list_activities()) == 0
    assert len(script.requests) == 3


def test_a_dropped_connection_on_a_create_is_raised_not_retried() -> None:
    created = httpx.Response(201, json={"data": ACTIVITY})
    script, time = Script([dropped(), created]), FakeTime()
    with pytest.raises(TransportError) as caught:
        make_client(script, time).create_activity("call", "person", 1)
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert len(script.requests) == 1


def test_a_create_is_retried_when_the_connection_never_opened() -> None:
    created = httpx.Response(201, json={"data": ACTIVITY})
    script, time = Script([httpx.ConnectError("refused"), created]), FakeTime()
    assert make_client(script, time).create_activity("call", "person", 1).id == "call-1"
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("call", "ok"),
    [
        (
            lambda c: c.bulk_upsert([ACTIVITY]),
            {"data": {"created": 1, "updated": 0, "unchanged": 0}},
        ),
        (lambda c: c.update_activity("call-1", tags=["a"]), {"data": ACTIVITY}),
        (lambda c: c.delete_activity("call-1"), None),
        (lambda c: c.put_record("email", "1", {"a": 1}), {"data": {"attributes": {"a": 1}}}),
    ],
)
def test_idempotent_writes_are_retried_after_a_dropped_connection(
    call: Callable[[Client], object], ok: dict[str, object] | None
) -> None:
    answer = httpx.Response(204) if ok is None else httpx.Response(200, json=ok)
    script, time = Script([dropped(), answer]), FakeTime()
    call(make_client(script, time))
    assert len(script.requests) == 2
    assert script.requests[0].content == script.requests[1].content


def test_a_transport_error_that_lasts_is_raised() -> None:
    script, time = Script([dropped()] * 4), FakeTime()
    with pytest.raises(TransportError, match="RemoteProtocolError"):
        make_client(script, time).list_activities()
    assert len(script.requests) == 4


def test_error_bodies_become_exceptions_with_their_errors_map() -> None:
    body = {"errors": {"occurred_at[gt]": ["is not a valid ISO 8601 timestamp"]}}
    script = Script([httpx.Response(422, json=body), httpx.Response(502, text="<html>")])
    client = make_client(script, FakeTime())
    with pytest.raises(ValidationError) as caught:
        client.list_activities(occurred_at_gt="x")
    assert caught.value.errors == body["errors"]
    with pytest.raises(ServerError) as server_error:
        client.list_activities()
    assert server_error.value.status == 502


def test_requests_carry_the_key_and_the_bracket_query() -> None:
    script = Script([page()])
    make_client(script, FakeTime()).list_activities(type=["call", "note"], pinned=True)
    request = script.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.url.query == b"pinned=true&type%5B%5D=call&type%5B%5D=note"


def test_pacing_spreads_the_share_over_the_minute() -> None:
    time = FakeTime(MINUTE)
    script = Script(
        page(**{"x-ratelimit-remaining-minute": str(99 - n), "x-ratelimit-endpoint-cost": "1"})
        for n in range(50)
    )
    client = make_client(script, time, pace=0.5)
    client.list_activities()
    assert time.sleeps == []  # nothing known yet
    for _ in range(49):
        client.list_activities()
    # Budget 100, half of it kept in reserve: the other 49 requests of the client's
    # half are spread evenly over the 60 s of the minute, the last inside it.
    assert time.sleeps == [pytest.approx(60 / 50)] * 49
    assert time.now == pytest.approx(MINUTE + 58.8)


def test_pacing_waits_for_the_next_minute_when_the_share_is_spent() -> None:
    time = FakeTime(MINUTE)
    pacer = Pacer(0.5, time.clock)
    pacer.observe(page(**{"x-ratelimit-remaining-minute": "99", "x-ratelimit-endpoint-cost": "1"}))
    time.now = MINUTE + 10
    pacer.observe(page(**{"x-ratelimit-remaining-minute": "50", "x-ratelimit-endpoint-cost": "1"}))
    assert pacer.delay() == pytest.approx(50)
    time.now = MINUTE + 60.5  # a new minute: a new budget
    assert pacer.delay() == 0
    pacer.observe(limited())  # a 429 forgets the estimate, in case the budget was lowered
    assert pacer.budget == 0


def test_pacer_without_headers_never_waits() -> None:
    time = FakeTime()
    pacer = Pacer(0.5, time.clock)
    pacer.observe(page())
    assert pacer.delay() == 0
    assert seconds_to_next_minute(MINUTE + 59.75) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        Pacer(0, time.clock)


def test_the_async_client_waits_and_retries_the_same_way() -> None:
    time = FakeTime()
    script = Script([limited("4"), unavailable(), dropped(), page()])

    async def scenario() -> None:
        async with AsyncClient(
            "http://service",
            KEY,
            transport=httpx.MockTransport(script),
            retry=RetryPolicy(jitter=False, backoff=1),
            sleep=time.asleep,
            clock=time.clock,
        ) as client:
            assert len(await client.list_activities()) == 0

    asyncio.run(scenario())
    assert time.sleeps == [4.0, 1.0, 2.0]


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTIVITYFEED_API_KEY", raising=False)
    with pytest.raises(ValueError, match="API key"):
        Client("http://service")
    monkeypatch.setenv("ACTIVITYFEED_API_KEY", KEY)
    monkeypatch.setenv("ACTIVITYFEED_BASE_URL", "http://elsewhere:9000")
    with Client() as client:
        assert client.base_url == "http://elsewhere:9000"
