"""``GET /openapi.json`` and ``GET /docs``."""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from activityfeed.http.methods import Resource
from activityfeed.http.requests import activity_service, json_response
from activityfeed.openapi import openapi_document, render_docs_html
from activityfeed.render import json_bytes

# The page's inline <script> and <style> elements: their text is what a browser hashes.
_INLINE = re.compile(r"<(script|style)\b[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)


def content_security_policy(html: str) -> str:
    """A strict policy for ``html``: its own inline scripts and styles by hash, nothing else.

    The page may fetch from its own origin (``/openapi.json``) and may not be
    framed; no other script, style, image, font, form target or base URL.
    Hashing the page as it is served keeps the policy right when the page
    changes.
    """
    allowed: dict[str, list[str]] = {"script": [], "style": []}
    for tag, text in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
        allowed[tag.lower()].append(f"'sha256-{digest}'")
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + (" ".join(allowed["script"]) or "'none'"),
            "style-src " + (" ".join(allowed["style"]) or "'none'"),
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


async def openapi_json(request: Request) -> Response:
    """The OpenAPI 3.1 document of the service."""
    cached = getattr(request.app.state, "openapi", None)
    if cached is None:
        limits = activity_service(request).limits
        registry = request.app.state.records.registry
        cached = request.app.state.openapi = json_bytes(openapi_document(limits, registry))
    return json_response(cached)


async def docs_page(request: Request) -> Response:
    """A page that renders the OpenAPI document, under a policy that allows only itself."""
    cached: tuple[str, dict[str, str]] | None = getattr(request.app.state, "docs_page", None)
    if cached is None:
        html = render_docs_html()
        headers = {
            "Content-Security-Policy": content_security_policy(html),
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        }
        cached = request.app.state.docs_page = (html, headers)
    html, headers = cached
    return HTMLResponse(html, headers=headers)


def routes() -> list[Route]:
    """The routes of the service's documentation: open to all, no key."""
    return [
        Resource("/openapi.json", {"GET": openapi_json}),
        Resource("/docs", {"GET": docs_page}),
    ]
