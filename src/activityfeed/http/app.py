"""The ASGI application: :func:`create_app` builds everything from settings."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route

from activityfeed.errors import ApiError
from activityfeed.http import activities, docs, health, records
from activityfeed.http.errors import OutageLog, handle
from activityfeed.http.middleware import AuthMiddleware, HeadWithoutBody, SecurityHeaders
from activityfeed.ratelimit.factory import build_rate_limiter
from activityfeed.ratelimit.policy import RateLimiter
from activityfeed.records.hydrate import RecordHydrator
from activityfeed.records.registry import load_registry
from activityfeed.records.service import RecordService
from activityfeed.service import ActivityService
from activityfeed.settings import Settings
from activityfeed.storage import Storage, StorageUnavailable, open_storage


def create_app(
    settings: Settings | None = None,
    storage: Storage | None = None,
    limiter: RateLimiter | None = None,
) -> Starlette:
    """Build the service: store, limiter, hydrator, services, routes and middleware.

    Nothing is made at import time, so that a test makes as many apps as it
    likes. ``storage`` and ``limiter`` replace the ones the settings name.
    Every path is one :class:`~activityfeed.http.methods.Resource`; nothing
    else matches: an unknown path is a 404 from the router, a known path with
    another method a 405 from its resource.
    """
    settings = settings or Settings.from_env()
    store = storage or open_storage(settings.database_url, timeout=settings.store_timeout_s)
    limiter = limiter or build_rate_limiter(settings)
    registry = load_registry(settings.records_config, settings.records_env)
    hydrator = RecordHydrator(store, registry, settings.dynamic_data_deadline_ms)
    service = ActivityService(
        store, settings.limits, hydrator, settings.cache_entries, settings.cache_bytes
    )
    routes: list[Route] = [
        *activities.routes(),
        *records.routes(),
        *health.routes(),
        *docs.routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=_lifespan(store, hydrator, limiter),
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


def _lifespan(
    store: Storage, hydrator: RecordHydrator, limiter: RateLimiter
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """Opens the store, the hydrator and the limiter on the serving loop; closes them after."""

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

    return lifespan
