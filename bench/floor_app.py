"""The floor: the same HTTP stack (Starlette on uvicorn) serving a fixed body.

No Python service can answer faster than this; the harness reports every
scenario as a share of it. The body is the harness's S1 response, read from
the file named by ``FLOOR_BODY_FILE``.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = (
    Path(os.environ.get("FLOOR_BODY_FILE", "")).read_bytes()
    if "FLOOR_BODY_FILE" in os.environ
    else b"{}"
)


async def fixed(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(routes=[Route("/healthz", healthz), Route("/{path:path}", fixed)])
