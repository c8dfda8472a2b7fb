"""``GET /openapi.json`` and ``GET /docs``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from activityfeed.openapi import openapi_document, render_docs_html
from activityfeed.render import json_bytes


async def openapi_json(request: Request) -> Response:
    """The OpenAPI 3.1 document of the service."""
    cached = getattr(request.app.state, "openapi", None)
    if cached is None:
        limits = request.app.state.service.limits
        cached = request.app.state.openapi = json_bytes(openapi_document(limits))
    return Response(cached, media_type="application/json")


async def docs_page(request: Request) -> Response:
    """A page that renders the OpenAPI document."""
    return HTMLResponse(render_docs_html())
