"""The app's middleware, outermost first: security headers, HEAD, then the key.

* :class:`SecurityHeaders` adds the headers every answer carries
  (:mod:`activityfeed.http.headers`), whatever produced the answer;
* :class:`HeadWithoutBody` drops the body of every HEAD answer: the same
  status and headers (``Content-Length`` of the GET body), no body, whatever
  the server;
* :class:`AuthMiddleware` authenticates every ``/v2`` request, spends its
  rate-limit budget and checks its key's scope before any route sees it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activityfeed.auth import require_scope
from activityfeed.errors import ApiError
from activityfeed.http.errors import OutageLog, as_api_error, error_response
from activityfeed.http.headers import NO_STORE, NOSNIFF, is_api_path
from activityfeed.http.methods import scope_for
from activityfeed.http.requests import KEY_SCOPE
from activityfeed.ratelimit.policy import RateLimiter
from activityfeed.service import ActivityService


class SecurityHeaders:
    """Adds :data:`NOSNIFF` to every answer and :data:`NO_STORE` to every ``/v2`` answer.

    A header the answer already has is left as it is.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [NOSNIFF, NO_STORE] if is_api_path(scope["path"]) else [NOSNIFF]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [header for header in extra if header[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadWithoutBody:
    """Sends a HEAD answer's status and headers, and none of its body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_headers_only)


class AuthMiddleware:
    """Authenticates every ``/v2`` request first, rate-limits it, then checks its scope.

    Authentication comes before routing, so that a bad key gets a 401 whatever
    else is wrong with the request (contract, section 1). Rate limiting comes
    next, so that every authenticated response, errors included, carries the
    rate-limit headers and spends the budget (contract, section 5). The scope
    is checked by method (``methods.scope_for``): read for GET and HEAD, write
    for the methods that write; any other method goes on to routing, a 405.
    The key is left in the scope for the handlers
    (:func:`activityfeed.http.requests.api_key`).
    """

    def __init__(
        self,
        app: ASGIApp,
        service: ActivityService,
        limiter: RateLimiter | None = None,
        outages: OutageLog | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.limiter = limiter
        self.outages = outages or OutageLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            key = await self.service.authenticate(Headers(scope=scope).get("authorization"))
        except Exception as exc:  # rendered here: this runs outside the app's handlers
            await error_response(as_api_error(exc, self.outages))(scope, receive, send)
            return
        self.outages.served()  # the store answered the key's lookup
        if self.limiter is not None:
            decision = await self.limiter.check(
                key, scope["method"], scope["path"], scope["query_string"]
            )
            send = _with_headers(send, decision.raw_headers())
            if decision.error is not None:
                await error_response(decision.error)(scope, receive, send)
                return
        needed = scope_for(scope["method"])
        if needed is not None:
            try:
                require_scope(key, needed)
            except ApiError as exc:
                await error_response(exc)(scope, receive, send)
                return
        scope[KEY_SCOPE] = key
        await self.app(scope, receive, send)


def _with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    """``send``, adding ``headers`` to the response's start."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *headers]}
        await send(message)

    return wrapped
