"""Rendering errors: every error response of the service is made here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from activityfeed.errors import ApiError, MethodNotAllowed, NotFound, Unavailable
from activityfeed.http.headers import ERROR_HEADERS
from activityfeed.render import json_bytes
from activityfeed.storage.base import StorageUnavailable, StoreReadOnly

log = logging.getLogger("activityfeed")


class OutageLog:
    """Logs an outage of the store by its changes, not one line per refused request.

    The first refusal logs that the store went unavailable; while it stays
    so, at most one line per ``every`` seconds counts the requests refused
    since the last line; the first request the store answers again logs that
    it is back, with the outage's length and count. A store that flaps (fails
    again within ``every`` seconds of the last line) is not announced again
    until ``every`` seconds have passed: its refusals are counted in the next
    line.
    """

    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.down = False  # the store's last answer was a failure
        self._announced = False  # the current outage has been logged
        self._since = 0.0  # when the current outage began
        self._last_line = -float("inf")
        self._pending = 0  # refusals counted in no line yet
        self._total = 0  # refusals of the announced outage, already in a line

    def refused(self, exc: BaseException) -> None:
        """A request was answered 503 because the store failed with ``exc``."""
        now = self.clock()
        if not self.down:
            self.down = True
            if not self._announced:
                self._since = now
        self._pending += 1
        if now - self._last_line < self.every:
            return
        if self._announced:
            log.warning(
                "store still unavailable: %d requests refused in the last %.0f s (%s)",
                self._pending,
                now - self._last_line,
                exc,
            )
        else:
            earlier = self._pending - 1
            suffix = f" ({earlier} more refused since the last report)" if earlier else ""
            log.warning("store unavailable, answering 503 until it is back: %s%s", exc, suffix)
            self._announced = True
        self._total += self._pending
        self._pending = 0
        self._last_line = now

    def served(self) -> None:
        """The store answered a request."""
        if not self.down:
            return
        self.down = False
        now = self.clock()
        if self._announced:
            log.warning(
                "store is back after %.1f s: %d requests refused",
                now - self._since,
                self._total + self._pending,
            )
        elif now - self._last_line >= self.every:
            log.warning("store answers again: %d requests refused meanwhile", self._pending)
        else:
            return  # a relapse soon after the last line: counted in the next one
        self._announced = False
        self._pending = 0
        self._total = 0
        self._last_line = now


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> Response:
    """The contract's body and status for ``error``.

    Every error carries :data:`~activityfeed.http.headers.ERROR_HEADERS`,
    also the few rendered outside the app's middleware (a 500).
    """
    return Response(
        json_bytes(error.body()),
        status_code=error.status,
        media_type="application/json",
        headers={**ERROR_HEADERS, **error.headers(), **(headers or {})},
    )


def as_api_error(exc: BaseException, outages: OutageLog | None = None) -> ApiError:
    """Any exception as the error the client sees; never a stack trace.

    A store failure goes to ``outages`` (logged by its changes), or, without
    one, to the log.
    """
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, StoreReadOnly):
        return read_only_error()
    if isinstance(exc, StorageUnavailable):
        if outages is not None:
            outages.refused(exc)
        else:
            log.warning("store unavailable: %s", exc)
        return Unavailable("The database is unavailable, try again shortly")
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return NotFound()
        if exc.status_code == 405:
            return MethodNotAllowed((exc.headers or {}).get("Allow", ""))
        error = ApiError(str(exc.detail))
        error.status = exc.status_code
        return error
    log.exception("unhandled error", exc_info=exc)
    return ApiError("Internal Server Error")


def read_only_error() -> ApiError:
    """A write to a read-only store: a 503 that says why, with no ``Retry-After``.

    Not an outage (retrying soon does not help) and not logged per request:
    the store logged it once when it opened.
    """
    error = ApiError(
        "The database is read-only: it serves reads, and refuses every write "
        "until it is made writable and the service restarted"
    )
    error.status = 503
    return error


async def handle(request: Request, exc: Exception) -> Response:
    """The one exception handler of the app."""
    outages: OutageLog | None = getattr(request.app.state, "outages", None)
    return error_response(as_api_error(exc, outages))
