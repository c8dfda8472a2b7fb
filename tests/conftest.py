"""Fixtures in the Flask way: settings, a fresh store per test, the app, a client.

``store_url`` is parametrised over every storage backend; tests that use the
``client`` fixture run once per backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
from starlette.testclient import TestClient

from activityfeed.auth import new_key
from activityfeed.client import Client
from activityfeed.http.app import create_app
from activityfeed.model import SCOPES
from activityfeed.settings import Settings
from support import pg_support
from support.sdk_support import AppBridge, LiveServer, live_server

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Hypothesis: CI runs more examples than a developer's run; HYPOTHESIS_PROFILE
# picks a profile by name ("default" or "ci").
hypothesis.settings.register_profile("ci", max_examples=200, deadline=None, print_blob=True)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if IN_CI else "default"))


def need_service(name: str, reason: str) -> None:
    """Skip with a visible reason on a developer's machine; fail in CI."""
    if IN_CI:
        pytest.fail(f"{name} is required in CI: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store of each backend (PostgreSQL: a schema of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'activityfeed.db'}"
        return
    yield from postgres_store()


def postgres_store() -> Iterator[str]:
    """A URL of a fresh PostgreSQL schema; skips (fails in CI) without the server."""
    url = pg_support.base_url()
    if url is None:
        need_service("PostgreSQL", f"{pg_support.ENV} is not set")
    assert url is not None
    reason = pg_support.unreachable_reason(url)
    if reason is not None:
        need_service("PostgreSQL", reason)
    with pg_support.pooled_schema(url) as schema_url:
        yield schema_url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL store only, for tests of the PostgreSQL store itself."""
    yield from postgres_store()


@pytest.fixture
def settings(store_url: str) -> Settings:
    """Settings for one test: a fresh store, no rate limit."""
    return Settings(database_url=store_url, rate_limit_per_minute=0)


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    """The application, built from ``settings``."""
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client of the in-process app, with its lifespan running."""
    with TestClient(app) as test_client:
        yield test_client


class Keys:
    """Makes API keys for a running test client."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def __call__(self, team: str = "acme", scopes: tuple[str, ...] = SCOPES) -> str:
        storage = self.client.app.state.service.storage  # type: ignore[attr-defined]
        portal = self.client.portal
        assert portal is not None
        return portal.call(new_key, storage, team, scopes)

    def headers(self, team: str = "acme", scopes: tuple[str, ...] = SCOPES) -> dict[str, str]:
        """``Authorization`` headers with a new key."""
        return {"Authorization": f"Bearer {self(team, scopes)}"}


@pytest.fixture
def keys(client: TestClient) -> Keys:
    """``keys(team, scopes)`` makes a key; ``keys.headers(...)`` the headers for one."""
    return Keys(client)


@pytest.fixture
def auth(keys: Keys) -> dict[str, str]:
    """Headers with a read-write key of team ``acme``."""
    return keys.headers("acme")


@pytest.fixture
def sdk(client: TestClient, keys: Keys) -> Iterator[Client]:
    """The SDK's :class:`Client` wired to the in-process app, with a key of team ``acme``."""
    with Client("http://testserver", keys("acme"), transport=AppBridge(client)) as sdk:
        yield sdk


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    """The service on a loopback port (uvicorn in a thread), for clients that need a socket."""
    with live_server(settings) as server:
        yield server
