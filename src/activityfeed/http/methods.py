"""Request methods: which a path takes, which read and which write, and HEAD.

Each path is one :class:`Resource` that names a handler per method; a method
it does not name is a 405 with ``Allow``, never another method's handler, so
no request falls through to a write. ``HEAD`` is served by the ``GET``
handler, and :class:`~activityfeed.http.middleware.HeadWithoutBody` drops
the body of every HEAD answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from activityfeed.errors import MethodNotAllowed
from activityfeed.model import SCOPE_READ, SCOPE_WRITE

READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The order in which ``Allow`` lists them.
_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

Handler = Callable[[Request], Awaitable[Response]]


def scope_for(method: str) -> str | None:
    """The key scope a method needs: read for reads, write for writes.

    ``None`` for a method that neither reads nor writes (``OPTIONS``,
    ``TRACE``, anything else): no route serves one, so routing answers it
    with a 405, and no scope is asked for.
    """
    if method in READ_METHODS:
        return SCOPE_READ
    if method in WRITE_METHODS:
        return SCOPE_WRITE
    return None


class Resource(Route):
    """One path and its handler for each method it takes.

    The resource claims its path for every method: one it does not take is a
    405 listing those it does, even where a later route's pattern would also
    match (``GET /v2/activity_histories/bulk`` is not the activity ``bulk``).
    A path is therefore one resource, with all its methods.
    """

    def __init__(self, path: str, handlers: Mapping[str, Handler]) -> None:
        methods = {method.upper(): handler for method, handler in handlers.items()}
        unknown = set(methods) - set(_ORDER) - {"HEAD"}
        if unknown:
            # Every method served must be one the scope check knows.
            raise ValueError(f"{path}: no scope rule for {sorted(unknown)}")
        if "GET" in methods:
            methods["HEAD"] = methods["GET"]
        self.handlers = methods
        self.allow = ", ".join(method for method in _ORDER if method in methods)
        super().__init__(path, self._dispatch, methods=list(methods))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        return (Match.FULL if match is Match.PARTIAL else match), child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self.handlers:
            raise MethodNotAllowed(self.allow)
        await self.app(scope, receive, send)

    async def _dispatch(self, request: Request) -> Response:
        handler = self.handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(self.allow)
        return await handler(request)
