"""The exact caches: a cached answer is always the answer the store would give now."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from activityfeed.auth import key_prefix
from activityfeed.cache import BoundedCache, GenerationCache
from activityfeed.query import parse_list_query
from activityfeed.settings import Settings
from activityfeed.storage.sqlite.store import SQLiteStorage
from conftest import Keys
from support.querygen import Pools, encodings, queries

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


# Bounded in bytes, least recently used out first, keyed by the parsed query.


def test_the_cache_is_bounded_in_bytes() -> None:
    cache: GenerationCache[int, bytes] = GenerationCache(1000, max_bytes=20_000)
    cache.get(1, 0)
    for n in range(100):
        cache.put(1, n, bytes(1500))
        assert cache.bytes <= 20_000
    assert 0 < len(cache) < 100
    assert cache.get(1, 99) == bytes(1500)
    # What is counted covers what is held.
    assert cache.bytes >= sum(1500 for _ in range(len(cache)))


def test_an_entry_over_an_eighth_of_the_budget_is_not_cached() -> None:
    cache: GenerationCache[str, bytes] = GenerationCache(10, max_bytes=80_000)
    cache.get(1, "small")
    cache.put(1, "small", bytes(100))
    cache.put(1, "large", bytes(10_001))
    assert cache.get(1, "large") is None
    assert cache.get(1, "small") == bytes(100)  # and it pushed nothing out


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: GenerationCache[int, int] = GenerationCache(3)
    cache.get(1, 0)
    for n in range(3):
        cache.put(1, n, n)
    assert cache.get(1, 0) == 0  # used: 1 is now the oldest
    cache.put(1, 3, 3)
    assert cache.get(1, 1) is None
    assert [cache.get(1, n) for n in (0, 2, 3)] == [0, 2, 3]


def test_a_bounded_map_without_generations_is_bounded_alike() -> None:
    cache: BoundedCache[bytes, bytes] = BoundedCache(1000, max_bytes=10_000)
    for n in range(50):
        cache.put(str(n).encode(), bytes(500))
        assert cache.bytes <= 10_000
    assert cache.get(b"49") == bytes(500)
    assert cache.get(b"0") is None
    cache.clear()
    assert (len(cache), cache.bytes) == (0, 0)


def test_the_byte_budget_is_a_setting() -> None:
    assert Settings().cache_bytes == 64 * 1024 * 1024
    assert Settings.from_env({"ACTIVITYFEED_CACHE_BYTES": "1048576"}).cache_bytes == 1048576
    with pytest.raises(ValueError, match="ACTIVITYFEED_CACHE_BYTES"):
        Settings.from_env({"ACTIVITYFEED_CACHE_BYTES": "lots"})


def _bulk_large(client: TestClient, auth: dict[str, str], count: int, size: int) -> None:
    body = [
        {
            "id": f"note-{n}",
            "type": "note",
            "resource_type": "person",
            "resource_id": n,
            "static_data": {"text": "x" * size},
        }
        for n in range(count)
    ]
    assert client.post(f"{LIST}/bulk", json=body, headers=auth).status_code == 200


def _page_cache_bytes(client: TestClient) -> tuple[int, int]:
    """What the page cache counts and what its bodies alone hold."""
    pages = client.app.state.service._pages  # type: ignore[attr-defined]
    return pages.bytes, sum(len(body) for body in pages.values())


@on_sqlite
def test_many_distinct_queries_over_large_pages_stay_within_the_budget(
    settings: Settings,
) -> None:
    from activityfeed.http.app import create_app

    budget = 1024 * 1024
    with TestClient(create_app(settings.with_(cache_bytes=budget))) as client:
        auth = Keys(client).headers("acme")
        _bulk_large(client, auth, 100, 4000)  # pages of up to about 400 KB
        seen = 0
        for per_page in range(1, 31):
            for noise in ("", "&utm_source=a", f"&cache_buster={per_page}"):
                response = client.get(f"{LIST}?per_page={per_page}{noise}", headers=auth)
                assert response.status_code == 200
                counted, bodies = _page_cache_bytes(client)
                assert bodies <= counted <= budget
                seen = max(seen, len(client.app.state.service._pages))  # type: ignore[attr-defined]
        assert seen >= 2  # pages were cached, and the budget pushed older ones out
        queries = client.app.state.service._queries  # type: ignore[attr-defined]
        assert queries.bytes <= budget // 16


@on_sqlite
def test_unknown_parameters_and_equivalent_spellings_share_one_page(
    client: TestClient, auth: dict[str, str]
) -> None:
    _create(client, auth, 1)
    spellings = [
        "per_page=5",
        "per_page=5&utm_source=mail",
        "utm_source=x&per_page=05",
        "page=1&per_page=5",
        "per_page=5&sort_direction=desc&sort_by=occurred_at",
        "per_page=5&type=&include_paging_counts=false",
        "per_page=1&per_page=5",
    ]
    bodies = {client.get(f"{LIST}?{raw}", headers=auth).content for raw in spellings}
    assert len(bodies) == 1
    assert len(client.app.state.service._pages) == 1  # type: ignore[attr-defined]
    # A query that differs is its own entry, and a write still empties the cache.
    client.get(f"{LIST}?per_page=6", headers=auth)
    assert len(client.app.state.service._pages) == 2  # type: ignore[attr-defined]
    _create(client, auth, 2)
    assert len(_ids(client, auth)) == 2


POOLS = Pools(
    types=("call", "note", "sent_email"),
    ids=("call-1", "note-2"),
    resource_ids=("1", "007"),
    user_guids=("u-1", "u-2"),
    instants={"occurred_at": (0, 1_546_300_800_000_000), "updated_at": (1_546_300_800_000_001,)},
)


@given(queries(POOLS).flatmap(lambda q: st.tuples(encodings(q), encodings(q))))
def test_equal_parsed_queries_render_the_same_echo(raws: tuple[str, str]) -> None:
    # The page cache keys by the parsed query; ``filtering`` is not part of its
    # equality, so it must follow from the fields that are.
    one, other = (parse_list_query(parse_qsl(raw, keep_blank_values=True)) for raw in raws)
    if one == other:
        assert orjson.dumps(one.filtering) == orjson.dumps(other.filtering)
    else:  # they differ only where the echo does (the order of type's object form)
        assert orjson.dumps(one.filtering) != orjson.dumps(other.filtering)
