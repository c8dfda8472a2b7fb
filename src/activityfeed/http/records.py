"""Routes of ``/v2/associated_records`` (contract, section 4).

The auth middleware has already checked the key and its scope by method
(read for ``GET`` and ``HEAD``, write for ``PUT``/``DELETE``); these handlers,
one per method, only hand the team, path and body to
:class:`~activityfeed.records.service.RecordService`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activityfeed.http.methods import Resource
from activityfeed.http.requests import json_body, json_response, record_service, team_id
from activityfeed.render import bulk_result_json


async def _body(request: Request) -> Any:
    return await json_body(request, record_service(request).limits.max_body_bytes)


def _where(request: Request) -> tuple[int, str, str]:
    """The team, resource name and record id of a request."""
    params = request.path_params
    return team_id(request), params["resource"], params["record_id"]


async def get_record(request: Request) -> Response:
    """``GET /v2/associated_records/{resource}/{id}`` (and ``HEAD``)."""
    return json_response(await record_service(request).get(*_where(request)))


async def put_record(request: Request) -> Response:
    """``PUT /v2/associated_records/{resource}/{id}``: 201 when created, else 200."""
    body, created = await record_service(request).put_one(*_where(request), await _body(request))
    return json_response(body, 201 if created else 200)


async def delete_record(request: Request) -> Response:
    """``DELETE /v2/associated_records/{resource}/{id}``."""
    await record_service(request).delete(*_where(request))
    return Response(status_code=204)


async def record_batch(request: Request) -> Response:
    """``PUT /v2/associated_records/{resource}``: many records, all or nothing."""
    service = record_service(request)
    result = await service.put_batch(
        team_id(request), request.path_params["resource"], await _body(request)
    )
    return json_response(bulk_result_json(result))


def routes() -> list[Route]:
    """The routes of associated records."""
    return [
        Resource("/v2/associated_records/{resource}", {"PUT": record_batch}),
        Resource(
            "/v2/associated_records/{resource}/{record_id}",
            {"GET": get_record, "PUT": put_record, "DELETE": delete_record},
        ),
    ]
