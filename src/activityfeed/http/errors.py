"""Rendering errors: every error response of the service is made here."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from activityfeed.errors import ApiError, MethodNotAllowed, NotFound, Unavailable
from activityfeed.http.headers import ERROR_HEADERS
from activityfeed.render import json_bytes
from activityfeed.storage.base import StorageUnavailable, StoreReadOnly

log = logging.getLogger("activityfeed")


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


def as_api_error(exc: BaseException) -> ApiError:
    """Any exception as the error the client sees; never a stack trace."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, StoreReadOnly):
        return read_only_error()
    if isinstance(exc, StorageUnavailable):
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
    return error_response(as_api_error(exc))
