"""The ASGI application: :func:`create_app` builds everything from settings."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activityfeed.auth import require_scope
from activityfeed.bodies import decode_json, decode_ndjson
from activityfeed.errors import ApiError, PayloadTooLarge, Unavailable
from activityfeed.http import docs, records
from activityfeed.http.errors import OutageLog, as_api_error, error_response, handle
from activityfeed.http.headers import SecurityHeaders, is_api_path
from activityfeed.http.methods import HeadWithoutBody, Resource, scope_for
from activityfeed.records.hydrate import RecordHydrator
from activityfeed.model import ApiKey
from activityfeed.ratelimit.policy import RateLimiter
from activityfeed.ratelimit.factory import build_rate_limiter
from activityfeed.records.service import RecordService
from activityfeed.records.registry import load_registry
from activityfeed.render import json_bytes
from activityfeed.service import ActivityService
from activityfeed.settings import Settings
from activityfeed.storage import Storage, StorageUnavailable, open_storage

JSON = "application/json"


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=JSON)


def _service(request: Request) -> ActivityService:
    service: ActivityService = request.app.state.service
    return service


def _key(request: Request) -> ApiKey:
    key: ApiKey = request.scope["activityfeed.key"]
    return key


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or a 413 as soon as it is over ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"Request body is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request) -> Any:
    body = await read_body(request, _service(request).limits.max_body_bytes)
    # Media types are case-insensitive (RFC 9110, 8.3.1).
    if request.headers.get("content-type", "").lower().startswith("application/x-ndjson"):
        return decode_ndjson(body)
    return decode_json(body)


async def list_activities(request: Request) -> Response:
    service = _service(request)
    body = await service.list_page(_key(request).team_id, request.scope["query_string"])
    return _json(body)


async def create_activity(request: Request) -> Response:
    service = _service(request)
    return _json(await service.create(_key(request).team_id, await _json_body(request)), 201)


async def bulk_upsert(request: Request) -> Response:
    service = _service(request)
    result = await service.bulk(_key(request).team_id, await _json_body(request))
    return _json(
        json_bytes(
            {
                "data": {
                    "created": result.created,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                }
            }
        )
    )


async def get_activity(request: Request) -> Response:
    service = _service(request)
    return _json(await service.get(_key(request).team_id, request.path_params["activity_id"]))


async def update_activity(request: Request) -> Response:
    service = _service(request)
    team_id, activity_id = _key(request).team_id, request.path_params["activity_id"]
    return _json(await service.update(team_id, activity_id, await _json_body(request)))


async def delete_activity(request: Request) -> Response:
    await _service(request).delete(_key(request).team_id, request.path_params["activity_id"])
    return Response(status_code=204)


async def healthz(request: Request) -> Response:
    return _json(b'{"status":"ok"}')


async def readyz(request: Request) -> Response:
    outages: OutageLog = request.app.state.outages
    try:
        await _service(request).storage.ping()
    except StorageUnavailable as exc:
        outages.refused(exc)
        return Response(
            b'{"status":"unavailable","database":"unreachable"}',
            status_code=503,
            media_type=JSON,
            headers=Unavailable().headers(),
        )
    outages.served()
    return _json(b'{"status":"ready"}')


class AuthMiddleware:
    """Authenticates every ``/v2`` request first, rate-limits it, then checks its scope.

    Authentication comes before routing, so that a bad key gets a 401 whatever
    else is wrong with the request (contract, section 1). Rate limiting comes
    next, so that every authenticated response, errors included, carries the
    rate-limit headers and spends the budget (contract, section 5). The scope
    is checked by method (``methods.scope_for``): read for GET and HEAD, write
    for the methods that write; any other method goes on to routing, a 405.
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
        scope["activityfeed.key"] = key
        await self.app(scope, receive, send)


def _with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    """``send``, adding ``headers`` to the response's start."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *headers]}
        await send(message)

    return wrapped


def routes() -> list[Route]:
    """Every route the service serves: one :class:`Resource` per path, in matching order.

    Nothing else matches: an unknown path is a 404 from the router, a known
    path with another method a 405 from its resource.
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
        *records.routes(),
        Resource("/healthz", {"GET": healthz}),
        Resource("/readyz", {"GET": readyz}),
        Resource("/openapi.json", {"GET": docs.openapi_json}),
        Resource("/docs", {"GET": docs.docs_page}),
    ]


def create_app(
    settings: Settings | None = None,
    storage: Storage | None = None,
    limiter: RateLimiter | None = None,
) -> Starlette:
    """Build the service: store, service and routes, nothing at import time."""
    settings = settings or Settings.from_env()
    store = storage or open_storage(settings.database_url, timeout=settings.store_timeout_s)
    limiter = limiter or build_rate_limiter(settings)
    registry = load_registry(settings.records_config, settings.records_env)
    hydrator = RecordHydrator(store, registry, settings.dynamic_data_deadline_ms)
    service = ActivityService(
        store, settings.limits, hydrator, settings.cache_entries, settings.cache_bytes
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        await hydrator.open()
        await limiter.start()
        try:
            yield
        finally:
            await limiter.close()
            await hydrator.close()
            await store.close()

    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        # A store failure is answered inside the middleware, like any API error, so
        # that its 503 carries the rate-limit headers and nothing is re-raised.
        exception_handlers={
            Exception: handle,
            HTTPException: handle,
            ApiError: handle,
            StorageUnavailable: handle,
        },
    )
    # A path with a trailing slash is an unknown path (404), not a redirect.
    app.router.redirect_slashes = False
    outages = OutageLog()
    app.state.settings = settings
    app.state.service = service
    app.state.records = RecordService(store, registry, settings.limits)
    app.state.limiter = limiter
    app.state.outages = outages
    # The last added runs first: headers on every answer, then HEAD, then the key.
    app.add_middleware(AuthMiddleware, service=service, limiter=limiter, outages=outages)
    app.add_middleware(HeadWithoutBody)
    app.add_middleware(SecurityHeaders)
    return app
