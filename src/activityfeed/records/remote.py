"""Remote sources of associated records: one batched HTTP call per resource name.

The protocol (``docs/dynamic-data.md``): ``POST <url>`` with
``{"team": "<team name>", "team_id": 7, "resource": "email", "ids": ["1", "2"]}``;
the answer is ``200`` with ``{"records": {"1": {...}, "2": {...}}}``. An id
absent from ``records`` (or mapped to anything but an object) is a record
that could not be loaded. Anything else (another status, malformed JSON, a
refused connection, no answer before the deadline) fails the whole call.

Every source shares one :class:`httpx.AsyncClient` (one connection pool), and
each has a :class:`CircuitBreaker` so that a source that keeps failing is not
called, and so costs nothing, until a probe after a cooldown succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from activityfeed.decoding import big_integer_in, loads_exact, shown
from activityfeed.records.registry import RemoteSpec
from activityfeed.streams import read_limited

log = logging.getLogger("activityfeed.records.remote")
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class RemoteFailure(Exception):
    """A remote source did not answer a batch usefully."""


class CircuitBreaker:
    """Closed, open after ``failure_threshold`` consecutive failures, half-open after a cooldown.

    While open, :meth:`allow` refuses every call. Once ``cooldown`` seconds
    have passed it lets exactly one call through (the probe): its success
    closes the breaker, its failure opens it for another cooldown. ``clock``
    is injectable so that tests move time instead of sleeping.
    """

    def __init__(
        self,
        failure_threshold: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.clock = clock
        self.name = name
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (a probe is due or in flight)."""
        if self.opened_at is None:
            return "closed"
        if self.probing or self.clock() - self.opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go out now; a ``True`` in the open state is the probe."""
        if self.opened_at is None:
            return True
        if self.probing or self.clock() - self.opened_at < self.cooldown:
            return False
        self.probing = True
        return True

    def success(self) -> None:
        """A call succeeded: close."""
        if self.opened_at is not None:
            log.info("remote source %s answers again: breaker closed", self.name)
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self) -> None:
        """A call failed: open after too many in a row, or when the probe failed."""
        self.failures += 1
        if self.probing or (self.opened_at is None and self.failures >= self.failure_threshold):
            if not self.probing:
                log.warning(
                    "remote source %s failed %d times in a row: breaker open for %.0fs",
                    self.name,
                    self.failures,
                    self.cooldown,
                )
            self.opened_at = self.clock()
            self.probing = False


def new_client(deadline_seconds: float, max_connections: int = 100) -> httpx.AsyncClient:
    """The one client (connection pool) every remote source shares.

    Its timeouts are the hydration deadline: the deadline itself is enforced by
    the hydrator around all calls of a page, these only bound a stray request.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(deadline_seconds),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
    )


class RemoteSource:
    """The remote source of one resource name."""

    def __init__(self, name: str, spec: RemoteSpec, breaker: CircuitBreaker) -> None:
        self.name = name
        self.spec = spec
        self.breaker = breaker
        self.headers = {"content-type": "application/json", **dict(spec.headers)}

    async def load(
        self, client: httpx.AsyncClient, team: str, team_id: int, ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        """The attributes of the records found among ``ids``, or :class:`RemoteFailure`."""
        if not self.breaker.allow():
            raise RemoteFailure(f"{self.name}: circuit open")
        body = orjson.dumps({"team": team, "team_id": team_id, "resource": self.name, "ids": ids})
        try:
            records = await self._call(client, body)
        except asyncio.CancelledError:
            # Cancelled by the page's deadline: as much a failure as a timeout.
            self.breaker.failure()
            raise
        except (httpx.HTTPError, RemoteFailure, ValueError) as exc:
            self.breaker.failure()
            log.debug("remote source %s failed: %s", self.name, exc)
            raise RemoteFailure(f"{self.name}: {type(exc).__name__}") from exc
        self.breaker.success()
        return records

    async def _call(self, client: httpx.AsyncClient, body: bytes) -> dict[str, dict[str, Any]]:
        async with client.stream("POST", self.spec.url, content=body, headers=self.headers) as r:
            if r.status_code != 200:
                raise RemoteFailure(f"status {r.status_code}")
            answer = await read_limited(r.aiter_bytes(), MAX_RESPONSE_BYTES)
            if answer is None:
                raise RemoteFailure("response too large")
        data = loads_exact(answer)
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, dict):
            raise RemoteFailure('the answer has no "records" object')
        found: dict[str, dict[str, Any]] = {}
        for key, value in records.items():
            if not isinstance(value, dict):
                continue
            if (big := big_integer_in(value)) is not None:
                # Rounded to a float it would be wrong; refused, the record counts
                # as not loaded (its activities name the resource as failed).
                log.warning(
                    "remote source %s: record %s holds integer %s beyond 64 bits: not used",
                    self.name,
                    key,
                    shown(big),
                )
                continue
            found[key] = value
        return found
