"""The service: one method per use case, between the HTTP layer and the store.

Every method takes the caller's team: a key never reaches another team's
data, and nothing it gets back says whether another team's data exists.
"""

from __future__ import annotations

import sys
from urllib.parse import parse_qsl

import orjson

from activityfeed import render
from activityfeed.auth import bearer_token, check_key, hash_key
from activityfeed.bodies import parse_bulk, parse_one, parse_update
from activityfeed.cache import ENTRY_OVERHEAD, BoundedCache, GenerationCache
from activityfeed.errors import Invalid, NotFound
from activityfeed.model import ApiKey
from activityfeed.query import ListQuery, parse_list_query
from activityfeed.records.hydrate import Hydrator, NoDynamicData
from activityfeed.settings import Limits
from activityfeed.storage.base import BulkResult, DuplicateId, Row, Storage


def _parse(query_string: bytes) -> ListQuery:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return parse_list_query(pairs)


def _canonical(query: ListQuery) -> bytes:
    """Bytes equal exactly when two queries and their ``filtering`` echoes are.

    Every field as JSON, ``filtering`` too (it is left out of the query's own
    equality); bytes hash once, however often they are looked up.
    """
    return orjson.dumps(query)


# The weights of the page cache's entries and of the query-string map's,
# in the terms of cache.footprint: sys.getsizeof of every part, the map's share.
_BYTES = sys.getsizeof(b"")
_PAGE_KEY = sys.getsizeof((0, b"")) + sys.getsizeof(2**40)


def _weigh_query(query_string: bytes, parsed: tuple[ListQuery, bytes]) -> int:
    # The parsed query weighs about what its canonical bytes do, counted twice.
    canonical = parsed[1]
    return len(query_string) + 2 * len(canonical) + 2 * _BYTES + ENTRY_OVERHEAD


def _weigh_page(key: tuple[int, bytes], body: bytes) -> int:
    return len(key[1]) + len(body) + 2 * _BYTES + _PAGE_KEY + ENTRY_OVERHEAD


class ActivityService:
    """The use cases of the activity API."""

    def __init__(
        self,
        storage: Storage,
        limits: Limits,
        hydrator: Hydrator | None = None,
        cache_entries: int = 4096,
        cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.storage = storage
        self.limits = limits
        self.hydrator: Hydrator = hydrator or NoDynamicData()
        # Exact caches (see cache.py), within cache_bytes in all: keys by token
        # and parsed queries by query string (a sixteenth each), pages by team
        # and parsed query (the rest), so that unknown parameters, their order
        # and equivalent spellings share one page.
        small = cache_bytes // 16
        self._keys: GenerationCache[str, ApiKey | None] = GenerationCache(cache_entries, small)
        self._queries: BoundedCache[bytes, tuple[ListQuery, bytes]] = BoundedCache(
            cache_entries, small, _weigh_query
        )
        self._pages: GenerationCache[tuple[int, bytes], bytes] = GenerationCache(
            cache_entries if self.hydrator.cacheable else 0, cache_bytes - 2 * small, _weigh_page
        )

    async def authenticate(self, authorization: str | None) -> ApiKey:
        """The key of a request's ``Authorization`` header, or a 401."""
        token = bearer_token(authorization)
        generation = self.storage.generation()
        key = self._keys.get(generation, token)
        if key is None:
            key = await self.storage.find_key(hash_key(token))
            self._keys.put(generation, token, key)
        return check_key(key)

    async def list_page(self, team_id: int, query_string: bytes) -> bytes:
        """``GET /v2/activity_histories``: a whole response body.

        The same query on an unchanged store is answered from the page cache.
        """
        generation = self.storage.generation()
        # The page key is the parsed query (_canonical); each query string's
        # parse is remembered apart from the store's generation (parsing is a
        # pure function), so a repeated query string is parsed once, whether
        # its page is cached or not.
        parsed = self._queries.get(query_string)
        if parsed is None:
            query = _parse(query_string)
            parsed = (query, _canonical(query))
            self._queries.put(query_string, parsed)
        query, canonical = parsed
        cache_key = (team_id, canonical)
        body = self._pages.get(generation, cache_key)
        if body is not None:
            return body
        result = await self.storage.list_activities(team_id, query)
        dynamic = await self.hydrator.hydrate(team_id, result.rows) if result.rows else None
        body = render.page_json(query, result, dynamic)
        self._pages.put(generation, cache_key, body)
        return body

    async def _one(self, team_id: int, row: Row) -> bytes:
        dynamic = await self.hydrator.hydrate(team_id, [row])
        activity = render.activity_json(row.doc, dynamic[0] if dynamic else render.EMPTY_DYNAMIC)
        return render.data_envelope(activity)

    async def get(self, team_id: int, activity_id: str) -> bytes:
        """``GET /v2/activity_histories/{id}``."""
        row = await self.storage.get_activity(team_id, activity_id)
        if row is None:
            raise NotFound()
        return await self._one(team_id, row)

    async def create(self, team_id: int, body: object) -> bytes:
        """``POST /v2/activity_histories``: the created activity, without dynamic data."""
        item = parse_one(body, self.limits)
        try:
            row = await self.storage.create_activity(team_id, item)
        except DuplicateId:
            raise Invalid({"id": ["has already been taken"]}) from None
        return render.data_envelope(render.created_json(row.doc))

    async def update(self, team_id: int, activity_id: str, body: object) -> bytes:
        """``PUT /v2/activity_histories/{id}``."""
        changes = parse_update(body, self.limits)
        row = await self.storage.update_activity(team_id, activity_id, changes)
        if row is None:
            raise NotFound()
        return await self._one(team_id, row)

    async def delete(self, team_id: int, activity_id: str) -> None:
        """``DELETE /v2/activity_histories/{id}``."""
        if not await self.storage.delete_activity(team_id, activity_id):
            raise NotFound()

    async def bulk(self, team_id: int, body: object) -> BulkResult:
        """``POST /v2/activity_histories/bulk``: all or nothing."""
        items = parse_bulk(body, self.limits)
        if not items:
            return BulkResult(0, 0, 0)
        return await self.storage.upsert_activities(team_id, items)
