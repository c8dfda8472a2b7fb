"""The asyncio client: :class:`AsyncClient`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar, Unpack

import httpx

from activityfeed.client import calls
from activityfeed.client.calls import UNSET, Call
from activityfeed.client.errors import TransportError, error_for
from activityfeed.client.models import (
    Activity,
    BulkResult,
    Page,
    Record,
    RecordsResult,
    Synced,
)
from activityfeed.client.params import ListFilters
from activityfeed.client.policy import Attempts, Pacer, RetryPolicy, Wait, WaitReason, seen_budget
from activityfeed.client.sync_client import DEFAULT_TIMEOUT, auth_headers, client_settings

T = TypeVar("T")


class AsyncClient:
    """A client of the activity history API (activityfeed or Salesloft), on ``httpx.AsyncClient``.

    >>> async with AsyncClient("http://127.0.0.1:8000", api_key="ak_...") as client:
    ...     async for activity in client.iter_activities(type=["call"], per_page=100):
    ...         print(activity.id)

    ``retry`` says how 429s, 503s and dropped connections are handled
    (:class:`RetryPolicy`); ``pace`` (a share of the team's budget per minute,
    such as ``0.5``) turns on pacing by the rate-limit headers. ``sleep`` and
    ``clock`` (epoch seconds) are injectable for tests. ``on_wait`` is called
    with a :class:`Wait` before every wait (rate limit, retry or pacing).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        pace: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        on_wait: Callable[[Wait], None] | None = None,
    ) -> None:
        url, key = client_settings(base_url, api_key)
        self.base_url = url
        self.retry = retry or RetryPolicy()
        self.pacer = Pacer(pace, clock) if pace is not None else None
        self._sleep = sleep
        self._clock = clock
        self.on_wait = on_wait
        self._budget: int | None = None
        self._http = httpx.AsyncClient(
            base_url=url, headers=auth_headers(key, headers), timeout=timeout, transport=transport
        )

    # The httpx shape.

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # Sending, with the waits of the retry policy and the pacer.

    async def _wait(self, seconds: float, reason: WaitReason) -> None:
        if self.on_wait is not None:
            self.on_wait(Wait(seconds, reason, self._budget))
        await self._sleep(seconds)

    async def _send(self, call: Call[T]) -> T:
        attempts = Attempts(self.retry, call.idempotent, self._clock)
        while True:
            if self.pacer is not None and (pause := self.pacer.delay()) > 0:
                await self._wait(pause, "pacing")
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    content=call.content,
                    headers=call.headers(),
                )
            except httpx.TransportError as exc:
                wait = attempts.after_error(exc)
                if wait is None:
                    raise TransportError(f"{type(exc).__name__}: {exc}") from exc
                await self._wait(wait, "retry")
                continue
            self._budget = seen_budget(response, self._budget)
            if self.pacer is not None:
                self.pacer.observe(response)
            if response.is_success:
                return call.parse(response)
            wait = attempts.after_response(response)
            if wait is None:
                raise error_for(response)
            await self._wait(wait, "rate_limit" if response.status_code == 429 else "retry")

    # Activities.

    async def list_activities(self, **filters: Unpack[ListFilters]) -> Page:
        """One page of ``GET /v2/activity_histories``; filters as in :class:`ListFilters`."""
        return await self._send(calls.list_activities(filters))

    async def _page(self, filters: Mapping[str, object]) -> Page:
        return await self._send(calls.list_activities(filters))

    async def iter_activities(self, **filters: Unpack[ListFilters]) -> AsyncIterator[Activity]:
        """Every activity matching ``filters``, page after page by ``next_page``.

        Page numbers shift when activities are written meanwhile; to read a
        changing feed without losses or repeats, use :meth:`sync`.
        """
        query: dict[str, object] = dict(filters)
        while True:
            page = await self._page(query)
            for activity in page.data:
                yield activity
            if page.paging.next_page is None:
                return
            query["page"] = page.paging.next_page

    async def sync(
        self,
        since: datetime | str | None = None,
        **filters: Unpack[ListFilters],
    ) -> AsyncIterator[Synced]:
        """Every activity changed after ``since``, oldest change first, each with its cursor.

        Reads ``sort_by=updated_at&sort_direction=ASC&updated_at[gt]=<cursor>``
        (100 a page unless ``per_page`` says otherwise) until it is caught up;
        persist the cursor of the last item handled and pass it as ``since``
        next time. As the service's ``updated_at`` is
        unique and grows in commit order, nothing is missed or repeated even
        while others write (an activity changed again appears again, once
        per change).
        """
        cursor = calls.cursor_text(since)
        while True:
            page = await self._page(calls.sync_filters(cursor, filters))
            for activity in page.data:
                cursor = activity.cursor
                yield Synced(activity, cursor)
            if page.paging.next_page is None or not page.data:
                return

    async def get_activity(self, activity_id: str) -> Activity:
        """``GET /v2/activity_histories/{id}``."""
        return await self._send(calls.get_activity(activity_id))

    async def create_activity(
        self,
        type: str,
        resource_type: str,
        resource_id: int | str,
        *,
        id: str | None = None,
        occurred_at: datetime | str | None = None,
        user_guid: str | None = None,
        tags: Iterable[str] | None = None,
        static_data: Mapping[str, Any] | None = None,
        pinned_at: datetime | str | None = None,
    ) -> Activity:
        """``POST /v2/activity_histories``. Never retried once it may have been received."""
        body = calls.create_body(
            type,
            resource_type,
            resource_id,
            id=id,
            occurred_at=occurred_at,
            user_guid=user_guid,
            tags=None if tags is None else list(tags),
            static_data=static_data,
            pinned_at=pinned_at,
        )
        return await self._send(calls.create_activity(body))

    async def update_activity(
        self,
        activity_id: str,
        *,
        occurred_at: datetime | str = UNSET,
        user_guid: str | None = UNSET,
        tags: Iterable[str] = UNSET,
        static_data: Mapping[str, Any] = UNSET,
        pinned_at: datetime | str | None = UNSET,
    ) -> Activity:
        """``PUT /v2/activity_histories/{id}``: change the given fields (pinned_at=None unpins)."""
        body = calls.update_body(
            occurred_at=occurred_at,
            user_guid=user_guid,
            tags=tags if tags is UNSET else list(tags),
            static_data=static_data,
            pinned_at=pinned_at,
        )
        return await self._send(calls.update_activity(activity_id, body))

    async def delete_activity(self, activity_id: str) -> None:
        """``DELETE /v2/activity_histories/{id}``."""
        await self._send(calls.delete_activity(activity_id))

    async def bulk_upsert(
        self, activities: Iterable[Mapping[str, Any] | Activity], *, ndjson: bool = False
    ) -> BulkResult:
        """``POST /v2/activity_histories/bulk``: up to 10,000 activities, upserted by id.

        Items are create bodies (``id`` required) or :class:`Activity` values.
        Retried like a PUT: the upsert is idempotent, so after a dropped
        connection a resend reports as ``unchanged`` what the first attempt stored.
        """
        return await self._send(calls.bulk_upsert(activities, ndjson=ndjson))

    # Associated records.

    async def put_record(
        self, resource: str, record_id: str, attributes: Mapping[str, Any]
    ) -> Record:
        """``PUT /v2/associated_records/{resource}/{id}``: create or replace a record."""
        return await self._send(calls.put_record(resource, record_id, attributes))

    async def get_record(self, resource: str, record_id: str) -> Record:
        """``GET /v2/associated_records/{resource}/{id}``."""
        return await self._send(calls.get_record(resource, record_id))

    async def delete_record(self, resource: str, record_id: str) -> None:
        """``DELETE /v2/associated_records/{resource}/{id}``."""
        await self._send(calls.delete_record(resource, record_id))

    async def put_records(
        self, resource: str, records: Mapping[str, Mapping[str, Any]] | Iterable[Record]
    ) -> RecordsResult:
        """``PUT /v2/associated_records/{resource}``: many records (``{id: attributes}``)."""
        return await self._send(calls.put_records(resource, records))
