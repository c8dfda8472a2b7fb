"""Routes of ``/v2/associated_records`` (contract, section 4).

The auth middleware has already checked the key and its scope by method
(read for ``GET``, write for ``PUT``/``DELETE``); these handlers only hand
the team, path and body to :class:`~activityfeed.record_service.RecordService`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activityfeed.bodies import decode_json
from activityfeed.model import ApiKey
from activityfeed.record_service import RecordService
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


async def one_record(request: Request) -> Response:
    """``GET``, ``PUT`` and ``DELETE /v2/associated_records/{resource}/{id}``."""
    service = _records(request)
    team_id = _team_id(request)
    resource = request.path_params["resource"]
    rid = request.path_params["record_id"]
    if request.method == "GET":
        return Response(await service.get(team_id, resource, rid), media_type=JSON)
    if request.method == "PUT":
        body, created = await service.put_one(team_id, resource, rid, await _body(request))
        return Response(body, status_code=201 if created else 200, media_type=JSON)
    await service.delete(team_id, resource, rid)
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
        Route("/v2/associated_records/{resource}", record_batch, methods=["PUT"]),
        Route(
            "/v2/associated_records/{resource}/{record_id}",
            one_record,
            methods=["GET", "PUT", "DELETE"],
        ),
    ]
