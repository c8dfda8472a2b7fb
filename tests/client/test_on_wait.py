"""The SDK's ``on_wait`` callback: told about every wait, before it is made."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from activityfeed.client import AsyncClient, Client, Wait

PAGE = {"data": [], "metadata": {"paging": {"per_page": 25, "current_page": 1}}}


def answers() -> httpx.MockTransport:
    return httpx.MockTransport(handler())


def handler() -> Callable[[httpx.Request], httpx.Response]:
    """200 (budget 600 in the headers), then 429 with Retry-After: 23, 503, then 200s."""
    count = [0]

    def handle(request: httpx.Request) -> httpx.Response:
        count[0] += 1
        if count[0] == 2:
            return httpx.Response(429, headers={"retry-after": "23"}, json={})
        if count[0] == 3:
            return httpx.Response(503, headers={"retry-after": "2"}, json={})
        headers = {"x-ratelimit-remaining-minute": "590", "x-ratelimit-endpoint-cost": "10"}
        return httpx.Response(200, headers=headers, json=PAGE)

    return handle


def test_the_client_tells_on_wait_of_each_wait_with_its_reason_and_the_budget() -> None:
    told: list[Wait] = []
    slept: list[float] = []
    with Client(
        "http://x", "ak_k", transport=answers(), sleep=slept.append, on_wait=told.append
    ) as client:
        client.list_activities()
        client.list_activities()
    assert told == [Wait(23.0, "rate_limit", 600), Wait(2.0, "retry", 600)]
    assert slept == [23.0, 2.0]


def test_the_async_client_tells_on_wait_too() -> None:
    told: list[Wait] = []

    async def no_sleep(seconds: float) -> None:
        return None

    async def run() -> None:
        async with AsyncClient(
            "http://x",
            "ak_k",
            transport=httpx.MockTransport(handler()),
            sleep=no_sleep,
            on_wait=told.append,
        ) as client:
            await client.list_activities()
            await client.list_activities()

    asyncio.run(run())
    assert told == [Wait(23.0, "rate_limit", 600), Wait(2.0, "retry", 600)]
