"""When the SDK waits: retries, rate-limit waits and pacing.

Pure decisions over responses and a clock, shared by :class:`Client` and
:class:`AsyncClient`; the clients only carry them out with their own sleep.

* **429**: the request was refused before it did anything, so every method
  waits and goes on: ``Retry-After`` seconds, or to the next calendar minute
  when the header is absent, at most ``max_rate_limit_waits`` times per request.
* **503 and connection errors**: retried with exponential backoff, at most
  ``max_retries`` times, only for requests that are safe to repeat: GET, PUT,
  DELETE and the bulk upsert (idempotent by contract: a resent batch changes
  nothing). A create (``POST``) is not repeated after the request may have
  reached the service, since it could store the activity twice; it is
  repeated only when the connection could not be opened at all.
* **Pacing** (optional): keeps the client within a share of the team's budget
  per minute, spreading what is left of that share evenly over what is left
  of the minute, from ``x-ratelimit-remaining-minute`` and
  ``x-ratelimit-endpoint-cost``.

Before each of these waits a client calls its ``on_wait`` callback, if any,
with a :class:`Wait` (so that a program can say why it stalls).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from activityfeed.client.errors import retry_after_seconds

# Errors after which the request certainly never reached the service.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Errors worth another attempt at all (not e.g. an unsupported URL scheme).
RETRYABLE = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times and how long to wait (see the module's docstring).

    The n-th retry (from 0) waits ``min(max_backoff, backoff * 2**n)`` seconds,
    scaled by a random factor in [0.5, 1] when ``jitter`` is on (so that many
    clients do not come back at the same instant); a ``Retry-After`` on a 503
    is used as it is.
    """

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: bool = True
    max_rate_limit_waits: int = 10

    def backoff_for(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0 for the first)."""
        delay = min(self.max_backoff, self.backoff * 2.0**retry)
        if self.jitter:
            delay *= random.uniform(0.5, 1.0)
        return delay


WaitReason = Literal["rate_limit", "retry", "pacing"]


@dataclass(frozen=True, slots=True)
class Wait:
    """A wait the client is about to make, as given to the ``on_wait`` callback.

    ``reason`` is ``"rate_limit"`` (a 429), ``"retry"`` (a 503 or a dropped
    connection) or ``"pacing"``; ``budget`` is the team's budget per minute as
    the rate-limit headers seen so far show it (``None`` before any was seen).
    """

    seconds: float
    reason: WaitReason
    budget: int | None = None


def seen_budget(response: httpx.Response, budget: int | None) -> int | None:
    """The largest ``remaining + cost`` seen, with ``response``'s headers counted."""
    remaining = _header_int(response, "x-ratelimit-remaining-minute")
    if remaining is None or response.status_code == 429:
        return budget
    total = remaining + max(_header_int(response, "x-ratelimit-endpoint-cost") or 1, 1)
    return total if budget is None else max(budget, total)


def seconds_to_next_minute(now: float) -> float:
    """Seconds from ``now`` (epoch seconds) to the start of the next calendar minute."""
    return (math.floor(now / 60) + 1) * 60 - now


class Attempts:
    """The retry state of one request: whether, and how long, to wait before the next try."""

    def __init__(self, policy: RetryPolicy, idempotent: bool, clock: Callable[[], float]) -> None:
        self.policy = policy
        self.idempotent = idempotent
        self.clock = clock
        self.retries = 0
        self.rate_limit_waits = 0

    def after_response(self, response: httpx.Response) -> float | None:
        """Seconds to wait before trying again, or ``None`` to give the response back."""
        status = response.status_code
        if status == 429:
            if self.rate_limit_waits >= self.policy.max_rate_limit_waits:
                return None
            self.rate_limit_waits += 1
            wait = retry_after_seconds(response)
            return seconds_to_next_minute(self.clock()) if wait is None else wait
        if status == 503 and self.idempotent and self.retries < self.policy.max_retries:
            wait = retry_after_seconds(response)
            if wait is None:
                wait = self.policy.backoff_for(self.retries)
            self.retries += 1
            return wait
        return None

    def after_error(self, error: httpx.TransportError) -> float | None:
        """Seconds to wait before trying again after ``error``, or ``None`` to raise it."""
        if not isinstance(error, RETRYABLE) or self.retries >= self.policy.max_retries:
            return None
        if not (self.idempotent or isinstance(error, NOT_SENT)):
            return None
        wait = self.policy.backoff_for(self.retries)
        self.retries += 1
        return wait


def _header_int(response: httpx.Response, name: str) -> int | None:
    raw = response.headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class Pacer:
    """Keeps a client within ``share`` of its team's budget per minute.

    The budget is estimated from the headers as the largest ``remaining +
    cost`` seen (a 429 resets the estimate, in case the budget was lowered).
    Before each request the pacer waits so that what remains of the client's
    share, ``remaining - (1 - share) * budget``, is spread evenly over what
    remains of the minute; when nothing remains it waits for the next minute.
    Minutes are the client's clock's; a client whose clock is off from the
    service's still gets ``Retry-After`` right.
    """

    def __init__(self, share: float, clock: Callable[[], float]) -> None:
        if not 0 < share <= 1:
            raise ValueError("the pacing share must be in (0, 1]")
        self.share = share
        self.clock = clock
        self.budget = 0
        self.minute: int | None = None
        self.remaining: int | None = None
        self.cost = 1
        self.last_at = 0.0

    def observe(self, response: httpx.Response) -> None:
        """Read the rate-limit headers of a response."""
        now = self.clock()
        if response.status_code == 429:
            self.budget = 0
            self.minute = None
            return
        remaining = _header_int(response, "x-ratelimit-remaining-minute")
        cost = _header_int(response, "x-ratelimit-endpoint-cost")
        if remaining is None:
            return
        self.cost = max(cost or 1, 1)
        self.remaining = remaining
        self.budget = max(self.budget, remaining + self.cost)
        self.minute = math.floor(now / 60)
        self.last_at = now

    def delay(self) -> float:
        """Seconds to wait before the next request (0 when it may go now)."""
        now = self.clock()
        if self.minute is None or self.remaining is None or math.floor(now / 60) != self.minute:
            return 0.0
        usable = self.remaining - (1 - self.share) * self.budget
        if usable < self.cost:
            return seconds_to_next_minute(now)
        # n requests left in T seconds go every T / (n + 1) s: the last falls
        # inside the minute, not on the next minute's first instant.
        interval = seconds_to_next_minute(self.last_at) / (usable / self.cost + 1)
        return max(0.0, self.last_at + interval - now)
