"""Routes of ``/v2/activity_histories`` (contract, sections 2 and 3).

The auth middleware has already checked the key and its scope by method;
these handlers, one per method, only hand the team, path, query string and
body to :class:`~activityfeed.service.ActivityService`, whose answers are
JSON already rendered. A body may be JSON or, sent as
``application/x-ndjson``, one item per line.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activityfeed.http.methods import Resource
from activityfeed.http.requests import activity_service, json_body, json_response, team_id
from activityfeed.render import bulk_result_json


async def _body(request: Request) -> Any:
    limit = activity_service(request).limits.max_body_bytes
    return await json_body(request, limit, ndjson=True)


async def list_activities(request: Request) -> Response:
    """``GET /v2/activity_histories`` (and ``HEAD``, and the ``.json`` path)."""
    service = activity_service(request)
    return json_response(await service.list_page(team_id(request), request.scope["query_string"]))


async def create_activity(request: Request) -> Response:
    """``POST /v2/activity_histories``: 201 with the activity."""
    service = activity_service(request)
    return json_response(await service.create(team_id(request), await _body(request)), 201)


async def bulk_upsert(request: Request) -> Response:
    """``POST /v2/activity_histories/bulk``: many activities, all or nothing."""
    result = await activity_service(request).bulk(team_id(request), await _body(request))
    return json_response(bulk_result_json(result))


async def get_activity(request: Request) -> Response:
    """``GET /v2/activity_histories/{id}`` (and ``HEAD``)."""
    service = activity_service(request)
    return json_response(await service.get(team_id(request), request.path_params["activity_id"]))


async def update_activity(request: Request) -> Response:
    """``PUT /v2/activity_histories/{id}``."""
    service = activity_service(request)
    activity_id = request.path_params["activity_id"]
    body = await _body(request)
    return json_response(await service.update(team_id(request), activity_id, body))


async def delete_activity(request: Request) -> Response:
    """``DELETE /v2/activity_histories/{id}``: 204."""
    await activity_service(request).delete(team_id(request), request.path_params["activity_id"])
    return Response(status_code=204)


def routes() -> list[Route]:
    """The routes of activities, one :class:`Resource` per path, in matching order.

    ``bulk`` comes before ``{activity_id}``, so that it is never read as an id.
    """
    activities = {"GET": list_activities, "POST": create_activity}
    return [
        Resource("/v2/activity_histories", activities),
        Resource("/v2/activity_histories.json", activities),
        Resource("/v2/activity_histories/bulk", {"POST": bulk_upsert}),
        Resource(
            "/v2/activity_histories/{activity_id}",
            {"GET": get_activity, "PUT": update_activity, "DELETE": delete_activity},
        ),
    ]
