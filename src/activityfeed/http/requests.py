"""What a handler takes from its request, and the JSON answer it gives back.

The app keeps its services on ``app.state`` (:func:`~activityfeed.http.app.create_app`)
and the auth middleware puts the request's key in its scope
(:class:`~activityfeed.http.middleware.AuthMiddleware`); the handlers of every
resource read them through these helpers, and read their bodies here, under
the service's limit on a body's size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from activityfeed.decoding import decode_json, decode_ndjson
from activityfeed.errors import PayloadTooLarge
from activityfeed.model import ApiKey
from activityfeed.records.service import RecordService
from activityfeed.service import ActivityService
from activityfeed.streams import read_limited

JSON = "application/json"
# The scope entry where the auth middleware leaves the request's key.
KEY_SCOPE = "activityfeed.key"


def json_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A response of JSON already rendered (:mod:`activityfeed.render`)."""
    return Response(body, status_code=status, headers=headers, media_type=JSON)


def activity_service(request: Request) -> ActivityService:
    """The app's :class:`ActivityService`."""
    service: ActivityService = request.app.state.service
    return service


def record_service(request: Request) -> RecordService:
    """The app's :class:`RecordService`."""
    service: RecordService = request.app.state.records
    return service


def api_key(request: Request) -> ApiKey:
    """The key the request was authenticated with (only on ``/v2`` paths)."""
    key: ApiKey = request.scope[KEY_SCOPE]
    return key


def team_id(request: Request) -> int:
    """The team of the request's key."""
    return api_key(request).team_id


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or a 413 as soon as it is over ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"Request body is over the limit of {limit} bytes")
    body = await read_limited(request.stream(), limit)
    if body is None:
        raise PayloadTooLarge(f"Request body is over the limit of {limit} bytes")
    return body


async def json_body(request: Request, limit: int, *, ndjson: bool = False) -> Any:
    """The request body decoded as JSON, read under ``limit`` bytes.

    With ``ndjson``, a body sent as ``application/x-ndjson`` is decoded as
    one JSON value per line instead (a bulk upsert's items).
    """
    body = await read_body(request, limit)
    # Media types are case-insensitive (RFC 9110, 8.3.1).
    content_type = request.headers.get("content-type", "").lower()
    if ndjson and content_type.startswith("application/x-ndjson"):
        return decode_ndjson(body)
    return decode_json(body)
