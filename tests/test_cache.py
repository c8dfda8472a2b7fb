"""The exact caches: a cached answer is always the answer the store would give now."""

from __future__ import annotations

import asyncio

import pytest
from starlette.testclient import TestClient

from activityfeed.auth import key_prefix
from activityfeed.cache import GenerationCache
from activityfeed.settings import Settings
from activityfeed.storage.sqlite import SQLiteStorage

LIST = "/v2/activity_histories"


def test_an_entry_lives_for_one_generation() -> None:
    cache: GenerationCache[str, int] = GenerationCache(10)
    assert cache.get(1, "a") is None
    cache.put(1, "a", 5)
    assert cache.get(1, "a") == 5
    assert cache.get(2, "a") is None
    cache.put(1, "a", 6)  # computed under an older generation: dropped
    assert cache.get(2, "a") is None


def test_no_generation_means_no_caching() -> None:
    cache: GenerationCache[str, int] = GenerationCache(10)
    cache.put(None, "a", 5)
    assert cache.get(None, "a") is None
    assert len(cache) == 0


def test_the_cache_is_bounded() -> None:
    cache: GenerationCache[int, int] = GenerationCache(3)
    cache.get(1, 0)
    for n in range(5):
        cache.put(1, n, n)
    assert len(cache) == 3
    assert cache.get(1, 0) is None
    assert cache.get(1, 4) == 4


def _create(client: TestClient, auth: dict[str, str], n: int) -> None:
    body = {"id": f"note-{n}", "type": "note", "resource_type": "person", "resource_id": n}
    assert client.post(LIST, json=body, headers=auth).status_code == 201


def _ids(client: TestClient, auth: dict[str, str]) -> list[str]:
    return [a["id"] for a in client.get(LIST, headers=auth).json()["data"]]


@pytest.fixture
def sqlite_only(store_url: str) -> str:
    """The file of the SQLite store (tests using it run on SQLite only)."""
    assert store_url.startswith("sqlite:///")
    return store_url.removeprefix("sqlite:///")


# PostgreSQL has no cheap generation, so nothing is cached there (cache.py).
on_sqlite = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def test_a_write_through_the_api_is_seen_at_once(client: TestClient, auth: dict[str, str]) -> None:
    _create(client, auth, 1)
    assert _ids(client, auth) == ["note-1"]
    assert _ids(client, auth) == ["note-1"]  # now cached
    _create(client, auth, 2)
    assert _ids(client, auth) == ["note-2", "note-1"]
    assert client.delete(f"{LIST}/note-2", headers=auth).status_code == 204
    assert _ids(client, auth) == ["note-1"]


@on_sqlite
def test_a_write_by_another_process_is_seen_at_once(
    client: TestClient, auth: dict[str, str], sqlite_only: str
) -> None:
    _create(client, auth, 1)
    assert _ids(client, auth) == ["note-1"]

    async def delete_elsewhere() -> None:
        other = SQLiteStorage(sqlite_only)  # another connection pair, as another worker has
        await other.open()
        try:
            team = await other.get_team("acme")
            assert team is not None
            assert await other.delete_activity(team.id, "note-1")
        finally:
            await other.close()

    asyncio.run(delete_elsewhere())
    assert _ids(client, auth) == []


@on_sqlite
def test_a_key_revoked_elsewhere_is_refused_at_once(
    client: TestClient, keys: object, sqlite_only: str
) -> None:
    key = keys("acme")  # type: ignore[operator]
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get(LIST, headers=headers).status_code == 200  # now cached

    async def revoke_elsewhere() -> None:
        other = SQLiteStorage(sqlite_only)
        await other.open()
        try:
            assert await other.revoke_key(key_prefix(key)) == 1
        finally:
            await other.close()

    asyncio.run(revoke_elsewhere())
    assert client.get(LIST, headers=headers).status_code == 401


def test_caches_can_be_turned_off(settings: Settings) -> None:
    from activityfeed.http.app import create_app

    app = create_app(settings.with_(cache_entries=0))
    with TestClient(app) as client:
        assert app.state.service._pages.max_entries == 0
        assert client.get("/healthz").status_code == 200
