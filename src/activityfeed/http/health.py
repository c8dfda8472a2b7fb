"""``GET /healthz`` and ``GET /readyz``: open to all, no key, no rate limit.

``/healthz`` says the process serves; ``/readyz`` also asks the store, and is
a 503 with ``Retry-After`` while the store does not answer (an outage that
the app's :class:`~activityfeed.http.errors.OutageLog` logs by its changes).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activityfeed.errors import Unavailable
from activityfeed.http.errors import OutageLog
from activityfeed.http.methods import Resource
from activityfeed.http.requests import activity_service, json_response
from activityfeed.storage import StorageUnavailable


async def healthz(request: Request) -> Response:
    """The process is up."""
    return json_response(b'{"status":"ok"}')


async def readyz(request: Request) -> Response:
    """The process is up and its store answers."""
    outages: OutageLog = request.app.state.outages
    try:
        await activity_service(request).storage.ping()
    except StorageUnavailable as exc:
        outages.refused(exc)
        body = b'{"status":"unavailable","database":"unreachable"}'
        return json_response(body, 503, Unavailable().headers())
    outages.served()
    return json_response(b'{"status":"ready"}')


def routes() -> list[Route]:
    """The routes of health checks."""
    return [Resource("/healthz", {"GET": healthz}), Resource("/readyz", {"GET": readyz})]
