"""The error tree: each error knows its status and its contract body.

Errors are raised anywhere below the HTTP layer and rendered by one handler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ApiError(Exception):
    """An error the client gets to see, with its status and body."""

    status = 500
    message = "Internal Server Error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.detail = message or self.message

    def body(self) -> dict[str, Any]:
        """The JSON body of the response."""
        return {"error": self.detail}

    def headers(self) -> dict[str, str]:
        """Extra response headers."""
        return {}


class Unauthorized(ApiError):
    """401: missing, malformed, unknown or revoked key."""

    status = 401
    message = "Unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="activityfeed"'}


class Forbidden(ApiError):
    """403: the key lacks the scope the operation needs."""

    status = 403
    message = "Forbidden"


class NotFound(ApiError):
    """404: unknown activity, record or route. The body never says which."""

    status = 404
    message = "Not Found"

    def __init__(self, message: str | None = None) -> None:
        super().__init__("Not Found")


class MethodNotAllowed(ApiError):
    """405: the path exists, not with this method; ``allow`` lists the methods it takes."""

    status = 405
    message = "Method Not Allowed"

    def __init__(self, allow: str) -> None:
        super().__init__("Method Not Allowed")
        self.allow = allow

    def headers(self) -> dict[str, str]:
        return {"Allow": self.allow}


class PayloadTooLarge(ApiError):
    """413: the request body is over the configured limit."""

    status = 413
    message = "Request body too large"


class RateLimited(ApiError):
    """429: the team's budget for this minute is spent."""

    status = 429
    message = "API rate limit exceeded"

    def __init__(self, retry_after: int) -> None:
        super().__init__("API rate limit exceeded")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


RETRY_AFTER_UNAVAILABLE = 2  # seconds: what a 503 tells a client to wait (docs/api.md)


class Unavailable(ApiError):
    """503: the database or another required part is unavailable, for now.

    Every 503 says when to try again (``Retry-After``), so that clients back
    off instead of hammering a service that is recovering.
    """

    status = 503
    message = "Service Unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}


class Invalid(ApiError):
    """422: invalid parameters or body, every problem under its name."""

    status = 422
    message = "Unprocessable Entity"

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        super().__init__("; ".join(f"{k} {', '.join(v)}" for k, v in errors.items()))
        self.errors = {key: list(messages) for key, messages in errors.items()}

    def body(self) -> dict[str, Any]:
        return {"errors": self.errors}


class ErrorCollector:
    """Gathers every problem of a request so that one 422 can name them all."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        """Record ``message`` under ``name``."""
        messages = self.errors.setdefault(name, [])
        if message not in messages:
            messages.append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        """Raise :class:`Invalid` when anything was recorded."""
        if self.errors:
            raise Invalid(self.errors)
