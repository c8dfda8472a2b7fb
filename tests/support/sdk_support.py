"""Helpers for the SDK and CLI tests: a sync bridge to the in-process app, a live server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.testclient import TestClient

from activityfeed.auth import new_key
from activityfeed.http.app import create_app
from activityfeed.http.server import server_options
from activityfeed.model import SCOPES
from activityfeed.settings import Settings
from activityfeed.storage import open_storage


class AppBridge(httpx.BaseTransport):
    """A sync transport into an app that Starlette's ``TestClient`` runs (lifespan included)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.client.send(request)
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


def make_key(database_url: str, team: str = "acme", scopes: tuple[str, ...] = SCOPES) -> str:
    """A key for ``team`` in the store at ``database_url``, made outside any running app."""

    async def work() -> str:
        store = open_storage(database_url)
        await store.open()
        try:
            return await new_key(store, team, scopes)
        finally:
            await store.close()

    return asyncio.run(work())


@dataclass(frozen=True)
class LiveServer:
    """A service listening on loopback, and how to reach it."""

    url: str
    settings: Settings

    def key(self, team: str = "acme", scopes: tuple[str, ...] = SCOPES) -> str:
        """A new key of ``team``."""
        return make_key(self.settings.database_url, team, scopes)


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """Serve ``create_app(settings)`` with uvicorn on a free loopback port, in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The protocol and options of `activityfeed serve` (http/server.py), so that
    # the limits and protocol errors the tests see are the real server's.
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        lifespan="on",
        access_log=False,
        **server_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
