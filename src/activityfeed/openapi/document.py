"""The whole OpenAPI 3.1 document, the service's own paths, and the ``/docs`` page."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from activityfeed import __version__
from activityfeed.openapi.parameters import list_parameters
from activityfeed.openapi.paths import JSON, activity_paths, record_paths
from activityfeed.openapi.responses import headers, responses
from activityfeed.openapi.schemas import Schema, ref, schemas
from activityfeed.settings import Limits

_INFO_DESCRIPTION = """\
A self-hostable, Salesloft-compatible activity history service.

Every `/v2` request needs `Authorization: Bearer <api key>` (`ak_` and 64 hex digits). \
A key belongs to one team and sees only that team's data; reading needs the \
`activities:read` scope, writing `activities:write`. A bad key is a 401 whatever else \
is wrong with the request.

Timestamps come out in UTC with six fractional digits and `Z`. Query parameters follow \
the Rails bracket conventions; unknown parameters are ignored, invalid values of known \
ones are a 422 that names every one of them. Errors are `{"error": "..."}`, or \
`{"errors": {"<name>": ["..."]}}` for a 422; an unknown route is a 404 and a known \
route with another method a 405.

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
        "responses": {"200": {"description": summary, "content": content}},
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
        "content": {
            JSON: {
                "schema": health,
                "example": {"status": "unavailable", "database": "unreachable"},
            }
        },
    }
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


def openapi_document(limits: Limits | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the body limits of ``limits`` (default: the defaults)."""
    limits = limits or Limits()
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
        "paths": {**activity_paths(), **record_paths(), **_service_paths()},
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
