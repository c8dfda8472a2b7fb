"""Headers every answer carries, whatever produced it (a handler, an error, the middleware).

* ``X-Content-Type-Options: nosniff`` on every answer of the service: a
  browser never reads a JSON error as HTML or script.
* ``Cache-Control: no-store`` on every ``/v2`` answer, errors included: the
  answers are one team's data, and no shared or browser cache keeps them.

``/docs`` adds its own ``Content-Security-Policy`` (``docs.py``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")
NO_STORE = (b"cache-control", b"no-store")
ERROR_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def is_api_path(path: str) -> bool:
    """Whether ``path`` is the API's: authenticated, rate-limited, never stored by caches."""
    return path.startswith("/v2")


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
