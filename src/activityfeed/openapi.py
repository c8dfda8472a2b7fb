"""The OpenAPI 3.1 document of the service (filled in by the OpenAPI work)."""

from __future__ import annotations

from typing import Any

from activityfeed import __version__


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "activityfeed", "version": __version__},
        "paths": {},
    }


def render_docs_html() -> str:
    """The HTML of ``/docs``."""
    return "<!doctype html><title>activityfeed API</title><p>See /openapi.json</p>"
