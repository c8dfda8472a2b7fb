"""The whole OpenAPI 3.1 document, the service's own paths, and the ``/docs`` page."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from activityfeed import __version__
from activityfeed.openapi.parameters import list_parameters
from activityfeed.openapi.paths import JSON, activity_paths, record_paths
from activityfeed.openapi.responses import header_ref, headers, protocol_errors, responses
from activityfeed.openapi.schemas import Schema, ref, schemas
from activityfeed.records.registry import Registry
from activityfeed.settings import Limits

_INFO_DESCRIPTION = """\
A self-hostable, Salesloft-compatible activity history service.

Every `/v2` request needs `Authorization: Bearer <api key>` (`ak_` and 64 hex digits). \
A key belongs to one team and sees only that team's data; reading needs the \
`activities:read` scope, writing `activities:write`. A bad key is a 401 whatever else \
is wrong with the request.

Timestamps come out in UTC with six fractional digits and `Z`. Query parameters follow \
the Rails bracket conventions; unknown parameters are ignored, invalid values of known \
ones are a 422 that names every one of them; a blank value counts as not given. \
Errors are `{"error": "..."}`, or `{"errors": {"<name>": ["..."]}}` for a 422; an \
unknown route is a 404 and a known route with another method a 405 with `Allow`. \
`HEAD` is a `GET` without the body, wherever `GET` is.

Every answer carries `X-Content-Type-Options: nosniff`, and every `/v2` answer \
`Cache-Control: no-store`.

Each team has a budget of requests per calendar minute; every authenticated `/v2` \
response says what it cost (`x-ratelimit-endpoint-cost`) and what is left \
(`x-ratelimit-remaining-minute`)."""


def _open(operation_id: str, summary: str, description: str, content: Schema) -> Schema:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["Service"],
        "security": [],
        "responses": {
            "200": {"description": summary, "content": content},
            **protocol_errors(api=False),
        },
    }


def _service_paths() -> dict[str, Schema]:
    health = ref("Health")
    readyz = _open(
        "getReadiness",
        "Readiness",
        "Whether the service can reach its database.",
        {JSON: {"schema": health, "example": {"status": "ready"}}},
    )
    readyz["responses"]["503"] = {
        "description": "The database is unreachable.",
        "headers": {"Retry-After": header_ref("RetryAfterUnavailable")},
        "content": {
            JSON: {
                "schema": health,
                "example": {"status": "unavailable", "database": "unreachable"},
            }
        },
    }
    readyz["responses"] = dict(sorted(readyz["responses"].items()))
    return {
        "/healthz": {
            "get": _open(
                "getHealth",
                "Liveness",
                "The process is up; does not touch the database.",
                {JSON: {"schema": health, "example": {"status": "ok"}}},
            )
        },
        "/readyz": {"get": readyz},
        "/openapi.json": {
            "get": _open(
                "getOpenApiDocument",
                "This document",
                "The OpenAPI 3.1 document of the service.",
                {JSON: {"schema": {"type": "object"}}},
            )
        },
        "/docs": {
            "get": _open(
                "getDocs",
                "API documentation",
                "A page that renders this document; works offline.",
                {"text/html": {"schema": {"type": "string"}}},
            )
        },
    }


def openapi_document(
    limits: Limits | None = None, registry: Registry | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a service with ``limits`` and the resource names of
    ``registry`` (default: the default limits and resources)."""
    limits = limits or Limits()
    registry = registry or Registry.local_only()
    local_names = [name for name in registry.names if registry.is_local(name)]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "activityfeed",
            "version": __version__,
            "summary": "Salesloft-compatible activity histories",
            "description": _INFO_DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "Activities", "description": "The activity history API."},
            {
                "name": "Associated records",
                "description": "Records whose attributes fill `dynamic_data`.",
            },
            {"name": "Service", "description": "Health, readiness and this documentation."},
        ],
        "paths": {**activity_paths(), **record_paths(local_names), **_service_paths()},
        "components": {
            "schemas": schemas(limits),
            "parameters": list_parameters(),
            "responses": responses(),
            "headers": headers(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key, `ak_` and 64 lowercase hex digits, made with "
                    "`activityfeed keys create --team <name>`. Scopes: `activities:read`, "
                    "`activities:write`.",
                }
            },
        },
    }


@cache
def render_docs_html() -> str:
    """The HTML of ``/docs``: a self-contained page that renders ``/openapi.json``."""
    return resources.files("activityfeed.openapi").joinpath("docs_page.html").read_text("utf-8")
