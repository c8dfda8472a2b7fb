"""Routes of ``/v2/associated_records`` (contract, section 4).

The auth middleware has already checked the key and its scope by method
(read for ``GET`` and ``HEAD``, write for ``PUT``/``DELETE``); these handlers,
one per method, only hand the team, path and body to
:class:`~activityfeed.records.service.RecordService`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activityfeed.bodies import decode_json
from activityfeed.http.methods import Resource
from activityfeed.model import ApiKey
from activityfeed.records.service import RecordService
from activityfeed.render import json_bytes

JSON = "application/json"


def _records(request: Request) -> RecordService:
    service: RecordService = request.app.state.records
    return service


def _team_id(request: Request) -> int:
    key: ApiKey = request.scope["activityfeed.key"]
    return key.team_id


async def _body(request: Request) -> object:
    # Imported here: app.py imports this module for its routes.
    from activityfeed.http.app import read_body

    return decode_json(await read_body(request, _records(request).limits.max_body_bytes))


def _where(request: Request) -> tuple[int, str, str]:
    """The team, resource name and record id of a request."""
    params = request.path_params
    return _team_id(request), params["resource"], params["record_id"]


async def get_record(request: Request) -> Response:
    """``GET /v2/associated_records/{resource}/{id}`` (and ``HEAD``)."""
    return Response(await _records(request).get(*_where(request)), media_type=JSON)


async def put_record(request: Request) -> Response:
    """``PUT /v2/associated_records/{resource}/{id}``: 201 when created, else 200."""
    body, created = await _records(request).put_one(*_where(request), await _body(request))
    return Response(body, status_code=201 if created else 200, media_type=JSON)


async def delete_record(request: Request) -> Response:
    """``DELETE /v2/associated_records/{resource}/{id}``."""
    await _records(request).delete(*_where(request))
    return Response(status_code=204)


async def record_batch(request: Request) -> Response:
    """``PUT /v2/associated_records/{resource}``: many records, all or nothing."""
    service = _records(request)
    result = await service.put_batch(
        _team_id(request), request.path_params["resource"], await _body(request)
    )
    data = {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
    return Response(json_bytes({"data": data}), media_type=JSON)


def routes() -> list[Route]:
    """The routes of associated records, to mount before the ``/v2`` catch-all."""
    return [
        Resource("/v2/associated_records/{resource}", {"PUT": record_batch}),
        Resource(
            "/v2/associated_records/{resource}/{record_id}",
            {"GET": get_record, "PUT": put_record, "DELETE": delete_record},
        ),
    ]
