"""Rate limiting as Salesloft does it (contract, section 5): the cost model and the policy.

A team has a budget per calendar minute, shared by all its keys and by every
worker and host of a deployment. Each request costs 1, except list requests on
deep pages (:func:`request_cost`). The rules the contract leaves to us, also
written down in ``docs/api.md``:

* A request is granted when its cost fits in what is left of the minute's
  budget, and refused otherwise, even when some budget is left: the remaining
  budget never goes negative, and a refused request spends nothing.
* ``ACTIVITYFEED_RATE_LIMIT_PER_MINUTE=0`` turns rate limiting off for the
  whole deployment (team limits are kept, and apply again once it is on); a
  team limit of ``0`` makes that team unlimited. Both still send the headers,
  with :data:`UNLIMITED_REMAINING` as the remaining budget, because real
  clients crawl at one page a minute when the headers are missing.
* When the counter's backend (Redis) cannot be reached, the limiter fails open
  onto the machine-local counter, or answers 503 when configured to fail
  closed; it probes the backend again every ``retry_interval`` seconds, so it
  goes back to it without a restart. One probe decides that the backend is
  back, and only a request sent after that can decide it is down again: an
  answer that arrives late from before the recovery changes nothing, and
  neither does a request that found every connection busy.
* The budget holds across an outage, for one machine: the limiter keeps what
  it last saw of each team's count this minute (:class:`MinuteCounts`), the
  fallback goes on from that, and the backend, once back, is given what was
  granted without it (and the whole count, should it have lost its own, as a
  restarted Redis does). Several machines failing open at once each grant
  at most the budget meanwhile: ``docs/api.md`` has the bound.

The counters live behind :class:`Backend` (``ratelimit/backends.py``); the
limiter of a deployment is built from its settings by ``ratelimit/factory.py``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl

from activityfeed.errors import ApiError, RateLimited, Unavailable
from activityfeed.model import ApiKey
from activityfeed.query import MAX_INTEGER, integer_value

log = logging.getLogger("activityfeed.ratelimit")

UNLIMITED_REMAINING = 2**31 - 1  # the largest value a client's 32-bit integer holds
LIST_PATHS = frozenset({"/v2/activity_histories", "/v2/activity_histories.json"})
LIST_METHODS = frozenset({"GET", "HEAD"})
# (first page of the tier, cost), deepest first.
PAGE_TIERS: tuple[tuple[int, int], ...] = ((501, 30), (251, 10), (151, 8), (101, 3))
COST_HEADER = b"x-ratelimit-endpoint-cost"
REMAINING_HEADER = b"x-ratelimit-remaining-minute"

Clock = Callable[[], float]


def page_of(query_string: bytes) -> int:
    """The ``page`` a list request asks for, read as the list endpoint reads it.

    The last non-blank ``page`` wins (brackets after the name are ignored, as
    the query parser does); a missing or invalid page is page 1, since the
    request will be refused with a 422 anyway.
    """
    # Most requests name no page: skip parsing them.
    if b"page" not in query_string and b"%" not in query_string:
        return 1
    value = ""
    for key, item in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if item and key.partition("[")[0] == "page":
            value = item
    page = integer_value(value)
    if page is None or page > MAX_INTEGER:
        return 1
    return max(page, 1)


def request_cost(method: str, path: str, query_string: bytes) -> int:
    """What a request costs: 1, or more for list requests on deep pages."""
    if method not in LIST_METHODS or path not in LIST_PATHS:
        return 1
    page = page_of(query_string)
    for first, cost in PAGE_TIERS:
        if page >= first:
            return cost
    return 1


class BackendUnavailable(Exception):
    """The counter's backend cannot be reached right now."""


class BackendBusy(BackendUnavailable):
    """This request could not be counted in time (every connection was in use).

    Not an outage: the request is handled as when the backend is unreachable
    (the fallback, or a 503 when failing closed), but the next one asks again.
    """


class Backend(Protocol):
    """Where the per-team, per-minute counters live; one atomic update per request."""

    name: str

    async def start(self) -> None:
        """Connect or open; called once the event loop runs."""

    async def close(self) -> None:
        """Release connections and files."""

    async def spend(
        self, team_id: int, minute: int, cost: int, limit: int, known: int = 0, extra: int = 0
    ) -> tuple[bool, int]:
        """Add ``cost`` to the team's count for ``minute`` unless that passes ``limit``.

        Atomic across every process sharing the backend. Returns whether the
        cost was spent and the count afterwards (when it was not, nothing was
        spent and the count is the current one). Raises
        :class:`BackendUnavailable` when the backend cannot answer.

        ``known`` is the count this process last saw for the minute, here or
        on the other backend; ``extra`` what this process granted meanwhile
        without this backend. Each backend merges them as fits what it holds
        (see its ``spend``) before checking ``cost``, so that an outage does
        not let a minute grant more than its budget.
        """


@dataclass(frozen=True, slots=True)
class Decision:
    """What the limiter says about one request, and the headers it gets."""

    cost: int
    remaining: int
    error: ApiError | None = None

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The rate-limit headers, as ASGI raw headers."""
        return [
            (COST_HEADER, str(self.cost).encode()),
            (REMAINING_HEADER, str(self.remaining).encode()),
        ]


class ThrottledLog:
    """Logs a recurring problem at most once per ``every`` seconds, with a count."""

    def __init__(self, every: float = 30.0, clock: Clock = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._next = 0.0
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        """Log now, or count it when a message went out recently."""
        now = self.clock()
        if now < self._next:
            self._suppressed += 1
            return
        suffix = f" ({self._suppressed} more since the last report)" if self._suppressed else ""
        log.warning(message + suffix, *args)
        self._suppressed = 0
        self._next = now + self.every


class MinuteCounts:
    """Per team, a number for the current minute only; older minutes are forgotten.

    One dictionary entry per team active this minute, cleared when the minute
    turns (once a minute, when the first request of the new one asks).
    """

    def __init__(self) -> None:
        self.minute = 0
        self._counts: dict[int, int] = {}

    def _turn(self, minute: int) -> None:
        if minute > self.minute:
            self._counts.clear()
            self.minute = minute

    def get(self, team_id: int, minute: int) -> int:
        """The team's number for ``minute``: 0 when none, or ``minute`` is not the latest."""
        self._turn(minute)
        return self._counts.get(team_id, 0) if minute == self.minute else 0

    def raise_to(self, team_id: int, minute: int, value: int) -> None:
        """Keep the larger of the team's number and ``value``."""
        self._turn(minute)
        if minute == self.minute and value > self._counts.get(team_id, 0):
            self._counts[team_id] = value

    def add(self, team_id: int, minute: int, value: int) -> None:
        """Add ``value`` to the team's number."""
        self._turn(minute)
        if minute == self.minute and value:
            self._counts[team_id] = self._counts.get(team_id, 0) + value

    def pop(self, team_id: int, minute: int) -> int:
        """The team's number, removed."""
        self._turn(minute)
        return self._counts.pop(team_id, 0) if minute == self.minute else 0


class RateLimiter:
    """The policy: which budget applies, what a request costs, and what to answer.

    ``backend`` holds the counters (Redis, or the machine-local file);
    ``fallback`` is used while ``backend`` is unreachable, unless
    ``fail_closed``. ``clock`` gives seconds since the epoch; tests pass a
    clock that moves only when told, to cross minute boundaries without sleeping.
    """

    def __init__(
        self,
        default_limit: int,
        backend: Backend | None,
        *,
        fallback: Backend | None = None,
        fail_closed: bool = False,
        clock: Clock = time.time,
        retry_interval: float = 1.0,
    ) -> None:
        self.default_limit = default_limit
        self.backend = backend
        self.fallback = fallback
        self.fail_closed = fail_closed
        self.clock = clock
        self.retry_interval = retry_interval
        self._down = False  # the backend is not asked, but by one probe per retry_interval
        self._down_until = 0.0  # while down, no probe before this
        self._probing = False  # a probe is on its way
        self._epoch = 0  # moves on each change of state: the news of older requests is stale
        self._outage_log = ThrottledLog()
        # The last count seen for each team this minute, from either backend; and what
        # the fallback granted that the backend has not been told of.
        self._seen = MinuteCounts()
        self._unsent = MinuteCounts()

    @property
    def enabled(self) -> bool:
        """Whether rate limiting is on for the deployment."""
        return self.default_limit > 0 and self.backend is not None

    async def start(self) -> None:
        """Open the backends (nothing to do when rate limiting is off)."""
        if self.enabled:
            for backend in (self.backend, self.fallback):
                if backend is not None:
                    await backend.start()

    async def close(self) -> None:
        """Close the backends."""
        for backend in (self.backend, self.fallback):
            if backend is not None:
                await backend.close()

    def limit_for(self, key: ApiKey) -> int:
        """The budget per minute of the key's team; 0 means unlimited."""
        if not self.enabled:
            return 0
        return self.default_limit if key.rate_limit is None else max(key.rate_limit, 0)

    async def check(self, key: ApiKey, method: str, path: str, query_string: bytes) -> Decision:
        """Spend the request's cost from its team's budget, or refuse it."""
        cost = request_cost(method, path, query_string)
        limit = self.limit_for(key)
        if limit == 0:
            return Decision(cost, UNLIMITED_REMAINING)
        now = self.clock()
        minute = int(now // 60)
        team_id = key.team_id
        try:
            granted, used = await self._spend(team_id, minute, cost, limit, now)
        except BackendUnavailable:
            if self.fail_closed:
                return Decision(
                    cost, 0, Unavailable("Rate limiting is unavailable, try again shortly")
                )
            # Fail open: count on this machine until the backend is back, from what
            # this process knows was spent this minute already.
            if self.fallback is None:
                return Decision(cost, max(limit - cost, 0))
            known = self._seen.get(team_id, minute)
            try:
                granted, used = await self.fallback.spend(team_id, minute, cost, limit, known)
            except BackendUnavailable:
                return Decision(cost, max(limit - cost, 0))
            self._seen.raise_to(team_id, minute, used)
            if granted:
                self._unsent.add(team_id, minute, cost)
        remaining = max(limit - used, 0)
        if granted:
            return Decision(cost, remaining)
        retry_after = max(math.ceil(60 - now % 60), 1)
        return Decision(cost, remaining, RateLimited(retry_after))

    async def _spend(
        self, team_id: int, minute: int, cost: int, limit: int, now: float
    ) -> tuple[bool, int]:
        """Spend on the backend, unless it is down; the state changes only on fresh news."""
        assert self.backend is not None  # a limit applies only when enabled
        probe = self._down
        if probe:
            if self._probing or now < self._down_until:
                raise BackendUnavailable("still down")
            # One request probes; the others keep to the fallback meanwhile.
            self._probing = True
        epoch = self._epoch
        try:
            result = await self._ask(team_id, minute, cost, limit)
        except BackendBusy:
            raise  # no news of the backend's health
        except BackendUnavailable as exc:
            if epoch == self._epoch:  # else: sent before a change of state, stale news
                self._went_down(exc)
            raise
        finally:
            if probe:
                self._probing = False
        if probe and epoch == self._epoch:
            self._down = False
            self._epoch += 1
            log.warning("rate limit backend %s is back", self.backend.name)
        return result

    async def _ask(self, team_id: int, minute: int, cost: int, limit: int) -> tuple[bool, int]:
        """One spend on the backend, with what this process knows that it may not."""
        assert self.backend is not None
        known = self._seen.get(team_id, minute)
        extra = self._unsent.pop(team_id, minute)
        try:
            granted, used = await self.backend.spend(team_id, minute, cost, limit, known, extra)
        except BaseException:  # (cancelled too: counting twice is safer than not at all)
            self._unsent.add(team_id, minute, extra)  # to be told on a later request
            raise
        self._seen.raise_to(team_id, minute, used)
        return granted, used

    def _went_down(self, exc: BackendUnavailable) -> None:
        assert self.backend is not None
        if not self._down:
            self._down = True
            self._epoch += 1
        self._down_until = self.clock() + self.retry_interval
        self._outage_log.warning(
            "rate limit backend %s unreachable (%s): %s",
            self.backend.name,
            exc,
            "refusing requests with 503" if self.fail_closed else "failing open",
        )
