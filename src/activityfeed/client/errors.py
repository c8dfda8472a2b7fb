"""The SDK's exceptions: one per status of the contract's error table (section 1).

Every error the service answers with is raised as an :class:`ApiError`
subclass that carries the status, the message and, for a 422, the ``errors``
map exactly as the service sent it. Failures to reach the service at all are
:class:`TransportError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class ActivityFeedError(Exception):
    """The base of every exception the SDK raises."""


class TransportError(ActivityFeedError):
    """The service could not be reached, or the connection dropped (after any retries)."""


class ApiError(ActivityFeedError):
    """The service answered with an error status.

    ``message`` is the body's ``error`` (or a summary of ``errors``); ``errors``
    is the 422 map (``{"occurred_at[gt]": ["is not a valid ISO 8601 timestamp"]}``),
    empty for other statuses.
    """

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: Mapping[str, list[str]] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.errors: dict[str, list[str]] = dict(errors or {})
        self.response = response

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class BadRequest(ApiError):
    """400: the request could not be read."""

    status = 400


class Unauthorized(ApiError):
    """401: missing, malformed, unknown or revoked key."""

    status = 401


class Forbidden(ApiError):
    """403: the key lacks the scope for the operation."""

    status = 403


class NotFound(ApiError):
    """404: unknown activity, record or route."""

    status = 404


class MethodNotAllowed(ApiError):
    """405: the route exists, not with this method."""

    status = 405


class PayloadTooLarge(ApiError):
    """413: the request body is over the service's limit."""

    status = 413


class ValidationError(ApiError):
    """422: invalid parameters or body; ``errors`` names every problem."""

    status = 422


class RateLimited(ApiError):
    """429: the team's budget is spent, and the client gave up waiting for it.

    ``retry_after`` is the service's ``Retry-After`` in seconds, when it sent one.
    """

    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailable(ApiError):
    """503: the service's database or another required part is unavailable."""

    status = 503


class ServerError(ApiError):
    """Any other 5xx status."""

    status = 500


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
        ValidationError,
        ServiceUnavailable,
    )
}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (the delta-seconds form), if usable."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return max(seconds, 0.0)


def error_for(response: httpx.Response) -> ApiError:
    """The exception for an error response, with the message and errors of its body."""
    message = response.reason_phrase or f"HTTP {response.status_code}"
    errors: dict[str, list[str]] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        if isinstance(body.get("error"), str):
            message = body["error"]
        raw_errors = body.get("errors")
        if isinstance(raw_errors, Mapping):
            errors = {
                str(name): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
                for name, msgs in raw_errors.items()
            }
            message = "; ".join(f"{name} {', '.join(msgs)}" for name, msgs in errors.items())
    status = response.status_code
    if status == 429:
        return RateLimited(
            message,
            retry_after=retry_after_seconds(response),
            status=status,
            errors=errors,
            response=response,
        )
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else ApiError
    return cls(message, status=status, errors=errors, response=response)
